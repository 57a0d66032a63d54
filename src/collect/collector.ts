import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

import { hostAllowed, type Site } from '../domain/site.js';
import { dayIn } from '../domain/time.js';
import { deriveClientIp, type ForwardedMode, type ProxyMatcher } from '../enrich/client-ip.js';
import { pageHostname } from '../enrich/url.js';
import { LightTrailError, RequestError } from '../errors.js';
import type { ControlStore } from '../store/types.js';
import type { ClientContext, SaltPair } from './enricher.js';
import { SALT_PAIRS_KEPT, type CollectCarried, type CollectJob } from './prepare.js';
import type { VisitorSalts } from './salts.js';
import type { EventSink } from '../store/types.js';
import type { RateLimiter } from './rate-limit.js';
import { parsePayload, type IncomingPayload } from './schema.js';

/** A request whose headers passed `checkBodyHeaders`, with the body read after that. */
export interface CollectInput {
  body: Buffer;
  origin: string | undefined;
  peerAddress: string | undefined;
  headers: IncomingHttpHeaders;
}

export interface CollectResult {
  stored: number;
  filtered: number;
  /** The Origin to echo in Access-Control-Allow-Origin, when it belongs to the site. */
  allowOrigin: string | null;
}

export interface CollectorOptions {
  control: ControlStore;
  /** A queue whose preparer is `createPreparer` (src/collect/prepare.ts). */
  queue: EventSink;
  salts: VisitorSalts;
  limiter: RateLimiter;
  proxies: ProxyMatcher;
  forwardedMode: ForwardedMode;
  maxBatch: number;
  /** Told (at most every ten minutes) when the derived visitor address is loopback (C20 d). */
  onMisconfiguredProxy?: () => void;
  /**
   * Told, at most once a minute, how many requests the rate limit refused since it was last
   * told (the first refusal is told at once): the request log keeps them at debug level.
   */
  onRateLimited?: (requests: number) => void;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** How long the endpoint uses a site's settings before reading them again. */
export const SITE_CACHE_MS = 5_000;
const RATE_LIMIT_REPORT_MS = 60_000;
const MEDIA_TYPES: ReadonlySet<string> = new Set(['text/plain', 'application/json']);
// The WHATWG Encoding labels for UTF-8 a sender might plausibly write (compared lower-cased).
const UTF8_LABELS: ReadonlySet<string> = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8']);

/**
 * The collect endpoint's work, apart from HTTP: decode and validate the payload, check the site,
 * its origin and hostnames, rate-limit the client, enrich every event and wait for the commit.
 * Any refusal happens before the first event is queued, so a request is stored whole or not at
 * all.
 */
export class Collector {
  private readonly sites = new Map<string, { site: Site | undefined; at: number }>();
  /** The version of each site the writer thread was last given (see CollectJob.site). */
  private readonly sent = new Map<string, Site>();
  /** A number per salt pair, and the pairs the writer thread holds (see CollectJob.salts). */
  private readonly saltIds = new WeakMap<SaltPair, number>();
  private readonly saltsHeld = new Set<number>();
  private nextSaltId = 1;
  private allSites: { sites: Site[]; at: number } | undefined;

  constructor(private readonly options: CollectorOptions) {}

  /**
   * Refuses (415) a body this endpoint would not decode, from the request's headers alone: the
   * route asks before it reads the body, so a client that sent `Expect: 100-continue` is never
   * asked for a body that would be refused (QA).
   */
  checkBodyHeaders(headers: IncomingHttpHeaders): void {
    checkTransferCoding(headers['transfer-encoding']);
    checkMediaType(headers['content-type'], headers['content-encoding']);
  }

  async collect(input: CollectInput): Promise<CollectResult> {
    const text = decode(input.body);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new RequestError('ERR_INVALID_JSON', 400, 'body is not valid JSON');
    }

    const payload = parsePayload(json, this.options.maxBatch);
    const site = this.site(payload.site);
    if (site === undefined) throw new RequestError('ERR_UNKNOWN_SITE', 400, 'unknown site');

    const allowOrigin = checkOrigin(site, input.origin);
    try {
      return await this.accept(site, payload, input, allowOrigin);
    } catch (error) {
      // The page's own origin may read why it was refused (a 429's Retry-After, a code).
      throw allowOrigin === null ? error : withAllowedOrigin(error, allowOrigin);
    }
  }

  /** The rest of a request whose site and origin are known: limits, then the hand-over. */
  private async accept(
    site: Site,
    payload: IncomingPayload,
    input: CollectInput,
    allowOrigin: string | null,
  ): Promise<CollectResult> {
    payload.events.forEach((event, index) => {
      const host = pageHostname(event.url);
      if (host === null) {
        throw new RequestError(
          'ERR_INVALID_EVENT',
          400,
          `events[${index}].url must name a host, and a port of at most 65535 if any`,
        );
      }

      if (!hostAllowed(site.settings, host)) {
        throw new RequestError(
          'ERR_HOSTNAME_NOT_ALLOWED',
          403,
          "event hostname is not one of the site's domains",
        );
      }

      // A link to another scheme (mailto:, tel:) is kept as an event without a target; an http(s)
      // link must have a host, or the firewall would have nothing to reduce it to.
      const href = event.href?.trim();
      if (href !== undefined && /^https?:/i.test(href)) {
        if (pageHostname(href) === null) {
          throw new RequestError(
            'ERR_INVALID_EVENT',
            400,
            `events[${index}].href must be an absolute URL with a valid host name`,
          );
        }
      }
    });

    const client = deriveClientIp({
      peer: input.peerAddress,
      headers: input.headers,
      trustedProxies: this.options.proxies,
      mode: this.options.forwardedMode,
    });
    if (client.misconfigured) this.reportMisconfiguredProxy();
    const wait = this.options.limiter.take(
      client.ip ?? input.peerAddress ?? 'unknown',
      payload.events.length,
    );
    if (wait > 0) {
      this.reportRateLimited();
      throw new RequestError('ERR_RATE_LIMITED', 429, 'too many events; slow down', undefined, {
        'Retry-After': String(wait),
      });
    }

    const now = Date.now();
    const privacySignal = signal(site, payload, input.headers);
    if (privacySignal !== null) {
      const day = dayIn(site.settings.timeZone, now);
      const hits = payload.events.map(() => ({ siteId: site.id, day, reason: privacySignal }));
      await this.options.queue.enqueue(site.tenantId, [], hits);

      return { stored: 0, filtered: hits.length, allowOrigin };
    }

    const context: ClientContext = {
      ip: client.ip,
      // Stands in for the address only when there is none.
      requestNonce: client.ip === null ? randomUUID() : '',
      userAgent: header(input.headers, 'user-agent') ?? '',
      secChUa: header(input.headers, 'sec-ch-ua'),
      platformHint: header(input.headers, 'sec-ch-ua-platform'),
      mobileHint: header(input.headers, 'sec-ch-ua-mobile'),
      now,
    };
    const salts = await this.options.salts.forTime(now);
    const saltsId = this.saltIdOf(salts);
    const fresh = this.sent.get(site.id) !== site;
    const freshSalts = !this.saltsHeld.has(saltsId);
    const job: CollectJob = { siteId: site.id, events: payload.events, client: context, saltsId };
    let carried: CollectCarried | undefined;
    if (fresh || freshSalts) {
      carried = {};
      if (fresh) carried.site = site;
      if (freshSalts) carried.salts = salts;
    }

    let result;
    try {
      const json = JSON.stringify(job);
      result = await this.options.queue.submit(site.tenantId, json, payload.events.length, carried);
    } catch (error) {
      this.sent.delete(site.id);
      this.saltsHeld.delete(saltsId);
      throw error;
    }

    // The writer thread now holds this version of the site and these salts: later jobs need not
    // carry them.
    if (fresh) this.sent.set(site.id, site);
    if (freshSalts) this.saltsHeld.add(saltsId);

    return { stored: result.inserted + result.duplicates, filtered: result.filtered, allowOrigin };
  }

  private saltIdOf(salts: SaltPair): number {
    let id = this.saltIds.get(salts);
    if (id === undefined) {
      id = this.nextSaltId++;
      this.saltIds.set(salts, id);
      // The writer keeps only the latest few pairs (prepare.ts): so does this record of them.
      if (this.saltsHeld.size >= SALT_PAIRS_KEPT) this.saltsHeld.clear();
    }

    return id;
  }

  private lastProxyWarning = 0;
  private rateLimited = 0;
  private rateLimitTimer: NodeJS.Timeout | undefined;

  /** Tells `onRateLimited` of the first refusal at once, then once a minute of those since. */
  private reportRateLimited(): void {
    this.rateLimited++;
    if (this.rateLimitTimer !== undefined) return;

    const tell = () => {
      if (this.rateLimited === 0) {
        this.rateLimitTimer = undefined;
        return;
      }

      this.options.onRateLimited?.(this.rateLimited);
      this.rateLimited = 0;
      this.rateLimitTimer = setTimeout(tell, RATE_LIMIT_REPORT_MS);
      this.rateLimitTimer.unref();
    };
    tell();
  }

  /** Tells `onRateLimited` of the refusals since its last report; for the server's shutdown. */
  close(): void {
    clearTimeout(this.rateLimitTimer);
    this.rateLimitTimer = undefined;
    if (this.rateLimited > 0) this.options.onRateLimited?.(this.rateLimited);
    this.rateLimited = 0;
  }

  private reportMisconfiguredProxy(): void {
    const now = Date.now();
    if (now - this.lastProxyWarning < 600_000) return;

    this.lastProxyWarning = now;
    this.options.onMisconfiguredProxy?.();
  }

  /**
   * The origin when a page there could send events to some site of this server: a CORS preflight
   * names no site, so it is answered for the origins of every site's domains and no other.
   */
  preflightOrigin(origin: string | undefined): string | null {
    const host = originHost(origin);
    if (host === null) return null;

    const now = Date.now();
    if (this.allSites === undefined || now - this.allSites.at >= SITE_CACHE_MS) {
      this.allSites = { sites: this.options.control.listSites(), at: now };
    }

    return this.allSites.sites.some((site) => hostAllowed(site.settings, host))
      ? (origin as string)
      : null;
  }

  private site(id: string): Site | undefined {
    const cached = this.sites.get(id);
    const now = Date.now();
    if (cached !== undefined && now - cached.at < SITE_CACHE_MS) return cached.site;

    // An unchanged site keeps its object, so jobs need not carry it to the writer again.
    const found = this.options.control.getSite(id);
    const site =
      found !== undefined &&
      cached?.site !== undefined &&
      JSON.stringify(found) === JSON.stringify(cached.site)
        ? cached.site
        : found;
    if (this.sites.size > 10_000) {
      this.sites.clear();
      this.sent.clear();
    }

    this.sites.set(id, { site, at: now });

    return site;
  }
}

function withAllowedOrigin(error: unknown, origin: string): unknown {
  // Only answers a client sees as such: a 4xx, or a 503 telling it to come back.
  const answered = error instanceof LightTrailError && (error.status < 500 || error.status === 503);
  if (!answered) return error;

  return new RequestError(error.code, error.status, error.message, error.cause, {
    ...error.headers,
    'Access-Control-Allow-Origin': origin,
  });
}

function unsupported(message: string): RequestError {
  return new RequestError('ERR_UNSUPPORTED_MEDIA_TYPE', 415, message);
}

/**
 * Refuses a body this endpoint would have to transform before it could check it. The tracker
 * sends plain UTF-8 JSON; a compressed body (RFC 9110 section 8.4: 415 for an unsupported
 * coding) would cost a decompression per request and could be a zip bomb, and a body in another
 * charset would be misread as UTF-8, so neither is decoded: both are refused before the body is.
 * `charset=utf-8` is fine, quoted or not, in any case; `identity` is the only coding accepted.
 */
// The few Content-Type values senders use, already found acceptable: checked once each.
const acceptedTypes = new Set<string>();

function checkMediaType(contentType: string | undefined, encoding: string | undefined): void {
  if (encoding === undefined && contentType !== undefined && acceptedTypes.has(contentType)) return;

  checkContentType(contentType);
  if (contentType !== undefined && acceptedTypes.size < 100) acceptedTypes.add(contentType);
  checkEncoding(encoding);
}

function checkContentType(contentType: string | undefined): void {
  const [type = '', ...params] = (contentType ?? '').split(';');
  if (!MEDIA_TYPES.has(type.trim().toLowerCase())) {
    throw unsupported('send JSON as text/plain or application/json');
  }

  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;

    const charset = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (!UTF8_LABELS.has(charset)) throw unsupported('send the body as UTF-8');
  }
}

function checkEncoding(encoding: string | undefined): void {
  if (encoding === undefined) return;

  const codings = encoding.split(',').map((coding) => coding.trim().toLowerCase());
  if (codings.some((coding) => coding !== 'identity')) {
    throw unsupported('send the body without a content encoding');
  }
}

/**
 * Node reads the body of `Transfer-Encoding: gzip, chunked` as chunked and hands over the
 * compressed bytes undecoded; a transfer coding other than chunked is refused as RFC 9112
 * (section 6.1) says, 501, as a content coding is with 415 (QA).
 */
function checkTransferCoding(coding: string | undefined): void {
  if (coding === undefined || coding.trim().toLowerCase() === 'chunked') return;

  throw new RequestError(
    'ERR_TRANSFER_CODING',
    501,
    'send the body with no transfer coding but chunked',
  );
}

function decode(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new RequestError('ERR_INVALID_UTF8', 400, 'body is not valid UTF-8');
  }
}

/**
 * A request header, cut to 1025 characters: one more than the bot detector scans, so that it
 * can tell an oversized user agent from one that fits.
 */
function header(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];

  return typeof value === 'string' ? value.slice(0, 1025) : null;
}

/** The host of an http(s) Origin header, or null when it is none. */
function originHost(origin: string | undefined): string | null {
  const match = origin === undefined ? null : /^https?:\/\/([^/:]+)(?::(\d+))?$/i.exec(origin);
  if (match === null || Number(match[2] ?? 0) > 65_535) return null;

  return match[1] as string;
}

/** A browser page may only send for its own site; a server-side sender (no Origin) may send. */
function checkOrigin(site: Site, origin: string | undefined): string | null {
  if (origin === undefined) return null;

  const host = originHost(origin);
  if (host === null || !hostAllowed(site.settings, host)) {
    throw new RequestError(
      'ERR_ORIGIN_NOT_ALLOWED',
      403,
      "origin is not one of the site's domains",
    );
  }

  return origin;
}

function signal(
  site: Site,
  payload: { gpc: boolean; dnt: boolean },
  headers: IncomingHttpHeaders,
): string | null {
  if (site.settings.respectGpc && (payload.gpc || headers['sec-gpc'] === '1')) return 'privacy:gpc';
  if (site.settings.respectDnt && (payload.dnt || headers.dnt === '1')) return 'privacy:dnt';

  return null;
}
