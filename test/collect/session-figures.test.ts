import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { LocalKeyProvider } from '../../src/crypto/local-provider.js';
import type { Stats } from '../../src/domain/stats.js';
import { SqliteControlStore } from '../../src/store/sqlite/control.js';
import { openTenantDb } from '../../src/store/sqlite/tenant.js';
import { runCli, startServer, type RunningServer } from '../helpers/cli.js';
import { httpsRequest as call, type Response } from '../helpers/https.js';
import { CHROME_UA, startProduct } from '../helpers/product.js';
import { tempDir } from '../helpers/temp.js';

/** Two visitors: three pages and two pages, each request answered before the next is sent. */
const VISITS: Array<[string, string]> = [
  ['198.51.100.1', '/a'],
  ['198.51.100.2', '/x'],
  ['198.51.100.1', '/b'],
  ['198.51.100.2', '/y'],
  ['198.51.100.1', '/c'],
];

const totalsOf = (stats: Stats) => ({
  visitors: stats.totals.visitors,
  sessions: stats.totals.sessions,
  pageviews: stats.totals.pageviews,
  bounceRate: stats.totals.bounceRate,
});

const EXPECTED = { visitors: 2, sessions: 2, pageviews: 5, bounceRate: 0 };

/** Sends VISITS as pageviews, each answered 200 before the next, from a trusted proxy. */
async function sendVisits(
  siteId: string,
  post: (body: string, headers: Record<string, string>) => Promise<Response>,
): Promise<void> {
  for (const [address, page] of VISITS) {
    const body = { site: siteId, type: 'pageview', url: `https://localhost${page}` };
    const res = await post(JSON.stringify(body), { 'X-Forwarded-For': address });
    expect(res.status).toBe(200);
  }
}

function productFlushingEvery(ms: number) {
  return startProduct({
    env: { LIGHTTRAIL_TRUSTED_PROXIES: '127.0.0.1/32', LIGHTTRAIL_SESSION_FLUSH_MS: String(ms) },
  });
}

/**
 * The server writes session figures (exit page, counts, duration) at most once a second, not
 * with every event (src/store/sqlite/writer.ts). Held for a minute here, so that nothing but the
 * rules under test can have written them.
 */
describe('session figures held in memory count every acknowledged event', () => {
  const { dir, cleanup } = tempDir('lighttrail-session-figures-');
  let server: RunningServer | undefined;

  afterAll(async () => {
    if (server !== undefined && server.child.exitCode === null) await server.stop('SIGKILL');
    cleanup();
  });

  it('the stats API counts them while they are still held', async () => {
    const product = await productFlushingEvery(60_000);
    try {
      await sendVisits(product.siteId, product.post);

      // Held: the rows exist without figures.
      const db = await product.tenantDb();
      const held = db.prepare('SELECT sum(pageviews) AS n FROM sessions').get();
      db.close();
      expect(held).toEqual({ n: 0 });

      const res = await product.get(`/api/sites/${product.siteId}/stats`, {
        Authorization: `Bearer ${product.token}`,
      });
      expect(res.status).toBe(200);
      expect(totalsOf(res.json() as Stats)).toEqual(EXPECTED);
    } finally {
      await product.close();
    }
  });

  it('writes them once traffic stops, after the flush interval', async () => {
    const product = await productFlushingEvery(200);
    try {
      await sendVisits(product.siteId, product.post);

      // No request reads them and no commit follows: the writer's own timer writes them.
      await new Promise((resolve) => setTimeout(resolve, 600));
      const db = await product.tenantDb();
      const written = db.prepare('SELECT sum(pageviews) AS n FROM sessions').get();
      const mark = db.prepare(`SELECT value FROM meta WHERE key = 'sessions_through'`).get();
      const last = db.prepare('SELECT max(id) AS value FROM events').get();
      db.close();
      expect(written).toEqual({ n: 5 });
      expect(mark).toEqual(last);
    } finally {
      await product.close();
    }
  });

  it('a file locked by another process: tried again now and then, not in a loop (QA)', async () => {
    const product = await productFlushingEvery(300);
    const pageviews = async () => {
      const db = await product.tenantDb();
      try {
        return (db.prepare('SELECT sum(pageviews) AS n FROM sessions').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    try {
      const page = { site: product.siteId, type: 'pageview', url: 'https://localhost/a' };
      const from = { 'X-Forwarded-For': '198.51.100.7' };
      expect((await product.post(JSON.stringify(page), from)).status).toBe(200);
      while ((await pageviews()) !== 1) await wait(20);

      // The next figures are due 300 ms after the last were begun: meanwhile, another process
      // (a log import, a migration) takes the file's write lock and holds it for 1.5 s.
      expect((await product.post(JSON.stringify(page), from)).status).toBe(200);
      const holder = await product.tenantDb();
      holder.exec('BEGIN IMMEDIATE');
      await wait(1_500);
      holder.exec('ROLLBACK');
      holder.close();

      const tries = product.logs.filter((line) => line.includes('"ingest.sessions_not_written"'));
      expect(tries.length).toBeGreaterThanOrEqual(1);
      expect(tries.length).toBeLessThanOrEqual(8);
      await wait(600);
      expect(await pageviews()).toBe(2);
    } finally {
      await product.close();
    }
  });

  it('after a SIGKILL, the restarted server replays them from the stored events', async () => {
    const env = {
      LIGHTTRAIL_DATA_DIR: dir,
      LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex'),
      LIGHTTRAIL_TRUSTED_PROXIES: '127.0.0.1/32',
      LIGHTTRAIL_SESSION_FLUSH_MS: '60000',
      LIGHTTRAIL_LOG_LEVEL: 'warn',
    };
    const setup = await runCli(
      ['setup', '--org', 'Clinic A', '--domain', 'localhost', '--email', 'a@a.example', '--json'],
      env,
    );
    expect(setup.code, setup.stderr).toBe(0);
    const { siteId, organisationId } = JSON.parse(setup.stdout) as Record<string, string>;
    const key = await runCli(['apikey', 'create', '--site', siteId!, '--json'], env);
    const { token } = JSON.parse(key.stdout) as { token: string };

    server = await startServer(env);
    const ca = readFileSync(path.join(dir, 'tls', 'localhost.crt'));
    const port = server.port;
    await sendVisits(siteId!, (body, headers) =>
      call(port, ca, 'POST', '/api/collect', body, {
        'Content-Type': 'text/plain',
        'User-Agent': CHROME_UA,
        ...headers,
      }),
    );

    await server.stop('SIGKILL');
    expect(server.child.signalCode).toBe('SIGKILL');
    // What the file holds after the kill: every event, and sessions without their figures.
    const control = await SqliteControlStore.open(
      dir,
      LocalKeyProvider.fromKey(env.LIGHTTRAIL_MASTER_KEY),
    );
    const db = await openTenantDb(control, organisationId!, { readonly: true });
    const events = db.prepare('SELECT count(*) AS n FROM events').get();
    const figures = db.prepare('SELECT count(*) AS n, sum(pageviews) AS pages FROM sessions').get();
    db.close();
    control.close();
    expect(events).toEqual({ n: 5 });
    expect(figures).toEqual({ n: 2, pages: 0 });
    // A reader in another process replays them too, writing nothing.
    const cli = await runCli(['stats', '--site', siteId!, '--json'], env);
    expect(cli.code, cli.stderr).toBe(0);
    expect(totalsOf(JSON.parse(cli.stdout) as Stats)).toEqual(EXPECTED);

    server = await startServer(env);
    const stats = await call(server.port, ca, 'GET', `/api/sites/${siteId}/stats`, undefined, {
      Authorization: `Bearer ${token}`,
    });
    expect(stats.status).toBe(200);
    expect(totalsOf(JSON.parse(stats.text) as Stats)).toEqual(EXPECTED);
    expect(await server.stop('SIGTERM')).toBe(0);
  });
});
