import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startProduct, type Product } from '../helpers/product.js';

interface Row {
  key: string;
  sessions: number;
  pageviews: number;
}

describe('campaign figures through the endpoint and the stats API (C14)', () => {
  let product: Product;
  let stats: { sources: Row[]; pages: Row[]; campaigns: Row[]; channels: Row[] };

  beforeAll(async () => {
    product = await startProduct({ env: { LIGHTTRAIL_TRUSTED_PROXIES: '127.0.0.1/32' } });
    const visits: Array<[string, string]> = [
      [
        '198.51.100.1',
        'https://localhost/landing?utm_source=LinkedIn&utm_medium=social' +
          '&utm_campaign=Spring+Sale+2025',
      ],
      [
        '198.51.100.2',
        'https://localhost/landing?utm_source=linkedin&utm_medium=social' +
          '&utm_campaign=Spring+Sale+2025',
      ],
      [
        '198.51.100.3',
        'https://localhost/landing?UTM_Source=LinkedIn&utm_medium=social&utm_content=banner',
      ],
      ['198.51.100.4', 'https://localhost/landing#utm_source=x'],
      ['198.51.100.5', 'https://localhost/c++/guide?utm_source=x&utm_medium=email'],
    ];
    for (const [address, url] of visits) {
      const res = await product.post(
        JSON.stringify({ site: product.siteId, type: 'pageview', url }),
        {
          'X-Forwarded-For': address,
        },
      );
      expect(res.status).toBe(200);
    }

    const res = await product.get(`/api/sites/${product.siteId}/stats`, {
      Authorization: `Bearer ${product.token}`,
    });
    stats = res.json() as typeof stats;
  });

  afterAll(async () => {
    await product?.close();
  });

  it('C14.9 sources that differ only in case are one row in the Sources report', () => {
    expect(stats.sources.map((row) => [row.key, row.sessions])).toEqual([
      ['LinkedIn', 3],
      ['x', 1],
    ]);
  });

  it('C14.13 UTM variants of a page group under its path, and a path keeps its plus signs', () => {
    expect(stats.pages.map((row) => [row.key, row.pageviews])).toEqual([
      ['/landing', 4],
      ['/c++/guide', 1],
    ]);
  });

  it('C14.2 and C14.11 a plus is a space in the query; a fragment carries no campaign', () => {
    expect(stats.campaigns.map((row) => [row.key, row.sessions])).toEqual([
      ['Spring Sale 2025', 2],
    ]);
    expect(stats.channels.map((row) => [row.key, row.sessions])).toEqual([
      ['Organic Social', 3],
      ['Direct', 1],
      ['Email', 1],
    ]);
  });
});
