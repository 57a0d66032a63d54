import { createHash, timingSafeEqual } from 'node:crypto';

import { RequestError } from '../errors.js';
import type { Handler } from './context.js';
import { METRICS_CONTENT_TYPE, type MetricsRegistry } from './metrics.js';

/**
 * `GET /metrics`. With a token (the HTTPS port) the caller must send `Authorization: Bearer
 * <token>`; without one (the loopback-only port) anyone who can reach 127.0.0.1 may scrape.
 * Route and error counts say nothing about patients, but they do map the deployment.
 */
export function metricsHandler(registry: MetricsRegistry, token: string | undefined): Handler {
  const expected = token === undefined ? undefined : digest(token);

  return ({ req }) => {
    if (expected !== undefined && !bearerMatches(req.headers.authorization, expected)) {
      throw new RequestError(
        'ERR_UNAUTHENTICATED',
        401,
        'a valid metrics token is required',
        undefined,
        {
          'WWW-Authenticate': 'Bearer realm="lighttrail-metrics"',
        },
      );
    }

    return {
      status: 200,
      headers: { 'Content-Type': METRICS_CONTENT_TYPE },
      body: registry.render(),
    };
  };
}

/**
 * Compares digests, not the strings: equal lengths for `timingSafeEqual`, and the time taken says
 * nothing about how many leading characters of a guess were right.
 */
function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header ?? '');
  const presented = digest(match?.[1] ?? '');

  return timingSafeEqual(presented, expected) && match !== null;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
