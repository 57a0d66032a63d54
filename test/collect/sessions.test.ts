import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DailySalts } from '../../src/collect/salts.js';
import type { EnrichedEvent } from '../../src/domain/event.js';
import { visitorId } from '../../src/enrich/visitor.js';
import type { SqliteControlStore } from '../../src/store/sqlite/control.js';
import { migrate } from '../../src/store/sqlite/migrate.js';
import type { Db } from '../../src/store/sqlite/open.js';
import { TENANT_MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { openTenantDb } from '../../src/store/sqlite/tenant.js';
import {
  overlayHeldSessions,
  TenantWriter,
  type TenantWriterOptions,
} from '../../src/store/sqlite/writer.js';
import { enrichedEvent } from '../helpers/events.js';
import { createOrganisation, type TestOrganisation } from '../helpers/organisation.js';

const IP = '198.51.100.23';
const UA = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0';
const MINUTE = 60_000;

// Every rule holds whether session figures are written with each commit (the log import) or held
// in memory and written later (the server).
const MODES: Array<[string, TenantWriterOptions]> = [
  ['figures written with each commit', {}],
  ['figures held in memory', { sessionFlushMs: 60_000 }],
];

describe.each(MODES)('cookieless sessions and daily salts, %s', (_mode, options) => {
  let organisation: TestOrganisation;
  let control: SqliteControlStore;
  let db: Db;
  let writer: TenantWriter;
  let salts: DailySalts;
  let siteId: string;

  beforeEach(async () => {
    organisation = await createOrganisation();
    ({ control, siteId } = organisation);
    db = await openTenantDb(control, organisation.tenantId);
    writer = new TenantWriter(db, options);
    salts = new DailySalts(control);
  });

  afterEach(() => {
    db.close();
    organisation.cleanup();
  });

  async function pageview(
    ts: number,
    path: string,
    type: EnrichedEvent['type'] = 'pageview',
    ip = IP,
  ): Promise<EnrichedEvent> {
    const { salt, previous } = await salts.forTime(ts);

    return enrichedEvent({
      siteId,
      ts,
      type,
      path,
      visitorId: visitorId(salt, siteId, ip, UA),
      previousVisitorId: previous === null ? null : visitorId(previous, siteId, ip, UA),
    });
  }

  const sessions = () => {
    writer.flushSessions();

    return db.prepare('SELECT * FROM sessions ORDER BY started_at').all() as Array<
      Record<string, unknown>
    >;
  };

  it('ends a session after 30 idle minutes; keeps entry, exit and pageviews', async () => {
    const t0 = Date.parse('2026-12-03T10:00:00Z');
    writer.commit(
      [
        await pageview(t0, '/'),
        await pageview(t0 + 10 * MINUTE, '/doctors'),
        await pageview(t0 + 39 * MINUTE, '/contact'),
      ],
      [],
    );
    writer.commit([await pageview(t0 + 70 * MINUTE, '/')], []);

    expect(
      sessions().map((s) => [
        s.entry_path,
        s.exit_path,
        s.pageviews,
        (s.last_at as number) - (s.started_at as number),
      ]),
    ).toEqual([
      ['/', '/contact', 3, 39 * MINUTE],
      ['/', '/', 1, 0],
    ]);
  });

  it("a session begun by an engagement beacon takes its pageview's channel (QA)", async () => {
    const t0 = Date.parse('2026-12-03T10:00:00Z');
    // A single-page app left idle: the engagement for the page it leaves comes first, carrying
    // that page's campaign; the pageview of the page now shown follows.
    const leaving = {
      ...(await pageview(t0, '/attr-a', 'engagement')),
      channel: 'Email',
      utmSource: 'newsletter',
      utmMedium: 'email',
    };
    const landing = { ...(await pageview(t0 + 1_000, '/attr-b')), channel: 'Direct' };
    writer.commit([leaving, landing], []);
    // Later pageviews of the session change nothing.
    const later = { ...(await pageview(t0 + MINUTE, '/x')), channel: 'Referral' };
    writer.commit([later], []);

    expect(sessions()).toMatchObject([
      { entry_path: '/attr-b', channel: 'Direct', utm_source: null, utm_medium: null },
    ]);

    // So does a session that a restart finds in the file.
    writer = new TenantWriter(db, options);
    writer.commit([{ ...(await pageview(t0 + 2 * MINUTE, '/y')), channel: 'Referral' }], []);
    expect(sessions()).toMatchObject([{ channel: 'Direct', pageviews: 3 }]);
  });

  it('a session across midnight UTC stays one, although the salt changed', async () => {
    const beforeMidnight = Date.parse('2026-12-03T23:50:00Z');
    const afterMidnight = Date.parse('2026-12-04T00:10:00Z');
    const late = await pageview(beforeMidnight, '/late');
    const early = await pageview(afterMidnight, '/early');
    expect(early.visitorId).not.toBe(late.visitorId);
    expect(early.previousVisitorId).toBe(late.visitorId);

    writer.commit([late], []);
    writer.commit([early], []);

    expect(sessions()).toHaveLength(1);
    expect(sessions()[0]).toMatchObject({ entry_path: '/late', exit_path: '/early', pageviews: 2 });
    const visitors = db.prepare('SELECT DISTINCT visitor_id FROM events').all();
    expect(visitors).toHaveLength(1);
  });

  it('a session across midnight goes on past 00:30, under the new id alone', async () => {
    const times = ['23:50', '00:10', '00:35', '00:55'];
    const events: EnrichedEvent[] = [];
    for (const [i, time] of times.entries()) {
      const day = i === 0 ? '2026-12-03' : '2026-12-04';
      events.push(await pageview(Date.parse(`${day}T${time}:00Z`), `/p${i}`));
    }
    expect(events[2]?.previousVisitorId).toBeNull();

    for (const event of events) writer.commit([event], []);

    expect(sessions()).toHaveLength(1);
    expect(sessions()[0]).toMatchObject({ entry_path: '/p0', exit_path: '/p3', pageviews: 4 });
    expect(db.prepare('SELECT DISTINCT visitor_id FROM events').all()).toHaveLength(1);
  });

  it('a midnight session survives a full visitor cache: the idlest visitors go', async () => {
    // Three visitors fit; the one crossing midnight is known under two ids meanwhile.
    writer = new TenantWriter(db, { ...options, cacheLimit: 3 });
    const at = (time: string, day = '2026-12-04') => Date.parse(`${day}T${time}:00Z`);
    writer.commit([await pageview(at('23:50', '2026-12-03'), '/a1')], []);
    writer.commit([await pageview(at('00:10'), '/a2')], []);
    writer.commit([await pageview(at('00:20'), '/b', 'pageview', '198.51.100.20')], []);
    writer.commit([await pageview(at('00:25'), '/c', 'pageview', '198.51.100.30')], []);
    // From 00:30 the visitor is known by the new id alone, which only the cache links.
    writer.commit([await pageview(at('00:40'), '/a3')], []);

    expect(sessions()).toHaveLength(3);
    expect(sessions()[0]).toMatchObject({ entry_path: '/a1', exit_path: '/a3', pageviews: 3 });
  });

  it('does not bridge midnight for a gap longer than 30 minutes', async () => {
    writer.commit([await pageview(Date.parse('2026-12-03T23:20:00Z'), '/a')], []);
    writer.commit([await pageview(Date.parse('2026-12-04T00:05:00Z'), '/b')], []);

    expect(sessions()).toHaveLength(2);
  });

  it('destroys two-day-old salts: an old visitor id cannot be recomputed', async () => {
    const now = Date.parse('2026-12-04T12:00:00Z');
    const old = await salts.forTime(Date.parse('2026-12-01T12:00:00Z'));
    await salts.forTime(Date.parse('2026-12-03T12:00:00Z'));
    await salts.forTime(now);

    expect(salts.rotate(now)).toBe(1);

    expect(await control.daySalt('2026-12-01', false)).toBeUndefined();
    expect(await control.daySalt('2026-12-03', false)).toBeInstanceOf(Buffer);
    const fresh = new DailySalts(control);
    const again = await fresh.forTime(Date.parse('2026-12-01T12:00:00Z'));
    expect(again.salt.equals(old.salt)).toBe(false);
    expect(control.listSystemEvents({ type: 'salts.destroyed' })).toEqual([
      expect.objectContaining({ actor: 'system', detail: { count: 1, before: '2026-12-03' } }),
    ]);
  });

  it('a repeated dedupe key stores nothing; a rolled-back batch leaves no session', async () => {
    const event = {
      ...(await pageview(Date.parse('2026-12-03T09:00:00Z'), '/once')),
      dedupeKey: 'k1',
    };
    expect(writer.commit([event], []).inserted).toBe(1);
    expect(writer.commit([event], [])).toMatchObject({ inserted: 0, duplicates: 1 });

    const broken = {
      ...(await pageview(Date.parse('2026-12-03T15:00:00Z'), '/x')),
      type: null as unknown as 'pageview',
    };
    const good = await pageview(Date.parse('2026-12-03T15:00:00Z'), '/y');
    expect(() => writer.commit([good, broken], [])).toThrow();
    expect(db.prepare(`SELECT count(*) AS n FROM events WHERE path IN ('/x', '/y')`).get()).toEqual(
      { n: 0 },
    );
    expect(sessions()).toHaveLength(1);
  });
});

describe('session figures held in memory by the server', () => {
  let organisation: TestOrganisation;
  let db: Db;
  let siteId: string;
  const t0 = Date.parse('2026-12-03T10:00:00Z');

  beforeEach(async () => {
    organisation = await createOrganisation();
    siteId = organisation.siteId;
    db = await openTenantDb(organisation.control, organisation.tenantId);
  });

  afterEach(() => {
    db.close();
    organisation.cleanup();
  });

  const event = (visitor: string, at: number, type: EnrichedEvent['type'], path: string) =>
    enrichedEvent({ siteId, ts: t0 + at, type, path, visitorId: visitor, channel: 'Direct' });

  /** Two visitors: one with pages, a click and an engagement; one begun by a beacon. */
  const visits = (): EnrichedEvent[][] => [
    [event('v1', 0, 'pageview', '/a'), event('v2', 0, 'engagement', '/old')],
    [
      event('v1', MINUTE, 'pageview', '/b'),
      { ...event('v2', 1_000, 'pageview', '/c'), channel: 'Email', utmSource: 'news' },
    ],
    [
      event('v1', 2 * MINUTE, 'custom', '/b'),
      { ...event('v1', 3 * MINUTE, 'engagement', '/b'), engagementMs: 5_000 },
    ],
  ];

  const figures = () =>
    db
      .prepare(
        `SELECT visitor_id AS visitor, entry_path AS entry, exit_path AS exit, pageviews,
           interactions, engagement_ms AS engagement, last_at - started_at AS duration, channel,
           utm_source AS utmSource
         FROM sessions ORDER BY visitor_id`,
      )
      .all();

  const EXPECTED = [
    {
      visitor: 'v1',
      entry: '/a',
      exit: '/b',
      pageviews: 2,
      interactions: 1,
      engagement: 5_000,
      duration: 3 * MINUTE,
      channel: 'Direct',
      utmSource: null,
    },
    {
      visitor: 'v2',
      entry: '/c',
      exit: '/c',
      pageviews: 1,
      interactions: 0,
      engagement: 0,
      duration: 1_000,
      channel: 'Email',
      utmSource: 'news',
    },
  ];

  const mark = () =>
    (db.prepare(`SELECT value FROM meta WHERE key = 'sessions_through'`).get() as { value: number })
      .value;
  const lastEvent = () =>
    (db.prepare('SELECT max(id) AS id FROM events').get() as { id: number }).id;

  /** A writer opening the file replays what its rows lack; another then finds nothing to add. */
  const expectRecovered = (expected: unknown[]) => {
    const next = new TenantWriter(db, { sessionFlushMs: 60_000 });
    expect(figures()).toEqual(expected);
    expect(mark()).toBe(lastEvent());
    expect(next.pendingSessions).toBe(0);
    new TenantWriter(db, { sessionFlushMs: 60_000 });
    expect(figures()).toEqual(expected);
  };

  it('writes a new session at once, its figures only when due', () => {
    const writer = new TenantWriter(db, { sessionFlushMs: 60_000 });
    for (const commit of visits()) writer.commit(commit, []);

    // The rows exist (the visitor is known to other writers), without figures yet.
    expect(figures()).toMatchObject([
      { visitor: 'v1', pageviews: 0, entry: null },
      { visitor: 'v2', pageviews: 0, entry: null },
    ]);
    expect(writer.pendingSessions).toBe(2);

    writer.flushSessions();
    expect(figures()).toEqual(EXPECTED);
    expect(mark()).toBe(lastEvent());
    expect(writer.pendingSessions).toBe(0);
  });

  it('writes held figures a slice at a time, each in its own transaction; the mark last', () => {
    const writer = new TenantWriter(db, { sessionFlushMs: 60_000, sessionSlice: 1 });
    const before = mark();
    for (const commit of visits()) writer.commit(commit, []);

    writer.writeSessionSlice();
    // One session's figures are in its row, which says up to which event; the mark waits.
    const written = db
      .prepare('SELECT visitor_id AS visitor, figures_through AS through FROM sessions')
      .all() as Array<{ visitor: string; through: number }>;
    expect(written.filter((row) => row.through === lastEvent())).toHaveLength(1);
    expect(written.filter((row) => row.through === 0)).toHaveLength(1);
    expect(mark()).toBe(before);
    expect(writer.writingSessions).toBe(true);
    expect(writer.pendingSessions).toBe(1);
    expect(writer.sessionsDue(Date.now())).toBe(true);

    writer.writeSessionSlice();
    expect(figures()).toEqual(EXPECTED);
    expect(mark()).toBe(lastEvent());
    expect(writer.writingSessions).toBe(false);
    expect(writer.pendingSessions).toBe(0);
    expect(writer.sessionsDue(Date.now())).toBe(false);
  });

  it('stopped between two slices: the next writer replays what each row lacks, once', () => {
    const [first, second, third] = visits();
    const crashed = new TenantWriter(db, { sessionFlushMs: 60_000, sessionSlice: 1 });
    crashed.commit(first ?? [], []);
    crashed.commit(second ?? [], []);
    // One of the two sessions written; then more events for both; then the process dies.
    crashed.writeSessionSlice();
    crashed.commit(third ?? [], []);
    crashed.commit([{ ...event('v2', 4 * MINUTE, 'custom', '/c') }], []);
    const expected = [EXPECTED[0], { ...EXPECTED[1], interactions: 1, duration: 4 * MINUTE }];

    // A reader meanwhile counts every stored event exactly once.
    const undo = overlayHeldSessions(db);
    expect(figures()).toEqual(expected);
    undo();

    expectRecovered(expected);
  });

  it('a session read back from the file while its figures are being written goes on', () => {
    // A cache of one visitor: v1 is read back from its row, whose figures are still in memory.
    const writer = new TenantWriter(db, { sessionFlushMs: 60_000, sessionSlice: 1, cacheLimit: 1 });
    // Session ids follow their first event's time: v2's is written first.
    writer.commit([event('v2', 0, 'pageview', '/x'), event('v1', 1_000, 'pageview', '/a')], []);
    writer.commit([event('v1', 29 * MINUTE, 'pageview', '/b')], []);
    writer.commit([event('v2', MINUTE, 'pageview', '/y')], []);
    writer.writeSessionSlice();
    // Past 30 minutes after v1's row (its first event), 3 after its held last event.
    writer.commit([event('v1', 32 * MINUTE, 'pageview', '/c')], []);
    writer.flushSessions();

    expect(figures()).toMatchObject([
      { visitor: 'v1', entry: '/a', exit: '/c', pageviews: 3 },
      { visitor: 'v2', entry: '/x', exit: '/y', pageviews: 2 },
    ]);
  });

  it('the entry and exit pages do not depend on when figures are written (QA)', () => {
    // Two commits of one visit: a redirect in the same millisecond as its landing page, and a
    // pageview stored after a later click but timed before it.
    const cases = {
      tie: (v: string) => [
        [event(v, 0, 'pageview', '/landing')],
        [event(v, 0, 'pageview', '/redirected')],
      ],
      order: (v: string) => [
        [event(v, 90, 'pageview', '/a'), event(v, 100, 'custom', '/a')],
        [event(v, 95, 'pageview', '/b')],
      ],
    };
    const ends = (visitor: string) =>
      db
        .prepare('SELECT entry_path AS entry, exit_path AS exit FROM sessions WHERE visitor_id = ?')
        .get(visitor);

    const expected = {
      tie: { entry: '/landing', exit: '/redirected' },
      order: { entry: '/a', exit: '/b' },
    };
    for (const [name, visit] of Object.entries(cases)) {
      // Written once at the end.
      const once = new TenantWriter(db, { sessionFlushMs: 60_000 });
      for (const commit of visit(`${name}-once`)) once.commit(commit, []);
      once.flushSessions();
      // Written between the commits, and after the second; or that one replayed after a crash.
      for (const end of ['apart', 'crash']) {
        const [first, second] = visit(`${name}-${end}`);
        const writer = new TenantWriter(db, { sessionFlushMs: 60_000 });
        writer.commit(first ?? [], []);
        writer.flushSessions();
        writer.commit(second ?? [], []);
        if (end === 'apart') writer.flushSessions();
        else new TenantWriter(db, { sessionFlushMs: 60_000 });
      }

      for (const variant of ['once', 'apart', 'crash']) {
        expect(ends(`${name}-${variant}`), `${name}, ${variant}`).toEqual(
          expected[name as keyof typeof expected],
        );
      }
    }
  });

  it('says when the figures are due, and commits never write them', async () => {
    const writer = new TenantWriter(db, { sessionFlushMs: 50 });
    const [first, second, third] = visits();
    writer.commit(first ?? [], []);
    writer.commit(second ?? [], []);
    expect(writer.sessionsDue(Date.now())).toBe(false);

    await new Promise((resolve) => setTimeout(resolve, 60));
    writer.commit(third ?? [], []);
    expect(figures()[0]).toMatchObject({ pageviews: 0 });
    expect(writer.sessionsDue(Date.now())).toBe(true);

    writer.flushSessions();
    expect(figures()).toEqual(EXPECTED);
    expect(writer.sessionsDue(Date.now())).toBe(false);
  });

  it('a writer stopped before writing them: the next replays the events after the mark', () => {
    const [first, second, third] = visits();
    const crashed = new TenantWriter(db, { sessionFlushMs: 60_000 });
    crashed.commit(first ?? [], []);
    // Written up to here; the rest is in memory only when the process dies.
    crashed.flushSessions();
    crashed.commit(second ?? [], []);
    crashed.commit(third ?? [], []);
    expect(figures()[0]).toMatchObject({ pageviews: 1 });

    expectRecovered(EXPECTED);
  });

  it("a log import's figures and the server's held ones add up in the same session", () => {
    const server = new TenantWriter(db, { sessionFlushMs: 60_000 });
    server.commit([event('v1', 0, 'pageview', '/a'), event('v1', MINUTE, 'pageview', '/b')], []);
    // The import writes its figures at once, into the row the server created.
    const importer = new TenantWriter(db);
    importer.commit([{ ...event('v1', 2 * MINUTE, 'pageview', '/c'), origin: 'import' }], []);
    server.flushSessions();

    expect(figures()).toMatchObject([{ visitor: 'v1', pageviews: 3, entry: '/a', exit: '/c' }]);
    // The import's event is never replayed as the server's.
    new TenantWriter(db, { sessionFlushMs: 60_000 });
    expect(figures()).toMatchObject([{ pageviews: 3 }]);
  });

  it('a file written before figures were held starts its mark at its last event', () => {
    const old = new TenantWriter(db);
    for (const commit of visits()) old.commit(commit, []);
    expect(
      db.prepare(`SELECT count(*) AS n FROM meta WHERE key = 'sessions_through'`).get(),
    ).toEqual({ n: 0 });

    new TenantWriter(db, { sessionFlushMs: 60_000 });
    expect(mark()).toBe(lastEvent());
    expect(figures()).toEqual(EXPECTED);
  });

  it('a server writing figures with each commit keeps the mark: no replay twice (QA)', () => {
    const [first, second, third] = visits();
    const held = new TenantWriter(db, { sessionFlushMs: 60_000 });
    held.commit(first ?? [], []);
    held.flushSessions();
    // The next start writes them with each commit (LIGHTTRAIL_SESSION_FLUSH_MS=0).
    const each = new TenantWriter(db, { sessionFlushMs: 0 });
    each.commit(second ?? [], []);
    each.commit(third ?? [], []);
    expect(figures()).toEqual(EXPECTED);
    expect(mark()).toBe(lastEvent());

    new TenantWriter(db, { sessionFlushMs: 60_000 });
    expect(figures()).toEqual(EXPECTED);
  });

  it('a session begun by a click keeps its source through a restart and a replay (QA)', () => {
    const click = { ...event('v3', 0, 'custom', '/land'), channel: 'Email', utmSource: 'news' };
    const page = { ...event('v3', MINUTE, 'pageview', '/b'), channel: 'Direct' };
    const first = new TenantWriter(db, { sessionFlushMs: 60_000 });
    first.commit([click], []);
    first.flushSessions();
    // Restarted: the session is read back from the file, not from memory.
    const second = new TenantWriter(db, { sessionFlushMs: 60_000 });
    second.commit([page], []);
    // Killed before writing: the next writer replays the pageview.
    new TenantWriter(db, { sessionFlushMs: 60_000 });

    expect(figures()).toMatchObject([
      { visitor: 'v3', channel: 'Email', utmSource: 'news', entry: '/b', pageviews: 1 },
    ]);
  });
});

describe('tenant migration 2: sessions awaiting their landing page', () => {
  it('marks an earlier session begun by a beacon and still without a page (QA)', async () => {
    const organisation = await createOrganisation();
    const db = await openTenantDb(organisation.control, organisation.tenantId);
    try {
      // Back to the first schema, as a file written before this migration.
      for (const column of ['figures_through', 'entry_at', 'exit_at']) {
        db.exec(`ALTER TABLE sessions DROP COLUMN ${column}`);
      }
      db.exec('ALTER TABLE sessions DROP COLUMN awaiting_landing');
      db.pragma('user_version = 1');
      const t0 = Date.parse('2026-12-03T10:00:00Z');
      const old = db.prepare(
        `INSERT INTO sessions (id, site_id, visitor_id, day, started_at, last_at, entry_path,
           exit_path, pageviews, interactions, engagement_ms, channel)
         VALUES (?, ?, ?, '2026-12-03', ?, ?, ?, ?, ?, 0, 0, 'Direct')`,
      );
      const event = db.prepare(
        `INSERT INTO events (site_id, ts, day, type, hostname, path, channel, visitor_id,
           session_id) VALUES (?, ?, '2026-12-03', ?, 'a.example', '/', 'Direct', ?, ?)`,
      );
      const siteId = organisation.siteId;
      // A beacon and nothing since; a click and nothing since; a landed session.
      old.run('s-beacon', siteId, 'v-beacon', t0, t0, null, null, 0);
      event.run(siteId, t0, 'engagement', 'v-beacon', 's-beacon');
      old.run('s-click', siteId, 'v-click', t0, t0, null, null, 0);
      event.run(siteId, t0, 'custom', 'v-click', 's-click');
      old.run('s-page', siteId, 'v-page', t0, t0, '/a', '/a', 1);
      event.run(siteId, t0, 'pageview', 'v-page', 's-page');

      migrate(db, TENANT_MIGRATIONS);
      expect(
        db.prepare('SELECT id, awaiting_landing AS awaiting FROM sessions ORDER BY id').all(),
      ).toEqual([
        { id: 's-beacon', awaiting: 1 },
        { id: 's-click', awaiting: 0 },
        { id: 's-page', awaiting: 0 },
      ]);

      // The upgraded server's next pageview of that visitor settles the source.
      const writer = new TenantWriter(db, { sessionFlushMs: 60_000 });
      const landing = {
        ...enrichedEvent({ siteId, ts: t0 + MINUTE, visitorId: 'v-beacon', path: '/land' }),
        channel: 'Paid Search',
      };
      writer.commit([landing], []);
      writer.flushSessions();
      expect(db.prepare(`SELECT channel FROM sessions WHERE id = 's-beacon'`).get()).toEqual({
        channel: 'Paid Search',
      });
    } finally {
      db.close();
      organisation.cleanup();
    }
  });
});

describe('tenant migration 4: entry and exit pageview times', () => {
  it('takes them from the pageviews in each row, not its first and last event (QA)', async () => {
    const organisation = await createOrganisation();
    const db = await openTenantDb(organisation.control, organisation.tenantId);
    try {
      // A file of schema 3 (the first server to write figures in slices), with one session: two
      // pageviews and a later click, all written into the row.
      db.exec('ALTER TABLE sessions DROP COLUMN entry_at');
      db.exec('ALTER TABLE sessions DROP COLUMN exit_at');
      db.pragma('user_version = 3');
      const siteId = organisation.siteId;
      const t0 = Date.parse('2026-12-03T10:00:00Z');
      const event = db.prepare(
        `INSERT INTO events (site_id, ts, day, type, hostname, path, channel, visitor_id,
           session_id) VALUES (?, ?, '2026-12-03', ?, 'a.example', ?, 'Direct', 'v1', 's1')`,
      );
      event.run(siteId, t0 + 100, 'pageview', '/a');
      event.run(siteId, t0 + 200, 'pageview', '/b');
      event.run(siteId, t0 + 300, 'custom', '/b');
      db.prepare(
        `INSERT INTO sessions (id, site_id, visitor_id, day, started_at, last_at, entry_path,
           exit_path, pageviews, interactions, engagement_ms, channel)
         VALUES ('s1', ?, 'v1', '2026-12-03', ?, ?, '/a', '/b', 2, 1, 0, 'Direct')`,
      ).run(siteId, t0 + 100, t0 + 300);
      db.prepare(`INSERT INTO meta (key, value) VALUES ('sessions_through', 3)`).run();

      migrate(db, TENANT_MIGRATIONS);
      expect(db.prepare('SELECT entry_at, exit_at FROM sessions').get()).toEqual({
        entry_at: t0 + 100,
        exit_at: t0 + 200,
      });

      // A file of an intermediate version, whose step 3 added both columns already, migrates
      // too (QA): the columns are kept and the times taken again.
      db.pragma('user_version = 3');
      db.prepare('UPDATE sessions SET entry_at = NULL, exit_at = NULL').run();
      migrate(db, TENANT_MIGRATIONS);
      expect(db.prepare('SELECT entry_at, exit_at FROM sessions').get()).toEqual({
        entry_at: t0 + 100,
        exit_at: t0 + 200,
      });
      expect(db.pragma('user_version', { simple: true })).toBe(4);

      // A pageview timed after the exit page's and before the click becomes the exit page.
      const writer = new TenantWriter(db, { sessionFlushMs: 60_000 });
      writer.commit(
        [enrichedEvent({ siteId, ts: t0 + 250, visitorId: 'v1', path: '/c', channel: 'Direct' })],
        [],
      );
      writer.flushSessions();
      expect(db.prepare('SELECT entry_path, exit_path, pageviews FROM sessions').get()).toEqual({
        entry_path: '/a',
        exit_path: '/c',
        pageviews: 3,
      });
    } finally {
      db.close();
      organisation.cleanup();
    }
  });
});
