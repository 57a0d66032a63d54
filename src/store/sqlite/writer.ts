import { randomBytes } from 'node:crypto';

import {
  INTERACTIONS,
  SESSION_TIMEOUT_MS,
  type EnrichedEvent,
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
  private readonly insertEvent;
  private readonly findSession;
  private readonly insertSession;
  private readonly touchSession;
  private readonly attributeSession;
  private readonly countFiltered;
  private readonly rememberFiltered;
  /** The transaction's body, wrapped once: better-sqlite3 builds four functions per wrapping. */
  private readonly store;

  constructor(
    private readonly db: Db,
    private readonly cacheLimit = CACHE_LIMIT,
  ) {
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
    this.attributeSession = db.prepare(`
      UPDATE sessions SET channel = @channel, referrer_domain = @referrerDomain,
        utm_source = @utmSource, utm_medium = @utmMedium, utm_campaign = @utmCampaign
      WHERE id = @id`);
    this.insertSession = db.prepare(`
      INSERT INTO sessions (id, site_id, visitor_id, day, started_at, last_at, entry_path,
        exit_path, pageviews, interactions, engagement_ms, channel, referrer_domain, utm_source,
        utm_medium, utm_campaign, country, region, city, browser, os, device)
      VALUES (@id, @siteId, @visitorId, @day, @ts, @ts, @entry, @entry, @pageviews,
        @interactions, @engagement, @channel, @referrerDomain, @utmSource, @utmMedium,
        @utmCampaign, @country, @region, @city, @browser, @os, @device)`);
    this.touchSession = db.prepare(`
      UPDATE sessions SET
        started_at = min(started_at, @ts),
        last_at = max(last_at, @ts),
        entry_path = CASE WHEN @isPage AND (entry_path IS NULL OR @ts < started_at)
                          THEN @path ELSE entry_path END,
        exit_path = CASE WHEN @isPage AND (exit_path IS NULL OR @ts >= last_at)
                         THEN @path ELSE exit_path END,
        pageviews = pageviews + @isPage,
        interactions = interactions + @isInteraction,
        engagement_ms = engagement_ms + @engagement
      WHERE id = @id`);
    this.countFiltered = db.prepare(`
      INSERT INTO filtered (site_id, day, reason, count) VALUES (?, ?, ?, 1)
      ON CONFLICT (site_id, day, reason) DO UPDATE SET count = count + 1`);
    this.rememberFiltered = db.prepare('INSERT OR IGNORE INTO filtered_keys (key) VALUES (?)');
    this.store = db.transaction(
      (
        events: readonly EnrichedEvent[],
        filtered: readonly FilteredHit[],
        result: CommitResult,
        touched: Array<[string, SessionState]>,
      ) => {
        for (const event of events) {
          const written = this.write(event, touched);
          result.written.push(written);
          if (written) result.inserted += 1;
          else result.duplicates += 1;
        }

        for (const hit of filtered) {
          const seen = hit.dedupeKey && this.rememberFiltered.run(hit.dedupeKey).changes === 0;
          result.counted.push(!seen);
          if (!seen) this.countFiltered.run(hit.siteId, hit.day, hit.reason);
        }
      },
    );
  }

  commit(events: readonly EnrichedEvent[], filtered: readonly FilteredHit[]): CommitResult {
    const result: CommitResult = { inserted: 0, duplicates: 0, written: [], counted: [] };
    const touched: Array<[string, SessionState]> = [];

    try {
      this.store.immediate(events, filtered, result, touched);
    } catch (error) {
      // The transaction rolled back: forget sessions it created so the cache matches the file.
      for (const [key] of touched) this.sessions.delete(key);
      throw error;
    }

    return result;
  }

  private write(event: EnrichedEvent, touched: Array<[string, SessionState]>): boolean {
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
      if (session.fresh) this.sessions.delete(`${event.siteId}\0${event.visitorId}`);

      return false;
    }

    const isPage = event.type === 'pageview' ? 1 : 0;
    const isInteraction = INTERACTIONS.has(event.type) ? 1 : 0;
    const engagement = event.engagementMs ?? 0;

    if (session.fresh) {
      // Objects spelt out, here and below: a spread followed by more properties takes V8's slow
      // path, microseconds per event.
      this.insertSession.run({
        id: session.id,
        siteId: event.siteId,
        visitorId: session.visitorId,
        day: event.day,
        ts: event.ts,
        entry: isPage ? event.path : null,
        pageviews: isPage,
        interactions: isInteraction,
        engagement,
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
      });
    } else {
      this.touchSession.run({
        id: session.id,
        ts: event.ts,
        path: event.path,
        isPage,
        isInteraction,
        engagement,
      });
      // A session begun by the engagement beacon a single-page app sends for the page it
      // leaves takes its channel and campaign from the pageview that follows (QA): that beacon
      // is the end of the previous visit, not an arrival. Any other first event is one.
      if (session.lands) {
        this.attributeSession.run({
          id: session.id,
          channel: event.channel,
          referrerDomain: event.referrerDomain,
          utmSource: event.utmSource,
          utmMedium: event.utmMedium,
          utmCampaign: event.utmCampaign,
        });
      }
    }

    return true;
  }

  private sessionFor(
    event: EnrichedEvent,
    touched: Array<[string, SessionState]>,
  ): SessionState & { fresh: boolean; lands: boolean } {
    // Every object here is spelt out: a spread followed by more properties is V8's slow path.
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

      return {
        id: updated.id,
        visitorId: updated.visitorId,
        startedAt: updated.startedAt,
        lastAt: updated.lastAt,
        landed: updated.landed,
        fresh: false,
        lands,
      };
    }

    const created: SessionState = {
      id: timeOrderedId(event.ts),
      visitorId: event.visitorId,
      startedAt: event.ts,
      lastAt: event.ts,
      landed: event.type !== 'engagement',
    };
    this.remember(`${event.siteId}\0${event.visitorId}`, created, touched);

    return {
      id: created.id,
      visitorId: created.visitorId,
      startedAt: created.startedAt,
      lastAt: created.lastAt,
      landed: created.landed,
      fresh: true,
      lands: false,
    };
  }

  /** A session found in the file has its source settled: its first pageview came long ago. */
  private load(siteId: string, visitorId: string): SessionState | undefined {
    const found = this.findSession.get(siteId, visitorId) as
      Omit<SessionState, 'landed'> | undefined;

    if (found === undefined) return undefined;

    return {
      id: found.id,
      visitorId: found.visitorId,
      startedAt: found.startedAt,
      lastAt: found.lastAt,
      landed: true,
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
