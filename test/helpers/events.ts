import type { EnrichedEvent } from '../../src/domain/event.js';

/**
 * An enriched event as the writer thread receives it: a plain pageview on `a.example` from a
 * Firefox desktop, with every optional field empty; `fields` sets what a test cares about.
 */
export function enrichedEvent(
  fields: Partial<EnrichedEvent> & Pick<EnrichedEvent, 'siteId' | 'ts' | 'visitorId'>,
): EnrichedEvent {
  return {
    day: new Date(fields.ts).toISOString().slice(0, 10),
    type: 'pageview',
    name: null,
    hostname: 'a.example',
    path: '/',
    query: '',
    fragment: null,
    title: null,
    href: null,
    referrerHost: null,
    referrerDomain: null,
    channel: 'Direct',
    utmSource: null,
    utmMedium: null,
    utmCampaign: null,
    utmTerm: null,
    utmContent: null,
    clickId: null,
    country: null,
    region: null,
    city: null,
    browser: 'Firefox',
    browserVersion: '133',
    os: 'Linux',
    device: 'desktop',
    props: null,
    engagementMs: null,
    scrollDepth: null,
    previousVisitorId: null,
    flags: '',
    origin: 'tracker',
    dedupeKey: null,
    ...fields,
  };
}
