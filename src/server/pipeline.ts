import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { isLightTrailError, RequestError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { applySecurityHeaders } from './headers.js';
import type { HttpMetrics } from './http-metrics.js';
import { logRequest } from './request-log.js';
import { mapError, sendReply } from './respond.js';
import type { Router } from './router.js';

export const UNMATCHED_ROUTE = '(unmatched)';

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

/**
 * The path every request takes: security headers, request id, target parsing, routing, the
 * handler, one response format, then one log line and the metrics. Handlers only see requests
 * that routed; every refusal before them has the same body shape as theirs.
 *
 * @example
 * https.createServer(options, createRequestListener({ router, logger, metrics }));
 */
export function createRequestListener(
  options: PipelineOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void handle(options, req, res);
  };
}

/** What the pipeline knows about one request; `route` is filled in once it matched. */
interface RequestState {
  started: bigint;
  requestId: string;
  method: string;
  route: string;
}

async function handle(options: PipelineOptions, req: IncomingMessage, res: ServerResponse) {
  const state: RequestState = {
    started: process.hrtime.bigint(),
    requestId: randomUUID(),
    method: req.method ?? 'GET',
    route: UNMATCHED_ROUTE,
  };
  options.onStart?.();
  options.metrics.inFlight.inc();
  res.once('close', () => finish(options, res, state));

  applySecurityHeaders(res);
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

  const { path, query } = parseTarget(req.url ?? '');
  const found = options.router.match(state.method, path);
  if (found.kind === 'not-found') throw new RequestError('ERR_NOT_FOUND', 404, 'not found');
  if (found.kind === 'method-not-allowed') throw methodNotAllowed(state.method, found.allow);

  state.route = found.route.pattern;
  for (const [name, value] of Object.entries(found.route.options.headers ?? {})) {
    res.setHeader(name, value);
  }

  const reply = await found.route.handler({
    req,
    res,
    params: found.params,
    path,
    query,
    route: state.route,
    requestId: state.requestId,
    peerAddress: req.socket.remoteAddress,
  });
  if (reply !== undefined) sendReply(req, res, reply);
}

/** Runs once per request when its response is over, finished or cut. */
function finish(options: PipelineOptions, res: ServerResponse, state: RequestState): void {
  const seconds = Number(process.hrtime.bigint() - state.started) / 1e9;
  const { method, route, requestId } = state;
  const status = res.statusCode;

  options.metrics.inFlight.dec();
  options.metrics.requests.inc({ method, route, status });
  options.metrics.duration.observe(seconds, { method, route });
  const aborted = !res.writableFinished;
  logRequest(options.logger, {
    method,
    route,
    status,
    durationMs: seconds * 1000,
    requestId,
    aborted,
  });
  options.onEnd?.();
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
function parseTarget(target: string): { path: string; query: URLSearchParams } {
  if (!target.startsWith('/')) {
    throw new RequestError('ERR_BAD_REQUEST', 400, 'the request target must be a path');
  }

  const mark = target.indexOf('?');
  if (mark === -1) return { path: target, query: new URLSearchParams() };

  return { path: target.slice(0, mark), query: new URLSearchParams(target.slice(mark + 1)) };
}

function fail(
  options: PipelineOptions,
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  state: RequestState,
): void {
  const mapped = mapError(error);
  // The metric keeps the internal code (it is behind a token); the client saw ERR_INTERNAL.
  options.metrics.errors.inc({ code: isLightTrailError(error) ? error.code : 'ERR_INTERNAL' });
  if (mapped.internal) {
    options.logger.error('http.error', { requestId: state.requestId, route: state.route, error });
  }

  if (res.headersSent) {
    // Half an answer is already out: the only honest end is to cut the connection.
    res.destroy();
    return;
  }

  sendReply(req, res, { status: mapped.status, headers: mapped.headers, json: mapped.body });
}
