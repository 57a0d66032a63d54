import { randomBytes } from 'node:crypto';

import { SESSION_TIMEOUT_MS, type EnrichedEvent, type FilteredHit } from '../../domain/event.js';
import type { Db } from './open.js';
import {
  eventDelta,
  foldDelta,
  prepareUpsert,
  recoverBacklog,
  type SessionDelta,
} from './session-totals.js';

interface SessionState {
  id: string;
  visitorId: string;
  startedAt: number;
  lastAt: number;
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

/** The name of the server's writer in the session backlog (see session-totals.ts). */
export const SERVER_WRITER = 'server';

export interface TenantWriterOptions {
  /** Visitors kept in memory; past it, the ones idle longest are forgotten. */
  cacheLimit?: number;
  /**
   * Keep session totals in memory and write them with `flushSessions` (the server's writer, once
   * a second): each event then writes its own row and not also its session's, a page that is
   * encrypted and written to the WAL again at nearly every commit. Without it, each transaction
   * writes the sessions it touched. Opening the file writes what a previous writer left
   * unwritten.
   */
  deferSessions?: boolean;
}

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
 */
export class TenantWriter {
  private readonly sessions = new Map<string, SessionState>();
  /** Totals not yet in the sessions table (deferring writers only), by session id. */
  private readonly deltas = new Map<string, SessionDelta>();
  /** This writer's backlog marker is in the file (see session-totals.ts). */
  private backlogOpen = false;
  private readonly cacheLimit: number;
  private readonly deferSessions: boolean;
  private readonly insertEvent;
  private readonly findSession;
  private readonly upsertDelta;
  private readonly openBacklog;
  private readonly closeBacklog;
  private readonly countFiltered;
  private readonly rememberFiltered;

  constructor(
    private readonly db: Db,
    options: TenantWriterOptions = {},
  ) {
    this.cacheLimit = options.cacheLimit ?? CACHE_LIMIT;
    this.deferSessions = options.deferSessions ?? false;
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
      SELECT id, visitor_id AS visitorId, started_at AS startedAt, last_at AS lastAt
      FROM sessions WHERE site_id = ? AND visitor_id = ? ORDER BY last_at DESC LIMIT 1`);
    this.upsertDelta = prepareUpsert(db);
    // Every event from the next one on may be missing from the sessions table until the flush.
    this.openBacklog = db.prepare(`
      INSERT OR IGNORE INTO session_backlog (writer, first_id)
      VALUES (?, (SELECT coalesce(max(id), 0) + 1 FROM events))`);
    this.closeBacklog = db.prepare('DELETE FROM session_backlog WHERE writer = ?');
    this.countFiltered = db.prepare(`
      INSERT INTO filtered (site_id, day, reason, count) VALUES (?, ?, ?, 1)
      ON CONFLICT (site_id, day, reason) DO UPDATE SET count = count + 1`);
    this.rememberFiltered = db.prepare('INSERT OR IGNORE INTO filtered_keys (key) VALUES (?)');
    if (this.deferSessions) recoverBacklog(db, SERVER_WRITER);
  }

  commit(events: readonly EnrichedEvent[], filtered: readonly FilteredHit[]): CommitResult {
    const result: CommitResult = { inserted: 0, duplicates: 0, written: [], counted: [] };
    // What this transaction changes in the cache (with the state before), and adds to sessions.
    const touched = new Map<string, SessionState | undefined>();
    const added = new Map<string, SessionDelta>();

    try {
      this.db
        .transaction(() => {
          if (this.deferSessions && !this.backlogOpen && events.length > 0) {
            this.openBacklog.run(SERVER_WRITER);
          }

          for (const event of events) {
            const written = this.write(event, touched, added);
            result.written.push(written);
            if (written) result.inserted += 1;
            else result.duplicates += 1;
          }

          for (const hit of filtered) {
            const seen = hit.dedupeKey && this.rememberFiltered.run(hit.dedupeKey).changes === 0;
            result.counted.push(!seen);
            if (!seen) this.countFiltered.run(hit.siteId, hit.day, hit.reason);
          }

          if (!this.deferSessions) for (const delta of added.values()) this.upsertDelta(delta);
        })
        .immediate();
    } catch (error) {
      // The transaction rolled back: the cache goes back to what the file (and backlog) holds.
      for (const [key, before] of touched) {
        if (before === undefined) this.sessions.delete(key);
        else this.sessions.set(key, before);
      }
      throw error;
    }

    if (this.deferSessions) {
      if (events.length > 0) this.backlogOpen = true;
      for (const [id, delta] of added) {
        const pending = this.deltas.get(id);
        this.deltas.set(id, pending === undefined ? delta : foldDelta(pending, delta));
      }
    } else {
      this.trimCache();
    }

    return result;
  }

  /** Session totals waiting to be written (deferring writers). */
  get pendingSessions(): number {
    return this.deltas.size;
  }

  /**
   * Writes the session totals kept in memory, in one transaction, and clears the backlog marker:
   * the sessions table then holds every committed event's totals. A failure (the file locked by
   * another process) keeps them for the next try.
   */
  flushSessions(): void {
    if (!this.backlogOpen && this.deltas.size === 0) return;

    this.db
      .transaction(() => {
        for (const delta of this.deltas.values()) this.upsertDelta(delta);
        this.closeBacklog.run(SERVER_WRITER);
      })
      .immediate();
    this.deltas.clear();
    this.backlogOpen = false;
    this.trimCache();
  }

  private write(
    event: EnrichedEvent,
    touched: Map<string, SessionState | undefined>,
    added: Map<string, SessionDelta>,
  ): boolean {
    const session = this.sessionFor(event, touched);
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
      // Stored before: the session it would have started or extended is as it was.
      for (const [key, before] of session.before) {
        if (before === undefined) this.sessions.delete(key);
        else this.sessions.set(key, before);
      }

      return false;
    }

    const delta = eventDelta(
      session.id,
      session.visitorId,
      event,
      Number(inserted.lastInsertRowid),
    );
    const pending = added.get(session.id);
    added.set(session.id, pending === undefined ? delta : foldDelta(pending, delta));

    return true;
  }

  /** The event's session, and what the cache held before under the keys it changed. */
  private sessionFor(
    event: EnrichedEvent,
    touched: Map<string, SessionState | undefined>,
  ): SessionState & { before: Array<[string, SessionState | undefined]> } {
    const candidates = [event.visitorId, event.previousVisitorId].filter(
      (id): id is string => id !== null,
    );

    for (const visitorId of candidates) {
      const key = `${event.siteId}\0${visitorId}`;
      const known = this.sessions.get(key) ?? this.load(event.siteId, visitorId);
      if (known === undefined) continue;
      if (event.ts > known.lastAt + SESSION_TIMEOUT_MS) continue;
      if (event.ts < known.startedAt - SESSION_TIMEOUT_MS) continue;

      const updated = {
        ...known,
        startedAt: Math.min(known.startedAt, event.ts),
        lastAt: Math.max(known.lastAt, event.ts),
      };
      const keys = [key];
      // Found under yesterday's id: from 00:30 the events carry today's id alone, so the session
      // is known under it too, and goes on for as long as the visitor stays active.
      if (visitorId !== event.visitorId) keys.push(`${event.siteId}\0${event.visitorId}`);
      const before = keys.map((each) => this.remember(each, updated, touched));

      return { ...updated, before };
    }

    const created = {
      id: timeOrderedId(event.ts),
      visitorId: event.visitorId,
      startedAt: event.ts,
      lastAt: event.ts,
    };
    const key = `${event.siteId}\0${event.visitorId}`;

    return { ...created, before: [this.remember(key, created, touched)] };
  }

  private load(siteId: string, visitorId: string): SessionState | undefined {
    return this.findSession.get(siteId, visitorId) as SessionState | undefined;
  }

  /** Sets `key`'s state; returns the key and what it held before. */
  private remember(
    key: string,
    state: SessionState,
    touched: Map<string, SessionState | undefined>,
  ): [string, SessionState | undefined] {
    const before = this.sessions.get(key);
    if (!touched.has(key)) touched.set(key, before);
    // Kept in order of last activity, so a full cache forgets the visitor idle longest.
    this.sessions.delete(key);
    this.sessions.set(key, state);

    return [key, before];
  }

  /**
   * Forgets the visitors idle longest past the limit: never one whose session is going on,
   * unless that many visitors were active within minutes. Runs between transactions, and for a
   * deferring writer only once its totals are written, so a session the cache forgets is in the
   * table as it stands.
   */
  private trimCache(): void {
    for (const key of this.sessions.keys()) {
      if (this.sessions.size <= this.cacheLimit) break;
      this.sessions.delete(key);
    }
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
