import type {
  Breakdown,
  DayRow,
  FirewallReport,
  Stats,
  StatsQuery,
  Totals,
} from '../../domain/stats.js';
import { pageWithQuery } from '../../domain/page.js';
import type { Db } from './open.js';
import { overlayHeldSessions } from './writer.js';

// Sessions are counted on the day they started; only sessions with a pageview count as visits.
const SESSIONS = `FROM sessions
  WHERE site_id = @siteId AND day BETWEEN @from AND @to AND pageviews > 0`;

// Pageviews are counted from the events, by their own day (readStats).
const TOTALS = `
  SELECT count(DISTINCT visitor_id) AS visitors,
         count(*) AS sessions,
         coalesce(avg(CASE WHEN pageviews = 1 AND interactions = 0 THEN 1.0 ELSE 0.0 END), 0)
           AS bounceRate,
         coalesce(avg(last_at - started_at), 0) / 1000.0 AS visitDuration
  ${SESSIONS}`;

/**
 * The figures of one site over a day range, read from the tenant's own file. Every query is
 * bound to the site id; the tenant boundary itself is the file the caller opened.
 */
export function queryStats(db: Db, query: StatsQuery): Stats {
  // Each section reads the range's sessions again: with a page cache that holds them, they are
  // decrypted once, not once per section (half the time for 200,000 sessions). The cache goes
  // back to its size afterwards, as connections stay open per organisation.
  const cacheSize = db.pragma('cache_size', { simple: true }) as number;
  db.pragma(`cache_size = ${STATS_CACHE_KIB}`);
  try {
    // One read transaction, so every section is read from the same state of the file: commits
    // landing between the statements made the totals disagree with the days (QA). The session
    // figures the server still holds in memory are replayed from the stored events into it.
    return db.transaction(() => {
      const undo = overlayHeldSessions(db);
      try {
        return readStats(db, query);
      } finally {
        undo();
      }
    })();
  } finally {
    db.pragma(`cache_size = ${cacheSize}`);
    db.pragma('shrink_memory');
  }
}

/** The page cache while a statistics query runs: 64 MB (negative: KiB). */
const STATS_CACHE_KIB = -65_536;

function readStats(db: Db, query: StatsQuery): Stats {
  const params = { siteId: query.siteId, from: query.from, to: query.to, limit: query.limit ?? 10 };
  // Pageviews count on the day they happened, as the page lists count them; sessions, visitors,
  // bounce and duration on the day their session began. A session across midnight then shows
  // its later pages on the later day, not a day with pages listed and no pageviews (QA).
  const viewsByDay = new Map(
    (
      db
        .prepare(
          `SELECT day, count(*) AS pageviews FROM events
           WHERE site_id = @siteId AND day BETWEEN @from AND @to AND type = 'pageview'
           GROUP BY day`,
        )
        .all(params) as Array<{ day: string; pageviews: number }>
    ).map((row) => [row.day, row.pageviews]),
  );
  const totals = {
    ...(db.prepare(TOTALS).get(params) as Omit<Totals, 'pageviews'>),
    pageviews: [...viewsByDay.values()].reduce((sum, n) => sum + n, 0),
  };
  const filteredRows = db
    .prepare(
      `SELECT reason, sum(count) AS count FROM filtered
       WHERE site_id = @siteId AND day BETWEEN @from AND @to GROUP BY reason ORDER BY count DESC`,
    )
    .all(params) as Array<{ reason: string; count: number }>;

  const sessionDays = db
    .prepare(
      `SELECT day, count(DISTINCT visitor_id) AS visitors, count(*) AS sessions,
              avg(CASE WHEN pageviews = 1 AND interactions = 0 THEN 1.0 ELSE 0.0 END) AS bounceRate,
              avg(last_at - started_at) / 1000.0 AS visitDuration
       ${SESSIONS} GROUP BY day ORDER BY day`,
    )
    .all(params) as Array<Omit<DayRow, 'pageviews'>>;
  const days = daysWithViews(sessionDays, viewsByDay);

  const bySession = (column: string, where = 'TRUE') =>
    db
      .prepare(
        `SELECT ${column} AS key, count(DISTINCT visitor_id) AS visitors, count(*) AS sessions,
                sum(pageviews) AS pageviews
         ${SESSIONS} AND ${where} GROUP BY 1 ORDER BY sessions DESC, key LIMIT @limit`,
      )
      .all(params) as Breakdown[];

  return {
    siteId: query.siteId,
    from: query.from,
    to: query.to,
    totals: {
      ...roundTotals(totals),
      filtered: filteredRows.reduce((sum, row) => sum + row.count, 0),
    },
    days: days.map((row) => ({ day: row.day, ...roundTotals(row) })),
    pages: db
      .prepare(
        `SELECT path AS key, count(DISTINCT visitor_id) AS visitors,
                count(DISTINCT session_id) AS sessions, count(*) AS pageviews
         FROM events WHERE site_id = @siteId AND day BETWEEN @from AND @to AND type = 'pageview'
         GROUP BY path ORDER BY pageviews DESC, path LIMIT @limit`,
      )
      .all(params) as Breakdown[],
    pageUrls: pageUrls(db, params),
    entryPages: bySession('entry_path', 'entry_path IS NOT NULL'),
    exitPages: bySession('exit_path', 'exit_path IS NOT NULL'),
    channels: bySession('channel'),
    referrers: bySession('referrer_domain', 'referrer_domain IS NOT NULL'),
    // C14.9: sources that differ only in letter case are one row, shown as their most used form
    // in the range. Each form is counted once, in one pass (a subquery per row scanned every
    // session of the site again: a site with 2,000 sources took over a minute; QA).
    sources: db
      .prepare(
        `WITH forms AS (
           SELECT lower(utm_source) AS folded, utm_source AS form, count(*) AS n
           ${SESSIONS} AND utm_source IS NOT NULL GROUP BY utm_source
         ),
         shown AS (
           SELECT folded, form FROM (
             SELECT folded, form,
                    row_number() OVER (PARTITION BY folded ORDER BY n DESC, form) AS rank
             FROM forms)
           WHERE rank = 1
         )
         SELECT shown.form AS key, count(DISTINCT s.visitor_id) AS visitors,
                count(*) AS sessions, sum(s.pageviews) AS pageviews
         FROM sessions s JOIN shown ON shown.folded = lower(s.utm_source)
         WHERE s.site_id = @siteId AND s.day BETWEEN @from AND @to AND s.pageviews > 0
           AND s.utm_source IS NOT NULL
         GROUP BY shown.folded ORDER BY sessions DESC, key LIMIT @limit`,
      )
      .all(params) as Breakdown[],
    campaigns: bySession('utm_campaign', 'utm_campaign IS NOT NULL'),
    countries: bySession('country', 'country IS NOT NULL'),
    regions: bySession(`country || '-' || region`, 'region IS NOT NULL'),
    browsers: bySession('browser', 'browser IS NOT NULL'),
    operatingSystems: bySession('os', 'os IS NOT NULL'),
    devices: bySession('device', 'device IS NOT NULL'),
    events: db
      .prepare(
        `SELECT type, coalesce(name, '') AS name, count(*) AS count FROM events
         WHERE site_id = @siteId AND day BETWEEN @from AND @to
           AND type NOT IN ('pageview', 'engagement', 'outbound', 'download')
         GROUP BY type, coalesce(name, '') ORDER BY count DESC LIMIT @limit`,
      )
      .all(params) as Array<{ type: string; name: string; count: number }>,
    links: db
      .prepare(
        `SELECT type, href AS target, count(DISTINCT visitor_id) AS visitors, count(*) AS count
         FROM events WHERE site_id = @siteId AND day BETWEEN @from AND @to
           AND type IN ('outbound', 'download') AND href IS NOT NULL
         GROUP BY type, href ORDER BY count DESC, type, target LIMIT @limit`,
      )
      .all(params) as Stats['links'],
    filtered: filteredRows,
    firewall: firewallReport(db, params),
  };
}

/** A flag as stored: events keep theirs as one comma-separated text. */
const flagged = (flag: string) => `(',' || flags || ',') LIKE '%,${flag},%'`;

function firewallReport(db: Db, params: Record<string, string | number>): FirewallReport {
  const range = 'FROM events WHERE site_id = @siteId AND day BETWEEN @from AND @to';
  const counts = db
    .prepare(
      `SELECT count(*) AS events,
              coalesce(sum(${flagged('redacted')} OR ${flagged('phi_detected')}), 0) AS redacted,
              coalesce(sum(${flagged('phi_detected')}), 0) AS phiDetected,
              coalesce(sum(${flagged('url_truncated')} OR ${flagged('utm_truncated')}), 0)
                AS truncated,
              coalesce(sum(${flagged('no_client_ip')}), 0) AS withoutAddress
       ${range}`,
    )
    .get(params) as Omit<FirewallReport, 'pages'>;
  // The pages list scans the range's events again; with no detection in it, it is empty.
  if (counts.phiDetected === 0) return { ...counts, pages: [] };

  const pages = db
    .prepare(
      `SELECT path AS key, count(*) AS events ${range} AND ${flagged('phi_detected')}
       GROUP BY path ORDER BY events DESC, path LIMIT @limit`,
    )
    .all(params) as FirewallReport['pages'];

  return { ...counts, pages };
}

interface PageUrlRow {
  path: string;
  query: string;
  fragment: string | null;
  source: string | null;
  medium: string | null;
  campaign: string | null;
  term: string | null;
  content: string | null;
  visitors: number;
  sessions: number;
  pageviews: number;
}

/**
 * Top pages by path, kept query, kept fragment and campaign parameters together (see
 * Stats.pageUrls).
 */
function pageUrls(db: Db, params: Record<string, string | number>): Breakdown[] {
  const rows = db
    .prepare(
      `SELECT path, query, fragment, utm_source AS source, utm_medium AS medium,
              utm_campaign AS campaign, utm_term AS term, utm_content AS content,
              count(DISTINCT visitor_id) AS visitors, count(DISTINCT session_id) AS sessions,
              count(*) AS pageviews
       FROM events WHERE site_id = @siteId AND day BETWEEN @from AND @to AND type = 'pageview'
       GROUP BY path, query, fragment, utm_source, utm_medium, utm_campaign, utm_term, utm_content
       ORDER BY pageviews DESC, path, query, fragment, source, medium, campaign, term, content
       LIMIT @limit`,
    )
    .all(params) as PageUrlRow[];

  // A kept fragment (`--fragments on`: a hash router's route, `/#/inbox`) follows, scrubbed.
  return rows.map((row) => ({
    key: pageWithQuery(row.path, row.query, row) + (row.fragment ? `#${row.fragment}` : ''),
    visitors: row.visitors,
    sessions: row.sessions,
    pageviews: row.pageviews,
  }));
}

/**
 * One row per day with sessions or pageviews: a day whose only pageviews belong to a session
 * begun the day before has a row of its own, with no sessions.
 */
function daysWithViews(
  sessionDays: ReadonlyArray<Omit<DayRow, 'pageviews'>>,
  viewsByDay: ReadonlyMap<string, number>,
): DayRow[] {
  const rows = new Map<string, DayRow>();
  for (const row of sessionDays) rows.set(row.day, { ...row, pageviews: 0 });
  for (const [day, pageviews] of viewsByDay) {
    const row = rows.get(day);
    if (row === undefined) {
      rows.set(day, { day, visitors: 0, sessions: 0, pageviews, bounceRate: 0, visitDuration: 0 });
    } else {
      row.pageviews = pageviews;
    }
  }

  return [...rows.values()].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
}

function roundTotals(row: Totals): Totals {
  return {
    visitors: row.visitors ?? 0,
    sessions: row.sessions ?? 0,
    pageviews: row.pageviews ?? 0,
    bounceRate: Math.round((row.bounceRate ?? 0) * 1000) / 1000,
    visitDuration: Math.round(row.visitDuration ?? 0),
  };
}
