// The whole product in a real browser: Debian's chromium loads a page that installs the tracker
// from a running LightTrail, a visitor navigates, clicks and submits, and exactly the expected
// events are stored, encrypted, and show in the stats API. Nothing typed into the form, and no
// address, reaches the database or the logs.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { launchBrowser } from '../helpers/browser.js';
import { CHROME_UA, dumpDatabase, startProduct, type Product } from '../helpers/product.js';
import { BUILT_TRACKER, serveTestSite, type TestSite } from '../helpers/tracker-site.js';

interface Row {
  type: string;
  path: string;
  name: string | null;
  href: string | null;
  props: string | null;
  session_id: string;
  visitor_id: string;
  country: string | null;
  browser: string | null;
  channel: string;
}

// The reverse proxy in front of LightTrail is played by the browser context adding the header a
// proxy would add; 127.0.0.1 (the socket peer) is configured as that trusted proxy.
const VISITOR_ADDRESS = '81.2.69.142';

describe('tracker to stats, end to end in chromium', () => {
  let product: Product;
  let site: TestSite;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  async function rows(): Promise<Row[]> {
    const db = await product.tenantDb();
    try {
      return db.prepare('SELECT * FROM events ORDER BY id').all() as Row[];
    } finally {
      db.close();
    }
  }

  async function waitFor(check: (stored: Row[]) => boolean, timeoutMs = 10_000): Promise<Row[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const stored = await rows();
      if (check(stored)) return stored;
      if (Date.now() > deadline)
        throw new Error(
          `timed out; stored: ${JSON.stringify(stored.map((r) => [r.type, r.path, r.name]))}`,
        );
      await new Promise((done) => setTimeout(done, 50));
    }
  }

  const count = (stored: Row[], type: string) => stored.filter((row) => row.type === type).length;

  beforeAll(async () => {
    product = await startProduct({
      env: { LIGHTTRAIL_TRUSTED_PROXIES: '127.0.0.1/32' },
      site: { domains: ['127.0.0.1'], geoPrecision: 'city' },
    });
    site = await serveTestSite({
      scriptSrc: `${product.origin}/lt.js`,
      siteId: product.siteId,
      api: `${product.origin}/api/collect`,
    });
    browser = await launchBrowser();
    // Headless chromium says so in its User-Agent and client hints, and LightTrail rightly files
    // it as a bot (C15); the visitor here presents as the desktop Chrome it is built from.
    context = await browser.newContext({
      ignoreHTTPSErrors: true,
      userAgent: CHROME_UA,
      extraHTTPHeaders: {
        'X-Forwarded-For': VISITOR_ADDRESS,
        'Sec-CH-UA': '"Chromium";v="124", "Google Chrome";v="124"',
      },
    });
    page = await context.newPage();
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await site?.close();
    await product?.close();
  });

  it('records exactly: load, two SPA navigations, back, outbound, form, custom', async () => {
    await page.goto(`${site.origin}/`);
    await waitFor((stored) => count(stored, 'pageview') === 1);

    await page.evaluate(() => history.pushState({}, '', '/app/appointments'));
    await page.evaluate(() => history.pushState({}, '', '/app/doctors'));
    await page.evaluate(() => history.pushState({}, '', '/app/doctors'));
    await waitFor((stored) => count(stored, 'pageview') === 3);
    // The same-URL push left a history entry: the first Back stays on /app/doctors and must
    // not count; the second returns to /app/appointments and counts once.
    await page.goBack();
    await page.goBack();
    await waitFor((stored) => count(stored, 'pageview') === 4);

    const popup = context.waitForEvent('page');
    await page.click('#outbound');
    await (await popup).close();
    await page.fill('#appointment input[name=patient]', 'Pat Doe');
    await page.fill('#appointment input[name=email]', 'pat.doe@mail.test');
    await page.click('#book');
    await page.evaluate(() =>
      (window as unknown as { lighttrail: { track(n: string, p: object): void } }).lighttrail.track(
        'appointment_requested',
        {
          department: 'cardiology',
        },
      ),
    );

    const stored = await waitFor(
      (all) =>
        count(all, 'outbound') === 1 && count(all, 'form') === 1 && count(all, 'custom') === 1,
    );
    // Give any stray duplicate time to arrive before asserting exact counts.
    await new Promise((done) => setTimeout(done, 500));
    const final = await rows();

    expect(final.filter((row) => row.type === 'pageview').map((row) => row.path)).toEqual([
      '/',
      '/app/appointments',
      '/app/doctors',
      '/app/appointments',
    ]);
    // Three beacons sent milliseconds apart: each exactly once, in whatever order they landed.
    expect(
      final
        .filter((row) => row.type !== 'pageview' && row.type !== 'engagement')
        .map((row) => [row.type, row.name])
        .sort(),
    ).toEqual([
      ['custom', 'appointment_requested'],
      ['form', 'appointment'],
      ['outbound', null],
    ]);
    expect(final.find((row) => row.type === 'custom')?.props).toBe('{"department":"cardiology"}');
    expect(new Set(final.map((row) => row.session_id)).size).toBe(1);
    expect(new Set(final.map((row) => row.visitor_id)).size).toBe(1);
    expect(final[0]).toMatchObject({ country: 'GB', browser: 'Chrome', channel: 'Direct' });
    expect(stored.length).toBeGreaterThanOrEqual(7);
  });

  it('shows the visit in the stats API', async () => {
    await page.close();
    const res = await product.get(`/api/sites/${product.siteId}/stats`, {
      Authorization: `Bearer ${product.token}`,
    });
    const stats = res.json() as {
      totals: { visitors: number; sessions: number; pageviews: number; bounceRate: number };
      pages: Array<{ key: string; pageviews: number }>;
      events: Array<{ type: string; name: string; count: number }>;
      links: Array<{ type: string; count: number }>;
      countries: Array<{ key: string }>;
      channels: Array<{ key: string }>;
    };

    expect(res.status).toBe(200);
    expect(stats.totals).toMatchObject({ visitors: 1, sessions: 1, pageviews: 4, bounceRate: 0 });
    expect(stats.pages.map((row) => [row.key, row.pageviews])).toEqual([
      ['/app/appointments', 2],
      ['/', 1],
      ['/app/doctors', 1],
    ]);
    // Link clicks are counted under links by their target, not again among named events (QA).
    expect(stats.events).toHaveLength(2);
    expect(stats.events).toEqual(
      expect.arrayContaining([
        { type: 'form', name: 'appointment', count: 1 },
        { type: 'custom', name: 'appointment_requested', count: 1 },
      ]),
    );
    expect(stats.links).toEqual([expect.objectContaining({ type: 'outbound', count: 1 })]);
    expect(stats.countries.map((row) => row.key)).toEqual(['GB']);
  });

  it('leaves no typed value, e-mail address or client address on disk or in the logs', async () => {
    const db = await product.tenantDb();
    const dump = dumpDatabase(db);
    db.close();
    const logs = product.logs.join('\n');

    for (const secret of ['Pat Doe', 'pat.doe', 'mail.test', VISITOR_ADDRESS, '127.0.0.1:']) {
      expect(dump).not.toContain(secret);
      expect(logs).not.toContain(secret);
    }
  });

  // Last: its visit would change the figures above. Its context adds no forwarded address: a
  // header of the page's own makes the script's CORS request need a preflight, which a real
  // visitor's browser does not send.
  it('loads the tracker through a tag with Subresource Integrity (tracker QA)', async () => {
    const script = readFileSync(BUILT_TRACKER);
    const integrity = `sha384-${createHash('sha384').update(script).digest('base64')}`;
    const sri = await serveTestSite({
      scriptSrc: `${product.origin}/lt.js`,
      siteId: product.siteId,
      integrity,
    });
    const plain = await browser.newContext({ ignoreHTTPSErrors: true, userAgent: CHROME_UA });
    try {
      // Blocked (no Access-Control-Allow-Origin), the script never runs and nothing arrives.
      const visit = await plain.newPage();
      await visit.goto(`${sri.origin}/app/sri`);
      const stored = await waitFor((all) => all.some((row) => row.path === '/app/sri'));

      expect(stored.filter((row) => row.path === '/app/sri').map((row) => row.type)).toEqual([
        'pageview',
      ]);
    } finally {
      await plain.close();
      await sri.close();
    }
  });
});
