import { randomBytes } from 'node:crypto';

import {
  INTERACTIONS,
  SESSION_TIMEOUT_MS,
  type EnrichedEvent,
  type EventType,
  type FilteredHit,
} from '../../domain/event.js';
import type { Db } from './open.js';

interface SessionState {
  id: string;
  visitorId: string;
  startedAt: number;
  lastAt: number;
  /**
   * Its channel and campaign are settled: false only while a session begun by an engagement
   * beacon (sent for the page being left, never an arrival) waits for its first pageview.
   */
  landed: boolean;
}

export interface CommitResult {
  inserted: number;
  duplicates: number;
  /** Per event, in order: false when its dedupe key was already stored. */
  written: boolean[];
  /** Per filtered hit, in order: false when its dedupe key was already counted. */
  counted: boolean[];
}

/** Visitors whose latest session the writer keeps in memory per tenant file. */
const CACHE_LIMIT = 200_000;

export interface TenantWriterOptions {
  /** Visitors kept in memory (see CACHE_LIMIT). */
  cacheLimit?: number;
  /**
   * Set for the server's writer only: milliseconds for which session figures may stay in memory
   * before they are written (0: with each commit); it keeps the mark and replays after it when
   * it opens a file (see TenantWriter). Unset for the log import, which may run beside a server:
   * it writes its figures with each commit and never touches the mark.
   */
  sessionFlushMs?: number;
  /** Most sessions whose held figures one transaction writes (see SESSION_SLICE). */
  sessionSlice?: number;
}

/**
 * Held figures are written in slices of this many sessions, one transaction each, between the
 * groups of events: all at once, a busy site's thousands of rows held every request behind them
 * for 5 to 10 ms; in slices of 256, each slice held one group 4 to 10 ms under load.
 */
const SESSION_SLICE = 64;

/**
 * Held figures on their way to the file: the touches of the events up to `through`, written in
 * slices in the order of `ids` (time-ordered, as the rows are: a slice rewrites a few neighbouring
 * pages, not one page per session).
 */
interface Generation {
  through: number;
  touches: ReadonlyMap<string, Touch>;
  ids: readonly string[];
  /** Index in `ids` of the first session not yet written. */
  next: number;
}

/** What an event does to its session's figures. */
interface SessionEvent {
  ts: number;
  type: string;
  path: string;
  engagementMs: number | null;
  channel: string;
  referrerDomain: string | null;
  utmSource: string | null;
  utmMedium: string | null;
  utmCampaign: string | null;
}

/** The source a session takes from its first pageview when an engagement beacon began it. */
type Attribution = Pick<
  SessionEvent,
  'channel' | 'referrerDomain' | 'utmSource' | 'utmMedium' | 'utmCampaign'
>;

/**
 * Events' effect on one session, not yet written: merged into the row with min, max, sums and
 * the entry and exit rules, so writes from two processes (a server and a log import) add up.
 */
interface Touch {
  first: number;
  last: number;
  /** The earliest pageview's time and path, if any. */
  entryTs: number;
  entryPath: string | null;
  /** The latest pageview's. */
  exitTs: number;
  exitPath: string | null;
  pageviews: number;
  interactions: number;
  engagement: number;
  attribution: Attribution | null;
}

/** Meta key: the last tracker event whose effect on its session is in the sessions table. */
const SESSIONS_MARK = 'sessions_through';

/**
 * Writes enriched events into one tenant file, assigning each to a session, in one transaction
 * per call. Runs inside the writer worker, the only writer of tenant files in a process.
 *
 * Session rule: an event continues the visitor's latest session when it falls within 30 minutes
 * of that session's last event; otherwise it starts a new one. Near midnight UTC the visitor id
 * changes with the daily salt, so the previous day's id is also looked up: a session that
 * crosses midnight stays one session, under the id it started with, and is then also known under
 * the new id (in memory: a restart after 00:30 UTC splits such a session). Past `cacheLimit`
 * visitors the cache forgets the ones idle longest.
 *
 * A new session's row is written with its first event. Its figures (last activity, exit page,
 * counts, duration) change with every later event, each time on a page of the table far from
 * the last one: written per event, they were a third of the writer's work and half the pages it
 * wrote. With `sessionFlushMs` they are gathered in memory and written once that much time has
 * passed (`sessionsDue`, `writeSessionSlice`): the figures of the events up to then, sorted by
 * session (so by row and page), in slices of `sessionSlice` sessions, each a transaction of its
 * own between two groups of events. The events are durable at each commit as always, and the
 * figures are derived from them: the meta key `sessions_through` names the last tracker event
 * whose effect is written for every session, moved with the last slice; each row's
 * `figures_through` names the last one written into it. A writer opening the file (after a
 * crash) first replays the tracker events after the mark that its row does not count yet, and a
 * reader replays them the same way into a temporary view (`overlayHeldSessions`). Only the
 * server writes tracker events and only one server runs per data folder, so no other process's
 * held figures can be replayed twice.
 */
export class TenantWriter {
  private readonly sessions = new Map<string, SessionState>();
  private readonly insertEvent;
  private readonly findSession;
  private readonly insertSession;
  private readonly applyTouch;
  private readonly readMark;
  private readonly writeMark;
  private readonly countFiltered;
  private readonly rememberFiltered;
  /** The transaction's body, wrapped once: better-sqlite3 builds four functions per wrapping. */
  private readonly store;
  /** The transaction that writes held figures. */
  private readonly flushStore;
  private readonly cacheLimit: number;
  private readonly flushMs: number;
  private readonly sliceSize: number;
  /** This writer is the server's: it keeps the mark (and replays after it when opening). */
  private readonly ownsMark: boolean;
  /** Session figures committed to the events but not yet written to the sessions table. */
  private pending = new Map<string, Touch>();
  /** Held figures being written, slice by slice; `pending` gathers the events since. */
  private generation: Generation | undefined;
  private lastFlush = Date.now();
  /** The last event this writer stored: the mark once the held figures are written. */
  private lastEventId = 0;

  constructor(
    private readonly db: Db,
    options: TenantWriterOptions = {},
  ) {
    this.cacheLimit = options.cacheLimit ?? CACHE_LIMIT;
    this.flushMs = options.sessionFlushMs ?? 0;
    this.sliceSize = Math.max(1, options.sessionSlice ?? SESSION_SLICE);
    this.ownsMark = options.sessionFlushMs !== undefined;
    this.insertEvent = db.prepare(`
      INSERT INTO events (site_id, ts, day, type, name, hostname, path, query, fragment, title,
        href, referrer_host, referrer_domain, channel, utm_source, utm_medium, utm_campaign,
        utm_term, utm_content, click_id, country, region, city, browser, browser_version, os,
        device, props, engagement_ms, scroll_depth, visitor_id, session_id, flags, origin,
        dedupe_key)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
        ?, ?, ?, ?, ?, ?)
      ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING`);
    this.findSession = db.prepare(`
      SELECT id, visitor_id AS visitorId, started_at AS startedAt, last_at AS lastAt,
        awaiting_landing = 0 AS landed
      FROM sessions WHERE site_id = ? AND visitor_id = ? ORDER BY last_at DESC LIMIT 1`);
    // A new session's row: its source, place and device, and no figures yet (see Touch).
    this.insertSession = db.prepare(`
      INSERT INTO sessions (id, site_id, visitor_id, day, started_at, last_at, entry_path,
        exit_path, pageviews, interactions, engagement_ms, channel, referrer_domain, utm_source,
        utm_medium, utm_campaign, country, region, city, browser, os, device, awaiting_landing)
      VALUES (@id, @siteId, @visitorId, @day, @ts, @ts, NULL, NULL, 0, 0, 0, @channel,
        @referrerDomain, @utmSource, @utmMedium, @utmCampaign, @country, @region, @city,
        @browser, @os, @device, @awaiting)`);
    this.applyTouch = db.prepare(applyTouchSql('sessions'));
    this.readMark = db.prepare(`SELECT value FROM meta WHERE key = '${SESSIONS_MARK}'`);
    this.writeMark = db.prepare(
      `INSERT INTO meta (key, value) VALUES ('${SESSIONS_MARK}', ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    );
    this.countFiltered = db.prepare(`
      INSERT INTO filtered (site_id, day, reason, count) VALUES (?, ?, ?, 1)
      ON CONFLICT (site_id, day, reason) DO UPDATE SET count = count + 1`);
    this.rememberFiltered = db.prepare('INSERT OR IGNORE INTO filtered_keys (key) VALUES (?)');
    this.store = db.transaction((commit: Commit): boolean => {
      for (const event of commit.events) {
        const written = this.write(event, commit);
        commit.result.written.push(written);
        if (written) commit.result.inserted += 1;
        else commit.result.duplicates += 1;
      }

      for (const hit of commit.filtered) {
        const seen = hit.dedupeKey && this.rememberFiltered.run(hit.dedupeKey).changes === 0;
        commit.result.counted.push(!seen);
        if (!seen) this.countFiltered.run(hit.siteId, hit.day, hit.reason);
      }

      // Held figures are written by `flushSessions`, in a transaction of their own after this
      // commit was answered: thousands of rows would hold up every request of the group.
      if (this.flushMs > 0) return false;

      this.writeTouches(commit.touches, commit.lastEventId);

      return true;
    });
    // The mark moves with the last slice (`last`): then every session counts the events up to it.
    this.flushStore = db.transaction(
      (
        ids: readonly string[],
        touches: ReadonlyMap<string, Touch>,
        through: number,
        last: boolean,
      ) => {
        for (const id of ids) this.applyTouch.run(touchArgs(id, touches.get(id) as Touch, through));
        if (last && this.ownsMark) this.writeMark.run(through);
      },
    );

    if (this.ownsMark) this.recover();
  }

  commit(events: readonly EnrichedEvent[], filtered: readonly FilteredHit[]): CommitResult {
    const commit: Commit = {
      events,
      filtered,
      result: { inserted: 0, duplicates: 0, written: [], counted: [] },
      touched: [],
      touches: new Map(),
      lastEventId: this.lastEventId,
      now: Date.now(),
    };

    let flushed: boolean;
    try {
      flushed = this.store.immediate(commit);
    } catch (error) {
      // The transaction rolled back: forget sessions it created so the cache matches the file;
      // its touches were staged apart and are dropped with it.
      for (const [key] of commit.touched) this.sessions.delete(key);
      throw error;
    }

    this.lastEventId = commit.lastEventId;
    if (flushed) {
      this.pending = new Map();
      this.lastFlush = commit.now;
    } else {
      mergeTouches(this.pending, commit.touches);
    }

    return commit.result;
  }

  /** Sessions whose figures wait in memory (0 when figures are written with each commit). */
  get pendingSessions(): number {
    const writing = this.generation;

    return this.pending.size + (writing === undefined ? 0 : writing.ids.length - writing.next);
  }

  /** True while held figures are being written: the next slice should follow soon. */
  get writingSessions(): boolean {
    return this.generation !== undefined;
  }

  /**
   * True when a slice of held figures is waiting to be written: figures are being written, or
   * they wait in memory and their last writing began `sessionFlushMs` ago.
   */
  sessionsDue(now: number): boolean {
    if (this.generation !== undefined) return true;

    return this.pending.size > 0 && now - this.lastFlush >= this.flushMs;
  }

  /**
   * Writes the next slice of held figures in a transaction of its own; with none being written,
   * it begins with the figures held now. The last slice moves the mark.
   */
  writeSessionSlice(): void {
    if (this.generation === undefined) {
      if (this.pending.size === 0) return;

      this.generation = {
        through: this.lastEventId,
        touches: this.pending,
        ids: [...this.pending.keys()].sort(),
        next: 0,
      };
      this.pending = new Map();
      this.lastFlush = Date.now();
    }

    const writing = this.generation;
    const end = Math.min(writing.ids.length, writing.next + this.sliceSize);
    const last = end === writing.ids.length;
    const ids = writing.ids.slice(writing.next, end);
    this.flushStore.immediate(ids, writing.touches, writing.through, last);
    writing.next = end;
    if (last) this.generation = undefined;
  }

  /** Writes every figure held in memory (when closing the file). */
  flushSessions(): void {
    while (this.generation !== undefined || this.pending.size > 0) this.writeSessionSlice();
  }

  /** Writes touches and, for the server's writer, moves the mark to `lastEventId`. */
  private writeTouches(touches: ReadonlyMap<string, Touch>, lastEventId: number): void {
    // The log import's rows say nothing of the server's events (it never touches the mark).
    const through = this.ownsMark ? lastEventId : 0;
    for (const [id, touch] of touches) this.applyTouch.run(touchArgs(id, touch, through));

    if (this.ownsMark) this.writeMark.run(lastEventId);
  }

  /**
   * Replays onto the sessions table the tracker events stored after the mark: figures that were
   * still in memory when the last writer stopped without writing them (a crash, a kill). A file
   * without a mark had every figure written with its event (an earlier version): the mark starts
   * at its last event.
   */
  private recover(): void {
    const mark = this.readMark.get() as { value: number } | undefined;
    const last = this.db.prepare('SELECT coalesce(max(id), 0) AS id FROM events').get() as {
      id: number;
    };
    this.lastEventId = last.id;
    if (mark === undefined) {
      this.writeMark.run(last.id);
      return;
    }

    const touches = replayTouches(this.db, mark.value);
    this.flushStore.immediate([...touches.keys()], touches, last.id, true);
  }

  private write(event: EnrichedEvent, commit: Commit): boolean {
    const { session, fresh, lands } = this.sessionFor(event, commit.touched);
    // Positional binding: named parameters cost a property lookup each, 35 per event.
    const inserted = this.insertEvent.run(
      event.siteId,
      event.ts,
      event.day,
      event.type,
      event.name,
      event.hostname,
      event.path,
      event.query,
      event.fragment,
      event.title,
      event.href,
      event.referrerHost,
      event.referrerDomain,
      event.channel,
      event.utmSource,
      event.utmMedium,
      event.utmCampaign,
      event.utmTerm,
      event.utmContent,
      event.clickId,
      event.country,
      event.region,
      event.city,
      event.browser,
      event.browserVersion,
      event.os,
      event.device,
      event.props,
      event.engagementMs,
      event.scrollDepth,
      session.visitorId,
      session.id,
      event.flags,
      event.origin,
      event.dedupeKey,
    );
    if (inserted.changes === 0) {
      if (fresh) this.sessions.delete(`${event.siteId}\0${event.visitorId}`);

      return false;
    }

    commit.lastEventId = Number(inserted.lastInsertRowid);
    if (fresh) {
      // Spelt out: a spread followed by more properties takes V8's slow path, microseconds per
      // event.
      this.insertSession.run({
        id: session.id,
        siteId: event.siteId,
        visitorId: session.visitorId,
        day: event.day,
        ts: event.ts,
        channel: event.channel,
        referrerDomain: event.referrerDomain,
        utmSource: event.utmSource,
        utmMedium: event.utmMedium,
        utmCampaign: event.utmCampaign,
        country: event.country,
        region: event.region,
        city: event.city,
        browser: event.browser,
        os: event.os,
        device: event.device,
        awaiting: session.landed ? 0 : 1,
      });
    }

    // A session begun by the engagement beacon a single-page app sends for the page it leaves
    // takes its channel and campaign from the pageview that follows (QA): that beacon is the end
    // of the previous visit, not an arrival. Any other first event is one.
    commit.touches.set(session.id, addEvent(commit.touches.get(session.id), event, lands));

    return true;
  }

  private sessionFor(
    event: EnrichedEvent,
    touched: Array<[string, SessionState]>,
  ): { session: SessionState; fresh: boolean; lands: boolean } {
    const isPage = event.type === 'pageview';
    const candidates = [event.visitorId, event.previousVisitorId].filter(
      (id): id is string => id !== null,
    );

    for (const visitorId of candidates) {
      const key = `${event.siteId}\0${visitorId}`;
      const known = this.sessions.get(key) ?? this.load(event.siteId, visitorId);
      if (known === undefined) continue;
      if (event.ts > known.lastAt + SESSION_TIMEOUT_MS) continue;
      if (event.ts < known.startedAt - SESSION_TIMEOUT_MS) continue;

      // The first pageview of a session begun by an engagement beacon settles its source.
      const lands = isPage && !known.landed;
      const updated: SessionState = {
        id: known.id,
        visitorId: known.visitorId,
        startedAt: Math.min(known.startedAt, event.ts),
        lastAt: Math.max(known.lastAt, event.ts),
        landed: known.landed || isPage,
      };
      this.remember(key, updated, touched);
      // Found under yesterday's id: from 00:30 the events carry today's id alone, so the session
      // is known under it too, and goes on for as long as the visitor stays active.
      if (visitorId !== event.visitorId) {
        this.remember(`${event.siteId}\0${event.visitorId}`, updated, touched);
      }

      return { session: updated, fresh: false, lands };
    }

    const created: SessionState = {
      id: timeOrderedId(event.ts),
      visitorId: event.visitorId,
      startedAt: event.ts,
      lastAt: event.ts,
      landed: event.type !== 'engagement',
    };
    this.remember(`${event.siteId}\0${event.visitorId}`, created, touched);

    return { session: created, fresh: true, lands: false };
  }

  /** A session found in the file has its source settled unless it awaits its landing page. */
  private load(siteId: string, visitorId: string): SessionState | undefined {
    const found = this.findSession.get(siteId, visitorId) as
      (Omit<SessionState, 'landed'> & { landed: number }) | undefined;

    if (found === undefined) return undefined;

    // A visitor the cache forgot may have figures still in memory: the row lags behind them.
    // Both sets may hold some (min, max and either settling the source are safe to repeat).
    const touch = this.pending.get(found.id);
    const writing = this.generation?.touches.get(found.id);

    return {
      id: found.id,
      visitorId: found.visitorId,
      startedAt: Math.min(found.startedAt, touch?.first ?? Infinity, writing?.first ?? Infinity),
      lastAt: Math.max(found.lastAt, touch?.last ?? -Infinity, writing?.last ?? -Infinity),
      landed:
        found.landed === 1 ||
        (touch?.attribution ?? null) !== null ||
        (writing?.attribution ?? null) !== null,
    };
  }

  private remember(key: string, state: SessionState, touched: Array<[string, SessionState]>): void {
    // Kept in order of last activity, so a full cache forgets the visitor idle longest: never
    // one whose session is going on, unless that many visitors were active within minutes.
    this.sessions.delete(key);
    this.sessions.set(key, state);
    if (this.sessions.size > this.cacheLimit) {
      this.sessions.delete(this.sessions.keys().next().value as string);
    }

    touched.push([key, state]);
  }
}

/**
 * The statement that merges a Touch into a row of `table` (`sessions`, or a reader's overlay of
 * it). Every SET reads the row as it was, so the order of the lines does not matter. The entry
 * and exit pages are compared by their own pageviews' times, by the rules of `combined`: so the
 * row is the same whether touches are written one by one or merged first, wherever the slices
 * and commits fell (QA). An earlier entry takes the place of one another process wrote first:
 * a new row starts at its first event, whose page may still be in memory at the server.
 */
function applyTouchSql(table: string): string {
  // Bound by position (`touchArgs`, in the order the parameters appear): by name, each of the 16
  // was a property lookup per session.
  return `
    UPDATE ${table} SET
      started_at = min(started_at, ?),
      last_at = max(last_at, ?),
      entry_path = CASE WHEN ? IS NOT NULL AND (entry_path IS NULL OR ? < entry_at)
                   THEN ? ELSE entry_path END,
      entry_at = CASE WHEN ? IS NOT NULL AND (entry_path IS NULL OR ? < entry_at)
                 THEN ? ELSE entry_at END,
      exit_path = CASE WHEN ? IS NOT NULL AND (exit_path IS NULL OR ? >= exit_at)
                  THEN ? ELSE exit_path END,
      exit_at = CASE WHEN ? IS NOT NULL AND (exit_path IS NULL OR ? >= exit_at)
                THEN ? ELSE exit_at END,
      pageviews = pageviews + ?,
      interactions = interactions + ?,
      engagement_ms = engagement_ms + ?,
      channel = CASE WHEN ? THEN ? ELSE channel END,
      referrer_domain = CASE WHEN ? THEN ? ELSE referrer_domain END,
      utm_source = CASE WHEN ? THEN ? ELSE utm_source END,
      utm_medium = CASE WHEN ? THEN ? ELSE utm_medium END,
      utm_campaign = CASE WHEN ? THEN ? ELSE utm_campaign END,
      awaiting_landing = CASE WHEN ? THEN 0 ELSE awaiting_landing END,
      figures_through = max(figures_through, ?)
    WHERE id = ?`;
}

/**
 * The parameters of `applyTouchSql` for one session, in the order they appear there; `through`:
 * the last event the row then counts (0 says nothing).
 */
function touchArgs(id: string, touch: Touch, through: number): Array<string | number | null> {
  const attribution = touch.attribution;
  const attribute = attribution === null ? 0 : 1;

  return [
    touch.first,
    touch.last,
    touch.entryPath,
    touch.entryTs,
    touch.entryPath,
    touch.entryPath,
    touch.entryTs,
    touch.entryTs,
    touch.exitPath,
    touch.exitTs,
    touch.exitPath,
    touch.exitPath,
    touch.exitTs,
    touch.exitTs,
    touch.pageviews,
    touch.interactions,
    touch.engagement,
    attribute,
    attribution?.channel ?? null,
    attribute,
    attribution?.referrerDomain ?? null,
    attribute,
    attribution?.utmSource ?? null,
    attribute,
    attribution?.utmMedium ?? null,
    attribute,
    attribution?.utmCampaign ?? null,
    attribute,
    through,
    id,
  ];
}

/**
 * The effect on their sessions of the tracker events stored after `mark`, in the order they were
 * stored: what the server held in memory and had not written yet.
 */
function replayTouches(db: Db, mark: number): Map<string, Touch> {
  const events = db
    .prepare(
      `SELECT id, session_id AS sessionId, ts, type, path, engagement_ms AS engagementMs, channel,
         referrer_domain AS referrerDomain, utm_source AS utmSource, utm_medium AS utmMedium,
         utm_campaign AS utmCampaign
       FROM events WHERE id > ? AND origin = 'tracker' ORDER BY id`,
    )
    .iterate(mark) as IterableIterator<SessionEvent & { id: number; sessionId: string }>;
  const rowNow = db.prepare(
    `SELECT awaiting_landing = 0 AS landed, figures_through AS through
     FROM main.sessions WHERE id = ?`,
  );
  const rows = new Map<string, { landed: boolean; through: number }>();
  const touches = new Map<string, Touch>();
  for (const event of events) {
    let row = rows.get(event.sessionId);
    if (row === undefined) {
      const found = rowNow.get(event.sessionId) as { landed: number; through: number } | undefined;
      row = { landed: (found?.landed ?? 1) === 1, through: found?.through ?? 0 };
      rows.set(event.sessionId, row);
    }
    // Written into the row by a slice after the mark (see TenantWriter).
    if (event.id <= row.through) continue;

    const isPage = event.type === 'pageview';
    const lands = isPage && !row.landed;
    touches.set(event.sessionId, addEvent(touches.get(event.sessionId), event, lands));
    row.landed ||= isPage;
  }

  return touches;
}

/**
 * For a reader (a read-only connection): shows the sessions table with the figures the server
 * still holds in memory, replayed from the events after the mark, without writing anything. A
 * temporary view named `sessions` stands in front of the table for this connection: the rows of
 * the touched sessions come from a temporary copy with the figures merged in. Returns the undo
 * (nothing to undo when nothing is held). `lighttrail stats` beside a running server, or after
 * a crash before the next start, counts every stored event this way.
 */
export function overlayHeldSessions(db: Db): () => void {
  const mark = db.prepare(`SELECT value FROM meta WHERE key = '${SESSIONS_MARK}'`).get() as
    { value: number } | undefined;
  const touches = mark === undefined ? new Map<string, Touch>() : replayTouches(db, mark.value);
  if (touches.size === 0) return () => undefined;

  db.exec(`CREATE TEMP TABLE session_overlay AS SELECT * FROM main.sessions WHERE 0;
    CREATE UNIQUE INDEX temp.session_overlay_id ON session_overlay (id);`);
  const copy = db.prepare(
    'INSERT INTO temp.session_overlay SELECT * FROM main.sessions WHERE id = ?',
  );
  const apply = db.prepare(applyTouchSql('temp.session_overlay'));
  for (const [id, touch] of touches) {
    copy.run(id);
    apply.run(touchArgs(id, touch, 0));
  }
  db.exec(`CREATE TEMP VIEW sessions AS
    SELECT * FROM main.sessions WHERE id NOT IN (SELECT id FROM temp.session_overlay)
    UNION ALL SELECT * FROM temp.session_overlay`);

  return () => db.exec('DROP VIEW temp.sessions; DROP TABLE temp.session_overlay;');
}

/** One call of `commit`, as its transaction sees it. */
interface Commit {
  events: readonly EnrichedEvent[];
  filtered: readonly FilteredHit[];
  result: CommitResult;
  /** Cache entries it set: dropped again if it rolls back. */
  touched: Array<[string, SessionState]>;
  /** Its events' effect on their sessions: pending only once it committed. */
  touches: Map<string, Touch>;
  lastEventId: number;
  now: number;
}

/** `touch` with one more event; `attribute`: the event settles the session's source. */
function addEvent(touch: Touch | undefined, event: SessionEvent, attribute: boolean): Touch {
  const isPage = event.type === 'pageview';
  const own: Touch = {
    first: event.ts,
    last: event.ts,
    entryTs: event.ts,
    entryPath: isPage ? event.path : null,
    exitTs: event.ts,
    exitPath: isPage ? event.path : null,
    pageviews: isPage ? 1 : 0,
    interactions: INTERACTIONS.has(event.type as EventType) ? 1 : 0,
    engagement: event.engagementMs ?? 0,
    attribution: attribute
      ? {
          channel: event.channel,
          referrerDomain: event.referrerDomain,
          utmSource: event.utmSource,
          utmMedium: event.utmMedium,
          utmCampaign: event.utmCampaign,
        }
      : null,
  };

  return touch === undefined ? own : combined(touch, own);
}

/**
 * Two touches of one session, `later` after `earlier`, as one: the rules `applyTouchSql` applies
 * to a row, so writing the result equals writing both in turn.
 */
function combined(earlier: Touch, later: Touch): Touch {
  const entryLater =
    later.entryPath !== null && (earlier.entryPath === null || later.entryTs < earlier.entryTs);
  const exitLater =
    later.exitPath !== null && (earlier.exitPath === null || later.exitTs >= earlier.exitTs);

  return {
    first: Math.min(earlier.first, later.first),
    last: Math.max(earlier.last, later.last),
    entryTs: entryLater ? later.entryTs : earlier.entryTs,
    entryPath: entryLater ? later.entryPath : earlier.entryPath,
    exitTs: exitLater ? later.exitTs : earlier.exitTs,
    exitPath: exitLater ? later.exitPath : earlier.exitPath,
    pageviews: earlier.pageviews + later.pageviews,
    interactions: earlier.interactions + later.interactions,
    engagement: earlier.engagement + later.engagement,
    attribution: earlier.attribution ?? later.attribution,
  };
}

/** Adds the touches of `later` to those of `merged` (in place: thousands of sessions wait). */
function mergeTouches(merged: Map<string, Touch>, later: ReadonlyMap<string, Touch>): void {
  for (const [id, touch] of later) {
    const before = merged.get(id);
    merged.set(id, before === undefined ? touch : combined(before, touch));
  }
}

/**
 * A UUIDv7-layout id (RFC 9562, section 5.7): 48 bits of milliseconds, then random bits. Ids made
 * close in time sort close together, so new sessions append to the primary-key index instead of
 * scattering writes across it: about half the bytes written per new session.
 */
export function timeOrderedId(ts: number): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(Math.max(0, Math.min(ts, 2 ** 48 - 1)), 0, 6);
  bytes[6] = 0x70 | ((bytes[6] as number) & 0x0f);
  bytes[8] = 0x80 | ((bytes[8] as number) & 0x3f);
  const hex = bytes.toString('hex');

  const parts = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20)];

  return `${parts.join('-')}-${hex.slice(20)}`;
}
