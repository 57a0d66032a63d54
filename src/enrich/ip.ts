/**
 * IP address parsing shared by client-IP derivation, geo lookup and the visitor hash. A visitor's
 * address is PHI next to a clinic page (HHS tracking bulletin), so it is parsed here, used in
 * memory and never returned to storage: callers get booleans, a geo record or a keyed hash.
 *
 * The parsers are strict (no leading zeros, no `1.2.3`, no octal) and never throw: anything that
 * is not an address is `null`, so a forged header cannot turn into an exception.
 */

export interface ParsedIp {
  family: 4 | 6;
  /** 4 or 16 bytes in network order. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is unwrapped to 4. */
  bytes: Uint8Array;
  /** Canonical text: dotted quad, or RFC 5952 compressed lower-case IPv6. */
  text: string;
}

/** A precompiled CIDR list: matching is a byte comparison per entry, no parsing per call. */
export interface CidrList {
  contains(ip: ParsedIp): boolean;
  readonly size: number;
}

interface Cidr {
  bytes: Uint8Array;
  prefix: number;
}

const HEX_GROUP = /^[0-9a-f]{1,4}$/i;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * Four decimal parts of at most 255, without leading zeros. Read character by character: every
 * event's address passes here several times (proxy check, rate limit, geo, visitor hash), and a
 * split with a pattern per part cost more than the rest of the parse.
 */
function parseIpv4Bytes(text: string): Uint8Array | null {
  const bytes = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    // The end of the text closes the last part as a dot would.
    const code = i === text.length ? DOT : text.charCodeAt(i);
    if (code === DOT) {
      if (digits === 0 || part === 4) return null;

      bytes[part++] = value;
      value = 0;
      digits = 0;
      continue;
    }

    if (code < ZERO || code > NINE || (digits === 1 && value === 0)) return null;

    value = value * 10 + (code - ZERO);
    digits++;
    if (value > 255) return null;
  }

  return part === 4 ? bytes : null;
}

function parseGroups(text: string): number[] | null {
  if (text === '') return [];

  const groups: number[] = [];
  const parts = text.split(':');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    const last = i === parts.length - 1;
    if (last && part.includes('.')) {
      const v4 = parseIpv4Bytes(part);
      if (!v4) return null;

      groups.push(((v4[0] as number) << 8) | (v4[1] as number));
      groups.push(((v4[2] as number) << 8) | (v4[3] as number));
      continue;
    }

    if (!HEX_GROUP.test(part)) return null;

    groups.push(parseInt(part, 16));
  }

  return groups;
}

function parseIpv6Bytes(text: string): Uint8Array | null {
  if (text.length > 45) return null;

  const gap = text.indexOf('::');
  if (gap !== text.lastIndexOf('::')) return null;

  let groups: number[] | null;
  if (gap === -1) {
    groups = parseGroups(text);
    if (!groups || groups.length !== 8) return null;
  } else {
    const head = parseGroups(text.slice(0, gap));
    const tail = parseGroups(text.slice(gap + 2));
    if (!head || !tail || head.length + tail.length > 7) return null;

    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }

  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  });

  return bytes;
}

function isMappedV4(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) {
    if (bytes[i] !== 0) return false;
  }

  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** RFC 5952 text: lower case, leading zeros dropped, the longest run (>= 2) of zero groups `::`. */
function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number));

  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }

    i = j;
  }

  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(':');

  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');

  return `${head}::${tail}`;
}

/** Builds a parsed address from raw bytes (4 or 16), unwrapping IPv4-mapped IPv6. */
export function ipFromBytes(bytes: Uint8Array): ParsedIp {
  if (bytes.length === 16 && isMappedV4(bytes)) return ipFromBytes(bytes.slice(12));
  if (bytes.length === 4)
    return { family: 4, bytes, text: `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}` };

  return { family: 6, bytes, text: formatIpv6(bytes) };
}

/**
 * Parses a bare address (`198.51.100.7`, `2001:db8::1`, `::ffff:127.0.0.1`, `fe80::1%eth0`).
 * Returns `null` for anything else, including ports and brackets: see `parseForwardedHop`.
 */
export function parseIp(text: string): ParsedIp | null {
  if (text.length === 0 || text.length > 64) return null;

  const zone = text.indexOf('%');
  const bare = zone === -1 ? text : text.slice(0, zone);
  const bytes = bare.includes(':') ? parseIpv6Bytes(bare) : parseIpv4Bytes(bare);

  return bytes ? ipFromBytes(bytes) : null;
}

/**
 * Parses one hop as proxies and clients write it: optional quotes, `[v6]:port`, `v4:port`, bare
 * addresses. RFC 7239 obfuscated identifiers (`_hidden`) and `unknown` are `null`.
 */
export function parseForwardedHop(entry: string): ParsedIp | null {
  let text = entry.trim();
  if (text.length > 2 && text.startsWith('"') && text.endsWith('"')) text = text.slice(1, -1);

  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return null;

    const rest = text.slice(close + 1);
    if (rest !== '' && !isPort(rest)) return null;

    return parseIp(text.slice(1, close));
  }

  const colon = text.indexOf(':');
  if (colon !== -1 && colon === text.lastIndexOf(':')) {
    if (!isPort(text.slice(colon))) return null;

    text = text.slice(0, colon);
  }

  return parseIp(text);
}

/** `:` and a TCP port, 0 to 65535 (`:99999` is no port: the hop is garbage, QA). */
function isPort(text: string): boolean {
  return /^:\d{1,5}$/.test(text) && Number(text.slice(1)) <= 65_535;
}

function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const address = (slash === -1 ? text : text.slice(0, slash)).trim();
  // Not parseIp: a mapped network such as `::ffff:10.0.0.0/104` must keep its 16 bytes here.
  const bytes = address.includes(':') ? parseIpv6Bytes(address) : parseIpv4Bytes(address);
  if (!bytes) return null;

  const bits = bytes.length * 8;
  const prefixText = slash === -1 ? String(bits) : text.slice(slash + 1).trim();
  if (!/^\d{1,3}$/.test(prefixText)) return null;

  const prefix = Number(prefixText);
  if (prefix > bits) return null;

  return { bytes, prefix };
}

function cidrContains(cidr: Cidr, bytes: Uint8Array): boolean {
  const whole = cidr.prefix >> 3;
  for (let i = 0; i < whole; i++) {
    if (cidr.bytes[i] !== bytes[i]) return false;
  }

  const rest = cidr.prefix & 7;
  if (rest === 0) return true;

  const mask = (0xff << (8 - rest)) & 0xff;

  return ((cidr.bytes[whole] as number) & mask) === ((bytes[whole] as number) & mask);
}

/**
 * Compiles CIDR strings (`10.0.0.0/8`, `2001:db8::/32`, a bare address for one host) once.
 * An IPv4-mapped IPv6 CIDR is treated as its IPv4 network, matching how addresses are unwrapped.
 * Returns the entries it could not read so configuration can refuse them.
 */
export function compileCidrs(entries: readonly string[]): { list: CidrList; invalid: string[] } {
  const v4: Cidr[] = [];
  const v6: Cidr[] = [];
  const invalid: string[] = [];
  for (const entry of entries) {
    const cidr = parseCidr(entry);
    if (!cidr) {
      invalid.push(entry);
      continue;
    }

    if (cidr.bytes.length === 16 && isMappedV4(cidr.bytes) && cidr.prefix >= 96) {
      v4.push({ bytes: cidr.bytes.slice(12), prefix: cidr.prefix - 96 });
      continue;
    }

    (cidr.bytes.length === 4 ? v4 : v6).push(cidr);
  }

  const list: CidrList = {
    size: v4.length + v6.length,
    contains: (ip) => (ip.family === 4 ? v4 : v6).some((cidr) => cidrContains(cidr, ip.bytes)),
  };

  return { list, invalid };
}

/**
 * Loopback or unspecified: an address that can never be a real visitor's, written as IPv4, as
 * IPv6, or as an IPv4 one inside IPv6 by a standard translation (`::127.0.0.1`,
 * `::ffff:0:7f00:1`, `64:ff9b::7f00:1`, QA).
 */
export function isLoopbackOrUnspecified(ip: ParsedIp): boolean {
  const v4 = ip.family === 4 ? ip.bytes : embeddedIpv4(ip);
  if (v4 !== null) return v4[0] === 127 || v4[0] === 0;

  for (let i = 0; i < 15; i++) {
    if (ip.bytes[i] !== 0) return false;
  }

  return ip.bytes[15] === 0 || ip.bytes[15] === 1;
}

/**
 * Ranges that are not on the public internet (IANA special-purpose registries, RFC 6890 and
 * successors). Geo lookups for these are answered "unknown" without touching the database,
 * because some databases hold nonsense countries for them.
 */
export const NON_PUBLIC_RANGES: readonly string[] = [
  '0.0.0.0/8', // "this network" (RFC 791)
  '10.0.0.0/8', // private (RFC 1918)
  '100.64.0.0/10', // carrier-grade NAT (RFC 6598)
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local (RFC 3927)
  '172.16.0.0/12', // private
  '192.0.0.0/24', // IETF protocol assignments
  '192.0.2.0/24', // documentation TEST-NET-1 (RFC 5737)
  '192.88.99.0/24', // deprecated 6to4 relay anycast
  '192.168.0.0/16', // private
  '198.18.0.0/15', // benchmarking (RFC 2544)
  '198.51.100.0/24', // documentation TEST-NET-2
  '203.0.113.0/24', // documentation TEST-NET-3
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, includes broadcast
  '::/128', // unspecified
  '::1/128', // loopback
  '64:ff9b:1::/48', // local-use NAT64 (RFC 8215)
  '100::/64', // discard-only (RFC 6666)
  '2001::/23', // IETF protocol assignments (Teredo, ORCHID, ...)
  '2001:db8::/32', // documentation (RFC 3849)
  '3fff::/20', // documentation (RFC 9637)
  'fc00::/7', // unique local (RFC 4193)
  'fe80::/10', // link-local
  'fec0::/10', // deprecated site-local
  'ff00::/8', // multicast
];

const nonPublic = compileCidrs(NON_PUBLIC_RANGES).list;

/**
 * True for private, loopback, link-local, CGNAT, documentation, multicast and reserved space,
 * and for an IPv6 address that carries such an IPv4 address by a standard translation (6to4,
 * NAT64's well-known prefix, IPv4-compatible): `2002:a01:203::1` is 10.1.2.3 behind 6to4.
 */
export function isNonPublic(ip: ParsedIp): boolean {
  if (nonPublic.contains(ip)) return true;

  const inner = embeddedIpv4(ip);

  return inner !== null && nonPublic.contains({ family: 4, bytes: inner, text: '' });
}

/**
 * The address that says who sent a request: the IPv4 address inside a 6to4, NAT64 or
 * IPv4-compatible address (its sender's; a database places 2002::/16 itself wherever the prefix
 * was registered, QA, and every IPv4 client behind NAT64 shares one /64); otherwise the address
 * itself. Geography and the visitor key both read this one.
 */
export function senderAddress(ip: ParsedIp): ParsedIp {
  const inner = embeddedIpv4(ip);

  return inner === null ? ip : ipFromBytes(inner);
}

/**
 * The IPv4 address inside a 6to4 address (2002::/16, RFC 3056), one under NAT64's well-known
 * prefix (64:ff9b::/96, RFC 6052), an IPv4-translated one (::ffff:0:0/96, RFC 2765) or an
 * IPv4-compatible one (::/96, RFC 4291, deprecated); otherwise null. IPv4-mapped addresses are
 * unwrapped by `parseIp` already.
 */
function embeddedIpv4(ip: ParsedIp): Uint8Array | null {
  const b = ip.bytes;
  if (ip.family !== 6) return null;
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6);
  if (b.subarray(0, 8).every((byte) => byte === 0) && b[8] === 0xff && b[9] === 0xff) {
    return b[10] === 0 && b[11] === 0 ? b.slice(12, 16) : null;
  }

  const nat64 = b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b;
  let zeros = nat64 ? 4 : 0;
  while (zeros < 12 && b[zeros] === 0) zeros++;

  return zeros === 12 ? b.slice(12, 16) : null;
}
