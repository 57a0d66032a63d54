import { INTERACTIONS } from '../../domain/event.js';
import type { Db } from './open.js';

/**
 * How a session's running totals reach the sessions table. A writer gathers what its events add
 * to each session (a delta) and writes each touched session once: at the end of each transaction,
 * or, for the server's writer, once a second. Events are durable at their own commit either way;
 * a delta still in memory is also recoverable from them. The backlog marker names the first event
 * whose totals may be missing from the table, and each row's `through_id` the last event it holds,
 * so the events in between that are past their row's `through_id` are exactly what is missing:
 * readers add them (`CURRENT_SESSIONS`), and the next start writes them (`recoverBacklog`).
 *
 * One rule merges a delta into a row, in `upsertDelta` and in SQL below alike: earliest start,
 * latest activity, counts added; the entry page is the delta's first page when the row has none or
 * the delta began earlier, the exit page its last when the row has none or the delta ends later.
 * One event is the smallest delta, so writing per transaction equals writing per event.
 */

/** What a set of events adds to one session; `first` gives a new row its source and place. */
export interface SessionDelta {
  id: string;
  visitorId: string;
  first: DeltaSource;
  startedAt: number;
  lastAt: number;
  entry: string | null;
  entryTs: number;
  exit: string | null;
  exitTs: number;
  pageviews: number;
  interactions: number;
  engagement: number;
  throughId: number;
}

/** The fields of a session's first event that its row keeps. */
export interface DeltaSource {
  siteId: string;
  day: string;
  channel: string;
  referrerDomain: string | null;
  utmSource: string | null;
  utmMedium: string | null;
  utmCampaign: string | null;
  country: string | null;
  region: string | null;
  city: string | null;
  browser: string | null;
  os: string | null;
  device: string | null;
}

export interface DeltaEvent extends DeltaSource {
  ts: number;
  type: string;
  path: string;
  engagementMs: number | null;
}

/** A delta of one event (`id`: its row id in the events table). */
export function eventDelta(
  sessionId: string,
  visitorId: string,
  event: DeltaEvent,
  id: number,
): SessionDelta {
  const page = event.type === 'pageview' ? event.path : null;

  return {
    id: sessionId,
    visitorId,
    first: event,
    startedAt: event.ts,
    lastAt: event.ts,
    entry: page,
    entryTs: event.ts,
    exit: page,
    exitTs: event.ts,
    pageviews: page === null ? 0 : 1,
    interactions: INTERACTIONS.has(event.type as never) ? 1 : 0,
    engagement: event.engagementMs ?? 0,
    throughId: id,
  };
}

/**
 * `later` (events after `earlier`'s) folded into `earlier`, as if each event had been added in
 * turn: the first page is the earliest (the first seen on a tie), the last page the latest (the
 * last seen on a tie).
 */
export function foldDelta(earlier: SessionDelta, later: SessionDelta): SessionDelta {
  const entryLater =
    later.entry !== null && (earlier.entry === null || later.entryTs < earlier.entryTs);
  const exitLater =
    later.exit !== null && (earlier.exit === null || later.exitTs >= earlier.exitTs);

  return {
    ...earlier,
    startedAt: Math.min(earlier.startedAt, later.startedAt),
    lastAt: Math.max(earlier.lastAt, later.lastAt),
    entry: entryLater ? later.entry : earlier.entry,
    entryTs: entryLater ? later.entryTs : earlier.entryTs,
    exit: exitLater ? later.exit : earlier.exit,
    exitTs: exitLater ? later.exitTs : earlier.exitTs,
    pageviews: earlier.pageviews + later.pageviews,
    interactions: earlier.interactions + later.interactions,
    engagement: earlier.engagement + later.engagement,
    throughId: Math.max(earlier.throughId, later.throughId),
  };
}

const INTERACTION_LIST = [...INTERACTIONS].map((type) => `'${type}'`).join(', ');

/** The merge rule as SQL: row `r` (a table alias or bare columns) and delta `d`, either null. */
function merged(r: string, d: string): Record<string, string> {
  return {
    started_at: `min(${r}started_at, coalesce(${d}started_at, ${r}started_at))`,
    last_at: `max(${r}last_at, coalesce(${d}last_at, ${r}last_at))`,
    entry_path:
      `CASE WHEN ${d}entry_path IS NOT NULL AND (${r}entry_path IS NULL ` +
      `OR ${d}started_at < ${r}started_at) THEN ${d}entry_path ELSE ${r}entry_path END`,
    exit_path:
      `CASE WHEN ${d}exit_path IS NOT NULL AND (${r}exit_path IS NULL ` +
      `OR ${d}last_at >= ${r}last_at) THEN ${d}exit_path ELSE ${r}exit_path END`,
    pageviews: `${r}pageviews + coalesce(${d}pageviews, 0)`,
    interactions: `${r}interactions + coalesce(${d}interactions, 0)`,
    engagement_ms: `${r}engagement_ms + coalesce(${d}engagement_ms, 0)`,
    through_id: `max(${r}through_id, coalesce(${d}through_id, ${r}through_id))`,
  };
}

const UPSERT_SET = Object.entries(merged('', 'excluded.'))
  .map(([column, value]) => `${column} = ${value}`)
  .join(',\n    ');

const ROW_COLUMNS = `id, site_id, visitor_id, day, started_at, last_at, entry_path, exit_path,
  pageviews, interactions, engagement_ms, channel, referrer_domain, utm_source, utm_medium,
  utm_campaign, country, region, city, browser, os, device, through_id`;

/** Writes one delta: a new row, or the delta merged into the session's row. */
export function prepareUpsert(db: Db): (delta: SessionDelta) => void {
  const statement = db.prepare(`
    INSERT INTO sessions (${ROW_COLUMNS})
    VALUES (@id, @siteId, @visitorId, @day, @startedAt, @lastAt, @entry, @exit, @pageviews,
      @interactions, @engagement, @channel, @referrerDomain, @utmSource, @utmMedium,
      @utmCampaign, @country, @region, @city, @browser, @os, @device, @throughId)
    ON CONFLICT (id) DO UPDATE SET
    ${UPSERT_SET}`);

  return (delta) => {
    const { first } = delta;
    statement.run({
      id: delta.id,
      siteId: first.siteId,
      visitorId: delta.visitorId,
      day: first.day,
      startedAt: delta.startedAt,
      lastAt: delta.lastAt,
      entry: delta.entry,
      exit: delta.exit,
      pageviews: delta.pageviews,
      interactions: delta.interactions,
      engagement: delta.engagement,
      channel: first.channel,
      referrerDomain: first.referrerDomain,
      utmSource: first.utmSource,
      utmMedium: first.utmMedium,
      utmCampaign: first.utmCampaign,
      country: first.country,
      region: first.region,
      city: first.city,
      browser: first.browser,
      os: first.os,
      device: first.device,
      throughId: delta.throughId,
    });
  };
}

/**
 * The deltas of the events missing from the sessions table, as the CTEs `missing` (the events)
 * and `delta` (one row per session, `first_id` its first missing event); `siteFilter` narrows
 * the events (a reader's site) or is `TRUE`.
 */
function deltaCtes(siteFilter: string): string {
  return `
  missing AS MATERIALIZED (
    SELECT e.id, e.session_id, e.ts, e.type, e.path, e.engagement_ms FROM main.events e
    WHERE e.id >= (SELECT min(first_id) FROM main.session_backlog) AND ${siteFilter}
      AND e.id > coalesce((SELECT s.through_id FROM main.sessions s WHERE s.id = e.session_id), 0)
  ),
  delta AS MATERIALIZED (
    SELECT m.session_id AS id, min(m.ts) AS started_at, max(m.ts) AS last_at,
      (SELECT p.path FROM missing p WHERE p.session_id = m.session_id AND p.type = 'pageview'
       ORDER BY p.ts, p.id LIMIT 1) AS entry_path,
      (SELECT p.path FROM missing p WHERE p.session_id = m.session_id AND p.type = 'pageview'
       ORDER BY p.ts DESC, p.id DESC LIMIT 1) AS exit_path,
      sum(m.type = 'pageview') AS pageviews,
      sum(m.type IN (${INTERACTION_LIST})) AS interactions,
      sum(coalesce(m.engagement_ms, 0)) AS engagement_ms,
      max(m.id) AS through_id, min(m.id) AS first_id
    FROM missing m GROUP BY m.session_id
  )`;
}

/** A delta as a new row: its source and day from the session's first missing event. */
const DELTA_AS_ROW = `
  SELECT d.id, f.site_id, f.visitor_id, f.day, d.started_at, d.last_at, d.entry_path,
    d.exit_path, d.pageviews, d.interactions, d.engagement_ms, f.channel, f.referrer_domain,
    f.utm_source, f.utm_medium, f.utm_campaign, f.country, f.region, f.city, f.browser, f.os,
    f.device, d.through_id
  FROM delta d JOIN main.events f ON f.id = d.first_id`;

const READ_COLUMNS = Object.entries(merged('s.', 'd.'))
  .map(([column, value]) => `${value} AS ${column}`)
  .join(',\n      ');

/**
 * A CTE named `sessions` for the statistics: one site's sessions of a day range as they stand
 * with every committed event, whether the writer has written its totals yet or not. Bound to
 * `@siteId`, `@from` and `@to`; the statement it prefixes reads `sessions` as it would the table.
 */
export const CURRENT_SESSIONS = `${deltaCtes('e.site_id = @siteId')},
  sessions AS MATERIALIZED (
    SELECT s.id, s.site_id, s.visitor_id, s.day, ${READ_COLUMNS}, s.channel, s.referrer_domain,
      s.utm_source, s.utm_medium, s.utm_campaign, s.country, s.region, s.city, s.browser, s.os,
      s.device
    FROM main.sessions s LEFT JOIN delta d ON d.id = s.id
    WHERE s.site_id = @siteId AND s.day BETWEEN @from AND @to
    UNION ALL
    SELECT id, site_id, visitor_id, day, started_at, last_at, entry_path, exit_path, pageviews,
      interactions, engagement_ms, through_id, channel, referrer_domain, utm_source, utm_medium,
      utm_campaign, country, region, city, browser, os, device
    FROM (${DELTA_AS_ROW}) n
    WHERE n.day BETWEEN @from AND @to
      AND NOT EXISTS (SELECT 1 FROM main.sessions s WHERE s.id = n.id)
  )`;

/** True when some events' totals are not in the sessions table yet. */
export function hasBacklog(db: Db): boolean {
  return db.prepare('SELECT 1 FROM session_backlog LIMIT 1').get() !== undefined;
}

/**
 * Writes the totals of every event missing from the sessions table, then clears `writer`'s
 * marker: what the server's writer does when it opens a file whose last writer stopped before
 * writing them (a crash, a kill). Run only by that writer, which no other process shares: a log
 * import writes its own sessions at each commit and leaves no marker.
 */
export function recoverBacklog(db: Db, writer: string): number {
  if (!hasBacklog(db)) return 0;

  let written = 0;
  db.transaction(() => {
    written = db
      .prepare(
        `WITH ${deltaCtes('TRUE')}
         INSERT INTO sessions (${ROW_COLUMNS}) SELECT * FROM (${DELTA_AS_ROW}) WHERE TRUE
         ON CONFLICT (id) DO UPDATE SET
         ${UPSERT_SET}`,
      )
      .run().changes;
    db.prepare('DELETE FROM session_backlog WHERE writer = ?').run(writer);
  }).immediate();

  return written;
}
