/** The figures of one site over a range of days, as every storage backend answers them. */
export interface StatsQuery {
  siteId: string;
  /** First and last calendar day, inclusive, in the site's time zone. */
  from: string;
  to: string;
  limit?: number;
}

export interface Totals {
  visitors: number;
  sessions: number;
  pageviews: number;
  /** Share of sessions with one pageview and no interaction, 0..1. */
  bounceRate: number;
  /**
   * Mean session duration in seconds: first event to last (the engagement event sent when a
   * page is left marks the end).
   */
  visitDuration: number;
}

export interface DayRow extends Totals {
  day: string;
}

export interface Breakdown {
  key: string;
  visitors: number;
  sessions: number;
  pageviews?: number;
}

export interface Stats {
  siteId: string;
  from: string;
  to: string;
  totals: Totals & { filtered: number };
  days: DayRow[];
  pages: Breakdown[];
  /**
   * Pages with their kept query and campaign parameters (what a report calls "page path and
   * query string"): `/account/welcome?email=[redacted]&utm_source=newsletter`.
   */
  pageUrls: Breakdown[];
  entryPages: Breakdown[];
  channels: Breakdown[];
  referrers: Breakdown[];
  sources: Breakdown[];
  campaigns: Breakdown[];
  countries: Breakdown[];
  regions: Breakdown[];
  browsers: Breakdown[];
  operatingSystems: Breakdown[];
  devices: Breakdown[];
  events: Array<{ type: string; name: string; count: number }>;
  filtered: Array<{ reason: string; count: number }>;
}
