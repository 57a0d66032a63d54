import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

import { isLightTrailError, RequestError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { applySecurityHeaders } from './headers.js';
import type { HttpMetrics } from './http-metrics.js';
import { logRequest } from './request-log.js';
import { mapError, sendReply } from './respond.js';
import type { Router } from './router.js';

export const UNMATCHED_ROUTE = '(unmatched)';

// The form in which Node itself recognises `Expect: 100-continue` (checkContinue).
const CONTINUE_EXPECTATION = /(?:^|\W)100-continue(?:$|\W)/i;

/** The status logged and counted for a request that ended before any answer went out. */
export const NOT_ANSWERED = 0;

export interface PipelineOptions {
  router: Router;
  logger: Logger;
  metrics: HttpMetrics;
  /** Told when a request starts and when its response is over, for the drain on shutdown. */
  onStart?: () => void;
  onEnd?: () => void;
  /** True while shutting down: answers then carry `Connection: close`. */
  isClosing?: () => boolean;
}

/** The request listener, and the way back into it for refusals decided outside a handler. */
export interface Pipeline {
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * Refuses the request whose body is still arriving on `socket` (Node's request timeout, a
   * broken chunk) through its own response, so the log and the metrics see the status sent.
   * Returns false when no request on that socket is mid-body: the caller answers on the raw
   * socket then.
   */
  refuse(socket: Socket, error: RequestError): boolean;
  /**
   * Calls `then` once no response is owed on `socket` any more, but a refused one (which carries
   * the refusal): at once when none is. Answers on one connection go out in request order (RFC
   * 9112 section 9.3.2), so a refusal of bytes read after a request waits for that request's.
   */
  whenAnswered(socket: Socket, then: () => void): void;
}

/**
 * The path every request takes: security headers, request id, target parsing, routing, the
 * handler, one response format, then one log line and the metrics. Handlers only see requests
 * that routed; every refusal before them has the same body shape as theirs.
 *
 * @example
 * const pipeline = createPipeline({ router, logger, metrics });
 * https.createServer(options, pipeline.listener);
 */
export function createPipeline(options: PipelineOptions): Pipeline {
  const connections = new WeakMap<Socket, Connection>();
  const connectionOf = (socket: Socket) => {
    const known = connections.get(socket);
    if (known !== undefined) return known;

    const opened: Connection = { open: new Set(), waiting: [] };
    connections.set(socket, opened);
    // Node emits no 'close' for a response still queued behind another (a pipelined request)
    // when the connection ends: its request would never be logged and stay in flight for good.
    socket.once('close', () => {
      for (const exchange of opened.open) over(options, opened, exchange);
    });

    return opened;
  };

  return {
    listener: (req, res) => {
      const exchange: Exchange = { req, res, state: newState(req) };
      const connection = connectionOf(req.socket);
      connection.latest = exchange;
      connection.open.add(exchange);
      res.once('close', () => over(options, connection, exchange));
      void handle(options, exchange);
    },
    refuse: (socket, error) => {
      const exchange = connections.get(socket)?.latest;
      if (exchange === undefined || exchange.req.complete || exchange.state.refused) return false;

      refuse(options, exchange, error);

      return true;
    },
    whenAnswered: (socket, then) => {
      const connection = connectionOf(socket);
      connection.waiting.push(then);
      settle(connection);
    },
  };
}

/** The requests of one connection whose responses are not over yet. */
interface Connection {
  /** The newest request: the parser reads one at a time, so only it can be mid-body. */
  latest?: Exchange;
  open: Set<Exchange>;
  /** Called once every open response is a refused one (see `whenAnswered`). */
  waiting: Array<() => void>;
}

/** Ends one request's part in its connection, once: its log line, its metrics, the waiters. */
function over(options: PipelineOptions, connection: Connection, exchange: Exchange): void {
  if (!connection.open.delete(exchange)) return;

  if (connection.latest === exchange) connection.latest = undefined;
  finish(options, exchange.res, exchange.state);
  settle(connection);
}

function settle(connection: Connection): void {
  // The usual case, every request's: nobody waits.
  if (connection.waiting.length === 0) return;

  for (const exchange of connection.open) if (!exchange.state.refused) return;

  for (const then of connection.waiting.splice(0)) then();
}

/** What the pipeline knows about one request; `route` is filled in once it matched. */
interface RequestState {
  started: bigint;
  requestId: string;
  method: string;
  route: string;
  /** Answered from outside the handler: what the handler does next no longer reaches the client. */
  refused: boolean;
  /** The security headers are on the response: a route's own set, or the full set. */
  secured: boolean;
  /** The route logs its successes at debug level. */
  quietSuccess: boolean;
  /** The error code a refusal or failure answered with, for the request's log line. */
  code?: string;
}

/** Sets the security headers once: the matched route's set, else (no route yet) the full set. */
function secure(
  res: ServerResponse,
  state: RequestState,
  headers?: Readonly<Record<string, string>>,
): void {
  if (state.secured) return;

  state.secured = true;
  applySecurityHeaders(res, headers);
}

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  state: RequestState;
}

function newState(req: IncomingMessage): RequestState {
  return {
    started: process.hrtime.bigint(),
    requestId: randomUUID(),
    method: req.method ?? 'GET',
    route: UNMATCHED_ROUTE,
    refused: false,
    secured: false,
    quietSuccess: false,
  };
}

async function handle(options: PipelineOptions, exchange: Exchange) {
  const { req, res, state } = exchange;
  options.onStart?.();
  options.metrics.inFlight.inc();

  res.setHeader('X-Request-Id', state.requestId);
  if (options.isClosing?.() === true) res.setHeader('Connection', 'close');

  try {
    await dispatch(options, req, res, state);
  } catch (error) {
    fail(options, req, res, error, state);
  }
}

async function dispatch(
  options: PipelineOptions,
  req: IncomingMessage,
  res: ServerResponse,
  state: RequestState,
): Promise<void> {
  // RFC 9112 3.2: an HTTP/1.1 request without Host is refused. Done here rather than by Node's
  // requireHostHeader, whose bare 400 would skip the security headers and the error format.
  if (req.httpVersion === '1.1' && req.headers.host === undefined) {
    throw new RequestError('ERR_BAD_REQUEST', 400, 'the Host header is required');
  }

  // Node keeps the first of two Authorization headers; a proxy in front that reads the last would
  // authorise a different credential than this server does (QA). RFC 9110 allows one.
  if (req.headers.authorization !== undefined && fieldLines(req, 'authorization') > 1) {
    throw new RequestError('ERR_BAD_REQUEST', 400, 'the Authorization header must come once');
  }

  // RFC 9110 10.1.1: 100-continue is the only expectation there is to meet; any other gets 417
  // here, in the error format and with the security headers, where Node's own 417 had neither
  // (QA). Node reads the header only on HTTP/1.1, and so does this; an empty one expects nothing.
  const expectation = req.headers.expect?.trim() ?? '';
  if (req.httpVersion === '1.1' && expectation !== '' && !CONTINUE_EXPECTATION.test(expectation)) {
    throw new RequestError(
      'ERR_EXPECTATION_FAILED',
      417,
      'the only expectation this server meets is 100-continue',
    );
  }

  const { path, query } = parseTarget(req.url ?? '');
  const found = options.router.match(state.method, path);
  if (found.kind === 'not-found') throw new RequestError('ERR_NOT_FOUND', 404, 'not found');
  if (found.kind === 'method-not-allowed') {
    state.route = found.route;
    throw methodNotAllowed(state.method, found.allow);
  }

  state.route = found.route.pattern;
  state.quietSuccess = found.route.options.quietSuccess === true;
  secure(res, state, found.route.options.securityHeaders);
  const headers = found.route.options.headers;
  for (const name in headers) res.setHeader(name, headers[name] as string);

  let parsedQuery: URLSearchParams | undefined;
  const reply = await found.route.handler({
    req,
    res,
    params: found.params,
    path,
    // Parsed on first use: most routes never read it.
    get query() {
      parsedQuery ??= new URLSearchParams(query);
      return parsedQuery;
    },
    route: state.route,
    requestId: state.requestId,
    peerAddress: req.socket.remoteAddress,
  });
  if (reply === undefined || state.refused || res.destroyed) return;

  // A request begun before the stop (its body still arriving) ends its connection too (QA).
  if (options.isClosing?.() === true) res.setHeader('Connection', 'close');
  sendReply(req, res, reply);
}

/**
 * Runs once per request when its response is over, finished or cut. The status is the one sent,
 * or 0 when the connection ended before any answer: `res.statusCode` says 200 until a handler
 * sets it, and an unanswered request must not count as a success.
 */
function finish(options: PipelineOptions, res: ServerResponse, state: RequestState): void {
  const seconds = Number(process.hrtime.bigint() - state.started) / 1e9;
  const { method, route, requestId, code } = state;
  const status = res.headersSent ? res.statusCode : NOT_ANSWERED;

  options.metrics.inFlight.dec();
  options.metrics.requests.inc({ method, route, status });
  options.metrics.duration.observe(seconds, { method, route });
  const aborted = !res.writableFinished;
  logRequest(
    options.logger,
    { method, route, status, code, durationMs: seconds * 1000, requestId, aborted },
    state.quietSuccess,
  );
  options.onEnd?.();
}

/** How many field lines named `name` (lower case) the request carried. */
function fieldLines(req: IncomingMessage, name: string): number {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]?.toLowerCase() === name) count++;
  }

  return count;
}

function methodNotAllowed(method: string, allow: string[]): RequestError {
  const headers = { Allow: allow.join(', ') };

  return new RequestError(
    'ERR_METHOD_NOT_ALLOWED',
    405,
    `${method} is not allowed here`,
    undefined,
    headers,
  );
}

/**
 * Splits an origin-form target (RFC 9112 3.2.1) into path and query. Absolute-form and `*` are
 * refused: this server is nobody's proxy, and OPTIONS preflights name a path.
 */
function parseTarget(target: string): { path: string; query: string } {
  if (!target.startsWith('/')) {
    throw new RequestError('ERR_BAD_REQUEST', 400, 'the request target must be a path');
  }

  const mark = target.indexOf('?');
  if (mark === -1) return { path: target, query: '' };

  return { path: target.slice(0, mark), query: target.slice(mark + 1) };
}

function fail(
  options: PipelineOptions,
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  state: RequestState,
): void {
  const mapped = mapError(error);
  if (state.refused) {
    // The refusal was answered and counted already; this is mostly the handler learning of it.
    if (mapped.internal) logInternal(options, error, state);
    return;
  }

  // The metric keeps the internal code (it is behind a token); the client saw ERR_INTERNAL.
  options.metrics.errors.inc({ code: isLightTrailError(error) ? error.code : 'ERR_INTERNAL' });
  if (mapped.internal) logInternal(options, error, state);

  if (res.headersSent) {
    // Half an answer is already out: the only honest end is to cut the connection.
    res.destroy();
    return;
  }

  // The client is gone: nothing can reach it, and a status set now would be logged as sent.
  if (res.destroyed) return;

  secure(res, state);
  state.code = mapped.body.error.code;
  sendReply(req, res, { status: mapped.status, headers: mapped.headers, json: mapped.body });
}

function logInternal(options: PipelineOptions, error: unknown, state: RequestState): void {
  options.logger.error('http.error', { requestId: state.requestId, route: state.route, error });
}

/**
 * Answers `error` in place of the handler and closes the connection once it is written; if the
 * handler had begun its answer, cuts the connection instead. The request is then destroyed with
 * `error`, so a handler waiting in readBody gets it rather than waiting forever: Node does not
 * end a request whose response is over.
 */
function refuse(options: PipelineOptions, exchange: Exchange, error: RequestError): void {
  const { req, res, state } = exchange;
  state.refused = true;
  options.metrics.errors.inc({ code: error.code });

  if (res.headersSent || res.destroyed) {
    req.destroy(error);
    return;
  }

  req.socket.once('close', () => req.destroy(error));
  secure(res, state);
  const mapped = mapError(error);
  state.code = mapped.body.error.code;
  res.setHeader('Connection', 'close');
  sendReply(req, res, { status: mapped.status, headers: mapped.headers, json: mapped.body });
}
