import { domainToASCII } from 'node:url';

import { getPublicSuffix } from 'tldts';

import { RequestError } from '../errors.js';
import { isBuiltInSensitive } from './sensitive-names.js';

/** How precise stored geography may be. `safe-harbor` keeps no unit smaller than a US state. */
export type GeoPrecision = 'city' | 'region' | 'safe-harbor' | 'country' | 'none';

export const GEO_PRECISIONS: readonly GeoPrecision[] = [
  'city',
  'region',
  'safe-harbor',
  'country',
  'none',
];

/**
 * A site's collection and privacy settings. Stored as JSON in the control database; every value
 * is checked by `validateSiteSettings` before it is written.
 *
 * Path patterns (`pathRules`, `countOnly`) are absolute paths where `*` matches exactly one
 * segment and a trailing `**` matches any rest: `/patients/*` or `/portal/**`.
 */
export interface SiteSettings {
  /** Hostnames allowed to send events; `*.example.org` also allows every subdomain. */
  domains: string[];
  /** IANA time zone in which days are counted. */
  timeZone: string;
  /** Query parameters kept with their value, beyond the built-in UTM and click-id set. */
  queryAllowlist: string[];
  /** Parameters always redacted, even when allowlisted. */
  sensitiveParams: string[];
  /** Segments matched by `*` in these patterns are stored as `:id`. */
  pathRules: string[];
  /** Collapse numeric, UUID and long hex segments to `:id`. */
  collapseIds: boolean;
  /** Sections counted only: path reduced to the pattern; no query, referrer, title or props. */
  countOnly: string[];
  geoPrecision: GeoPrecision;
  respectGpc: boolean;
  respectDnt: boolean;
  pageTitles: boolean;
  keepFragments: boolean;
}

export const DEFAULT_SITE_SETTINGS: Readonly<SiteSettings> = Object.freeze({
  domains: [],
  timeZone: 'UTC',
  queryAllowlist: [],
  sensitiveParams: [],
  pathRules: [],
  collapseIds: true,
  countOnly: [],
  geoPrecision: 'region',
  respectGpc: true,
  respectDnt: true,
  pageTitles: false,
  keepFragments: false,
});

export interface Site {
  id: string;
  tenantId: string;
  name: string;
  settings: SiteSettings;
  createdAt: number;
}

/** One DNS label: letters, digits and inner hyphens, at most 63 characters. */
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOSTNAME = new RegExp(`^(\\*\\.)?(?=.{1,253}$)(${LABEL})(\\.${LABEL})*$`);
const PARAM = /^[A-Za-z0-9_.[\]-]{1,64}$/;
const PARAM_EXPECTED = 'a parameter name of 1 to 64 letters, digits, _ . - [ or ]';
const PATTERN = /^\/[^\s?#]{0,255}$/;

function bad(field: string, reason: string): RequestError {
  return new RequestError('ERR_INVALID_ARGUMENT', 400, `${field}: ${reason}`);
}

function stringList(
  field: string,
  value: unknown,
  check: RegExp,
  max = 100,
  expected?: string,
): string[] {
  if (!Array.isArray(value)) throw bad(field, 'must be a list');
  if (value.length > max) throw bad(field, `at most ${max} entries`);

  return value.map((item) => {
    if (typeof item !== 'string' || !check.test(item)) {
      throw bad(field, `"${String(item)}" is not valid${expected ? `: ${expected}` : ''}`);
    }

    return item;
  });
}

/**
 * Parameter names, each once as written first: names match in any case, so `q,Q,q` is `q`
 * (QA: the three were stored).
 */
function paramList(field: string, value: unknown): string[] {
  const seen = new Set<string>();

  return stringList(field, value, PARAM, 100, PARAM_EXPECTED).filter((name) => {
    const key = name.toLowerCase();
    if (seen.has(key)) return false;

    seen.add(key);

    return true;
  });
}

/**
 * Parameters whose values are kept. A name whose value is always `[redacted]` (`email`,
 * `patient_first_name`, QA) would be accepted and never kept: refused, saying why.
 */
function allowList(value: unknown): string[] {
  const names = paramList('queryAllowlist', value);
  for (const name of names) {
    if (isBuiltInSensitive(name)) {
      throw bad(
        'queryAllowlist',
        `"${name}" is a sensitive name: its value is always [redacted], allowlisted or not`,
      );
    }
  }

  return names;
}

/**
 * A domain as pages report it: host names are case-insensitive, a final dot names the same host
 * and an international name is stored as punycode, as page hostnames are (src/enrich/url.ts).
 * Anything that is not a string, or not a name, is left for the check to refuse as written.
 */
function normaliseDomain(item: unknown): unknown {
  if (typeof item !== 'string') return item;

  const wildcard = item.startsWith('*.');
  const name = (wildcard ? item.slice(2) : item).toLowerCase().replace(/\.$/, '');
  const ascii = domainToASCII(name);

  return ascii === '' ? item : `${wildcard ? '*.' : ''}${ascii}`;
}

/**
 * Path patterns: each segment a literal, `*` for one whole segment, or a final `**` for any rest.
 * `/portal/***` or `/a*b` would match nothing and silently protect nothing, so they are refused.
 */
function patternList(field: string, value: unknown): string[] {
  for (const item of Array.isArray(value) ? value : []) {
    if (typeof item === 'string' && !item.startsWith('/')) {
      throw bad(field, `"${item}" is not valid: a pattern is a path from the root (/portal/**)`);
    }
  }

  const patterns = stringList(
    field,
    value,
    PATTERN,
    100,
    'a path of at most 256 characters, with no white space, ? or #',
  ).map((pattern) => {
    const segments = pattern.split('/').filter((segment) => segment !== '');
    segments.forEach((segment, i) => {
      // Pages are matched with `.` and `..` resolved: a pattern holding one matches nothing.
      if (segment === '.' || segment === '..') {
        throw bad(field, `"${pattern}" is not valid: write the path without . or .. segments`);
      }

      // Pages are matched decoded: `%2A` would only ever match a page whose path says `%2A`.
      if (/%[0-9A-Fa-f]{2}/.test(segment)) {
        throw bad(
          field,
          `"${pattern}" is not valid: write the path as it reads, without percent escapes`,
        );
      }

      const wildcard = segment === '*' || (segment === '**' && i === segments.length - 1);
      if (segment.includes('*') && !wildcard) {
        throw bad(
          field,
          `"${pattern}" is not valid: * stands for one whole segment, ** only for the rest ` +
            'at the end (/patients/*, /portal/**)',
        );
      }
    });

    // Stored as it matches: `//portal//**/` is `/portal/**`, whose pages show as `/portal/*`.
    return `/${segments.join('/')}`;
  });

  return [...new Set(patterns)];
}

/**
 * Path rules hide what their `*` segments match; a final `**` lets a rule apply under any deeper
 * path, whose rest is kept. A rule without a `*` would hide nothing at all: refused, with the way
 * to hide a whole section.
 */
function pathRuleList(value: unknown): string[] {
  const rules = patternList('pathRules', value);
  for (const rule of rules) {
    if (!rule.split('/').includes('*')) {
      throw bad(
        'pathRules',
        `"${rule}" hides nothing: a path rule stores the segments its * matches as :id ` +
          '(/patients/*); to keep a whole section out, make it count-only',
      );
    }
  }

  return rules;
}

function flag(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw bad(field, 'must be true or false');

  return value;
}

/** Longest name of an organisation or a site, in characters. */
export const NAME_MAX = 200;

// Control characters, line and paragraph separators and the bidirectional overrides: in a name
// they rewrite a terminal (`\e]0;...\a` retitles it, `\e[2J` clears it), break the line-based
// output of `site list`, or show a name reversed (fifteenth session's QA).
// Format characters too (zero-width space, byte order mark, soft hyphen, direction marks): two
// names that look the same must be the same (final QA). Not the joiners emoji and Persian need.
const NAME_FORBIDDEN = /[\p{Cc}\u2028\u2029]|(?![\u200c\u200d])\p{Cf}/u;

/**
 * An organisation's or a site's name as given, its ends trimmed; refused with
 * ERR_INVALID_ARGUMENT when empty, longer than NAME_MAX or holding a character that controls
 * how text is shown.
 */
export function validateName(field: string, name: string): string {
  const trimmed = name.trim();
  if (trimmed === '') throw bad(field, 'must not be empty');
  if ([...trimmed].length > NAME_MAX) throw bad(field, `must be at most ${NAME_MAX} characters`);
  if (NAME_FORBIDDEN.test(trimmed)) {
    throw bad(field, 'must not hold control, invisible or direction characters, nor line breaks');
  }

  return trimmed;
}

export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });

    return true;
  } catch {
    return false;
  }
}

/**
 * Merges `patch` over `base` and checks every field. Unknown fields are refused so a typo never
 * silently leaves a privacy setting at its default.
 */
export function validateSiteSettings(
  patch: Record<string, unknown>,
  base: SiteSettings = DEFAULT_SITE_SETTINGS,
): SiteSettings {
  const known = Object.keys(DEFAULT_SITE_SETTINGS);
  for (const key of Object.keys(patch)) {
    if (!known.includes(key)) throw bad(key, 'unknown setting');
  }

  const merged = { ...base, ...patch } as Record<string, unknown>;
  const timeZone = merged.timeZone;
  if (typeof timeZone !== 'string' || !isTimeZone(timeZone)) {
    throw bad('timeZone', `"${String(timeZone)}" is not an IANA time zone`);
  }

  const geoPrecision = merged.geoPrecision;
  if (!GEO_PRECISIONS.includes(geoPrecision as GeoPrecision)) {
    throw bad('geoPrecision', `must be one of ${GEO_PRECISIONS.join(', ')}`);
  }

  // Each domain once, as written first (`www.a.example` and `WWW.A.example.` are one).
  const domains = [
    ...new Set(
      stringList(
        'domains',
        Array.isArray(merged.domains) ? merged.domains.map(normaliseDomain) : merged.domains,
        HOSTNAME,
        100,
        'a host name such as www.clinic.example, or *.clinic.example for its subdomains',
      ),
    ),
  ];
  if (domains.length === 0 && patch.domains !== undefined) {
    throw bad('domains', 'at least one domain is needed, or every event would be refused');
  }

  for (const domain of domains) {
    // `*.com` or `*.co.uk` would let any site on the public suffix send events as this one.
    const base = domain.startsWith('*.') ? domain.slice(2) : null;
    if (base !== null && getPublicSuffix(base, { allowPrivateDomains: true }) === base) {
      throw bad('domains', `"${domain}" covers a whole public suffix`);
    }
  }

  return Object.freeze({
    domains,
    // As the time zone database spells it: `america/new_york` is stored `America/New_York`.
    timeZone: new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone,
    queryAllowlist: allowList(merged.queryAllowlist),
    sensitiveParams: paramList('sensitiveParams', merged.sensitiveParams),
    pathRules: pathRuleList(merged.pathRules),
    collapseIds: flag('collapseIds', merged.collapseIds),
    countOnly: patternList('countOnly', merged.countOnly),
    geoPrecision: geoPrecision as GeoPrecision,
    respectGpc: flag('respectGpc', merged.respectGpc),
    respectDnt: flag('respectDnt', merged.respectDnt),
    pageTitles: flag('pageTitles', merged.pageTitles),
    keepFragments: flag('keepFragments', merged.keepFragments),
  });
}

/** True when `hostname` is one of the site's allowed domains (wildcards included). */
export function hostAllowed(settings: SiteSettings, hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');

  return settings.domains.some((domain) =>
    domain.startsWith('*.')
      ? host === domain.slice(2) || host.endsWith(domain.slice(1))
      : host === domain,
  );
}
