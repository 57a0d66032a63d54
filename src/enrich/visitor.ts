import { hash } from 'node:crypto';

import { LightTrailError } from '../errors.js';
import { senderAddress, parseIp } from './ip.js';

/** A salt shorter than this would make the keyed hash guessable. */
export const MIN_SALT_BYTES = 16;

const DOMAIN_TAG = 'lighttrail.visitor.v1';

/**
 * The address part of the visitor key. IPv6 is cut to its /64 because one household or phone
 * rotates through many addresses of its /64 (RFC 8981 temporary addresses); IPv4-mapped addresses
 * are unwrapped so a dual-stack socket and a proxy header give the same visitor, and so is the
 * IPv4 sender inside a NAT64, IPv4-compatible or 6to4 address: behind a NAT64 gateway every IPv4
 * client shares one /64, and were one visitor and one rate-limit bucket (fifteenth session's
 * QA). Text that is not an address (a caller's per-request stand-in when no address could be
 * derived) is used as is, marked so it can never equal an address.
 */
export function normaliseIpForVisitor(ip: string): string {
  const parsed = parseIp(ip.trim());
  if (!parsed) return `opaque:${ip}`;

  const sender = senderAddress(parsed);
  if (sender.family === 4) return sender.text;

  return `${Buffer.from(sender.bytes.subarray(0, 8)).toString('hex')}/64`;
}

const TAG = Buffer.from(DOMAIN_TAG, 'utf8');

/** SHA-256's block: an HMAC key is padded (or first hashed) to this length (RFC 2104). */
const BLOCK = 64;

interface Pads {
  /** The key XOR 0x36 (ipad), the start of the inner hash's input. */
  inner: Buffer;
  /** The key XOR 0x5c (opad), the start of the outer hash's input. */
  outer: Buffer;
}

const padsByKey = new WeakMap<Uint8Array, Pads>();

function padsOf(key: Uint8Array): Pads {
  const known = padsByKey.get(key);
  if (known !== undefined) return known;

  const block = Buffer.alloc(BLOCK);
  if (key.length > BLOCK) block.set(hash('sha256', key, 'buffer'));
  else block.set(key);
  const inner = Buffer.alloc(BLOCK);
  const outer = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) {
    inner[i] = (block[i] as number) ^ 0x36;
    outer[i] = (block[i] as number) ^ 0x5c;
  }

  const pads = { inner, outer };
  padsByKey.set(key, pads);

  return pads;
}

/**
 * HMAC-SHA-256 (RFC 2104) in hex, as two one-shot hashes over pads prepared once per key: the
 * same digest as `createHmac`, at half its cost (which builds a keyed object per call). The
 * key's pads live as long as the key object does.
 */
export function hmacSha256Hex(key: Uint8Array, data: Uint8Array): string {
  const pads = padsOf(key);
  const inner = hash('sha256', Buffer.concat([pads.inner, data]), 'buffer');

  return hash('sha256', Buffer.concat([pads.outer, inner]), 'hex');
}

/** The HMAC input: each part as a 4-byte big-endian length and its UTF-8 bytes, in one buffer. */
function message(parts: readonly string[]): Buffer {
  let size = 4 + TAG.length;
  for (const part of parts) size += 4 + Buffer.byteLength(part, 'utf8');

  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(TAG.length, 0);
  let offset = 4 + TAG.copy(out, 4);
  for (const part of parts) {
    const length = out.write(part, offset + 4, 'utf8');
    out.writeUInt32BE(length, offset);
    offset += 4 + length;
  }

  return out;
}

/**
 * A pseudonymous visitor id: HMAC-SHA-256 keyed with the site's current salt over a
 * length-prefixed (site, address, user agent). The key makes a stored id irreversible without the
 * salt (hashing all 2^32 IPv4 addresses does not help, C21), rotating the salt unlinks visitors
 * across periods, and the length prefixes keep ('ab','c') and ('a','bc') apart.
 *
 * @example
 * visitorId(salt, site.id, clientIp, userAgent); // 32 hex characters
 */
export function visitorId(salt: Uint8Array, siteId: string, ip: string, userAgent: string): string {
  if (salt.length < MIN_SALT_BYTES) {
    throw new LightTrailError(
      'ERR_INVALID_ARGUMENT',
      `visitor salt must be >= ${MIN_SALT_BYTES} bytes`,
    );
  }

  // The first 16 bytes: 128 bits keep collisions out of reach of any site's visitor count.
  return hmacSha256Hex(salt, message([siteId, normaliseIpForVisitor(ip), userAgent])).slice(0, 32);
}
