import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a route handler gets for one request. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Values of the pattern's `:name` segments, percent-decoded. */
  params: Record<string, string>;
  /** The path as sent, without the query; percent-encoding kept. May carry PHI: never log. */
  path: string;
  /** The parsed query string. May carry PHI: never log. */
  query: URLSearchParams;
  /** The matched pattern, e.g. `/api/sites/:siteId/stats`: the only form of the path logged. */
  route: string;
  /** Random per request, sent back as `X-Request-Id` and written on every log line about it. */
  requestId: string;
  /** The socket's remote address. Held in memory for the request only: never log or store it. */
  peerAddress: string | undefined;
}

/** A handler's answer; the app serialises it and adds the security headers. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** Serialised as JSON with `Content-Type: application/json; charset=utf-8`. */
  json?: unknown;
  /** Sent as is; a string defaults to `Content-Type: text/plain; charset=utf-8`. */
  body?: string | Buffer;
}

/** `undefined` means the handler wrote the response itself (a stream, for instance). */
export type Handler = (ctx: RequestContext) => Promise<Reply | undefined> | Reply | undefined;
