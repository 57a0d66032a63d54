// Pageviews of the browser tracker in a real chromium: on load, on SPA route changes, and the
// guards that keep it quiet (prerender, second inclusion, bad install, file: pages).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { launchBrowser } from '../helpers/browser.js';
import {
  buildTracker,
  openPage,
  serveTestSite,
  settle,
  type OpenedPage,
  type TestSite,
  type TestSiteOptions,
  type TrackedEvent,
} from '../helpers/tracker-site.js';

let dir: string;
let trackerFile: string;
let browser: Browser;
let site: TestSite | undefined;
let opened: OpenedPage | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lt-tracker-pageviews-'));
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

async function start(options: TestSiteOptions = {}, initScript?: string): Promise<Page> {
  site = await serveTestSite({ trackerFile, ...options });
  opened = await openPage(browser, initScript);

  return opened.page;
}

function pageviews(): TrackedEvent[] {
  return site!.events().filter((event) => event.type === 'pageview');
}

async function waitForPageviews(count: number): Promise<TrackedEvent[]> {
  return site!.waitForEvents((event) => event.type === 'pageview', count);
}

async function lighttrailDefined(page: Page): Promise<boolean> {
  return page.evaluate(() => 'lighttrail' in window);
}

describe('pageview on load', () => {
  test('exactly one pageview, with the referrer of the page that linked here', async () => {
    const page = await start();
    await page.goto(`${site!.altOrigin}/from`);
    await page.click('#go');
    await waitForPageviews(1);
    await settle(page, site!);

    const [view] = pageviews();
    expect(pageviews()).toHaveLength(1);
    expect(view).toEqual({
      type: 'pageview',
      url: `${site!.origin}/`,
      referrer: `${site!.altOrigin}/`,
      title: 'LightTrail test clinic',
      screen: 1280,
      lang: 'en-US',
    });
    expect(site!.requests[0]?.payload?.site).toBe('test-site');
    expect(opened!.errors).toEqual([]);
  });

  test('a direct visit has an empty referrer', async () => {
    const page = await start();
    await page.goto(`${site!.origin}/app/direct?utm_source=mail`);
    const [view] = await waitForPageviews(1);

    expect(view?.referrer).toBe('');
    expect(view?.url).toBe(`${site!.origin}/app/direct?utm_source=mail`);
  });
});

describe('SPA route changes', () => {
  test('two pushState navigations: two pageviews, each after the last engagement', async () => {
    const page = await start();
    await page.goto(`${site!.origin}/`);
    await waitForPageviews(1);
    await sleep(50);
    await page.evaluate(() => history.pushState({}, '', '/app/one'));
    await waitForPageviews(2);
    await sleep(50);
    await page.evaluate(() => history.pushState({}, '', '/app/two?tab=2'));
    await waitForPageviews(3);
    await settle(page, site!);

    expect(pageviews().map((view) => [view.url, view.referrer])).toEqual([
      [`${site!.origin}/`, ''],
      [`${site!.origin}/app/one`, ''],
      [`${site!.origin}/app/two?tab=2`, ''],
    ]);

    // The page being left reports its engagement in the same request, ahead of the new pageview.
    const spaRequests = site!.requests.filter((r) =>
      r.payload?.events.some((e) => e.type === 'pageview' && e.url !== `${site!.origin}/`),
    );
    expect(spaRequests.map((r) => r.payload?.events.map((e) => [e.type, e.url]))).toEqual([
      [
        ['engagement', `${site!.origin}/`],
        ['pageview', `${site!.origin}/app/one`],
      ],
      [
        ['engagement', `${site!.origin}/app/one`],
        ['pageview', `${site!.origin}/app/two?tab=2`],
      ],
    ]);
    expect(opened!.errors).toEqual([]);
  });

  test('replaceState to another path is a route change too', async () => {
    const page = await start();
    await page.goto(`${site!.origin}/`);
    await waitForPageviews(1);
    await page.evaluate(() => history.replaceState({}, '', '/app/replaced'));
    const views = await waitForPageviews(2);

    expect(views[1]?.url).toBe(`${site!.origin}/app/replaced`);
  });

  test('same-URL pushState, state-only replaceState and hash changes record nothing', async () => {
    const page = await start();
    await page.goto(`${site!.origin}/app/same?x=1`);
    await waitForPageviews(1);

    await page.evaluate(() => {
      history.pushState({}, '', location.href);
      history.pushState({ step: 2 }, '', '/app/same?x=1');
      history.replaceState({ scroll: 120 }, '');
      location.hash = '#section';
      history.pushState({}, '', '#other');
    });
    await page.evaluate(() => history.back()); // popstate, but only the hash differs
    await settle(page, site!);

    expect(pageviews()).toHaveLength(1);
    expect(site!.events().filter((e) => e.type === 'engagement')).toEqual([]);
    expect(await page.evaluate(() => location.hash)).toBe('#section');
    expect(opened!.errors).toEqual([]);
  });

  test('the back button (popstate) makes exactly one pageview', async () => {
    const page = await start();
    await page.goto(`${site!.origin}/`);
    await waitForPageviews(1);
    await page.evaluate(() => history.pushState({}, '', '/app/next'));
    await waitForPageviews(2);

    await page.evaluate(() => history.back());
    await waitForPageviews(3);
    await settle(page, site!);

    expect(pageviews().map((view) => view.url)).toEqual([
      `${site!.origin}/`,
      `${site!.origin}/app/next`,
      `${site!.origin}/`,
    ]);
  });

  test('the page still navigates normally through the patched history', async () => {
    const page = await start();
    await page.goto(`${site!.origin}/`);
    await waitForPageviews(1);

    const state = await page.evaluate(() => {
      history.pushState({ n: 1 }, '', '/app/kept');

      return [location.pathname, (history.state as { n: number }).n];
    });

    expect(state).toEqual(['/app/kept', 1]);
  });
});

describe('replaceState, restores and long fields (tracker QA)', () => {
  test('replaceState keeping the path counts nothing: a router tidying, a search box', async () => {
    const page = await start();
    await page.goto(`${site!.origin}/app/about?utm_source=mail`);
    await waitForPageviews(1);

    await page.evaluate(() => {
      // A router dropping the campaign query it read, then adding a final slash.
      history.replaceState({}, '', '/app/about');
      history.replaceState({}, '', '/app/about/');
      // Search as you type, the text kept in the query.
      for (const typed of ['c', 'ch', 'che', 'chest', 'chest pain']) {
        history.replaceState(null, '', `?q=${encodeURIComponent(typed)}`);
      }
      // Pushing the address the page now has is no new page either, nor going back to the one
      // it was counted at (the search box cleared, QA).
      history.pushState({}, '', location.pathname + location.search);
      history.pushState({}, '', '/app/about?utm_source=mail');
    });
    await settle(page, site!);

    expect(pageviews().map((view) => view.url)).toEqual([
      `${site!.origin}/app/about?utm_source=mail`,
    ]);
    expect(pageviews().some((view) => String(view.url).includes('chest'))).toBe(false);

    // A push to another page still counts, and so does a redirect that changes the path.
    await page.evaluate(() => history.pushState({}, '', '/app/next'));
    await page.evaluate(() => history.replaceState({}, '', '/app/moved'));
    await waitForPageviews(3);
    expect(pageviews().map((view) => new URL(view.url as string).pathname)).toEqual([
      '/app/about',
      '/app/next',
      '/app/moved',
    ]);
  });

  test('with data-hash, each route of a hash router is a page, however it is reached', async () => {
    const page = await start({ hashRoutes: true });
    await page.goto(`${site!.origin}/#/portal/inbox`);
    await waitForPageviews(1);

    await page.evaluate(() => {
      document.body.insertAdjacentHTML('afterbegin', '<a id="route" href="#/appointments">Go</a>');
    });
    await page.click('#route');
    await waitForPageviews(2);
    await page.evaluate(() => (location.hash = '#/doctors'));
    await waitForPageviews(3);
    await page.evaluate(() => history.back());
    await waitForPageviews(4);
    // The same route again is no new page.
    await page.evaluate(() => (location.hash = '#/appointments'));
    await settle(page, site!);

    expect(pageviews().map((view) => new URL(view.url as string).hash)).toEqual([
      '#/portal/inbox',
      '#/appointments',
      '#/doctors',
      '#/appointments',
    ]);
  });

  test('a page restored from the back/forward cache counts again, as a load would', async () => {
    const cached = await launchBrowser({ backForwardCache: true });
    try {
      site = await serveTestSite({ trackerFile });
      const context = await cached.newContext({ ignoreHTTPSErrors: true });
      await context.addInitScript(() =>
        addEventListener('pageshow', (event) => {
          if (event.persisted) (window as { restored?: boolean }).restored = true;
        }),
      );
      const page = await context.newPage();
      await page.goto(`${site.origin}/`);
      await waitForPageviews(1);
      await page.goto(`${site.origin}/app/second`);
      await waitForPageviews(2);

      // A restore fires no load event, what goBack waits for by default.
      await page.goBack({ waitUntil: 'commit' });
      await page.waitForFunction(() => (window as { restored?: boolean }).restored === true);
      await waitForPageviews(3);

      expect(
        pageviews().map((view) => [new URL(view.url as string).pathname, view.referrer]),
      ).toEqual([
        ['/', ''],
        ['/app/second', ''],
        ['/', ''],
      ]);
      await context.close();
    } finally {
      await cached.close();
    }
  });

  test('a title or address past the endpoint bounds is cut, the pageview kept', async () => {
    const page = await start();
    await page.goto(`${site!.origin}/`);
    await waitForPageviews(1);

    await page.evaluate(() => {
      document.title = 'Cardiology appointment '.repeat(50);
      history.pushState({}, '', `/app/long?text=${'x'.repeat(9000)}`);
    });
    await page.evaluate(() => {
      // An emoji cut in half by the page's own code.
      document.title = 'Clinic news \ud83d';
      history.pushState({}, '', '/app/news');
    });
    const views = await waitForPageviews(3);

    expect(views[1]?.title).toHaveLength(1024);
    expect(views[1]?.url).toHaveLength(8192);
    expect(views[2]?.title).toBe('Clinic news \ufffd');
    expect(opened!.errors).toEqual([]);
  });
});

describe('runs once, and only when it should', () => {
  test('included twice, it records one pageview and sends each event once', async () => {
    const page = await start({ scriptTags: 2 });
    await page.goto(`${site!.origin}/`);
    await waitForPageviews(1);
    await page.evaluate(() => window.lighttrail?.track('Booked'));
    await settle(page, site!);

    expect(pageviews()).toHaveLength(1);
    expect(site!.events().filter((e) => e.name === 'Booked')).toHaveLength(1);
  });

  test('a prerendered page records nothing until activation, then all it held', async () => {
    // chromium under playwright-core downgrades speculation-rules prerenders to prefetches, so the
    // prerender state is simulated: document.prerendering reads a flag until activation.
    const page = await start(
      {},
      `(() => {
        let prerendering = true;
        Object.defineProperty(Document.prototype, 'prerendering', {
          configurable: true,
          get: () => prerendering,
        });
        window.activateForTest = () => {
          prerendering = false;
          document.dispatchEvent(new Event('prerenderingchange'));
        };
      })();`,
    );
    await page.goto(`${site!.origin}/`);
    await page.evaluate(() => window.lighttrail?.track('SeenInPrerender'));
    await page.evaluate(() => history.pushState({}, '', '/app/prerender-route'));
    await sleep(500);

    expect(site!.requests).toEqual([]);

    await page.evaluate(() => (window as unknown as { activateForTest(): void }).activateForTest());
    await waitForPageviews(1);
    await settle(page, site!);

    expect(pageviews().map((view) => view.url)).toEqual([`${site!.origin}/app/prerender-route`]);
    expect(site!.events().filter((e) => e.name === 'SeenInPrerender')).toHaveLength(1);
  });

  test.each([
    ['no data-site', { siteId: null }],
    ['an empty data-site', { siteId: '' }],
    ['a javascript: data-api', { api: 'javascript:alert(1)' }],
    ['a data: data-api', { api: 'data:text/plain,x' }],
    ['an unparsable data-api', { api: 'http://[nope' }],
  ] as const)('refuses to start with %s: no request, no global, no error', async (_, options) => {
    const page = await start(options);
    await page.goto(`${site!.origin}/`);
    await page.evaluate(() => history.pushState({}, '', '/app/after'));
    await page.click('#outbound-inner');
    await sleep(500);

    expect(site!.requests).toEqual([]);
    expect(await lighttrailDefined(page)).toBe(false);
    expect(opened!.errors).toEqual([]);
  });

  test('does nothing on a file: page', async () => {
    const page = await start();
    const file = join(dir, 'local.html');
    const script = pathToFileURL(trackerFile).href;
    const api = `${site!.origin}/api/collect`;
    writeFileSync(
      file,
      `<!doctype html><title>Local</title>` +
        `<script src="${script}" data-site="test-site" data-api="${api}"></script>`,
    );
    await page.goto(pathToFileURL(file).href);
    await sleep(500);

    expect(site!.requests).toEqual([]);
    expect(await lighttrailDefined(page)).toBe(false);
    expect(opened!.errors).toEqual([]);
  });
});
