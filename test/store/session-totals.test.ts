import { randomBytes } from 'node:crypto';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { LocalKeyProvider } from '../../src/crypto/local-provider.js';
import type { EnrichedEvent } from '../../src/domain/event.js';
import { DEFAULT_SITE_SETTINGS } from '../../src/domain/site.js';
import { SqliteControlStore } from '../../src/store/sqlite/control.js';
import type { Db } from '../../src/store/sqlite/open.js';
import { queryStats } from '../../src/store/sqlite/stats.js';
import { openTenantDb } from '../../src/store/sqlite/tenant.js';
import { TenantWriter } from '../../src/store/sqlite/writer.js';
import { enrichedEvent } from '../helpers/events.js';
import { tempDir } from '../helpers/temp.js';

const T0 = Date.parse('2026-12-03T10:00:00Z');
const MINUTE = 60_000;

/**
 * Visits of six visitors, interleaved in time as a server receives them: pages, interactions,
 * engagement, a second session after an hour for one visitor, and a second site's visitor.
 */
function visits(siteId: string): EnrichedEvent[] {
  const events: EnrichedEvent[] = [];
  for (let step = 0; step < 5; step++) {
    for (let v = 0; v < 6; v++) {
      const ts = T0 + step * MINUTE + v * 1_000;
      const visitorId = `visitor-${v}`;
      const type = (['pageview', 'custom', 'pageview', 'engagement', 'pageview'] as const)[step];
      events.push(
        enrichedEvent({
          siteId,
          ts,
          visitorId,
          type: type!,
          path: `/page-${step}-${v % 3}`,
          engagementMs: type === 'engagement' ? 4_000 + v : null,
          channel: v % 2 === 0 ? 'Direct' : 'Organic Search',
          referrerDomain: v % 2 === 0 ? null : 'google.com',
          country: v < 3 ? 'US' : 'CA',
        }),
      );
    }
  }
  // Back after an hour: a new session; and a one-page visit.
  events.push(enrichedEvent({ siteId, ts: T0 + 70 * MINUTE, visitorId: 'visitor-0', path: '/x' }));
  events.push(enrichedEvent({ siteId, ts: T0 + 71 * MINUTE, visitorId: 'visitor-9', path: '/y' }));

  return events;
}

function inGroups<T>(items: T[], size: number): T[][] {
  const groups: T[][] = [];
  for (let i = 0; i < items.length; i += size) groups.push(items.slice(i, i + size));

  return groups;
}

describe('session totals written in batches', () => {
  let cleanup: () => void;
  let control: SqliteControlStore;
  let reference: { db: Db; siteId: string };
  let deferred: { db: Db; siteId: string; tenantId: string };

  beforeEach(async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    control = await SqliteControlStore.open(
      temp.dir,
      LocalKeyProvider.fromKey(randomBytes(32).toString('hex')),
    );
    const open = async (name: string) => {
      const tenant = await control.createTenant(name, 'test');
      const settings = { ...DEFAULT_SITE_SETTINGS, domains: ['a.example'] };
      const siteId = control.createSite(tenant.id, 'site', settings, 'test').id;

      return { db: await openTenantDb(control, tenant.id), siteId, tenantId: tenant.id };
    };
    reference = await open('Written per transaction');
    deferred = await open('Written in batches');
  });

  afterEach(() => {
    reference.db.close();
    deferred.db.close();
    control.close();
    cleanup();
  });

  /** The sessions table as the figures see it, without what differs by design (ids, site). */
  const table = (db: Db) =>
    db
      .prepare(
        `SELECT visitor_id, day, started_at, last_at, entry_path, exit_path, pageviews,
                interactions, engagement_ms, channel, referrer_domain, country, through_id
         FROM sessions ORDER BY visitor_id, started_at`,
      )
      .all();
  const backlog = (db: Db) => db.prepare('SELECT * FROM session_backlog').all();
  const stats = (db: Db, siteId: string) => {
    const { siteId: _, ...figures } = queryStats(db, {
      siteId,
      from: '2026-12-03',
      to: '2026-12-03',
    });

    return figures;
  };

  function writeReference(): void {
    const writer = new TenantWriter(reference.db);
    for (const group of inGroups(visits(reference.siteId), 4)) writer.commit(group, []);
  }

  it('holds totals in memory, figures exact meanwhile; the flush writes what per-transaction does', () => {
    writeReference();
    const writer = new TenantWriter(deferred.db, { deferSessions: true });
    for (const group of inGroups(visits(deferred.siteId), 4)) writer.commit(group, []);

    // Nothing written to the sessions table yet, the marker says from where it is missing.
    expect(table(deferred.db)).toEqual([]);
    expect(backlog(deferred.db)).toEqual([{ writer: 'server', first_id: 1 }]);
    expect(writer.pendingSessions).toBe(8);
    expect(stats(deferred.db, deferred.siteId)).toEqual(stats(reference.db, reference.siteId));
    expect(stats(reference.db, reference.siteId).totals).toMatchObject({
      visitors: 7,
      sessions: 8,
      pageviews: 20,
    });

    writer.flushSessions();

    expect(table(deferred.db)).toEqual(table(reference.db));
    expect(backlog(deferred.db)).toEqual([]);
    expect(writer.pendingSessions).toBe(0);
    expect(stats(deferred.db, deferred.siteId)).toEqual(stats(reference.db, reference.siteId));
  });

  it('a writer that stopped before its flush: the next one writes the totals, none twice', async () => {
    writeReference();
    const events = visits(deferred.siteId);
    const first = new TenantWriter(deferred.db, { deferSessions: true });
    // Half the events, a flush, the rest, then the process dies (no flush).
    for (const group of inGroups(events.slice(0, 14), 4)) first.commit(group, []);
    first.flushSessions();
    for (const group of inGroups(events.slice(14), 4)) first.commit(group, []);
    const flushed = table(deferred.db);

    expect(backlog(deferred.db)).toEqual([{ writer: 'server', first_id: 15 }]);
    expect(stats(deferred.db, deferred.siteId)).toEqual(stats(reference.db, reference.siteId));

    deferred.db.close();
    deferred.db = await openTenantDb(control, deferred.tenantId);
    const next = new TenantWriter(deferred.db, { deferSessions: true });

    expect(flushed).not.toEqual(table(reference.db));
    expect(table(deferred.db)).toEqual(table(reference.db));
    expect(backlog(deferred.db)).toEqual([]);
    expect(next.pendingSessions).toBe(0);

    // Sessions go on where they were: the next event of visitor 1 continues its session.
    const more = enrichedEvent({
      siteId: deferred.siteId,
      ts: T0 + 6 * MINUTE,
      visitorId: 'visitor-1',
      path: '/later',
    });
    next.commit([more], []);
    next.flushSessions();
    const row = deferred.db
      .prepare("SELECT pageviews, exit_path FROM sessions WHERE visitor_id = 'visitor-1'")
      .get();

    expect(row).toEqual({ pageviews: 4, exit_path: '/later' });
  });

  it('a repeated dedupe key leaves no session and no backlog of its own', () => {
    const writer = new TenantWriter(deferred.db, { deferSessions: true });
    const keyed = (visitorId: string, ts: number) =>
      enrichedEvent({ siteId: deferred.siteId, ts, visitorId, dedupeKey: 'line-1' });
    writer.commit([keyed('visitor-a', T0)], []);
    writer.flushSessions();

    writer.commit([keyed('visitor-b', T0 + 1_000)], []);

    expect(writer.pendingSessions).toBe(0);
    expect(stats(deferred.db, deferred.siteId).totals).toMatchObject({ sessions: 1, visitors: 1 });
    writer.flushSessions();
    expect(table(deferred.db)).toHaveLength(1);
    expect(backlog(deferred.db)).toEqual([]);
  });

  it('a rolled-back transaction leaves the totals held in memory as they were', () => {
    const writer = new TenantWriter(deferred.db, { deferSessions: true });
    const event = (ts: number, path: string) =>
      enrichedEvent({ siteId: deferred.siteId, ts, visitorId: 'visitor-r', path });
    writer.commit([event(T0, '/one')], []);
    const broken = { ...event(T0 + 1_000, '/two'), siteId: null } as unknown as EnrichedEvent;

    expect(() => writer.commit([event(T0 + 500, '/half'), broken], [])).toThrow();
    writer.commit([event(T0 + 2_000, '/three')], []);
    writer.flushSessions();

    expect(
      deferred.db.prepare('SELECT pageviews, entry_path, exit_path FROM sessions').all(),
    ).toEqual([{ pageviews: 2, entry_path: '/one', exit_path: '/three' }]);
  });
});
