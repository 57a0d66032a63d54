// How the tracker's requests travel, in a real chromium: the content type that avoids a CORS
// preflight, the fetch fallback without credentials, the privacy signals, and what it leaves
// behind in the browser (nothing).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
} from '../helpers/tracker-site.js';

let dir: string;
let trackerFile: string;
let browser: Browser;
let site: TestSite | undefined;
const extraSites: TestSite[] = [];
const contexts: OpenedPage[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lt-tracker-transport-'));
  trackerFile = buildTracker(dir);
  browser = await launchBrowser();
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((opened) => opened.context.close()));
  await Promise.all([site, ...extraSites.splice(0)].map((s) => s?.close()));
  site = undefined;
});

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(options: Omit<TestSiteOptions, 'trackerFile'> = {}): Promise<TestSite> {
  site = await serveTestSite({ trackerFile, ...options });

  return site;
}

/** A second site, standing in for the analytics host when the page lives elsewhere. */
async function serveExtra(): Promise<TestSite> {
  const extra = await serveTestSite({ trackerFile });
  extraSites.push(extra);

  return extra;
}

async function open(initScript?: string, cookie?: { name: string; value: string; url: string }) {
  const opened = await openPage(browser, initScript);
  contexts.push(opened);
  if (cookie) await opened.context.addCookies([cookie]);

  return opened;
}

async function load(page: Page, path = '/'): Promise<void> {
  await page.goto(site!.origin + path);
  await site!.waitForEvents((event) => event.type === 'pageview');
}

const NO_SEND_BEACON = 'delete Navigator.prototype.sendBeacon;';
const REFUSING_SEND_BEACON = 'Navigator.prototype.sendBeacon = function () { return false; };';

describe('requests', () => {
  test('JSON posted as text/plain to /api/collect on the origin of the script', async () => {
    await serve();
    const { page, errors } = await open();
    await load(page);
    await settle(page, site!);

    for (const request of site!.requests) {
      expect(request.method).toBe('POST');
      expect(request.contentType).toMatch(/^text\/plain(;|$)/);
      expect(request.payload?.site).toBe('test-site');
    }

    expect(errors).toEqual([]);
  });

  test('the default endpoint follows the script origin, not the page origin', async () => {
    // lt.js comes from the analytics host's [::1] origin; the page lives on another server.
    const analytics = await serveExtra();
    await serve({ scriptSrc: `${analytics.altOrigin}/lt.js` });
    const { page } = await open();
    await page.goto(`${site!.origin}/`);
    await analytics.waitForEvents((event) => event.type === 'pageview');
    await new Promise((done) => setTimeout(done, 200));

    expect(analytics.requests).toHaveLength(1);
    expect(analytics.requests[0]?.origin).toBe(site!.origin);
    expect(site!.requests).toEqual([]);
  });

  test('a collect endpoint on another origin gets simple requests: no preflight', async () => {
    const analytics = await serveExtra();
    await serve({ api: `${analytics.altOrigin}/api/collect` });
    const { page } = await open();
    await page.goto(`${site!.origin}/`);
    await page.evaluate(() => history.pushState({}, '', '/app/next'));
    await page.evaluate(() => window.lighttrail?.track('Booked', { clinic: 'north' }));
    await settle(page, analytics);

    expect(analytics.requests.length).toBeGreaterThanOrEqual(3);
    expect(analytics.requests.filter((r) => r.method !== 'POST')).toEqual([]);
    expect(new Set(analytics.requests.map((r) => r.origin))).toEqual(new Set([site!.origin]));
    expect(site!.requests).toEqual([]);
  });
});

describe('fetch fallback', () => {
  test('without sendBeacon: a keepalive fetch, same text/plain body, no cookie', async () => {
    await serve();
    const cookie = { name: 'dashboard_session', value: 'must-not-travel', url: site!.origin };

    // Control: a beacon carries the collect host's cookies (credentials are always included),
    // which is why the collector must never read a Cookie header.
    const beacon = await open(undefined, cookie);
    await load(beacon.page);
    expect(site!.requests[0]?.cookie).toContain('must-not-travel');
    await beacon.context.close();
    // Closing the page sends its engagement beacon, cookie and all: let it land before the
    // count starts, or it is taken for one of the fallback's requests.
    for (let seen = -1; seen !== site!.requests.length;) {
      seen = site!.requests.length;
      await new Promise((done) => setTimeout(done, 300));
    }
    site!.requests.length = 0;

    const { page, errors } = await open(NO_SEND_BEACON, cookie);
    await load(page);
    await page.evaluate(() => window.lighttrail?.track('Booked'));
    await settle(page, site!);

    expect(site!.requests.length).toBeGreaterThanOrEqual(3);
    for (const request of site!.requests) {
      expect(request.method).toBe('POST');
      expect(request.contentType).toMatch(/^text\/plain(;|$)/);
      expect(request.cookie).toBeUndefined();
    }

    expect(site!.events().filter((e) => e.type === 'pageview')).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  test('when sendBeacon refuses (returns false), each event still goes exactly once', async () => {
    await serve();
    const { page, errors } = await open(REFUSING_SEND_BEACON);
    await load(page);
    await page.evaluate(() => history.pushState({}, '', '/app/next'));
    await settle(page, site!);

    expect(site!.events().filter((e) => e.type === 'pageview')).toHaveLength(2);
    expect(errors).toEqual([]);
  });

  test('a burst past the 64 KB beacon quota arrives while the page is open (QA)', async () => {
    await serve();
    const { page, errors } = await open();
    // A campaign landing page's long address: every event carries it.
    await load(page, `/?utm_source=newsletter&utm_content=${'x'.repeat(2000)}`);
    const refused = await page.evaluate(() => {
      let count = 0;
      const send = navigator.sendBeacon.bind(navigator);
      navigator.sendBeacon = (url, data) => send(url, data) || (count++, false);
      for (let n = 0; n < 60; n++) window.lighttrail?.track(`Burst ${n}`);

      return count;
    });
    await site!.waitForEvents((event) => event.type === 'custom' && event.name === 'Burst 59');
    await settle(page, site!);

    // Chromium refused some beacons (the quota), and their plain fetches carried them.
    expect(refused).toBeGreaterThan(0);
    const names = site!
      .events()
      .filter((event) => String(event.name ?? '').startsWith('Burst '))
      .map((event) => event.name);
    expect(new Set(names).size).toBe(60);
    expect(names).toHaveLength(60);
    expect(errors).toEqual([]);
  });

  test.each([
    ['sendBeacon', ''],
    ['the fetch fallback', NO_SEND_BEACON],
  ])('an unreachable collect endpoint never breaks the page (%s)', async (_, initScript) => {
    const deadPort = await freePort();
    await serve({ api: `http://127.0.0.1:${deadPort}/api/collect` });
    const { page, errors } = await open(
      `${initScript}
      window.rejections = [];
      addEventListener('unhandledrejection', (event) =>
        window.rejections.push(String(event.reason)));`,
    );
    await page.goto(`${site!.origin}/`);
    const outcome = await page.evaluate(async () => {
      window.lighttrail?.track('Booked');
      history.pushState({ n: 1 }, '', '/app/after');
      await new Promise((done) => setTimeout(done, 500));

      return {
        path: location.pathname,
        rejections: (window as unknown as { rejections: string[] }).rejections,
      };
    });

    expect(outcome).toEqual({ path: '/app/after', rejections: [] });
    expect(errors).toEqual([]);
  });
});

describe('privacy signals', () => {
  test('Global Privacy Control and Do Not Track are passed on in every payload', async () => {
    await serve();
    const { page } = await open(`
      Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true });
      Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' });`);
    await load(page);
    await page.evaluate(() => window.lighttrail?.track('Booked'));
    await settle(page, site!);

    for (const request of site!.requests) {
      expect(request.payload).toMatchObject({ gpc: true, dnt: true });
    }
  });

  test('without the signals, the payload carries neither flag', async () => {
    await serve();
    const { page } = await open(`
      Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => false });
      Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '0' });`);
    await load(page);
    await settle(page, site!);

    for (const request of site!.requests) {
      expect(Object.keys(request.payload ?? {}).sort()).toEqual(['events', 'site']);
    }
  });
});

describe('nothing left in the browser', () => {
  test('a whole visit sets no cookie and writes no storage', async () => {
    await serve();
    const { page, context } = await open();
    await load(page);
    await page.evaluate(() => history.pushState({}, '', '/app/next'));
    await page.fill('[name="patient"]', 'Pat Doe');
    await page.click('#book');
    await page.click('#download');
    await page.evaluate(() => window.lighttrail?.track('Booked', { clinic: 'north' }));
    await page.evaluate(() => dispatchEvent(new PageTransitionEvent('pagehide')));
    await settle(page, site!);

    const left = await page.evaluate(async () => ({
      cookie: document.cookie,
      localStorage: localStorage.length,
      sessionStorage: sessionStorage.length,
      indexedDB: (await indexedDB.databases()).length,
      caches: (await caches.keys()).length,
    }));

    expect(left).toEqual({
      cookie: '',
      localStorage: 0,
      sessionStorage: 0,
      indexedDB: 0,
      caches: 0,
    });
    expect(await context.cookies()).toEqual([]);
    expect(site!.requests.every((r) => r.cookie === undefined)).toBe(true);
  });
});

/** A loopback port with nothing listening on it (bound, read, released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise((done) => server.close(done));

  return typeof address === 'object' && address ? address.port : 0;
}
