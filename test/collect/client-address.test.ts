import { createHash } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { dumpDatabase, startProduct, type Product } from '../helpers/product.js';

/** The socket peer in these tests is 127.0.0.1, configured as the trusted reverse proxy. */
describe('client address behind a trusted proxy (C20, C21) through the real endpoint', () => {
  let product: Product;

  beforeAll(async () => {
    product = await startProduct({
      env: { LIGHTTRAIL_TRUSTED_PROXIES: '127.0.0.1/32' },
      site: { geoPrecision: 'city' },
    });
  });

  afterAll(async () => {
    await product?.close();
  });

  const send = (path: string, forwardedFor: string) =>
    product.post(
      JSON.stringify({ site: product.siteId, type: 'pageview', url: `https://localhost${path}` }),
      {
        'X-Forwarded-For': forwardedFor,
      },
    );

  async function row(path: string): Promise<Record<string, unknown>> {
    const db = await product.tenantDb();
    try {
      return db.prepare('SELECT * FROM events WHERE path = ?').get(path) as Record<string, unknown>;
    } finally {
      db.close();
    }
  }

  it('C20 (a) takes the rightmost untrusted hop, and C21 locates it: GB London', async () => {
    expect((await send('/c20-a', '203.0.113.50, 81.2.69.142')).status).toBe(200);

    expect(await row('/c20-a')).toMatchObject({ country: 'GB', city: 'London' });
  });

  it('C21 documentation and private addresses get no geography, never a guess', async () => {
    await product.post(
      JSON.stringify({
        site: product.siteId,
        type: 'pageview',
        url: 'https://localhost/c21-private',
      }),
      {
        'X-Forwarded-For': '192.168.0.10',
        'Accept-Language': 'en-US',
      },
    );

    expect(await row('/c21-private')).toMatchObject({ country: null, region: null, city: null });
  });

  it('C20 (d) a loopback visitor address: no geo, flagged, never merged', async () => {
    await send('/c20-d', '::ffff:127.0.0.1');
    await send('/c20-d', '::ffff:127.0.0.1');

    const db = await product.tenantDb();
    const rows = db.prepare(`SELECT * FROM events WHERE path = '/c20-d'`).all() as Array<
      Record<string, unknown>
    >;
    db.close();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ country: null });
    expect(String(rows[0]?.flags)).toContain('no_client_ip');
    expect(rows[0]?.session_id).not.toBe(rows[1]?.session_id);
    expect(rows[0]?.visitor_id).not.toBe(rows[1]?.visitor_id);
    // The operator hears of it once, not once per event.
    expect(
      product.logs.filter((line) => line.includes('collect.proxy_misconfigured')),
    ).toHaveLength(1);
  });

  it('C20 (e) two addresses in one IPv6 /64, same browser: one visitor and session', async () => {
    await send('/c20-e', '2001:db8:aa:bb:1111:2222:3333:4444');
    await send('/c20-e', '2001:db8:aa:bb:9999:8888:7777:6666');

    const db = await product.tenantDb();
    const rows = db
      .prepare(`SELECT visitor_id, session_id FROM events WHERE path = '/c20-e'`)
      .all() as Array<Record<string, unknown>>;
    db.close();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual(rows[1]);
  });

  it('C21 the visitor id is a keyed hash, not a plain hash; no address anywhere', async () => {
    await send('/c21-hash', '216.160.83.56');
    const stored = await row('/c21-hash');
    expect(stored).toMatchObject({ country: 'US' });

    const ip = '216.160.83.56';
    for (const algorithm of ['sha1', 'sha256', 'md5']) {
      const digest = createHash(algorithm).update(ip).digest('hex');
      expect(String(stored.visitor_id)).not.toContain(digest.slice(0, 16));
    }

    const db = await product.tenantDb();
    const dump = dumpDatabase(db);
    db.close();
    for (const literal of [ip, '81.2.69.142', '2001:db8:aa:bb', '192.168.0.10', '203.0.113.50']) {
      expect(dump).not.toContain(literal);
      expect(product.logs.join('\n')).not.toContain(literal);
    }
  });
});
