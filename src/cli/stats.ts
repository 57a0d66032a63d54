import type { Breakdown, Stats, Totals } from '../domain/stats.js';
import { StatsReader } from '../analytics/reader.js';
import { parse, siteNotFound, usage, type Command } from './command.js';
import { openContext, out } from './context.js';

export const stats: Command = {
  name: 'stats',
  summary: "print a site's visitors, sessions, pageviews and top lists",
  help: `Usage: lighttrail stats --site ID [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--limit N]
                       [--json]

Prints the same figures as GET /api/sites/ID/stats: visitors, sessions, pageviews, bounce
rate and visit duration per day and in total, then the top pages (by path, then with their
kept query and campaign parameters), channels, referrers, campaigns, countries, browsers,
outbound links and downloads, and what the PHI firewall removed (and from which pages). Days
are counted in the site's time zone; the range defaults to the last 30 days (with --from
alone, up to today). --limit sets the rows per top list (10 by default, at most 1000).
--json prints one JSON object.`,

  async run(argv) {
    const { values } = parse(argv, {
      site: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) return (out(this.help), 0);
    if (!values.site) throw usage('stats needs --site ID');

    const { control, logger } = await openContext();
    if (control.getSite(values.site) === undefined) {
      control.close();
      throw siteNotFound(values.site);
    }

    // The log line says why figures that exist cannot be read (a damaged file or WAL).
    const reader = new StatsReader(control, undefined, new Set(), logger);
    try {
      const result = await reader.stats(values.site, {
        from: values.from,
        to: values.to,
        limit: values.limit,
      });
      out(values.json ? JSON.stringify(result) : render(result));

      return 0;
    } finally {
      reader.close();
      control.close();
    }
  },
};

function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, column) =>
    Math.max(...cells.map((row) => (row[column] ?? '').length)),
  );

  return cells
    .map((row) =>
      row
        .map((cell, column) =>
          column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
        )
        .join('  '),
    )
    .join('\n');
}

function top(
  title: string,
  rows: Breakdown[],
  measure: 'sessions' | 'pageviews' = 'sessions',
): string {
  if (rows.length === 0) return `${title}: none`;

  // The figure the list is ordered by comes first (QA: visitors first read as the order).
  return `${title}\n${table(
    ['', measure, 'visitors'],
    rows.map((row) => [row.key ?? '(none)', row[measure] ?? 0, row.visitors]),
  )}`;
}

function render(stats: Stats): string {
  const { totals } = stats;
  const percent = (value: number) => `${Math.round(value * 1000) / 10}%`;
  // Bounce and duration are a session's: a day with pageviews of a session begun the day
  // before has none (QA).
  const perSession = (row: Totals, value: string | number) => (row.sessions === 0 ? 'n/a' : value);
  const days = table(
    ['day', 'visitors', 'sessions', 'pageviews', 'bounce', 'duration s'],
    stats.days.map((day) => [
      day.day,
      day.visitors,
      day.sessions,
      day.pageviews,
      perSession(day, percent(day.bounceRate)),
      perSession(day, day.visitDuration),
    ]),
  );

  return [
    `Site ${stats.siteId}, ${stats.from} to ${stats.to}`,
    `Visitors ${totals.visitors}  Sessions ${totals.sessions}  Pageviews ${totals.pageviews}  ` +
      `Bounce ${perSession(totals, percent(totals.bounceRate))}  ` +
      `Visit duration ${perSession(totals, `${totals.visitDuration}s`)}  ` +
      `Filtered ${totals.filtered}`,
    '',
    days,
    '',
    top('Top pages', stats.pages, 'pageviews'),
    '',
    top('Top pages with query', stats.pageUrls, 'pageviews'),
    '',
    top('Entry pages', stats.entryPages),
    '',
    top('Exit pages', stats.exitPages),
    '',
    top('Channels', stats.channels),
    '',
    top('Referrers', stats.referrers),
    '',
    top('Campaigns', stats.campaigns),
    '',
    top('Countries', stats.countries),
    '',
    top('Browsers', stats.browsers),
    '',
    links(stats.links),
    '',
    firewall(stats.firewall),
  ].join('\n');
}

function links(rows: Stats['links']): string {
  if (rows.length === 0) return 'Outbound links and downloads: none';

  return `Outbound links and downloads\n${table(
    ['', 'clicks', 'visitors', 'type'],
    rows.map((row) => [row.target, row.count, row.visitors, row.type]),
  )}`;
}

function firewall(report: Stats['firewall']): string {
  const summary =
    `Firewall: ${plural(report.events, 'event')}, ${report.redacted} with values redacted, ` +
    `${report.phiDetected} of them holding PHI; ${report.truncated} cut to length; ` +
    `${report.withoutAddress} without a client address`;
  if (report.pages.length === 0) return summary;

  return `${summary}\nPages PHI was removed from\n${table(
    ['', 'events'],
    report.pages.map((row) => [row.key, row.events]),
  )}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
