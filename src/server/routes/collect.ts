import type { Collector } from '../../collect/collector.js';
import type { Config } from '../../config/settings.js';
import type { Handler, Reply } from '../context.js';
import { readBody } from '../body.js';

// The collect endpoint is called from every page of a customer's site: cross-origin by design.
export const COLLECT_HEADERS = {
  'Cross-Origin-Resource-Policy': 'cross-origin',
  Vary: 'Origin',
};

/** The actual POST's answer: only the origin matters to the browser there (Fetch, CORS check). */
function allowOrigin(origin: string | null): Record<string, string> {
  return origin === null ? {} : { 'Access-Control-Allow-Origin': origin };
}

/** The preflight's answer: what the POST may carry, and for how long that holds. */
function preflight(origin: string | null): Record<string, string> {
  return origin === null
    ? {}
    : {
        ...allowOrigin(origin),
        'Access-Control-Allow-Methods': 'POST',
        'Access-Control-Allow-Headers': 'Content-Type',
        'Access-Control-Max-Age': '600',
      };
}

/**
 * `POST /api/collect`: one event or a batch, as text/plain (sendBeacon) or application/json.
 * 200 means every accepted event is committed to disk; nothing is acknowledged before that.
 */
export function collectRoute(
  collector: Collector,
  config: Pick<Config, 'collectMaxBody'>,
): Handler {
  return async (ctx): Promise<Reply> => {
    // Before the body is read: a client that sent `Expect: 100-continue` is not asked for it.
    collector.checkBodyHeaders(ctx.req.headers);
    const body = await readBody(ctx.req, config.collectMaxBody);
    const origin = typeof ctx.req.headers.origin === 'string' ? ctx.req.headers.origin : undefined;
    const result = await collector.collect({
      body,
      origin,
      peerAddress: ctx.peerAddress,
      headers: ctx.req.headers,
    });

    return {
      status: 200,
      headers: allowOrigin(result.allowOrigin),
      json: { ok: true, stored: result.stored, filtered: result.filtered },
    };
  };
}

/**
 * The CORS preflight. The tracker sends text/plain, which needs none, but a page calling the
 * endpoint with application/json does. It names no site, so an origin on any site's domains is
 * answered with the POST's terms and any other gets none (fresh-clone QA: every origin was
 * echoed); the POST itself is then checked against its own site's domains.
 */
export function collectPreflight(collector: Collector): Handler {
  return (ctx): Reply => {
    const origin = ctx.req.headers.origin;

    return { status: 204, headers: preflight(collector.preflightOrigin(origin)) };
  };
}
