import { createRequire } from 'node:module';

/**
 * Browser, OS and device class from the User-Agent, refined by client hints where Chromium's
 * reduced UA hides them (it freezes the platform version and says "Android 10; K" for every phone).
 * Only coarse values are kept: the browser's major version, no OS version, no device model, so
 * the result does not help fingerprint a visitor.
 */
export type DeviceType = 'desktop' | 'mobile' | 'tablet' | 'tv' | 'console' | 'wearable' | 'other';

export interface UserAgentInfo {
  browser: string | null;
  /** Major version only, e.g. `124`. */
  browserVersion: string | null;
  os: string | null;
  device: DeviceType;
}

export interface UserAgentHints {
  /** `Sec-CH-UA-Platform`, e.g. `"Windows"` (quotes allowed). */
  platform?: string | null;
  /** `Sec-CH-UA-Mobile`: `?1` / `?0`, or a boolean. */
  mobile?: string | boolean | null;
}

interface UaParserResult {
  browser: { name?: string; major?: string };
  os: { name?: string };
  device: { type?: string };
}

type UaParserCtor = new (ua: string) => { getResult(): UaParserResult };

// ua-parser-js 1.x (MIT) ships CommonJS without types; it is loaded once here.
const UAParser = createRequire(import.meta.url)('ua-parser-js') as UaParserCtor;

/** Longest user agent parsed: real ones are far shorter, and parsing cost grows with length. */
export const UA_PARSE_MAX = 512;

const CACHE_MAX = 2_000;
const cache = new Map<string, UserAgentInfo>();

const BROWSER_NAMES: Readonly<Record<string, string>> = {
  'Mobile Safari': 'Safari',
  'Mobile Firefox': 'Firefox',
  'Mobile Chrome': 'Chrome',
  'Chrome WebView': 'Chrome WebView',
  'Samsung Browser': 'Samsung Internet',
};

const OS_NAMES: Readonly<Record<string, string>> = {
  'Mac OS': 'macOS',
  'Chromium OS': 'ChromeOS',
  'Chrome OS': 'ChromeOS',
};

const HINT_PLATFORMS: Readonly<Record<string, string>> = {
  windows: 'Windows',
  macos: 'macOS',
  linux: 'Linux',
  android: 'Android',
  ios: 'iOS',
  'chrome os': 'ChromeOS',
  'chromium os': 'ChromeOS',
};

const DEVICE_TYPES: Readonly<Record<string, DeviceType>> = {
  mobile: 'mobile',
  tablet: 'tablet',
  smarttv: 'tv',
  console: 'console',
  wearable: 'wearable',
  embedded: 'other',
  xr: 'other',
};

function hintPlatform(platform: string | null | undefined): string | null {
  if (typeof platform !== 'string') return null;

  return HINT_PLATFORMS[platform.replace(/"/g, '').trim().toLowerCase()] ?? null;
}

function hintMobile(mobile: string | boolean | null | undefined): boolean {
  return mobile === true || (typeof mobile === 'string' && mobile.trim() === '?1');
}

function parse(ua: string): UserAgentInfo {
  const result = new UAParser(ua).getResult();
  const browser = result.browser.name ?? null;
  const os = result.os.name ?? null;
  const type = result.device.type;

  return {
    browser: browser === null ? null : (BROWSER_NAMES[browser] ?? browser),
    browserVersion:
      result.browser.major && /^\d{1,5}$/.test(result.browser.major) ? result.browser.major : null,
    os: os === null ? null : (OS_NAMES[os] ?? os),
    device: type === undefined ? 'desktop' : (DEVICE_TYPES[type] ?? 'other'),
  };
}

function cached(ua: string): UserAgentInfo {
  const hit = cache.get(ua);
  if (hit) return hit;

  const info = parse(ua);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(ua, info);

  return info;
}

/**
 * Parses a user agent, then lets client hints correct it: `Sec-CH-UA-Platform` names the OS when
 * the UA is reduced, and `Sec-CH-UA-Mobile: ?1` marks a phone the UA calls a desktop.
 *
 * @example
 * parseUserAgent(ua, { platform: '"Windows"', mobile: '?0' });
 * // { browser: 'Chrome', browserVersion: '124', os: 'Windows', device: 'desktop' }
 */
export function parseUserAgent(
  ua: string | null | undefined,
  hints: UserAgentHints = {},
): UserAgentInfo {
  const text = typeof ua === 'string' ? ua.trim().slice(0, UA_PARSE_MAX) : '';
  const base =
    text === ''
      ? { browser: null, browserVersion: null, os: null, device: 'other' as const }
      : cached(text);
  const os = hintPlatform(hints.platform) ?? base.os;
  const device = hintMobile(hints.mobile) && base.device === 'desktop' ? 'mobile' : base.device;

  return { browser: base.browser, browserVersion: base.browserVersion, os, device };
}
