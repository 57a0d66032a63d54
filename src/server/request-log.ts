import type { Logger } from '../log/logger.js';

export interface RequestLogEntry {
  method: string;
  /** The matched pattern (`/api/sites/:siteId/stats`) or `(unmatched)`: never the raw path. */
  route: string;
  /** The status sent, or 0 (NOT_ANSWERED) when the connection ended before any answer. */
  status: number;
  /** The error code of a refusal or failure (`ERR_INVALID_JSON`): a constant, never input. */
  code?: string;
  durationMs: number;
  requestId: string;
  /** The client went away before the response was complete. */
  aborted: boolean;
}

/**
 * One line per request. Only fields that cannot carry PHI are written: a raw path or query can
 * hold a patient's e-mail (C13), and an IP address beside a clinic page is PHI in HHS's reading;
 * headers, cookies and bodies are left out for the same reason.
 */
export function logRequest(logger: Logger, entry: RequestLogEntry, quietSuccess = false): void {
  // A busy route's successes, and its rate-limit refusals (a client over its limit sends
  // thousands; the route reports them in a summary), go at debug level.
  const ok = entry.status >= 200 && entry.status < 300;
  const quiet = quietSuccess && (ok || entry.status === 429) && !entry.aborted;
  // Every beacon passes here: at the usual levels its line is dropped, so it is not built.
  if (quiet && logger.level !== 'debug') return;

  // Added one by one, not spread in: a spread among other properties is V8's slow path.
  const fields: Record<string, unknown> = {
    method: entry.method,
    route: entry.route,
    status: entry.status,
  };
  if (entry.code !== undefined) fields.code = entry.code;
  fields.durationMs = Math.round(entry.durationMs * 10) / 10;
  fields.requestId = entry.requestId;
  if (entry.aborted) fields.aborted = true;
  (quiet ? logger.debug : logger.info)('http.request', fields);
}
