import type { ServerResponse } from 'node:http';

/**
 * The strictest useful default for an API that serves JSON: nothing may load, frame or submit.
 * A route that serves a script or a page widens it through its own `headers`.
 */
export const DEFAULT_CSP =
  "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * Powerful browser features, all denied: nothing LightTrail serves needs a camera, a location or
 * a payment sheet, and an injected script should not get them either.
 */
const PERMISSIONS_POLICY = [
  'accelerometer',
  'autoplay',
  'browsing-topics',
  'camera',
  'display-capture',
  'encrypted-media',
  'fullscreen',
  'geolocation',
  'gyroscope',
  'hid',
  'magnetometer',
  'microphone',
  'midi',
  'payment',
  'publickey-credentials-get',
  'screen-wake-lock',
  'serial',
  'usb',
  'xr-spatial-tracking',
]
  .map((feature) => `${feature}=()`)
  .join(', ');

/**
 * Headers sent on every response, success or refusal. HSTS is two years with subdomains (the
 * preload list's floor); the rest follow the OWASP Secure Headers Project recommendations.
 * Cache-Control no-store because statistics about a clinic's visitors must not sit in a shared
 * or browser cache (HIPAA 164.312(a)); cacheable routes say so themselves.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Strict-Transport-Security': 'max-age=63072000; includeSubDomains',
  'Content-Security-Policy': DEFAULT_CSP,
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': PERMISSIONS_POLICY,
  'Cache-Control': 'no-store',
});

/**
 * The set for a route whose answers can never be a document a browser renders: a POST-only API
 * such as the collect beacon. Cross-Origin-Opener-Policy and Permissions-Policy govern documents
 * only (OWASP REST Security Cheat Sheet lists neither for APIs), so they are left out of the
 * busiest answer; everything that protects a response itself stays.
 */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(
    Object.entries(SECURITY_HEADERS).filter(
      ([name]) => name !== 'Cross-Origin-Opener-Policy' && name !== 'Permissions-Policy',
    ),
  ),
);

/**
 * Sets the security headers (`headers`, by default the full set); later `setHeader` calls (a
 * route's own headers) override them. Node adds no `Server` or `X-Powered-By` header, and nothing
 * here adds one either.
 */
export function applySecurityHeaders(
  res: ServerResponse,
  headers: Readonly<Record<string, string>> = SECURITY_HEADERS,
): void {
  for (const name in headers) res.setHeader(name, headers[name] as string);
}
