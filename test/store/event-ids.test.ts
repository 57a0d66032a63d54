import { randomBytes } from 'node:crypto';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { EnrichedEvent } from '../../src/domain/event.js';
import { DAY_SPAN, eventIdRange, firstEventId } from '../../src/store/sqlite/event-ids.js';
import { migrate } from '../../src/store/sqlite/migrate.js';
import { openEncrypted, type Db } from '../../src/store/sqlite/open.js';
import { TENANT_MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { queryStats } from '../../src/store/sqlite/stats.js';
import { TenantWriter } from '../../src/store/sqlite/writer.js';
import { tempDir } from '../helpers/temp.js';

const SITE = 'site_ids';

function event(day: string, path: string, extra: Partial<EnrichedEvent> = {}): EnrichedEvent {
  return {
    siteId: SITE,
    ts: Date.parse(`${day}T12:00:00Z`),
    day,
    type: 'pageview',
    name: null,
    hostname: 'clinic.example',
    path,
    query: '',
    fragment: null,
    title: null,
    href: null,
    referrerHost: null,
    referrerDomain: null,
    channel: 'Direct',
    utmSource: null,
    utmMedium: null,
    utmCampaign: null,
    utmTerm: null,
    utmContent: null,
    clickId: null,
    country: null,
    region: null,
    city: null,
    browser: 'Firefox',
    browserVersion: '127',
    os: 'Linux',
    device: 'desktop',
    props: null,
    engagementMs: null,
    scrollDepth: null,
    visitorId: randomBytes(16).toString('hex'),
    previousVisitorId: null,
    flags: '',
    origin: 'tracker',
    dedupeKey: null,
    ...extra,
  };
}

describe('event ids lead with their day', () => {
  it('maps a day to its block of 2^32 ids', () => {
    expect(firstEventId('1970-01-01')).toBe(0);
    expect(firstEventId('1970-01-02')).toBe(DAY_SPAN);
    expect(firstEventId('1969-12-31')).toBe(-DAY_SPAN);
    expect(eventIdRange('2026-12-03', '2026-12-04')).toEqual({
      low: firstEventId('2026-12-03'),
      high: firstEventId('2026-12-05'),
    });
    expect(() => firstEventId('2026-13-01')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    // Beyond exact JavaScript integers the writer refuses; a query range is clamped instead.
    expect(() => firstEventId('9999-12-31')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(eventIdRange('2026-01-01', '9999-12-31').high).toBe(Number.MAX_SAFE_INTEGER);
  });

  describe('in a tenant file', () => {
    let cleanup: () => void;
    let file: string;
    let key: Buffer;
    let db: Db;

    beforeEach(() => {
      const temp = tempDir();
      cleanup = temp.cleanup;
      file = path.join(temp.dir, 'tenant.db');
      key = randomBytes(32);
      db = openEncrypted(file, key, { create: true });
    });

    afterEach(() => {
      db.close();
      cleanup();
    });

    const ids = (on: Db) =>
      on.prepare('SELECT id, day FROM events ORDER BY id').all() as Array<{
        id: number;
        day: string;
      }>;

    it('numbers each day on its own, skips no id for a duplicate, and goes on from another writer', () => {
      migrate(db, TENANT_MIGRATIONS);
      const writer = new TenantWriter(db);
      writer.commit(
        [
          event('2026-12-04', '/a'),
          event('2026-12-03', '/late', { dedupeKey: 'line-1' }),
          event('2026-12-04', '/b'),
          event('2026-12-03', '/late-again', { dedupeKey: 'line-1' }),
          event('2026-12-03', '/other', { dedupeKey: 'line-2' }),
        ],
        [],
      );

      // A second connection, as an import beside the server, continues after what is there.
      const other = openEncrypted(file, key);
      new TenantWriter(other).commit([event('2026-12-04', '/c')], []);
      other.close();

      const dec3 = firstEventId('2026-12-03');
      const dec4 = firstEventId('2026-12-04');
      expect(ids(db)).toEqual([
        { id: dec3, day: '2026-12-03' },
        { id: dec3 + 1, day: '2026-12-03' },
        { id: dec4, day: '2026-12-04' },
        { id: dec4 + 1, day: '2026-12-04' },
        { id: dec4 + 2, day: '2026-12-04' },
      ]);
    });

    it('reads a day range by id alone: no index is written per commit', () => {
      migrate(db, TENANT_MIGRATIONS);
      const indexes = db
        .prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'`)
        .pluck()
        .all();
      expect(indexes).toEqual(['events_dedupe']);

      const plan = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT path, count(*) FROM events
           WHERE id >= ? AND id < ? AND site_id = ? AND type = 'pageview' GROUP BY path`,
        )
        .all(0, DAY_SPAN, SITE) as Array<{ detail: string }>;
      expect(plan.map((step) => step.detail).join('\n')).toMatch(
        /SEARCH events USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)/,
      );
    });

    it('moves the events of an older file into their days, where the figures find them', () => {
      // The file as the first schema left it: ids in insertion order, the (site, day) index.
      migrate(db, TENANT_MIGRATIONS.slice(0, 1));
      new TenantWriter(db).commit(
        [
          event('2026-12-01', '/a'),
          event('2026-12-02', '/b'),
          event('2026-12-01', '/a'),
          event('2026-12-03', '/c'),
        ],
        [],
      );
      // That schema numbered rows 1, 2, 3... as they came.
      db.exec('UPDATE events SET id = (SELECT count(*) FROM events e WHERE e.id <= events.id)');
      expect(ids(db).map((row) => row.id)).toEqual([1, 2, 3, 4]);
      const range = { siteId: SITE, from: '2026-12-01', to: '2026-12-02' };
      // Read by id range, those rows are nowhere until the migration moves them.
      expect(queryStats(db, range).pages).toEqual([]);
      db.close();

      db = openEncrypted(file, key);
      expect(migrate(db, TENANT_MIGRATIONS)).toEqual({ from: 1, to: 2 });

      expect(ids(db).map(({ id, day }) => [day, Math.floor(id / DAY_SPAN)])).toEqual([
        ['2026-12-01', firstEventId('2026-12-01') / DAY_SPAN],
        ['2026-12-01', firstEventId('2026-12-01') / DAY_SPAN],
        ['2026-12-02', firstEventId('2026-12-02') / DAY_SPAN],
        ['2026-12-03', firstEventId('2026-12-03') / DAY_SPAN],
      ]);
      const after = queryStats(db, range);
      expect(after.pages.map((page) => [page.key, page.pageviews])).toEqual([
        ['/a', 2],
        ['/b', 1],
      ]);
      expect(after.totals.pageviews).toBe(3);

      // New events of a migrated day follow its old ones.
      new TenantWriter(db).commit([event('2026-12-01', '/d')], []);
      const dec1 = ids(db).filter((row) => row.day === '2026-12-01');
      expect(dec1).toHaveLength(3);
      expect(dec1[2]!.id).toBe(dec1[1]!.id + 1);
    });
  });
});
