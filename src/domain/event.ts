/** What the tracker and the log importer can record. */
export type EventType = 'pageview' | 'custom' | 'outbound' | 'download' | 'form' | 'engagement';

export const EVENT_TYPES: readonly EventType[] = [
  'pageview',
  'custom',
  'outbound',
  'download',
  'form',
  'engagement',
];

/** Event types that show a visitor did something on the page (a session with one is no bounce). */
export const INTERACTIONS: ReadonlySet<EventType> = new Set([
  'custom',
  'outbound',
  'download',
  'form',
]);

/**
 * An event after the PHI firewall and enrichment: everything in it may be stored. It carries no
 * IP address, no raw URL and no raw referrer; `visitorId` is a keyed hash under a daily salt.
 */
export interface EnrichedEvent {
  siteId: string;
  ts: number;
  /** Calendar day in the site's time zone, YYYY-MM-DD. */
  day: string;
  type: EventType;
  name: string | null;
  hostname: string;
  path: string;
  query: string;
  /** Kept only when the site keeps fragments, and then scrubbed like the query. */
  fragment: string | null;
  title: string | null;
  href: string | null;
  referrerHost: string | null;
  referrerDomain: string | null;
  channel: string;
  utmSource: string | null;
  utmMedium: string | null;
  utmCampaign: string | null;
  utmTerm: string | null;
  utmContent: string | null;
  clickId: string | null;
  country: string | null;
  region: string | null;
  city: string | null;
  browser: string | null;
  browserVersion: string | null;
  os: string | null;
  device: string | null;
  props: string | null;
  engagementMs: number | null;
  scrollDepth: number | null;
  visitorId: string;
  /** The same visitor under the previous day's salt, set only near midnight (session rule). */
  previousVisitorId: string | null;
  flags: string;
  origin: 'tracker' | 'import';
  /** Idempotency key: a second event with the same key is not stored again. */
  dedupeKey: string | null;
}

/** Traffic kept out of the figures but counted: bots, spam referrers, privacy signals. */
export interface FilteredHit {
  siteId: string;
  day: string;
  reason: string;
  /** Idempotency key, as for events: a hit with a known key is not counted again. */
  dedupeKey?: string | null;
}

/** Sessions end after this much inactivity. */
export const SESSION_TIMEOUT_MS = 30 * 60 * 1000;
