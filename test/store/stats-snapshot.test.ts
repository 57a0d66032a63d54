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
