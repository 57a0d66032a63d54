import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startProduct, type Product } from '../helpers/product.js';

/** Events of many visitors over the last 30 days, written straight into the tenant file. */
function seed(product: Product, db: Awaited<ReturnType<Product['tenantDb']>>, count: number) {
  const today = new Date().toISOString().slice(0, 10);
  db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
     INSERT INTO events (site_id, ts, day, type, hostname, path, channel, visitor_id, session_id)
     SELECT ?, 0, date(?, '-' || (i % 30) || ' days'), 'pageview', 'localhost',
            '/page/' || (i % 500), 'Direct', 'v' || (i % 50000), 's' || (i % 80000)
     FROM n`,
  ).run(count - 1, product.siteId, today);
}

describe('statistics off the request thread', () => {
  let product: Product;

  beforeAll(async () => {
    product = await startProduct();
    const db = await product.tenantDb();
    seed(product, db, 150_000);
    db.close();
  }, 60_000);

  afterAll(async () => {
    await product.close();
  });

  it('a long statistics query does not hold up health checks or beacons', async () => {
    const auth = { Authorization: `Bearer ${product.token}` };
    const started = performance.now();
    let statsDone = 0;
    const stats = product.get(`/api/sites/${product.siteId}/stats`, auth).then((res) => {
      statsDone = performance.now();
      return res;
    });

    // Asked right after: answered while the query is still running on its own thread.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const health = await product.get('/healthz');
    const beacon = await product.post(
      JSON.stringify({ site: product.siteId, type: 'pageview', url: 'https://localhost/during' }),
    );
    const healthDone = performance.now();

    const res = await stats;
    expect(res.status).toBe(200);
    expect((res.json() as { totals: { pageviews: number } }).totals).toBeDefined();
    expect(health.status).toBe(200);
    expect(beacon.status).toBe(200);
    // The premise: the query takes long enough for the order to mean something.
    expect(statsDone - started).toBeGreaterThan(150);
    expect(healthDone).toBeLessThan(statsDone);
  });
});
