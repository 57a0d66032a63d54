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

/**
 * What the PHI firewall removed from the range's events, so a site owner can find and fix the
 * pages and forms that put personal data in addresses.
 */
export interface FirewallReport {
  /** Events stored. */
  events: number;
  /** Events that lost a value of any kind: a query value by policy, or PHI. */
  redacted: number;
  /** Of those, events in which a detector found PHI (an address, number or identifier). */
  phiDetected: number;
  /** Events whose address or campaign value was cut to its length limit. */
  truncated: number;
  /** Events whose sender's address could not be derived: no geography, a visitor of its own. */
  withoutAddress: number;
  /** The stored paths PHI was found on most, with how many events. */
  pages: Array<{ key: string; events: number }>;
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
   * query string"): `/account/welcome?email=[redacted]&utm_source=newsletter`, and a fragment
   * the site keeps (`/#/inbox`).
   */
  pageUrls: Breakdown[];
  /** Sessions by their first pageview's path, and by their last's. */
  entryPages: Breakdown[];
  exitPages: Breakdown[];
  channels: Breakdown[];
  referrers: Breakdown[];
  sources: Breakdown[];
  campaigns: Breakdown[];
  countries: Breakdown[];
  regions: Breakdown[];
  browsers: Breakdown[];
  operatingSystems: Breakdown[];
  devices: Breakdown[];
  /** Custom events and form submissions by name (link clicks are under `links`). */
  events: Array<{ type: string; name: string; count: number }>;
  /** Outbound links followed and files downloaded, by their stored target (host and path). */
  links: Array<{ type: string; target: string; visitors: number; count: number }>;
  filtered: Array<{ reason: string; count: number }>;
  firewall: FirewallReport;
}
