import type { IncomingMessage, ServerResponse } from 'node:http';

import {
  isLightTrailError,
  RequestError,
  type ErrorCode,
  type LightTrailError,
} from '../errors.js';
import type { Reply } from './context.js';

/** The one error body: `{"error":{"code":"ERR_...","message":"..."}}`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export interface MappedError {
  status: number;
  body: ErrorBody;
  /** The error's own headers (Retry-After, Allow, WWW-Authenticate); none when internal. */
  headers: Record<string, string> | undefined;
  /** True when the failure is ours (5xx) and belongs in the error log. */
  internal: boolean;
}

/**
 * Turns anything a handler threw into a status and a body a client may see. A 4xx carries its
 * code and message. A 503 keeps its code (ERR_QUEUE_FULL, ERR_SHUTTING_DOWN tell a tracker to back
 * off) with a fixed message; every other 5xx is `ERR_INTERNAL` / `internal error`: exception text
 * can name a file, a table or a patient, and stays in the (redacted) log.
 */
export function mapError(error: unknown): MappedError {
  if (!isExposed(error)) return INTERNAL;

  const message = error.status === 503 ? 'service unavailable' : error.message;
  const body: ErrorBody = { error: { code: error.code, message } };

  return { status: error.status, body, headers: error.headers, internal: false };
}

function isExposed(error: unknown): error is LightTrailError {
  if (!isLightTrailError(error)) return false;

  // A client's refusals, and the two server answers that are about the request or the moment,
  // not a fault: 501 (a transfer coding this server does not take) and 503 (try again).
  if ((error.status >= 400 && error.status < 500) || error.status === 503) return true;

  return error instanceof RequestError && error.status === 501;
}

const INTERNAL: MappedError = {
  status: 500,
  body: { error: { code: 'ERR_INTERNAL', message: 'internal error' } },
  headers: undefined,
  internal: true,
};

/** Serialises a handler's reply; the security headers are already on `res`. */
export function sendReply(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
  if (!Number.isInteger(reply.status) || reply.status < 100 || reply.status > 599) {
    throw new TypeError(`handler answered an invalid status: ${reply.status}`);
  }

  let body: string | Buffer | undefined;
  let type: string | undefined;
  if (reply.json !== undefined) {
    body = JSON.stringify(reply.json);
    type = 'application/json; charset=utf-8';
  } else if (reply.body !== undefined) {
    body = reply.body;
    type = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream';
  }

  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);

  if (type !== undefined && !res.hasHeader('Content-Type')) res.setHeader('Content-Type', type);
  if (body !== undefined) res.setHeader('Content-Length', Buffer.byteLength(body));

  closeIfBodyUnread(req, res);
  res.writeHead(reply.status);
  res.end(body);
}

/**
 * An answer given before the request body was read in full (a 413, a refusal before reading)
 * closes the connection: the unread rest must not be parsed as the next request, and an endless
 * upload must not keep the socket.
 */
function closeIfBodyUnread(req: IncomingMessage, res: ServerResponse): void {
  const hasBody =
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
  if (hasBody && !req.complete) res.setHeader('Connection', 'close');
}
