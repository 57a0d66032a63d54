import { TableKeys } from '../crypto/table-keys.js';
import type { EnrichedEvent, FilteredHit } from '../domain/event.js';
import { hostAllowed, type Site, type SiteSettings } from '../domain/site.js';
import { dayIn } from '../domain/time.js';
import { detectBot } from '../enrich/bots.js';
import { classifyChannel } from '../enrich/channel.js';
import type { GeoLookup } from '../enrich/geo.js';
import {
  componentHasPhi,
  hostHasPhi,
  REDACTED,
  sanitizeTitle,
  scrubProps,
  scrubWithin,
} from '../enrich/phi.js';
import { parseIp } from '../enrich/ip.js';
import { registrableDomain, sanitizeReferrer, type Referrer } from '../enrich/referrer.js';
import type { SpamReferrerList } from '../enrich/spam-referrers.js';
import { sanitizePage, type SanitizedPage } from '../enrich/url.js';
import { parseUserAgent } from '../enrich/useragent.js';
import { visitorId } from '../enrich/visitor.js';
import type { IncomingEvent } from './schema.js';
import type { VisitorSalts } from './salts.js';

/** What is known about the sender of one request. The address lives only in this object. */
export interface ClientContext {
  /** Derived visitor address; null when it could not be derived (then never merged with others). */
  ip: string | null;
  /** Random per request: stands in for the address when there is none. */
  requestNonce: string;
  userAgent: string;
  /**
   * The source records no User-Agent (a Common Log Format import): the browser is unknown, and
   * not a bot for want of one, as a live request without the header is.
   */
  userAgentUnknown?: boolean;
  secChUa: string | null;
  platformHint: string | null;
  mobileHint: string | null;
  now: number;
}

export type Outcome =
  { kind: 'event'; event: EnrichedEvent } | { kind: 'filtered'; hit: FilteredHit };

/** The visitor-hash salts in force for an event's time (see `VisitorSalts.forTime`). */
export interface SaltPair {
  salt: Uint8Array;
  previous: Uint8Array | null;
}

export interface EnrichExtra {
  ts?: number;
  origin?: 'tracker' | 'import';
  dedupeKey?: string | null;
  hostname?: string;
}

const NAME_MAX = 128;
/** The event types whose name is kept: a custom event's, a form's id or name. */
const NAMED: ReadonlySet<string> = new Set(['custom', 'form']);
/** Pages remembered, all sites together, before the table starts over. */
const PAGE_CACHE_LIMIT = 10_000;
/** Longer page URLs are sanitised each time, never remembered. */
const PAGE_CACHE_MAX_URL = 2048;

/** A page shared by every event from its URL: frozen, nested parts included. */
function frozen(page: SanitizedPage): Readonly<SanitizedPage> {
  Object.freeze(page.flags);
  Object.freeze(page.utm);
  if (page.clickId !== null) Object.freeze(page.clickId);

  return Object.freeze(page);
}

interface KnownAgent {
  parsed: ReturnType<typeof parseUserAgent>;
  bot: ReturnType<typeof detectBot>;
}

/** What a log without User-Agents says of every visitor's browser: nothing. */
const UNKNOWN_AGENT: KnownAgent = { parsed: parseUserAgent(''), bot: null };

/**
 * Turns one validated incoming event into what may be stored, or into a filtered-traffic count.
 * Every free-text field passes the PHI firewall here, before anything is written or logged (live
 * events on the writer thread, just before their transaction; imported ones before they are
 * queued); the client address feeds geography and the visitor hash and goes no further.
 */
export class Enricher {
  constructor(
    private readonly geo: GeoLookup,
    private readonly spam: SpamReferrerList,
    /** Needed by `enrich` only; `enrichWith` is given the salts. */
    private readonly salts?: VisitorSalts,
  ) {}

  /** Pages as the firewall left them (see `page`), for every site together. */
  private readonly pages = new Map<string, Readonly<SanitizedPage>>();
  /** A number per settings object: part of a page's key, as its answer depends on them. */
  private readonly settingsIds = new WeakMap<SiteSettings, number>();
  private nextSettingsId = 1;
  private readonly pageKeys = new TableKeys();

  /**
   * `sanitizePage`, remembered: its answer depends only on the raw URL, the settings and the host
   * an import gives, and the same few hundred pages make most of a site's traffic (a third of
   * the enrichment's time went to it). The table is keyed by a keyed hash of the raw URL (see
   * TableKeys), never the URL: a raw URL may carry PHI, and the table must hold nothing of it.
   * Its values are what gets stored anyway. It holds at most PAGE_CACHE_LIMIT pages across all
   * sites, and starts over when full: unique URLs (anyone can send them) cost memory only up to
   * that bound.
   */
  private page(url: string, settings: SiteSettings, hostname = ''): Readonly<SanitizedPage> {
    // Long URLs are seldom seen twice.
    if (url.length > PAGE_CACHE_MAX_URL) {
      return sanitizePage(url, settings, { hostname: hostname || undefined });
    }

    let settingsId = this.settingsIds.get(settings);
    if (settingsId === undefined) {
      settingsId = this.nextSettingsId++;
      this.settingsIds.set(settings, settingsId);
    }

    // The host's length first: neither it nor the URL can then run into the other.
    const key = this.pageKeys.of(`${settingsId}:${hostname.length}:${hostname}${url}`);
    let page = this.pages.get(key);
    if (page === undefined) {
      page = frozen(sanitizePage(url, settings, { hostname: hostname || undefined }));
      if (this.pages.size >= PAGE_CACHE_LIMIT) this.pages.clear();
      this.pages.set(key, page);
    }

    return page;
  }

  // Parsing a User-Agent and testing it for bots cost tens of microseconds, and the same few
  // hundred browsers send nearly all traffic: both answers are kept per header set.
  private readonly agents = new Map<string, KnownAgent>();

  private agent(client: ClientContext): KnownAgent {
    // Most requests carry no client hints: their key is the User-Agent itself, hashed once per
    // string rather than a new string built and hashed for every event.
    if (client.userAgentUnknown === true) return UNKNOWN_AGENT;

    const hinted =
      client.platformHint !== null || client.mobileHint !== null || client.secChUa !== null;
    const key = hinted
      ? `${client.platformHint ?? ''}\0${client.mobileHint ?? ''}\0${client.secChUa ?? ''}\0` +
        client.userAgent
      : client.userAgent;
    const known = this.agents.get(key);
    if (known !== undefined) return known;

    const parsed = parseUserAgent(client.userAgent, {
      platform: client.platformHint ?? undefined,
      mobile: client.mobileHint ?? undefined,
    });
    const bot = detectBot({ userAgent: client.userAgent, secChUa: client.secChUa });
    const agent = { parsed, bot };
    if (this.agents.size >= 5000) this.agents.clear();
    this.agents.set(key, agent);

    return agent;
  }

  /** `enrichWith` with the salts of the event's time, looked up in this enricher's salts. */
  async enrich(
    site: Site,
    incoming: IncomingEvent,
    client: ClientContext,
    extra: EnrichExtra = {},
  ): Promise<Outcome> {
    if (this.salts === undefined) throw new Error('this enricher was made without salts');

    const salts = await this.salts.forTime(extra.ts ?? client.now);

    return this.enrichWith(site, incoming, client, salts, extra);
  }

  enrichWith(
    site: Site,
    incoming: IncomingEvent,
    client: ClientContext,
    salts: SaltPair,
    extra: EnrichExtra = {},
  ): Outcome {
    const settings = site.settings;
    const ts = extra.ts ?? client.now;
    const day = dayIn(settings.timeZone, ts);

    const { parsed: agent, bot } = this.agent(client);
    const dedupeKey = extra.dedupeKey ?? null;
    if (bot !== null) {
      return { kind: 'filtered', hit: { siteId: site.id, day, reason: `bot:${bot}`, dedupeKey } };
    }

    const page = this.page(incoming.url, settings, extra.hostname);
    const referrerFlags: string[] = [];
    const external =
      incoming.type === 'pageview' && !page.countOnly
        ? sanitizeReferrer(incoming.referrer, page.hostname, referrerFlags)
        : null;
    // A visit from another of the site's own domains is a move inside the site, not a source.
    const referrer = external !== null && isOwnDomain(settings, external) ? null : external;
    if (referrer !== null && this.spam.isSpam(referrer.host)) {
      return {
        kind: 'filtered',
        hit: { siteId: site.id, day, reason: 'referrer_spam', dedupeKey },
      };
    }

    const geo = client.ip === null ? null : this.geo.lookup(client.ip, settings.geoPrecision);
    const { salt, previous } = salts;
    const address = client.ip ?? `unknown:${client.requestNonce}`;
    const flags = [...page.flags, ...referrerFlags];
    if (client.ip === null) flags.push('no_client_ip');
    // Only a custom event and a form have a name: on any other event it is free text no report
    // shows, sent by hand, and stored nowhere (QA).
    const name =
      incoming.name === undefined || !NAMED.has(incoming.type)
        ? null
        : scrubWithin(incoming.name, NAME_MAX);
    const title = sanitizeTitle(incoming.title, settings, { countOnly: page.countOnly });
    const props =
      incoming.props === undefined || page.countOnly ? null : scrubProps(incoming.props);
    // What the free text lost counts in the site's firewall report like what the address lost.
    if (
      lost(incoming.name, name) ||
      lost(incoming.title, title) ||
      (props !== null && propsLost(incoming.props as Record<string, unknown>, props))
    ) {
      flags.push('phi_detected');
    }

    const event: EnrichedEvent = {
      siteId: site.id,
      ts,
      day,
      type: incoming.type,
      name,
      hostname: page.hostname,
      path: page.path,
      query: page.query,
      fragment: page.fragment === '' ? null : page.fragment,
      title,
      href:
        incoming.href === undefined || page.countOnly
          ? null
          : linkTarget(incoming.href, settings, page.hostname, flags),
      referrerHost: referrer?.host ?? null,
      referrerDomain: referrer?.domain ?? null,
      channel: classifyChannel({
        referrerDomain: referrer?.domain ?? null,
        referrerHost: referrer?.host ?? null,
        utm: page.utm,
        clickId: page.clickId,
      }),
      utmSource: page.utm.source,
      utmMedium: page.utm.medium,
      utmCampaign: page.utm.campaign,
      utmTerm: page.utm.term,
      utmContent: page.utm.content,
      clickId: page.clickId?.type ?? null,
      country: geo?.country ?? null,
      region: geo?.region ?? null,
      city: geo?.city ?? null,
      browser: agent.browser,
      browserVersion: agent.browserVersion,
      os: agent.os,
      device: agent.device,
      props: props === null ? null : JSON.stringify(props),
      engagementMs: incoming.engagementMs ?? null,
      scrollDepth: incoming.scrollDepth ?? null,
      visitorId: visitorId(salt, site.id, address, client.userAgent),
      previousVisitorId:
        previous === null ? null : visitorId(previous, site.id, address, client.userAgent),
      flags: flags.length === 0 ? '' : [...new Set(flags)].join(','),
      origin: extra.origin ?? 'tracker',
      dedupeKey,
    };

    return { kind: 'event', event };
  }
}

/** True when scrubbing put a `[redacted]` into `kept` that the text as sent did not hold. */
function lost(sent: string | undefined, kept: string | null): boolean {
  return kept !== null && marks(kept) > marks(sent ?? '');
}

function marks(text: string): number {
  return text.split(REDACTED).length - 1;
}

/** True when a property lost its value to the firewall, or its key held PHI and was dropped. */
function propsLost(sent: Record<string, unknown>, kept: Record<string, unknown>): boolean {
  for (const [key, value] of Object.entries(kept)) {
    // A value taken for its name alone (`phone: 'north'`) held no PHI.
    if (value === REDACTED) {
      // Read through its encodings, as the scrubbing did (`pat.doe&commat;mail.test`, QA).
      if (sent[key] !== REDACTED && componentHasPhi(String(sent[key]), false)) return true;
    } else if (typeof value === 'string' && lost(String(sent[key] ?? ''), value)) {
      return true;
    }
  }

  return Object.keys(sent).some((key) => componentHasPhi(key, false));
}

/**
 * A site's settings as applied to link targets: no query values or fragments. Count-only
 * sections stay: a link into one is stored as the section (`/patients/*`), never as the page
 * it names (QA).
 */
const linkSettingsOf = new WeakMap<Site['settings'], Site['settings']>();

function linkSettings(settings: Site['settings']): Site['settings'] {
  let derived = linkSettingsOf.get(settings);
  if (derived === undefined) {
    derived = { ...settings, queryAllowlist: [], keepFragments: false };
    linkSettingsOf.set(settings, derived);
  }

  return derived;
}

/**
 * An outbound or download link, reduced like a page: host and scrubbed path, no query, no
 * fragment. A link into our own site keeps only its path. A host that is an IP address or
 * looks like PHI (a phone number, a record number) is kept as `[redacted]`, as for referrers.
 */
const CONTACT_SCHEMES: ReadonlySet<string> = new Set([
  'mailto',
  'tel',
  'sms',
  'callto',
  'facetime',
  'whatsapp',
  'skype',
]);

function linkTarget(
  raw: string,
  settings: Site['settings'],
  pageHost: string,
  flags: string[],
): string | null {
  const href = raw.trim();
  if (!/^https?:\/\//i.test(href)) {
    // A `mailto:` or `tel:` link keeps its scheme alone, so click-to-call and e-mail links count
    // in the links report; the address they held still counts in the firewall report.
    if (componentHasPhi(href, false)) flags.push('phi_detected');
    const scheme = /^([a-z]+):/i.exec(href)?.[1]?.toLowerCase();

    // Only schemes known to be contact links: any other text before a colon could be anything.
    return scheme !== undefined && CONTACT_SCHEMES.has(scheme) ? `${scheme}:` : null;
  }

  let page;
  try {
    page = sanitizePage(href, linkSettings(settings));
  } catch {
    // Refused on the request thread already (schema): never fails a whole batch here.
    return null;
  }

  // What the link lost counts in the site's firewall report like what the page lost.
  if (page.flags.includes('phi_detected')) flags.push('phi_detected');
  if (page.hostname === pageHost) return page.path;

  const opaque =
    page.hostname.startsWith('[') || parseIp(page.hostname) !== null || hostHasPhi(page.hostname);
  if (opaque) flags.push('phi_detected');

  return `${opaque ? REDACTED : page.hostname}${page.path}`;
}

const ownDomains = new WeakMap<SiteSettings, ReadonlySet<string>>();

/**
 * True when the referrer is one of the site's allowed domains, or shares a registrable domain
 * with one (`www.clinic.example` and `clinic.example`, `*.clinic.example`).
 */
function isOwnDomain(settings: SiteSettings, referrer: Referrer): boolean {
  if (hostAllowed(settings, referrer.host)) return true;

  let domains = ownDomains.get(settings);
  if (domains === undefined) {
    domains = new Set(
      settings.domains.map((domain) => registrableDomain(domain.replace(/^\*\./, ''))),
    );
    ownDomains.set(settings, domains);
  }

  return domains.has(referrer.domain);
}
