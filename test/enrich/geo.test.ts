import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { open } from 'maxmind';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { createMemoryLogger } from '../../src/log/logger.js';
import { applyPrecision, openGeo, readGeoRecord, type GeoLookup } from '../../src/enrich/geo.js';
import { cityRecord, writeMmdb } from '../helpers/mmdb.js';

/** Every address C21 lists: private, loopback, CGNAT, link-local, unspecified, test, ULA. */
const NON_PUBLIC = [
  '10.1.2.3',
  '172.16.5.4',
  '192.168.0.10',
  '127.0.0.1',
  '100.64.1.1',
  '169.254.10.10',
  '0.0.0.0',
  '192.0.2.10',
  '::1',
  'fd12:3456::1',
  'fe80::1',
];

const NONE = { country: null, region: null, city: null };
const dir = mkdtempSync(join(tmpdir(), 'lighttrail-geo-'));

/**
 * A MaxMind City-layout database that answers a real country for every non-public range too, as
 * some databases do for loopback: a lookup that reached it would return a country.
 */
function poisonedCityDb(): string {
  const file = join(dir, 'city-test.mmdb');
  const poison = cityRecord('KP', 'Poisoned', 'Nowhere');
  const networks = [
    { network: '81.2.69.0/24', data: cityRecord('GB', 'England', 'London') },
    { network: '216.160.83.56/29', data: cityRecord('US', 'Washington', 'Milton') },
    { network: '2a02:ff0::/32', data: cityRecord('DE', 'Hesse', 'Frankfurt am Main') },
    ...['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '127.0.0.0/8', '100.64.0.0/10'].map(
      (network) => ({
        network,
        data: poison,
      }),
    ),
    ...['169.254.0.0/16', '0.0.0.0/8', '192.0.2.0/24'].map((network) => ({
      network,
      data: poison,
    })),
    // ::1 sits inside ::0.0.0.0/104, the IPv6 spelling of 0.0.0.0/8, so it is poisoned too.
    ...['fc00::/7', 'fe80::/10'].map((network) => ({ network, data: poison })),
  ];
  writeFileSync(file, writeMmdb({ ipVersion: 6, databaseType: 'GeoIP2-City', networks }));

  return file;
}

let cityFile: string;
let bundled: GeoLookup;
let bundledLines: string[];
let city: GeoLookup;

beforeAll(async () => {
  const memory = createMemoryLogger();
  bundled = await openGeo(undefined, memory.logger);
  bundledLines = memory.lines;
  cityFile = poisonedCityDb();
  city = await openGeo(cityFile, createMemoryLogger().logger);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('C21 GeoIP for private and reserved addresses', () => {
  test('C21 every private/reserved address is unknown with the bundled database', () => {
    expect(bundled.available).toBe(true);
    for (const ip of NON_PUBLIC) expect(bundled.lookup(ip, 'city'), ip).toEqual(NONE);
  });

  test('C21 private/reserved addresses are unknown even when the database answers', async () => {
    const raw = await open(cityFile);
    for (const ip of NON_PUBLIC) {
      expect(readGeoRecord(raw.get(ip)).country, `the raw database answers for ${ip}`).toBe('KP');
    }

    for (const ip of NON_PUBLIC) expect(city.lookup(ip, 'city'), ip).toEqual(NONE);
    for (const ip of [
      '::ffff:127.0.0.1',
      '::ffff:10.1.2.3',
      '198.51.100.7',
      '2001:db8::1',
      '224.0.0.1',
    ]) {
      expect(city.lookup(ip, 'city'), ip).toEqual(NONE);
    }
  });

  test('C21 a private IPv4 address carried inside an IPv6 one is unknown too (QA)', () => {
    // 6to4 of 10.1.2.3 and 192.168.0.10, NAT64 of 172.16.5.4, IPv4-compatible 127.0.0.1.
    for (const ip of ['2002:a01:203::1', '2002:c0a8:a::', '64:ff9b::ac10:504', '::127.0.0.1']) {
      expect(bundled.lookup(ip, 'city'), ip).toEqual(NONE);
      expect(city.lookup(ip, 'city'), ip).toEqual(NONE);
    }
  });

  test('a public IPv4 address inside an IPv6 one is placed where the IPv4 one is (QA)', () => {
    // 81.2.69.142 behind 6to4, NAT64 and IPv4-compatible: the database placed 2002::/16 itself
    // in the US.
    for (const ip of ['2002:5102:458e::1', '64:ff9b::5102:458e', '::81.2.69.142']) {
      expect(bundled.lookup(ip, 'city'), ip).toMatchObject({ country: 'GB', city: 'London' });
      expect(city.lookup(ip, 'city'), ip).toEqual({
        country: 'GB',
        region: 'England',
        city: 'London',
      });
    }
  });

  test('C21 bundled DB-IP controls: 81.2.69.142 → GB London, 216.160.83.56 → US', () => {
    expect(bundled.lookup('81.2.69.142', 'city')).toMatchObject({ country: 'GB', city: 'London' });
    expect(bundled.lookup('216.160.83.56', 'city').country).toBe('US');
    expect(bundled.lookup('2a00:1450:4001::1', 'country').country).toMatch(/^[A-Z]{2}$/);
  });

  test('C21 controls with a MaxMind City-layout database', () => {
    expect(city.lookup('81.2.69.142', 'city')).toEqual({
      country: 'GB',
      region: 'England',
      city: 'London',
    });
    expect(city.lookup('216.160.83.56', 'city')).toEqual({
      country: 'US',
      region: 'Washington',
      city: 'Milton',
    });
    expect(city.lookup('2a02:ff0::1', 'region')).toEqual({
      country: 'DE',
      region: 'Hesse',
      city: null,
    });
    expect(city.lookup('8.8.8.8', 'city')).toEqual(NONE);
  });

  test('C21 a missing database: one warning at open, then all-null lookups, no logs', async () => {
    const memory = createMemoryLogger();
    const geo = await openGeo(join(dir, 'missing.mmdb'), memory.logger);

    expect(geo.available).toBe(false);
    expect(memory.lines).toHaveLength(1);
    expect(JSON.parse(memory.lines[0] as string)).toMatchObject({
      level: 'warn',
      event: 'geo.unavailable',
    });

    for (let i = 0; i < 100; i++) expect(geo.lookup('81.2.69.142', 'city')).toEqual(NONE);
    expect(memory.lines).toHaveLength(1);
  });

  test('C21 a corrupt database file is handled like a missing one', async () => {
    const file = join(dir, 'corrupt.mmdb');
    writeFileSync(file, Buffer.alloc(4096, 7));
    const memory = createMemoryLogger();
    const geo = await openGeo(file, memory.logger);

    expect(geo.lookup('81.2.69.142', 'city')).toEqual(NONE);
    expect(memory.lines).toHaveLength(1);
  });

  test('C21 opening and looking up never logs an address', () => {
    for (const ip of [...NON_PUBLIC, '81.2.69.142']) bundled.lookup(ip, 'city');

    expect(bundledLines).toEqual([]);
  });

  test('C21 unreadable input is unknown, never an error', () => {
    for (const ip of ['', 'nonsense', '1.2.3', '999.1.1.1', '::g', '81.2.69.142:80']) {
      expect(city.lookup(ip, 'city'), ip).toEqual(NONE);
    }
  });
});

describe('geo precision and layouts', () => {
  const london = { country: 'GB', region: 'England', city: 'London' };
  const seattle = { country: 'US', region: 'Washington', city: 'Seattle' };

  test('each precision keeps only what it allows', () => {
    expect(applyPrecision(london, 'city')).toEqual(london);
    expect(applyPrecision(london, 'region')).toEqual({ ...london, city: null });
    expect(applyPrecision(seattle, 'safe-harbor')).toEqual({
      country: 'US',
      region: 'Washington',
      city: null,
    });
    expect(applyPrecision(london, 'safe-harbor')).toEqual({
      country: 'GB',
      region: null,
      city: null,
    });
    expect(applyPrecision(london, 'country')).toEqual({ country: 'GB', region: null, city: null });
    expect(applyPrecision(london, 'none')).toEqual(NONE);
  });

  test('precision none skips the lookup entirely', () => {
    expect(city.lookup('81.2.69.142', 'none')).toEqual(NONE);
  });

  test('both record layouts are read: DB-IP flat and MaxMind nested', () => {
    expect(
      readGeoRecord({ country_code: 'gb', state1: 'England', state2: '', city: 'London' }),
    ).toEqual(london);
    expect(readGeoRecord({ country_code: 'US', state1: '', city: '' })).toEqual({
      country: 'US',
      region: null,
      city: null,
    });
    expect(readGeoRecord(cityRecord('GB', 'England', 'London'))).toEqual(london);
    expect(readGeoRecord({ country: { iso_code: 'FR' } })).toEqual({
      country: 'FR',
      region: null,
      city: null,
    });
    expect(readGeoRecord(null)).toEqual(NONE);
    expect(readGeoRecord('GB')).toEqual(NONE);
  });

  test('an IPv4-only database answers IPv4 and never guesses for IPv6', async () => {
    const file = join(dir, 'flat-v4.mmdb');
    const data = {
      country_code: 'GB',
      state1: 'England',
      state2: '',
      city: 'London',
      postcode: '',
    };
    writeFileSync(
      file,
      writeMmdb({
        ipVersion: 4,
        databaseType: 'dbip-city-ipv4',
        networks: [{ network: '81.2.69.0/24', data }],
      }),
    );
    const geo = await openGeo(file, createMemoryLogger().logger);

    expect(geo.lookup('81.2.69.142', 'city')).toEqual(london);
    expect(geo.lookup('2a02:ff0::1', 'city')).toEqual(NONE);
    expect(geo.lookup('5102:4500::1', 'city')).toEqual(NONE);
  });
});
