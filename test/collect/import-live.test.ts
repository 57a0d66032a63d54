import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startProduct, type Product } from '../helpers/product.js';

const run = promisify(execFile);
const LOG = path.resolve(import.meta.dirname, '../../../shared/data/apache-combined-2015.log');
const CLI = path.resolve(import.meta.dirname, '../../bin/lighttrail.js');

describe('an import while the server takes live traffic for the same organisation', () => {
  let product: Product;

  beforeAll(async () => {
    product = await startProduct({
      site: { domains: ['localhost', 'semicomplete.com', 'www.semicomplete.com'] },
      // Every beacon loop comes from 127.0.0.1: the per-client limit is not what this tests.
      env: { LIGHTTRAIL_RATE_LIMIT: '1000000', LIGHTTRAIL_RATE_BURST: '10000000' },
    });
  });

  afterAll(async () => {
    await product?.close();
  });

  it('both write the same tenant file: every import chunk and every beacon is stored', async () => {
    let importing = true;
    const statuses: number[] = [];
    const beacons = Array.from({ length: 6 }, async (_, worker) => {
      for (let i = 0; importing; i++) {
        const body = JSON.stringify({
          site: product.siteId,
          type: 'pageview',
          url: `https://localhost/live/${worker}/${i}`,
        });
        statuses.push((await product.post(body)).status);
      }
    });

    const imported = await run(
      process.execPath,
      [CLI, 'import', '--site', product.siteId, '--format', 'combined', LOG, '--json'],
      {
        env: {
          ...process.env,
          LIGHTTRAIL_DATA_DIR: product.dataDir,
          LIGHTTRAIL_MASTER_KEY: product.config.masterKey,
        },
      },
    ).finally(() => {
      importing = false;
    });
    await Promise.all(beacons);

    expect(JSON.parse(imported.stdout)).toMatchObject({ pageviews: 1600, filtered: 1280 });
    expect(imported.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((status) => status === 200)).toBe(true);

    const db = await product.tenantDb();
    try {
      const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
      expect(count(`SELECT count(*) AS n FROM events WHERE origin = 'import'`)).toBe(1600);
      expect(count(`SELECT count(*) AS n FROM events WHERE path LIKE '/live/%'`)).toBe(
        statuses.length,
      );
    } finally {
      db.close();
    }
  }, 120_000);
});
