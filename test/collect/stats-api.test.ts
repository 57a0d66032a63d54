import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_SITE_SETTINGS } from '../../src/domain/site.js';
import { createApiKey } from '../../src/identity/api-keys.js';
import { startProduct, type Product } from '../helpers/product.js';
import { sendRaw } from '../helpers/tls.js';

describe('stats API access', () => {
  let product: Product;
  let otherSite: string;

  beforeAll(async () => {
    product = await startProduct();
    const tenant = await product.control.createTenant('Clinic B', 'test');
    otherSite = product.control.createSite(
      tenant.id,
      'B',
      { ...DEFAULT_SITE_SETTINGS, domains: ['b.example'] },
      'test',
    ).id;
  });

  afterAll(async () => {
    await product?.close();
  });

  const stats = (site: string, authorization?: string) =>
    product.get(
      `/api/sites/${site}/stats`,
      authorization === undefined ? {} : { Authorization: authorization },
    );

  it("answers the key's own site, whatever the case of the scheme name", async () => {
    expect((await stats(product.siteId, `Bearer ${product.token}`)).status).toBe(200);
    expect((await stats(product.siteId, `bearer ${product.token}`)).status).toBe(200);
  });

  it('refuses every bad credential the same way', async () => {
    const forged = product.token.slice(0, -4) + 'AAAA';
    const answers = await Promise.all([
      stats(product.siteId),
      stats(product.siteId, 'Bearer nonsense'),
      stats(product.siteId, `Bearer ${forged}`),
      stats(product.siteId, `Basic ${Buffer.from(`x:${product.token}`).toString('base64')}`),
    ]);

    for (const res of answers) {
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="lighttrail"');
      expect(res.json()).toEqual({
        error: { code: 'ERR_UNAUTHENTICATED', message: 'a valid API key is required' },
      });
    }
  });

  it('refuses two Authorization headers, whichever comes first (QA)', async () => {
    const revoked = product.token.slice(0, -4) + 'AAAA';
    for (const pair of [
      [revoked, product.token],
      [product.token, revoked],
    ]) {
      const { text } = await sendRaw(product.port, product.app.tls.cert, (socket) =>
        socket.write(
          `GET /api/sites/${product.siteId}/stats HTTP/1.1\r\nHost: localhost\r\n` +
            `Authorization: Bearer ${pair[0]}\r\nauthorization: Bearer ${pair[1]}\r\n` +
            'Connection: close\r\n\r\n',
        ),
      );
      expect(text.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
      expect(text).toContain('"code":"ERR_BAD_REQUEST"');
      expect(text).not.toContain('"visitors"');
    }
  });

  it('C23 (a) a key sees no other site, existing or not: the same 404', async () => {
    const other = await stats(otherSite, `Bearer ${product.token}`);
    const missing = await stats('00000000-0000-4000-8000-000000000000', `Bearer ${product.token}`);

    expect(other.status).toBe(404);
    expect(other.text).toBe(missing.text);
  });

  it('a revoked key stops working at once, and the revocation is recorded', async () => {
    const { token, record } = createApiKey(product.control, product.siteId, 'test');
    expect((await stats(product.siteId, `Bearer ${token}`)).status).toBe(200);

    expect(product.control.revokeApiKey(record.id, 'test')).toBe(true);

    expect((await stats(product.siteId, `Bearer ${token}`)).status).toBe(401);
    expect(product.control.revokeApiKey(record.id, 'test')).toBe(false);
    expect(product.control.listSystemEvents({ type: 'apikey.revoked' })).toHaveLength(1);
  });

  it('refuses repeated or unknown query parameters with 400', async () => {
    for (const query of ['from=2026-12-01&from=2026-11-01', 'from[]=2026-12-01', 'site=other']) {
      const res = await product.get(`/api/sites/${product.siteId}/stats?${query}`, {
        Authorization: `Bearer ${product.token}`,
      });
      expect([query, res.status]).toEqual([query, 400]);
      expect(res.json()).toMatchObject({ error: { code: 'ERR_INVALID_ARGUMENT' } });
    }
  });

  it('takes 731 days counted with both ends, and says why a longer range is refused', async () => {
    const read = (query: string) =>
      product.get(`/api/sites/${product.siteId}/stats?${query}`, {
        Authorization: `Bearer ${product.token}`,
      });
    expect((await read('from=2020-01-01&to=2021-12-31')).status).toBe(200);
    // 732 days: it passed before (QA).
    const long = await read('from=2020-01-01&to=2022-01-01');
    expect(long.status).toBe(400);
    expect(long.json()).toEqual({
      error: {
        code: 'ERR_INVALID_ARGUMENT',
        message: 'a range spans at most 731 days, both ends included',
      },
    });
    // A year before any count, or before the year 0000 (QA: its range began at `-000001-12`).
    for (const query of ['to=0000-01-10', 'from=1969-12-31&to=1970-01-05']) {
      const early = await read(query);
      expect([query, early.status]).toEqual([query, 400]);
      expect(early.json()).toMatchObject({
        error: { code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/1970-01-01/) },
      });
    }

    const first = await read('to=1970-01-10');
    expect(first.status).toBe(200);
    expect(first.json()).toMatchObject({ from: '1970-01-01', to: '1970-01-10' });
    const open = await read('from=2015-05-17');
    expect(open.status).toBe(400);
    expect((open.json() as { error: { message: string } }).error.message).toMatch(
      /without to, from 2015-05-17 runs to today, \d{4}-\d{2}-\d{2}\)$/,
    );
  });

  it('gives the rows per top list that limit asks, 1 to 1000, and refuses the rest', async () => {
    for (let i = 0; i < 12; i++) {
      const res = await product.post(
        JSON.stringify({
          site: product.siteId,
          type: 'pageview',
          url: `https://localhost/limit-${i}?topic=${i}`,
        }),
      );
      expect(res.status).toBe(200);
    }

    const read = (query: string) =>
      product.get(`/api/sites/${product.siteId}/stats?${query}`, {
        Authorization: `Bearer ${product.token}`,
      });
    type Lists = { pages: unknown[]; pageUrls: Array<{ key: string }> };
    expect(((await read('')).json() as Lists).pages).toHaveLength(10);
    expect(((await read('limit=3')).json() as Lists).pageUrls).toHaveLength(3);
    const all = (await read('limit=1000')).json() as Lists;
    expect(all.pages).toHaveLength(12);
    expect(all.pageUrls.map((row) => row.key)).toContain('/limit-11?topic=[redacted]');

    for (const limit of ['0', '1001', '-1', '2.5', 'ten', '', '0x10', '1e3', '00001000']) {
      const res = await read(`limit=${limit}`);
      expect([limit, res.status]).toEqual([limit, 400]);
      expect(res.json()).toEqual({
        error: {
          code: 'ERR_INVALID_ARGUMENT',
          message: 'limit must be a whole number from 1 to 1000',
        },
      });
    }
  });

  it('reports sessions by their entry and exit pages (final QA: no exit pages shown)', async () => {
    // One request, one visitor on loopback: a landing page and its redirect, the same millisecond.
    const visit = {
      site: product.siteId,
      events: ['/ex-landing', '/ex-redirected'].map((path) => ({
        type: 'pageview',
        url: `https://localhost${path}`,
      })),
    };
    expect((await product.post(JSON.stringify(visit))).status).toBe(200);

    const read = await product.get(`/api/sites/${product.siteId}/stats`, {
      Authorization: `Bearer ${product.token}`,
    });
    type Row = { key: string; sessions: number };
    const { entryPages, exitPages } = read.json() as { entryPages: Row[]; exitPages: Row[] };
    const ours = (rows: Row[]) => rows.filter((row) => row.key.startsWith('/ex-'));

    expect(ours(entryPages)).toEqual([
      expect.objectContaining({ key: '/ex-landing', sessions: 1 }),
    ]);
    expect(ours(exitPages)).toEqual([
      expect.objectContaining({ key: '/ex-redirected', sessions: 1 }),
    ]);
  });

  it('lists the outbound links followed and the files downloaded (fresh-clone QA)', async () => {
    const send = (type: string, href: string) =>
      product.post(
        JSON.stringify({ site: product.siteId, type, url: 'https://localhost/links', href }),
      );
    expect((await send('download', 'https://localhost/files/form.pdf?v=2')).status).toBe(200);
    expect((await send('outbound', 'https://partner.example/x?token=abc')).status).toBe(200);
    expect((await send('outbound', 'https://partner.example/x')).status).toBe(200);

    const stats = (
      await product.get(`/api/sites/${product.siteId}/stats`, {
        Authorization: `Bearer ${product.token}`,
      })
    ).json() as { links: unknown[] };

    expect(stats.links).toEqual([
      { type: 'outbound', target: 'partner.example/x', visitors: 2, count: 2 },
      { type: 'download', target: '/files/form.pdf', visitors: 1, count: 1 },
    ]);
  });

  it('counts forms without a name as one row, however they came (final QA)', async () => {
    const send = (extra: Record<string, unknown>) =>
      product.post(
        JSON.stringify({
          site: product.siteId,
          type: 'form',
          url: 'https://localhost/f',
          ...extra,
        }),
      );
    for (const extra of [{}, { name: '' }, { name: 'intake' }]) {
      expect((await send(extra)).status).toBe(200);
    }

    const stats = (
      await product.get(`/api/sites/${product.siteId}/stats`, {
        Authorization: `Bearer ${product.token}`,
      })
    ).json() as { events: Array<{ type: string; name: string; count: number }> };

    expect(stats.events.filter((row) => row.type === 'form')).toEqual([
      { type: 'form', name: '', count: 2 },
      { type: 'form', name: 'intake', count: 1 },
    ]);
  });

  it('answers a retryable 503 while a tenant file cannot be read, then recovers', async () => {
    const fresh = await startProduct();
    try {
      const auth = { Authorization: `Bearer ${fresh.token}` };
      const file = fresh.control.tenantFile(fresh.tenantId);
      const original = readFileSync(file);
      writeFileSync(file, randomBytes(original.length));

      const during = await fresh.get(`/api/sites/${fresh.siteId}/stats`, auth);

      expect(during.status).toBe(503);
      expect(during.headers['retry-after']).toBe('5');
      expect(during.json()).toMatchObject({ error: { code: 'ERR_STORE_UNAVAILABLE' } });
      expect(during.text).not.toContain('database');
      writeFileSync(file, original);
      expect((await fresh.get(`/api/sites/${fresh.siteId}/stats`, auth)).status).toBe(200);
    } finally {
      await fresh.close();
    }
  });
});
