import { readdirSync, readlinkSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { validateSiteSettings } from '../../src/domain/site.js';
import type { Db } from '../../src/store/sqlite/open.js';
import { openTenantDb } from '../../src/store/sqlite/tenant.js';
import { startProduct, type Product } from '../helpers/product.js';

// Another process holding an organisation's write lock (a log import beside the server) must
// delay that organisation's beacons only, and never for longer than the store's limit.
describe('a tenant file locked by another writer', () => {
  let product: Product;
  let otherSite: string;
  let otherTenant: string;

  beforeAll(async () => {
    product = await startProduct();
    const tenant = await product.control.createTenant('Clinic B', 'test');
    const settings = validateSiteSettings({ domains: ['clinic-b.example'] });
    otherTenant = tenant.id;
    otherSite = product.control.createSite(tenant.id, 'Clinic B', settings, 'test').id;
  });

  afterAll(async () => {
    await product?.close();
  });

  const beacon = (site: string, url: string) =>
    product.post(JSON.stringify({ site, type: 'pageview', url }));

  const stored = async (db: () => Promise<Db>, path: string): Promise<number> => {
    const handle = await db();
    try {
      return (
        handle.prepare('SELECT count(*) AS n FROM events WHERE path = ?').get(path) as {
          n: number;
        }
      ).n;
    } finally {
      handle.close();
    }
  };

  it('delays only that organisation, and commits its beacon once the lock is free', async () => {
    expect((await beacon(product.siteId, 'https://localhost/warm')).status).toBe(200);
    expect((await beacon(otherSite, 'https://clinic-b.example/warm')).status).toBe(200);

    const holder = await product.tenantDb();
    holder.exec('BEGIN IMMEDIATE');
    let answered = false;
    const locked = beacon(product.siteId, 'https://localhost/while-locked').finally(() => {
      answered = true;
    });
    try {
      for (const letter of ['a', 'b', 'c', 'd', 'e']) {
        const res = await beacon(otherSite, `https://clinic-b.example/free-${letter}`);
        expect(res.status).toBe(200);
      }
      // The other organisation was answered while the locked one still waits.
      expect(answered).toBe(false);
      await delay(200, undefined);
      expect(answered).toBe(false);
    } finally {
      holder.exec('COMMIT');
      holder.close();
    }

    expect((await locked).status).toBe(200);
    expect(await stored(() => product.tenantDb(), '/while-locked')).toBe(1);
    expect(await stored(() => openTenantDb(product.control, otherTenant), '/free-e')).toBe(1);
  });

  it('refuses with 503 and stores nothing when the lock outlasts the limit', async () => {
    const holder = await product.tenantDb();
    holder.exec('BEGIN IMMEDIATE');
    try {
      const res = await beacon(product.siteId, 'https://localhost/too-long');
      expect(res.status).toBe(503);
      expect(res.json()).toMatchObject({ error: { code: 'ERR_STORE_UNAVAILABLE' } });
    } finally {
      holder.exec('COMMIT');
      holder.close();
    }

    expect(await stored(() => product.tenantDb(), '/too-long')).toBe(0);
    // And the organisation writes again at once.
    expect((await beacon(product.siteId, 'https://localhost/after')).status).toBe(200);
  }, 20_000);

  it('a file locked when the writer first opens it: retried without leaking (QA)', async () => {
    const tenant = await product.control.createTenant('Clinic C', 'test');
    const settings = validateSiteSettings({ domains: ['clinic-c.example'] });
    const site = product.control.createSite(tenant.id, 'Clinic C', settings, 'test').id;
    const file = product.control.tenantFile(tenant.id);
    // Descriptors of this process (the writer is one of its threads) on the file and its WAL.
    const open = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(file);
        } catch {
          return false;
        }
      }).length;

    const holder = await openTenantDb(product.control, tenant.id);
    const before = open();
    holder.exec('BEGIN IMMEDIATE');
    try {
      const pending = beacon(site, 'https://clinic-c.example/first');
      // The writer tries every 2 ms: each try used to leave its connection open (150 descriptors
      // after 0.5 s). Open meanwhile: the try under way and the checkpointer's connection, each
      // with the file, its WAL and its index (a CI run saw 4).
      await delay(500, undefined);
      expect(open() - before).toBeLessThanOrEqual(6);
      holder.exec('COMMIT');
      expect((await pending).status).toBe(200);
    } finally {
      if (holder.inTransaction) holder.exec('COMMIT');
      holder.close();
    }

    expect(await stored(() => openTenantDb(product.control, tenant.id), '/first')).toBe(1);
  });
});

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
}
