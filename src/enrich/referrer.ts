import { getDomain, parse } from 'tldts';

import { hostHasPhi } from './phi.js';

/** An external referrer reduced to where it came from: never a path, a query or a fragment. */
export interface Referrer {
  /** Lower-case ASCII host, e.g. `webmail.example`, `l.facebook.com`. */
  host: string;
  /** Registrable domain (public-suffix aware, private suffixes included), e.g. `facebook.com`. */
  domain: string;
}

const HTTP = /^https?:\/\//i;
const TLD_OPTIONS = { allowPrivateDomains: true };

/** The registrable domain of `host`, or the host itself for `localhost`-like names. */
export function registrableDomain(host: string): string {
  const clean = host.toLowerCase().replace(/\.$/, '');

  return getDomain(clean, TLD_OPTIONS) ?? clean;
}

/**
 * Reduces a referrer to its host. A referrer's path and query are where webmail and portals put
 * addresses and record numbers (C13 (d)), so they are never read. Returns `null`:
 *
 * - for anything but http and https (`javascript:`, `data:`, `android-app:`, garbage; C16 (h));
 * - for IP-literal hosts, which identify a machine, not a site;
 * - for hosts that themselves look like PHI (these two add `redacted` and `phi_detected` to
 *   `flags` when given);
 * - for same-site referrers (same registrable domain as the page): moving inside one's own site
 *   is not a traffic source, and a session must never be credited as "referral from ourselves".
 *
 * @example
 * sanitizeReferrer('https://webmail.example/?login=pat.doe@mail.test', 'portal.clinic-a.example');
 * // { host: 'webmail.example', domain: 'webmail.example' }
 */
export function sanitizeReferrer(
  raw: string | null | undefined,
  pageHost: string,
  flags?: string[],
): Referrer | null {
  if (typeof raw !== 'string' || !HTTP.test(raw.trim())) return null;

  let host: string;
  try {
    host = new URL(raw.trim()).hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return null;
  }

  // DNS names are at most 253 characters: a longer one is no site's, and each check of it costs
  // more (the spam list's, by label, grew with the square of its length: 23 ms at 8 KB, QA).
  if (host === '' || host.length > 253) return null;
  if (host.startsWith('[') || parse(host).isIp || hostHasPhi(host)) {
    // An address or PHI as the host: dropped, and counted in the site's firewall report.
    flags?.push('redacted', 'phi_detected');
    return null;
  }

  const domain = registrableDomain(host);
  if (domain === registrableDomain(pageHost)) return null;

  return { host, domain };
}
