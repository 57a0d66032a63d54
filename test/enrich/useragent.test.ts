import { describe, expect, test } from 'vitest';

import { parseUserAgent } from '../../src/enrich/useragent.js';

const UAS = {
  chromeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/124.0.0.0 Safari/537.36',
  chromeAndroidReduced:
    'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/124.0.0.0 Mobile Safari/537.36',
  safariIphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like ' +
    'Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  safariIpad:
    'Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) ' +
    'Version/17.4 Mobile/15E148 Safari/604.1',
  chromeMac:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/124.0.0.0 Safari/537.36',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  edge:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51',
  chromebook:
    'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/124.0.0.0 Safari/537.36',
};

describe('user agent', () => {
  test('browser, major version, OS and device class for common browsers', () => {
    expect(parseUserAgent(UAS.chromeWindows)).toEqual({
      browser: 'Chrome',
      browserVersion: '124',
      os: 'Windows',
      device: 'desktop',
    });
    expect(parseUserAgent(UAS.chromeAndroidReduced)).toMatchObject({
      os: 'Android',
      device: 'mobile',
    });
    expect(parseUserAgent(UAS.safariIphone)).toEqual({
      browser: 'Safari',
      browserVersion: '17',
      os: 'iOS',
      device: 'mobile',
    });
    expect(parseUserAgent(UAS.safariIpad).device).toBe('tablet');
    expect(parseUserAgent(UAS.chromeMac).os).toBe('macOS');
    expect(parseUserAgent(UAS.firefoxLinux)).toMatchObject({
      browser: 'Firefox',
      browserVersion: '125',
      os: 'Linux',
    });
    expect(parseUserAgent(UAS.edge)).toMatchObject({ browser: 'Edge', browserVersion: '124' });
    expect(parseUserAgent(UAS.chromebook).os).toBe('ChromeOS');
  });

  test('only the major version is kept, never the full build', () => {
    const info = parseUserAgent(UAS.edge);

    expect(JSON.stringify(info)).not.toContain('2478');
  });

  test('client hints correct a reduced UA: platform names the OS, mobile ?1 marks a phone', () => {
    expect(parseUserAgent(UAS.chromeMac, { platform: '"Windows"' }).os).toBe('Windows');
    expect(parseUserAgent(UAS.chromeWindows, { platform: '"Chrome OS"' }).os).toBe('ChromeOS');
    expect(parseUserAgent(UAS.chromeWindows, { mobile: '?1' }).device).toBe('mobile');
    expect(parseUserAgent(UAS.chromeWindows, { mobile: '?0' }).device).toBe('desktop');
    expect(parseUserAgent(UAS.safariIpad, { mobile: true }).device).toBe('tablet');
  });

  test('unknown hint values are ignored rather than stored', () => {
    expect(parseUserAgent(UAS.chromeWindows, { platform: '"<script>"' }).os).toBe('Windows');
    expect(parseUserAgent(UAS.chromeWindows, { platform: null, mobile: 'yes' }).device).toBe(
      'desktop',
    );
  });

  test('empty and garbage user agents give nulls, never an error', () => {
    expect(parseUserAgent('')).toEqual({
      browser: null,
      browserVersion: null,
      os: null,
      device: 'other',
    });
    expect(parseUserAgent(undefined).browser).toBeNull();
    expect(() => parseUserAgent('\u0000\uffff'.repeat(1000))).not.toThrow();
  });

  test('a 10 KB hostile user agent is parsed in < 50 ms', () => {
    for (const ua of [
      'a'.repeat(10_000),
      `${UAS.chromeWindows}${' ('.repeat(5_000)}`,
      'Mozilla/5.0 ('.repeat(800),
    ]) {
      let best = Infinity;
      for (let i = 0; i < 5; i++) {
        const fresh = `${i}${ua}`; // a new string each run, so the parse cache is not hit
        const started = performance.now();
        parseUserAgent(fresh);
        best = Math.min(best, performance.now() - started);
      }

      expect(best).toBeLessThan(50);
    }
  });
});
