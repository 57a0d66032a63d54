// What the tracker reports about a visit beyond pageviews, in a real chromium: link clicks,
// form submissions (by name only: typed values are PHI), custom events and engagement.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { launchBrowser } from '../helpers/browser.js';
import {
  buildTracker,
  openPage,
  serveTestSite,
  settle,
  SETTLE_MARK,
  type OpenedPage,
  type TestSite,
  type TrackedEvent,
} from '../helpers/tracker-site.js';

let dir: string;
let trackerFile: string;
let browser: Browser;
let site: TestSite | undefined;
let opened: OpenedPage | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lt-tracker-interactions-'));
  trackerFile = buildTracker(dir);
  browser = await launchBrowser();
});

afterEach(async () => {
  await opened?.context.close();
  await site?.close();
  opened = undefined;
  site = undefined;
});

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Serves the test site and opens its tracked page, once the load's pageview has arrived. */
async function visit(initScript?: string): Promise<Page> {
  site = await serveTestSite({ trackerFile });
  opened = await openPage(browser, initScript);
  await opened.page.goto(`${site.origin}/`);
  await site.waitForEvents((event) => event.type === 'pageview');

  return opened.page;
}

function ofType(type: string): TrackedEvent[] {
  return site!.events().filter((event) => event.type === type);
}

/** Everything but pageviews and settle markers: what an interaction produced. */
function interactionEvents(): TrackedEvent[] {
  return site!
    .events()
    .filter((e) => e.type !== 'pageview' && !String(e.name ?? '').startsWith(SETTLE_MARK));
}

/** Makes the page look hidden or visible, as a tab switch does, and tells it so. */
async function setVisibility(page: Page, state: 'hidden' | 'visible'): Promise<void> {
  await page.evaluate((value) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => value });
    Object.defineProperty(document, 'hidden', {
      configurable: true,
      get: () => value === 'hidden',
    });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
}

describe('link clicks', () => {
  test('a link to another host is one outbound event, and the link still opens', async () => {
    const page = await visit();
    const [popup] = await Promise.all([
      opened!.context.waitForEvent('page'),
      page.click('#outbound'),
    ]);
    await popup.waitForLoadState();
    await site!.waitForEvents((event) => event.type === 'outbound');
    await settle(page, site!);

    expect(popup.url()).toBe(`${site!.altOrigin}/away`);
    expect(await popup.title()).toBe('Away');
    expect(interactionEvents()).toEqual([
      { type: 'outbound', url: `${site!.origin}/`, href: `${site!.altOrigin}/away` },
    ]);
    expect(opened!.errors).toEqual([]);
  });

  test('a click on an element inside the link counts as a click on the link', async () => {
    const page = await visit();
    await Promise.all([opened!.context.waitForEvent('page'), page.click('#outbound-inner')]);
    await site!.waitForEvents((event) => event.type === 'outbound');
    await settle(page, site!);

    expect(ofType('outbound')).toHaveLength(1);
  });

  test('a middle click is one outbound event; a right click is none', async () => {
    const page = await visit();
    await page.click('#outbound', { button: 'right' });
    await settle(page, site!);

    expect(interactionEvents()).toEqual([]);

    await page.click('#outbound', { button: 'middle' });
    await site!.waitForEvents((event) => event.type === 'outbound');
    await settle(page, site!);

    expect(ofType('outbound')).toHaveLength(1);
  });

  test('a page handler that stops the click cannot hide it', async () => {
    const page = await visit();
    await page.evaluate(() => {
      document.getElementById('outbound')!.addEventListener('click', (event) => {
        event.stopPropagation();
        event.preventDefault();
      });
    });
    await page.click('#outbound');
    await site!.waitForEvents((event) => event.type === 'outbound');
    await settle(page, site!);

    expect(ofType('outbound')).toHaveLength(1);
  });

  test('a link inside an open shadow root is seen', async () => {
    const page = await visit();
    await page.evaluate((href) => {
      const host = document.createElement('div');
      host.id = 'widget';
      document.body.prepend(host);
      const link = document.createElement('a');
      link.href = href;
      link.id = 'shadow-link';
      link.textContent = 'Widget link';
      link.addEventListener('click', (event) => event.preventDefault());
      host.attachShadow({ mode: 'open' }).append(link);
    }, `${site!.altOrigin}/away`);
    await page.click('#shadow-link');
    await site!.waitForEvents((event) => event.type === 'outbound');
    await settle(page, site!);

    expect(ofType('outbound')).toEqual([
      { type: 'outbound', url: `${site!.origin}/`, href: `${site!.altOrigin}/away` },
    ]);
  });

  test('a file on another host is a download only, never also outbound', async () => {
    const page = await visit();
    await page.click('#download');
    await site!.waitForEvents((event) => event.type === 'download');
    await settle(page, site!);

    expect(interactionEvents()).toEqual([
      { type: 'download', url: `${site!.origin}/`, href: `${site!.altOrigin}/files/results.pdf` },
    ]);
    expect(page.url()).toBe(`${site!.origin}/`);
  });

  test('a link with a download attribute is a download', async () => {
    const page = await visit();
    await page.click('#download-attr');
    await site!.waitForEvents((event) => event.type === 'download');
    await settle(page, site!);

    expect(interactionEvents()).toEqual([
      { type: 'download', url: `${site!.origin}/`, href: `${site!.origin}/files/export` },
    ]);
  });

  test('a same-host link sends nothing; a mailto: link only its scheme', async () => {
    const page = await visit();
    await page.click('#internal');
    await page.click('#mail');
    await settle(page, site!);

    expect(interactionEvents()).toEqual([
      { type: 'outbound', url: `${site!.origin}/`, href: 'mailto:' },
    ]);
    expect(site!.requests.some((r) => /pat\.doe|mail\.test/i.test(r.body))).toBe(false);
  });
});

describe('links the tracker QA found unseen', () => {
  test('an SVG link is seen; a name and password in a link never leave the page', async () => {
    const page = await visit();
    await page.evaluate((other) => {
      const away = other.replace('https://', 'https://pat:s3cret@');
      document.body.insertAdjacentHTML(
        'afterbegin',
        `<svg width="300" height="40"><a id="svg-link" href="${other}/svg-away"
           onclick="event.preventDefault()"><text x="5" y="25">Partner map</text></a></svg>
         <a id="userinfo" href="${away}/login" onclick="event.preventDefault()">Portal</a>`,
      );
    }, site!.altOrigin);
    await page.click('#svg-link text');
    await page.click('#userinfo');
    await site!.waitForEvents((event) => event.type === 'outbound', 2);
    await settle(page, site!);

    expect(interactionEvents()).toEqual([
      { type: 'outbound', url: `${site!.origin}/`, href: `${site!.altOrigin}/svg-away` },
      { type: 'outbound', url: `${site!.origin}/`, href: `${site!.altOrigin}/login` },
    ]);
    expect(site!.requests.some((r) => r.body.includes('s3cret'))).toBe(false);
  });

  test('an image map area is a link too', async () => {
    const page = await visit();
    await page.evaluate((other) => {
      document.body.insertAdjacentHTML(
        'afterbegin',
        `<map name="m"><area id="area" shape="rect" coords="0,0,40,40" href="${other}/area"
           onclick="event.preventDefault()"></map><img usemap="#m" width="40" height="40">`,
      );
    }, site!.altOrigin);
    await page.dispatchEvent('#area', 'click');
    await site!.waitForEvents((event) => event.type === 'outbound');

    expect(interactionEvents()).toEqual([
      { type: 'outbound', url: `${site!.origin}/`, href: `${site!.altOrigin}/area` },
    ]);
  });

  test('a link without an address is no click anywhere, whatever the base (QA)', async () => {
    const page = await visit();
    await page.evaluate((other) => {
      document.head.insertAdjacentHTML('afterbegin', `<base href="${other}/static/">`);
      document.body.insertAdjacentHTML(
        'afterbegin',
        `<a id="button" onclick="return false">Book now</a><a id="anchor" name="top">Top</a>
         <svg width="60" height="30"><a id="group"><rect width="60" height="30"/></a></svg>`,
      );
    }, site!.altOrigin);
    await page.click('#button');
    await page.click('#anchor');
    await page.click('#group rect');
    await settle(page, site!);

    expect(interactionEvents()).toEqual([]);
  });
});

describe('form submissions', () => {
  const typed = {
    patient: 'Pat Doe',
    email: 'pat.doe@mail.test',
    name: 'Jane Q Public',
    id: 'MRN-0048213',
  };

  test('a submission is one form event named by the form id, no typed values', async () => {
    const page = await visit();
    for (const [field, value] of Object.entries(typed)) {
      await page.fill(`#appointment [name="${field}"]`, value);
    }

    await page.click('#book');
    await site!.waitForEvents((event) => event.type === 'form');
    await settle(page, site!);

    // The form has fields called "name" and "id": form.name and form.id would be those inputs.
    expect(interactionEvents()).toEqual([
      { type: 'form', url: `${site!.origin}/`, name: 'appointment' },
    ]);
    const bodies = site!.requests.map((r) => r.body.toLowerCase()).join('\n');
    for (const value of Object.values(typed)) {
      for (const form of [value, encodeURIComponent(value), value.replace(/ /g, '+')]) {
        expect(bodies).not.toContain(form.toLowerCase());
      }
    }

    expect(bodies).not.toContain('0048213');
  });

  test('a form without an id is named by its name attribute (Enter key submission)', async () => {
    const page = await visit();
    await page.fill('form[name="newsletter"] [name="email"]', typed.email);
    await page.fill('form[name="newsletter"] [name="name"]', typed.name);
    await page.press('form[name="newsletter"] [name="email"]', 'Enter');
    await site!.waitForEvents((event) => event.type === 'form');
    await settle(page, site!);

    expect(interactionEvents()).toEqual([
      { type: 'form', url: `${site!.origin}/`, name: 'newsletter' },
    ]);
    expect(site!.requests.some((r) => /pat\.doe|jane/i.test(r.body))).toBe(false);
  });

  test('a form with neither id nor name is reported with an empty name', async () => {
    const page = await visit();
    await page.fill('[name="q"]', 'knee pain after surgery');
    await page.click('#anon-submit');
    await site!.waitForEvents((event) => event.type === 'form');
    await settle(page, site!);

    expect(interactionEvents()).toEqual([{ type: 'form', url: `${site!.origin}/`, name: '' }]);
    expect(site!.requests.some((r) => r.body.includes('knee'))).toBe(false);
  });
});

describe('custom events', () => {
  test('track(name, props) sends one custom event with the primitive props only', async () => {
    const page = await visit();
    await page.evaluate(() => {
      const props = {
        clinic: 'north',
        slots: 2,
        firstVisit: true,
        patient: { name: 'Pat Doe' },
        list: ['a'],
        notANumber: NaN,
        forever: Infinity,
        call: () => 'x',
        nothing: null,
      };
      window.lighttrail?.track('Booked', props as unknown as Record<string, string>);
    });
    await site!.waitForEvents((event) => event.name === 'Booked');
    await settle(page, site!);

    expect(interactionEvents()).toEqual([
      {
        type: 'custom',
        url: `${site!.origin}/`,
        name: 'Booked',
        props: { clinic: 'north', slots: 2, firstVisit: true },
      },
    ]);
    expect(site!.requests.some((r) => r.body.includes('Pat Doe'))).toBe(false);
  });

  test('track without a usable name sends nothing and throws nothing', async () => {
    const page = await visit();
    await page.evaluate(() => {
      const track = window.lighttrail!.track as (name: unknown, props?: unknown) => void;
      track('');
      track(42, { a: 1 });
      track(undefined);
      track({ name: 'x' });
    });
    await settle(page, site!);

    expect(interactionEvents()).toEqual([]);
    expect(opened!.errors).toEqual([]);
  });

  test('window.lighttrail cannot be swapped out by page code', async () => {
    const page = await visit();
    const replaced = await page.evaluate(() => {
      'use strict';
      try {
        (window.lighttrail as { track: unknown }).track = () => undefined;

        return true;
      } catch {
        return false;
      }
    });

    expect(replaced).toBe(false);
  });
});

describe('custom events past the bounds, and before the tracker (tracker QA)', () => {
  test('props are kept within the endpoint bounds; throwing props send nothing', async () => {
    const page = await visit();
    await page.evaluate(() => {
      const track = window.lighttrail!.track as (name: unknown, props?: unknown) => void;
      const many: Record<string, string | number> = { long: 'v'.repeat(2000) };
      many['k'.repeat(65)] = 'dropped';
      for (let n = 0; n < 40; n++) many[`p${n}`] = n;
      track('Many', many);
      track('Listed', ['a', 'b']);
      track(`${' '.repeat(300)}Padded `);
      track('   ');
      track('Getter', {
        get boom() {
          throw new Error('boom');
        },
      });
      track(
        'Proxy',
        new Proxy(
          {},
          {
            ownKeys() {
              throw new Error('keys');
            },
          },
        ),
      );
    });
    await site!.waitForEvents((event) => event.name === 'Listed');
    await settle(page, site!);

    // Each event is a beacon of its own: they may arrive in any order.
    const events = interactionEvents();
    const named = (name: string) => events.find((event) => event.name === name);
    const [many, listed, padded] = [named('Many'), named('Listed'), named('Padded')];
    expect(events).toHaveLength(3);
    expect(padded?.name).toBe('Padded');
    const props = many?.props as Record<string, unknown>;
    expect(Object.keys(props)).toHaveLength(30);
    expect(props.long).toBe('v'.repeat(256));
    expect(Object.keys(props).some((key) => key.length > 64)).toBe(false);
    expect(listed).toMatchObject({ name: 'Listed', props: {} });
    expect(opened!.errors).toEqual([]);
  });

  test('thirty long CJK values fit one beacon; a long browser language is cut', async () => {
    const language = 'de-DE-u-co-phonebk-ka-shifted-nu-latn-ca-gregory-hc-h23';
    const page = await visit(
      `Object.defineProperty(navigator, 'language', { get: () => '${language}' });`,
    );
    await page.evaluate(() => {
      const props = Object.fromEntries(
        Array.from({ length: 30 }, (_, n) => [`k${n}`, '\u6f22'.repeat(1024)]),
      );
      window.lighttrail!.track('cjk', props);
    });
    const [event] = await site!.waitForEvents((e) => e.name === 'cjk');

    expect(Object.values(event?.props as Record<string, string>)).toEqual(
      Array.from({ length: 30 }, () => '\u6f22'.repeat(256)),
    );
    const [view] = site!.events().filter((e) => e.type === 'pageview');
    expect(view?.lang).toBe(language.slice(0, 35));
  });

  test('an element the window names lighttrail does not stop the tracker (QA)', async () => {
    // What `<div id="lighttrail">` makes `window.lighttrail` before the tag runs.
    const page = await visit('window.lighttrail = document.createElement("div");');
    await page.evaluate(() => window.lighttrail!.track('After', {}));
    await site!.waitForEvents((event) => event.name === 'After');

    expect(site!.events().filter((e) => e.type === 'pageview')).toHaveLength(1);
  });

  test('calls held by a stub before the tag go after the pageview', async () => {
    site = await serveTestSite({ trackerFile });
    // The order is the page's, as it sends: two beacons may reach the server in either order.
    opened = await openPage(
      browser,
      `const send = Navigator.prototype.sendBeacon;
       window.beacons = [];
       Navigator.prototype.sendBeacon = function (url, data) {
         window.beacons.push(data);
         return send.call(this, url, data);
       };
       window.lighttrail = window.lighttrail || { q: [], track: function () {
         this.q.push(arguments) } };
       window.lighttrail.track('Early', { clinic: 'north' });`,
    );
    await opened.page.goto(`${site.origin}/`);
    await site.waitForEvents((event) => event.name === 'Early');
    await settle(opened.page, site);

    const bodies = await opened.page.evaluate(() =>
      Promise.all((window as unknown as { beacons: Blob[] }).beacons.map((blob) => blob.text())),
    );
    const sentInOrder = bodies
      .flatMap((body) => (JSON.parse(body) as { events: TrackedEvent[] }).events)
      .filter((event) => !String(event.name ?? '').startsWith(SETTLE_MARK))
      .map((event) => [event.type, event.name ?? null]);
    expect(sentInOrder).toEqual([
      ['pageview', null],
      ['custom', 'Early'],
    ]);
    const arrived = site.events().filter((e) => !String(e.name ?? '').startsWith(SETTLE_MARK));
    expect(arrived).toHaveLength(2);
    expect(await opened.page.evaluate(() => 'q' in window.lighttrail!)).toBe(false);
  });
});

describe('engagement', () => {
  test('an SPA route starts at no depth: the scroll of the old route is not read', async () => {
    const page = await visit();
    await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
    await sleep(100);
    await page.evaluate(() => {
      history.pushState({}, '', '/app/next');
      scrollTo(0, 0);
    });
    await sleep(100);
    await setVisibility(page, 'hidden');
    await site!.waitForEvents((event) => event.type === 'engagement', 2);

    const depths = ofType('engagement').map((event) => [event.url, event.scrollDepth]);
    expect(depths[0]).toEqual([`${site!.origin}/`, 100]);
    expect(depths[1]?.[0]).toBe(`${site!.origin}/app/next`);
    expect(depths[1]?.[1]).toBeLessThan(50);
  });

  test('sent once when the page is hidden, with visible time and the deepest scroll', async () => {
    const page = await visit();
    await sleep(400);
    await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
    await sleep(100);
    await page.evaluate(() => scrollTo(0, 0));
    await sleep(100);
    await setVisibility(page, 'hidden');
    await site!.waitForEvents((event) => event.type === 'engagement');

    // A tab close fires visibilitychange and then pagehide: the second must not send again.
    await page.evaluate(() => {
      document.dispatchEvent(new Event('visibilitychange'));
      dispatchEvent(new PageTransitionEvent('pagehide'));
    });
    await settle(page, site!);

    const engagements = ofType('engagement');
    expect(engagements).toHaveLength(1);
    expect(engagements[0]).toMatchObject({ url: `${site!.origin}/`, scrollDepth: 100 });
    expect(engagements[0]?.engagementMs).toBeGreaterThanOrEqual(600);
  });

  test('hidden time does not count: the next stretch reports only visible time', async () => {
    const page = await visit();
    await sleep(100);
    await setVisibility(page, 'hidden');
    await site!.waitForEvents((event) => event.type === 'engagement');
    await sleep(1_500);
    await setVisibility(page, 'visible');
    await sleep(300);
    await setVisibility(page, 'hidden');
    const [, second] = await site!.waitForEvents((event) => event.type === 'engagement', 2);

    expect(second?.engagementMs).toBeGreaterThanOrEqual(290);
    expect(second?.engagementMs).toBeLessThan(1_200);
  });

  test('a page that was never visible reports no zero engagement', async () => {
    const page = await visit(
      `Object.defineProperty(Document.prototype, 'visibilityState', { get: () => 'hidden' });`,
    );
    await sleep(200);
    await page.evaluate(() => {
      document.dispatchEvent(new Event('visibilitychange'));
      dispatchEvent(new PageTransitionEvent('pagehide'));
    });
    await page.evaluate(() => history.pushState({}, '', '/app/elsewhere'));
    await site!.waitForEvents((event) => event.type === 'pageview', 2);
    await settle(page, site!);

    expect(ofType('engagement')).toEqual([]);
  });

  test('closing the tab delivers its engagement exactly once', async () => {
    const page = await visit();
    await sleep(300);
    // As a person closes a tab: through the page's unload steps (pagehide, visibilitychange), not
    // a bare target teardown, which can drop a beacon queued in the last moment.
    await page.close({ runBeforeUnload: true });
    await site!.waitForEvents((event) => event.type === 'engagement');
    await sleep(500);

    const engagements = ofType('engagement');
    expect(engagements).toHaveLength(1);
    expect(engagements[0]?.engagementMs).toBeGreaterThanOrEqual(300);
    // The viewport (720px) shows the top fifth of the page or so.
    expect(engagements[0]?.scrollDepth).toBeGreaterThan(5);
    expect(engagements[0]?.scrollDepth).toBeLessThan(40);
  });
});
