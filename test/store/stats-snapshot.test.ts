import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Db } from '../../src/store/sqlite/open.js';
import { queryStats } from '../../src/store/sqlite/stats.js';
import { openTenantDb } from '../../src/store/sqlite/tenant.js';
import { TenantWriter } from '../../src/store/sqlite/writer.js';
import { enrichedEvent } from '../helpers/events.js';
import { createOrganisation, type TestOrganisation } from '../helpers/organisation.js';

const DAY = '2026-12-04';
const T0 = Date.parse(`${DAY}T09:00:00Z`);

describe('statistics read as one snapshot', () => {
  let organisation: TestOrganisation;
  let reader: Db;
  let writerDb: Db;
  let siteId: string;

  beforeEach(async () => {
    organisation = await createOrganisation();
    siteId = organisation.siteId;
    writerDb = await openTenantDb(organisation.control, organisation.tenantId);
    reader = await openTenantDb(organisation.control, organisation.tenantId, { readonly: true });
  });

  afterEach(() => {
    reader.close();
    writerDb.close();
    organisation.cleanup();
  });

  it('commits landing between its statements change no section of an answer', () => {
    const writer = new TenantWriter(writerDb);
    let visitor = 0;
    const commitOne = () =>
      writer.commit(
        [enrichedEvent({ siteId, ts: T0 + visitor, visitorId: `visitor-${visitor++}` })],
        [],
      );
    commitOne();
    // The reader's connection, with another connection committing a new visit before each of
    // its statements: what a busy server does to a statistics query.
    const busy = new Proxy(reader, {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (property === 'prepare') {
          return (sql: string) => {
            commitOne();
            return target.prepare(sql);
          };
        }

        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });

    const stats = queryStats(busy, { siteId, from: DAY, to: DAY });
    const sum = (
      rows: Array<{ pageviews?: number; sessions?: number }>,
      key: 'pageviews' | 'sessions',
    ) => rows.reduce((total, row) => total + (row[key] ?? 0), 0);

    expect(visitor).toBeGreaterThan(10);
    // The state when the read began: a visit or two, not the ten and more committed during it.
    expect(stats.totals.pageviews).toBeLessThan(3);
    expect(sum(stats.days, 'pageviews')).toBe(stats.totals.pageviews);
    expect(sum(stats.channels, 'sessions')).toBe(stats.totals.sessions);
    expect(sum(stats.pages, 'pageviews')).toBe(stats.totals.pageviews);
    expect(sum(stats.browsers, 'sessions')).toBe(stats.totals.sessions);
  });

  it('gives the connection its page cache back afterwards (connections stay open)', () => {
    const before = reader.pragma('cache_size', { simple: true });

    queryStats(reader, { siteId, from: DAY, to: DAY });

    expect(reader.pragma('cache_size', { simple: true })).toBe(before);
  });
});

describe('a session across midnight in the statistics (QA, twelfth session)', () => {
  let organisation: TestOrganisation;
  let db: Db;

  beforeEach(async () => {
    organisation = await createOrganisation();
    db = await openTenantDb(organisation.control, organisation.tenantId);
  });

  afterEach(() => {
    db.close();
    organisation.cleanup();
  });

  it('counts each pageview on its own day, the session on the day it began', () => {
    const siteId = organisation.siteId;
    const midnight = Date.parse('2026-12-05T00:00:00Z');
    const writer = new TenantWriter(db);
    const page = (at: number, path: string) =>
      enrichedEvent({
        siteId,
        ts: midnight + at,
        visitorId: 'v1',
        path,
      });
    writer.commit([page(-10_000, '/x'), page(20_000, '/y'), page(1_220_000, '/z')], []);
    const read = (from: string, to: string) => queryStats(db, { siteId, from, to });

    const later = read('2026-12-05', '2026-12-05');
    expect(later.totals).toMatchObject({ sessions: 0, pageviews: 2 });
    expect(later.pages.map((row) => [row.key, row.pageviews])).toEqual([
      ['/y', 1],
      ['/z', 1],
    ]);
    expect(read('2026-12-04', '2026-12-04').totals).toMatchObject({ sessions: 1, pageviews: 1 });

    const both = read('2026-12-04', '2026-12-05');
    expect(both.totals).toMatchObject({ visitors: 1, sessions: 1, pageviews: 3 });
    expect(both.days.map((row) => [row.day, row.sessions, row.pageviews])).toEqual([
      ['2026-12-04', 1, 1],
      ['2026-12-05', 0, 2],
    ]);
  });
});
