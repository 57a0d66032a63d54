import type { IncomingHttpHeaders } from 'node:http';

import { LightTrailError } from '../errors.js';
import {
  compileCidrs,
  isLoopbackOrUnspecified,
  parseForwardedHop,
  parseIp,
  type CidrList,
  type ParsedIp,
} from './ip.js';

/**
 * Which forwarding header trusted proxies write: `X-Forwarded-For` or RFC 7239 `Forwarded`.
 * Only one is read; `X-Real-IP`, `CF-Connecting-IP` and friends are never read, because any
 * client can send them and no proxy list says who set them.
 */
export type ForwardedMode = 'xff' | 'rfc7239';

export interface ClientIpInput {
  /** `socket.remoteAddress`: the only address the TCP handshake proves. */
  peer: string | undefined;
  headers: IncomingHttpHeaders;
  /** CIDRs of our own reverse proxies, or a matcher compiled once by `createProxyMatcher`. */
  trustedProxies: readonly string[] | ProxyMatcher;
  mode: ForwardedMode;
}

export interface ClientIp {
  /** The visitor's address in canonical text; kept in memory only, never stored or logged. */
  ip: string | null;
  /** True when the derived visitor address is loopback or unspecified: a proxy set-up fault. */
  misconfigured: boolean;
}

/** A trusted-proxy list compiled once at start-up. */
export interface ProxyMatcher {
  readonly kind: 'proxy-matcher';
  trusts(ip: ParsedIp): boolean;
}

/** Upper bound on hops walked: real chains are a handful long; a forged header may be huge. */
const MAX_HOPS = 32;

/**
 * Compiles the trusted-proxy CIDRs so each request costs a few byte comparisons. An unreadable
 * entry is a configuration mistake that would silently trust nobody (or the wrong host), so it
 * is refused with `ERR_CONFIG_INVALID` instead of being skipped.
 *
 * @example
 * const proxies = createProxyMatcher(['10.0.0.0/8', 'fd00::/8']);
 * deriveClientIp({ peer, headers, trustedProxies: proxies, mode: 'xff' });
 */
export function createProxyMatcher(cidrs: readonly string[]): ProxyMatcher {
  const { list, invalid } = compileCidrs(cidrs);
  if (invalid.length > 0) {
    const count = `${invalid.length} entr${invalid.length === 1 ? 'y is' : 'ies are'}`;

    throw new LightTrailError('ERR_CONFIG_INVALID', `trustedProxies: ${count} not a CIDR`);
  }

  return matcherOf(list);
}

function matcherOf(list: CidrList): ProxyMatcher {
  return { kind: 'proxy-matcher', trusts: (ip) => list.contains(ip) };
}

const compiled = new WeakMap<readonly string[], ProxyMatcher>();

function toMatcher(trusted: readonly string[] | ProxyMatcher): ProxyMatcher {
  if (!Array.isArray(trusted)) return trusted as ProxyMatcher;

  const list = trusted as readonly string[];
  let matcher = compiled.get(list);
  if (!matcher) {
    matcher = createProxyMatcher(list);
    compiled.set(list, matcher);
  }

  return matcher;
}

function headerText(value: string | string[] | undefined): string {
  if (value === undefined) return '';

  return Array.isArray(value) ? value.join(',') : value;
}

/** Splits on commas outside double quotes (RFC 7239 quoted-string may hold a comma). */
function splitElements(header: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const c = header.charCodeAt(i);
    if (c === 0x22) quoted = !quoted;
    else if (c === 0x5c && quoted) i++;
    else if (c === 0x2c && !quoted) {
      out.push(header.slice(start, i));
      start = i + 1;
    }
  }

  out.push(header.slice(start));

  return out;
}

/** The `for=` parameter of one RFC 7239 forwarded-element, or '' when absent. */
function forParameter(element: string): string {
  for (const pair of element.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && pair.slice(0, eq).trim().toLowerCase() === 'for') return pair.slice(eq + 1);
  }

  return '';
}

function hopsFrom(headers: IncomingHttpHeaders, mode: ForwardedMode): string[] {
  if (mode === 'rfc7239') {
    // An element that names no client (no `for`, or an empty one) is a proxy that does not
    // know it: `unknown`, not nothing. Only a stray comma's empty element is skipped.
    return splitElements(headerText(headers.forwarded)).map((element) =>
      element.trim() === '' ? '' : forParameter(element).trim() || 'unknown',
    );
  }

  return headerText(headers['x-forwarded-for']).split(',');
}

function result(ip: ParsedIp | null): ClientIp {
  if (!ip) return { ip: null, misconfigured: false };
  if (isLoopbackOrUnspecified(ip)) return { ip: null, misconfigured: true };

  return { ip: ip.text, misconfigured: false };
}

/**
 * Derives the visitor's address. Starting at the socket peer, each hop is believed only while the
 * hop that reported it is one of our trusted proxies; the first untrusted hop, read from the right,
 * is the client (the leftmost entries are whatever the client chose to send). An untrusted peer is
 * the client and every header is ignored. Empty entries are skipped; any other entry that is not an
 * address (`unknown`, an RFC 7239 obfuscated `_hidden`) ends the walk with no address: a trusted
 * proxy that does not know its client hands over nothing, and what stands left of it was written
 * by the client, so believing it would let anyone choose their address. A loopback or
 * unspecified result means the proxy chain is misconfigured: the address is withheld so all traffic
 * is not merged into one visitor, and `misconfigured` is set for the operator.
 *
 * @example
 * deriveClientIp({ peer: '10.0.0.5', headers: { 'x-forwarded-for': '203.0.113.50, 198.51.100.7' },
 *   trustedProxies: ['10.0.0.0/8'], mode: 'xff' }); // { ip: '198.51.100.7', misconfigured: false }
 */
export function deriveClientIp(input: ClientIpInput): ClientIp {
  const peer = input.peer === undefined ? null : parseIp(input.peer);
  if (!peer) return { ip: null, misconfigured: false };

  const proxies = toMatcher(input.trustedProxies);
  if (!proxies.trusts(peer)) return result(peer);

  const hops = hopsFrom(input.headers, input.mode);
  let client = peer;
  let walked = 0;
  for (let i = hops.length - 1; i >= 0 && walked < MAX_HOPS; i--) {
    const entry = (hops[i] as string).trim();
    if (entry === '') continue;

    const hop = parseForwardedHop(entry);
    if (!hop) return { ip: null, misconfigured: false };

    walked++;
    client = hop;
    if (!proxies.trusts(hop)) break;
  }

  return result(client);
}
