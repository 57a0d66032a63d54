import type { Worker } from 'node:worker_threads';

import { afterEach, describe, expect, it } from 'vitest';

import { startProduct, type Product } from '../helpers/product.js';

describe('collect under pressure', () => {
  let product: Product | undefined;

  afterEach(async () => {
    await product?.close();
    product = undefined;
  });

  const batch = (siteId: string, size: number, path: string) =>
    JSON.stringify({
      site: siteId,
      events: Array.from({ length: size }, () => ({
        type: 'pageview',
        url: `https://localhost${path}`,
      })),
    });

  async function stored(p: Product, path: string): Promise<number> {
    const db = await p.tenantDb();
    try {
      return (
        db.prepare('SELECT count(*) AS n FROM events WHERE path = ?').get(path) as { n: number }
      ).n;
    } finally {
      db.close();
    }
  }

  it('limits each client with a token bucket: 429 with Retry-After, nothing stored', async () => {
    product = await startProduct({
      env: {
        LIGHTTRAIL_RATE_LIMIT: '1',
        LIGHTTRAIL_RATE_BURST: '10',
        LIGHTTRAIL_COLLECT_MAX_BATCH: '10',
      },
    });

    expect((await product.post(batch(product.siteId, 10, '/burst'))).status).toBe(200);
    // Batches of ten need ten seconds of refill: a slow machine (a commit can take a second or
    // two under load) does not let one through (QA and CI saw 200 for a one-event batch).
    const refused = await product.post(batch(product.siteId, 10, '/over'));

    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(10);
    expect(refused.json()).toMatchObject({ error: { code: 'ERR_RATE_LIMITED' } });
    // Without an Origin (a server-side sender) there is nothing to allow.
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();

    // A page of the site may read why it was refused; a foreign page learns nothing.
    const fromPage = await product.post(batch(product.siteId, 10, '/over'), {
      Origin: 'https://localhost',
    });
    expect(fromPage.status).toBe(429);
    expect(fromPage.headers['access-control-allow-origin']).toBe('https://localhost');
    const foreign = await product.post(batch(product.siteId, 10, '/over'), {
      Origin: 'https://evil.example',
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    expect(await stored(product, '/burst')).toBe(10);
    expect(await stored(product, '/over')).toBe(0);

    // A client over its limit sends thousands: one summary line, not a line per refusal.
    for (let i = 0; i < 5; i++) await product.post(batch(product.siteId, 10, '/over'));
    await new Promise((resolve) => setImmediate(resolve));
    const lines = product.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    const refusals = lines.filter((line) => line.event === 'http.request' && line.status === 429);
    expect(refusals.length).toBeGreaterThanOrEqual(7);
    expect(refusals.every((line) => line.level === 'debug')).toBe(true);
    const told = lines.filter((line) => line.event === 'collect.rate_limited');
    expect(told).toEqual([expect.objectContaining({ level: 'warn', requests: 1 })]);

    // The refusals since that line are told when the server stops, not lost with it.
    const stopped = product;
    product = undefined;
    await stopped.close();
    const after = stopped.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    const summaries = after.filter((line) => line.event === 'collect.rate_limited');
    expect(summaries).toEqual([
      expect.objectContaining({ requests: 1 }),
      expect.objectContaining({ level: 'warn', requests: refusals.length - 1 }),
    ]);
  });

  it('answers 503 with Retry-After when the queue is full instead of dropping events', async () => {
    // A long group-commit interval keeps the first batch waiting in the queue.
    product = await startProduct({
      env: {
        LIGHTTRAIL_QUEUE_MAX: '20',
        LIGHTTRAIL_COLLECT_MAX_BATCH: '20',
        LIGHTTRAIL_RATE_BURST: '100',
        LIGHTTRAIL_COMMIT_INTERVAL_MS: '1000',
      },
    });
    const p = product;

    const first = p.post(batch(p.siteId, 15, '/first'));
    // Queued, not yet committed: the next 15 cannot fit in 20.
    while (p.app.queue.depth < 15) await new Promise((done) => setTimeout(done, 5));
    const refused = await p.post(batch(p.siteId, 15, '/flood'));

    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toMatchObject({ error: { code: 'ERR_QUEUE_FULL' } });
    expect((await first).status).toBe(200);
    expect(await stored(p, '/first')).toBe(15);
    expect(await stored(p, '/flood')).toBe(0);
  });

  it('acknowledges concurrent requests only after their events are on disk', async () => {
    product = await startProduct();
    const p = product;

    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => p.post(batch(p.siteId, 5, `/c/${'x'.repeat(i % 5)}`))),
    );

    expect(answers.every((res) => res.status === 200)).toBe(true);
    const db = await p.tenantDb();
    const total = (
      db.prepare(`SELECT count(*) AS n FROM events WHERE path LIKE '/c/%'`).get() as { n: number }
    ).n;
    db.close();
    expect(total).toBe(200);
  });
});

describe('a writer thread that died', () => {
  it('turns the product not ready and every collect into 503, storing nothing', async () => {
    const product = await startProduct();
    try {
      expect((await product.get('/readyz')).status).toBe(200);
      // Stands in for a crash of the writer thread (a native fault, an out-of-memory kill).
      const queue = product.app.queue as unknown as { worker: Worker };
      await queue.worker.terminate();

      const res = await product.post(
        JSON.stringify({ site: product.siteId, type: 'pageview', url: 'https://localhost/x' }),
      );
      expect(res.status).toBe(503);
      expect(res.json()).toMatchObject({ error: { code: 'ERR_STORE_UNAVAILABLE' } });
      expect((await product.get('/readyz')).status).toBe(503);
      expect(product.logs.some((line) => line.includes('ingest.worker_failed'))).toBe(true);

      const db = await product.tenantDb();
      const stored = db.prepare(`SELECT count(*) AS n FROM events`).get() as { n: number };
      db.close();
      expect(stored.n).toBe(0);
    } finally {
      await product.close();
    }
  });
});

describe('stats API date ranges', () => {
  it.each(['2026-13-01', '2026-12-32', '2026-12-00', '2026-99-99', '2026-02-30', 'yesterday'])(
    'answers 400 ERR_INVALID_ARGUMENT for from=%s, never a 500',
    async (day) => {
      const product = await startProduct();
      try {
        for (const query of [`from=${day}&to=2026-12-31`, `from=2026-12-01&to=${day}`]) {
          const res = await product.get(`/api/sites/${product.siteId}/stats?${query}`, {
            Authorization: `Bearer ${product.token}`,
          });
          expect(res.status).toBe(400);
          expect(res.json()).toMatchObject({ error: { code: 'ERR_INVALID_ARGUMENT' } });
        }
      } finally {
        await product.close();
      }
    },
  );
});

describe('URL fragments', () => {
  it('are dropped by default and kept, scrubbed, when the site keeps them', async () => {
    const product = await startProduct({ site: { keepFragments: true } });
    try {
      const body = JSON.stringify({
        site: product.siteId,
        events: [
          { type: 'pageview', url: 'https://localhost/faq#opening-hours' },
          { type: 'pageview', url: 'https://localhost/invite#e=pat.doe%2540mail.test' },
        ],
      });
      expect((await product.post(body)).status).toBe(200);

      const db = await product.tenantDb();
      const rows = db.prepare('SELECT path, fragment FROM events ORDER BY id').all();
      db.close();
      expect(rows).toEqual([
        { path: '/faq', fragment: 'opening-hours' },
        { path: '/invite', fragment: expect.stringContaining('[redacted]') },
      ]);
      expect(JSON.stringify(rows)).not.toContain('pat.doe');

      // The page list with its query shows the kept fragment too: a hash router's routes.
      const res = await product.get(`/api/sites/${product.siteId}/stats`, {
        Authorization: `Bearer ${product.token}`,
      });
      const keys = (res.json() as { pageUrls: Array<{ key: string }> }).pageUrls
        .map((row) => row.key)
        .sort();
      expect(keys).toEqual([
        '/faq#opening-hours',
        expect.stringMatching(/^\/invite#.*\[redacted\]/),
      ]);
    } finally {
      await product.close();
    }
  });
});
