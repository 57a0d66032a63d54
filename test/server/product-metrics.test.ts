import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startProduct, type Product } from '../helpers/product.js';

const TOKEN = 'metrics-token-for-this-test-0123456789';

describe("the product's own metrics", () => {
  let product: Product;

  beforeAll(async () => {
    product = await startProduct({ env: { LIGHTTRAIL_METRICS_TOKEN: TOKEN } });
  });

  afterAll(async () => {
    await product?.close();
  });

  it('has every gauge from the start, before the first beacon', async () => {
    const res = await product.get('/metrics', { Authorization: `Bearer ${TOKEN}` });

    expect(res.status).toBe(200);
    expect(res.text).toMatch(/^lighttrail_ingest_queue_depth 0$/m);
    expect(res.text).toMatch(/^lighttrail_tenants_unavailable 0$/m);
  });
});
