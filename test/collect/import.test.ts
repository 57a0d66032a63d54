import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { importSecretKey } from '../../src/collect/salts.js';
import { addDays } from '../../src/domain/time.js';
import { dumpDatabase, startProduct, type Product } from '../helpers/product.js';

const run = promisify(execFile);
const LOG = path.resolve(import.meta.dirname, '../../../shared/data/apache-combined-2015.log');
const CLI = path.resolve(import.meta.dirname, '../../bin/lighttrail.js');

interface Stats {
  totals: {
    visitors: number;
    sessions: number;
    pageviews: number;
    bounceRate: number;
    filtered: number;
  };
  days: Array<{ day: string; visitors: number; sessions: number; pageviews: number }>;
  pages: Array<{ key: string; pageviews: number }>;
  channels: Array<{ key: string; sessions: number }>;
  referrers: Array<{ key: string; sessions: number }>;
  countries: Array<{ key: string; visitors: number }>;
  browsers: Array<{ key: string; visitors: number }>;
}

/** A running product whose site answers to the shared log's host names. */
function startForLog(): Promise<Product> {
  return startProduct({ site: { domains: ['semicomplete.com', 'www.semicomplete.com'] } });
}

/** `lighttrail import` of `file` into `product`'s site, as another process; its JSON report. */
async function importInto(product: Product, file: string, format = 'combined'): Promise<unknown> {
  const args = ['import', '--site', product.siteId, '--format', format, file, '--json'];
  const { stdout } = await run(process.execPath, [CLI, ...args], {
    env: {
      ...process.env,
      LIGHTTRAIL_DATA_DIR: product.dataDir,
      LIGHTTRAIL_MASTER_KEY: product.config.masterKey,
    },
  });

  return JSON.parse(stdout);
}

/** The stats API's figures over the log's four days. */
async function logStats(product: Product): Promise<Stats> {
  const res = await product.get(
    `/api/sites/${product.siteId}/stats?from=2015-05-17&to=2015-05-20`,
    { Authorization: `Bearer ${product.token}` },
  );

  return res.json() as Stats;
}

describe('lighttrail import of the shared Apache access log', () => {
  let product: Product;
  let first: { stdout: string; stderr: string };
  let second: { stdout: string; stderr: string };

  const cli = (...args: string[]) =>
    run(process.execPath, [CLI, ...args], {
      env: {
        ...process.env,
        LIGHTTRAIL_DATA_DIR: product.dataDir,
        LIGHTTRAIL_MASTER_KEY: product.config.masterKey,
        LIGHTTRAIL_LOG_LEVEL: 'debug',
      },
    });

  const stats = async (): Promise<Stats> => {
    const res = await product.get(
      `/api/sites/${product.siteId}/stats?from=2015-05-17&to=2015-05-20`,
      {
        Authorization: `Bearer ${product.token}`,
      },
    );
    expect(res.status).toBe(200);

    return res.json() as Stats;
  };

  beforeAll(async () => {
    product = await startProduct({
      site: { domains: ['semicomplete.com', 'www.semicomplete.com'] },
    });
    // Imported while the server runs, as an operator would.
    first = await cli('import', '--site', product.siteId, '--format', 'combined', LOG, '--json');
    second = await cli('import', '--site', product.siteId, '--format', 'combined', LOG, '--json');
  }, 120_000);

  afterAll(async () => {
    await product?.close();
  });

  it('reports what it imported, skipped and could not parse', () => {
    expect(JSON.parse(first.stdout)).toEqual({
      lines: 10000,
      malformed: 1,
      malformedSamples: [8899],
      pageviews: 1600,
      duplicates: 0,
      filtered: 1280,
      skipped: {
        method: 48,
        status: 416,
        asset: 5340,
        'non-html': 1315,
        'foreign-host': 0,
        future: 0,
      },
    });
  });

  it('importing the same file twice does not double count', async () => {
    expect(JSON.parse(second.stdout)).toMatchObject({
      pageviews: 0,
      duplicates: 1600,
      filtered: 0,
    });
    const result = await stats();
    expect(result.totals).toMatchObject({ pageviews: 1600, filtered: 1280 });
  });

  it('the stats API reports the figures per day', async () => {
    const result = await stats();

    expect(result.totals).toEqual({
      visitors: 974,
      sessions: 1085,
      pageviews: 1600,
      bounceRate: 0.763,
      visitDuration: 6,
      filtered: 1280,
    });
    expect(
      result.days.map(({ day, visitors, sessions, pageviews }) => [
        day,
        visitors,
        sessions,
        pageviews,
      ]),
    ).toEqual([
      ['2015-05-17', 150, 166, 234],
      ['2015-05-18', 272, 306, 449],
      ['2015-05-19', 302, 335, 554],
      ['2015-05-20', 250, 278, 363],
    ]);
    expect(result.pages.slice(0, 4).map((row) => [row.key, row.pageviews])).toEqual([
      ['/projects/xdotool/', 204],
      ['/projects/xdotool/xdotool.xhtml', 144],
      ['/', 125],
      ['/articles/dynamic-dns-with-dhcp/', 124],
    ]);
    expect(result.channels.map((row) => [row.key, row.sessions])).toEqual([
      ['Direct', 489],
      ['Organic Search', 435],
      ['Referral', 152],
      ['Other campaign', 7],
      ['Organic Social', 2],
    ]);
    expect(result.referrers.slice(0, 3).map((row) => [row.key, row.sessions])).toEqual([
      ['google.com', 162],
      ['google.co.uk', 35],
      ['stackoverflow.com', 31],
    ]);
    expect(result.countries.slice(0, 4).map((row) => [row.key, row.visitors])).toEqual([
      ['US', 274],
      ['DE', 82],
      ['FR', 54],
      ['GB', 52],
    ]);
    expect(result.browsers.slice(0, 3).map((row) => [row.key, row.visitors])).toEqual([
      ['Firefox', 436],
      ['Chrome', 306],
      ['IE', 92],
    ]);
  });

  it('leaves no address, search query or e-mail on disk or in the logs', async () => {
    const text = readFileSync(LOG, 'utf8');
    const addresses = new Set(
      text
        .split('\n')
        .map((line) => line.split(' ')[0])
        .filter((ip) => ip && /^[\d.:a-f]+$/.test(ip)),
    );
    expect(addresses.size).toBeGreaterThan(1000);

    const db = await product.tenantDb();
    const dump = dumpDatabase(db);
    db.close();
    const control = dumpDatabase(
      (product.control as unknown as { db: Parameters<typeof dumpDatabase>[0] }).db,
    );
    const output = [first.stdout, first.stderr, second.stdout, second.stderr, ...product.logs].join(
      '\n',
    );

    for (const haystack of [dump, control, output]) {
      for (const ip of addresses)
        expect(haystack.includes(`"${ip}"`) || haystack.includes(` ${ip} `)).toBe(false);
      expect(haystack).not.toMatch(/\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/);
      expect(haystack).not.toMatch(/[\w.+-]+@[\w-]+\.[\w.]+/);
      expect(haystack).not.toContain('q=');
    }
  });
});

describe('the same log in Common Log Format (no referrer, no User-Agent)', () => {
  let product: Product;

  afterAll(async () => {
    await product?.close();
  });

  it('counts its page requests as pageviews: no User-Agent logged is no bot (QA)', async () => {
    // Before, every line was filtered as a bot for its empty User-Agent: the format stored nothing.
    product = await startForLog();
    const common = path.join(product.dataDir, 'access-common.log');
    const lines = readFileSync(LOG, 'utf8')
      .split('\n')
      .map((line) => line.replace(/ "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*"$/, ''));
    writeFileSync(common, lines.join('\n'));

    // The combined import's 1,600 pageviews and the 1,280 its agents showed to be bots.
    expect(await importInto(product, common, 'common')).toMatchObject({
      lines: 10000,
      pageviews: 2880,
      filtered: 0,
    });
    const stats = await logStats(product);
    expect(stats.totals).toMatchObject({ pageviews: 2880, filtered: 0 });
    expect(stats.browsers).toEqual([]);
  }, 120_000);
});

describe('lighttrail import of a log split in two (QA)', () => {
  let product: Product;

  afterAll(async () => {
    await product?.close();
  });

  it('counts a visitor once across the two runs, as one run does', async () => {
    product = await startForLog();
    // Rotated mid-day, as logrotate leaves it; each half imported by its own run.
    const lines = readFileSync(LOG, 'utf8').split('\n');
    for (const [n, half] of [lines.slice(0, 5000), lines.slice(5000)].entries()) {
      const file = path.join(product.dataDir, `access-${n}.log`);
      writeFileSync(file, half.join('\n'));
      await importInto(product, file);
    }

    // The whole file in one run: 974 visitors in 1,085 sessions (each run its own secret: 979).
    expect((await logStats(product)).totals).toMatchObject({
      visitors: 974,
      sessions: 1085,
      pageviews: 1600,
    });

    // The secret both runs shared is kept sealed with the day salts, and goes with them.
    const today = new Date().toISOString().slice(0, 10);
    const secret = () => product.control.daySalt(importSecretKey(today, product.siteId), false);
    expect(await secret()).toHaveLength(32);
    product.control.destroySaltsBefore(addDays(today, 2));
    expect(await secret()).toBeUndefined();
  }, 120_000);
});
