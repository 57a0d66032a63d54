import {
  createServer as createHttpServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { Server as NetServer, type Socket } from 'node:net';

import type { Config } from '../config/settings.js';
import { ConfigError, RequestError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { continueWhenRead } from './body.js';
import { SECURITY_HEADERS } from './headers.js';
import { createHttpMetrics, type HttpMetrics } from './http-metrics.js';
import { metricsHandler } from './metrics-endpoint.js';
import type { MetricsRegistry } from './metrics.js';
import { createPipeline, NOT_ANSWERED, type Pipeline } from './pipeline.js';
import { createRouter, type Router } from './router.js';
import { tlsServerOptions, type TlsMaterial } from './tls.js';

/**
 * Limits against slow clients (slowloris and slow-body attacks hold sockets open cheaply). Node
 * checks the header and request timeouts every `checkIntervalMs`, so that bounds their precision.
 * `lingerMs` is how long a refused client's socket may take to flush the refusal before it is cut:
 * a client that never reads, or never closes its side, must not keep it longer.
 */
export interface ServerTimeouts {
  handshakeMs: number;
  headersMs: number;
  requestMs: number;
  keepAliveMs: number;
  idleMs: number;
  checkIntervalMs: number;
  lingerMs: number;
}

export const DEFAULT_TIMEOUTS: Readonly<ServerTimeouts> = Object.freeze({
  handshakeMs: 10_000,
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 5_000,
  idleMs: 60_000,
  checkIntervalMs: 1_000,
  lingerMs: 1_000,
});

export type ServerConfig = Pick<
  Config,
  'host' | 'port' | 'metricsPort' | 'metricsToken' | 'shutdownTimeoutMs'
>;

export interface CreateServerOptions {
  config: ServerConfig;
  logger: Logger;
  /** The product routes; `/healthz`, `/readyz` and (with a token) `/metrics` are added to it. */
  router: Router;
  metrics: MetricsRegistry;
  tls: TlsMaterial;
  /** Readiness: the store is open, the queue runs. Absent means ready once listening. */
  isReady?: () => boolean;
  timeouts?: Partial<ServerTimeouts>;
}

export interface LightTrailServer {
  /** Starts the HTTPS listener (and the loopback metrics listener when metricsPort > 0). */
  listen(): Promise<{ port: number; metricsPort: number | undefined }>;
  /** Stops accepting, drains in-flight requests, then cuts what is left after the timeout. */
  close(): Promise<void>;
  /** Requests being handled right now. */
  inFlight(): number;
  /** Sockets open on the HTTPS port, handshakes included: what slow clients are holding. */
  connections(): number;
}

/**
 * The HTTPS-only server. There is no plain-HTTP listener for the product: TLS is the first guard
 * of every path (HIPAA 164.312(e)(1), transmission security), and the only plain listener serves
 * metrics on 127.0.0.1.
 *
 * @example
 * const server = createServer({ config, logger, router, metrics, tls });
 * const { port } = await server.listen();
 * process.once('SIGTERM', () => void server.close());
 */
export function createServer(options: CreateServerOptions): LightTrailServer {
  const { config, logger, router, metrics } = options;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const httpMetrics = createHttpMetrics(metrics);
  const sockets = new Set<Socket>();
  let active = 0;
  let closing = false;
  let closed: Promise<void> | undefined;
  let listened = false;

  addProbes(router, () => !closing && (options.isReady?.() ?? true), logger);
  if (config.metricsToken !== undefined) {
    router.add('GET', '/metrics', metricsHandler(metrics, config.metricsToken));
  }

  const pipeline = createPipeline({
    router,
    logger,
    metrics: httpMetrics,
    onStart: () => active++,
    onEnd: () => {
      active--;
    },
    isClosing: () => closing,
  });
  const https = createHttpsServer(
    {
      ...tlsServerOptions(options.tls),
      handshakeTimeout: timeouts.handshakeMs,
      ...httpServerOptions(timeouts),
    },
    pipeline.listener,
  );
  guard(https, { timeouts, logger, pipeline, metrics: httpMetrics }, sockets);

  const metricsServer =
    config.metricsPort > 0
      ? createMetricsServer(metrics, httpMetrics, logger, timeouts)
      : undefined;

  return {
    async listen() {
      const port = await listenOn(https, config.port, config.host, 'LIGHTTRAIL_PORT');
      listened = true;
      logger.info('server.listening', { port, protocol: 'https' });

      if (metricsServer === undefined) return { port, metricsPort: undefined };

      const metricsPort = await listenOn(
        metricsServer,
        config.metricsPort,
        '127.0.0.1',
        'LIGHTTRAIL_METRICS_PORT',
      );
      logger.info('server.metrics_listening', { port: metricsPort, protocol: 'http' });

      return { port, metricsPort };
    },
    close() {
      closing = true;
      closed ??= Promise.all([
        drain(https, sockets, config.shutdownTimeoutMs, logger, () => active),
        metricsServer === undefined ? undefined : stop(metricsServer),
      ]).then(() => {
        // A server whose port was refused closed nothing: the refusal is the only word on it.
        if (listened) logger.info('server.closed');
      });

      return closed;
    },
    inFlight: () => active,
    connections: () => sockets.size,
  };
}

function httpServerOptions(timeouts: ServerTimeouts) {
  return {
    headersTimeout: timeouts.headersMs,
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    connectionsCheckingInterval: timeouts.checkIntervalMs,
    // Checked by the pipeline instead, so the refusal has the usual headers and body.
    requireHostHeader: false,
  };
}

function addProbes(router: Router, ready: () => boolean, logger: Logger): void {
  router.add('GET', '/healthz', () => ({ status: 200, json: { status: 'ok' } }));
  router.add('GET', '/readyz', () => {
    let isReady = false;
    try {
      isReady = ready();
    } catch (error) {
      logger.error('server.readiness_check_failed', { error });
    }

    return isReady
      ? { status: 200, json: { status: 'ready' } }
      : { status: 503, json: { status: 'not_ready' } };
  });
}

interface Guarded {
  timeouts: ServerTimeouts;
  logger: Logger;
  pipeline: Pipeline;
  metrics: HttpMetrics;
}

/** Limits, raw-socket tracking for the shutdown deadline, uniform answers to broken requests. */
function guard(server: Server, guarded: Guarded, sockets?: Set<Socket>) {
  const { timeouts, logger } = guarded;
  server.maxHeadersCount = 100;
  server.timeout = timeouts.idleMs;
  // Node would answer `Expect: 100-continue` at once; the body's reader decides instead.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    continueWhenRead(req, () => res.writeContinue());
    guarded.pipeline.listener(req, res);
  });
  // Any other expectation: the pipeline refuses it with its 417 (Node would send a bare one).
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    guarded.pipeline.listener(req, res);
  });

  if (sockets !== undefined) {
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
  }

  // Handshake failures (plain HTTP on this port, TLS 1.0, a CBC-only client) end the socket; the
  // code is enough to diagnose, the peer's address is not ours to log.
  server.on('tlsClientError', (error: NodeJS.ErrnoException) => {
    logger.debug('tls.handshake_failed', { code: error.code });
  });
  // Node's parser gives the same error again for every read after the first: one answer is due.
  const refusing = new WeakSet<Socket>();
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    logger.debug('http.client_error', { code: error.code });
    if (refusing.has(socket)) return;

    refusing.add(socket);
    answerBrokenRequest(error, socket, guarded);
  });
}

/** Node's refusals that have a status (and a code) of their own; anything else is a 400. */
const BROKEN_REQUEST: Readonly<Record<string, { status: number; code: ErrorCode }>> = {
  HPE_HEADER_OVERFLOW: { status: 431, code: 'ERR_HEADERS_TOO_LARGE' },
  // Over 16 KB of chunk extensions: Node's own answer is 413 too.
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, code: 'ERR_PAYLOAD_TOO_LARGE' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'ERR_REQUEST_TIMEOUT' },
};

/**
 * Node's parser refused the request, or its headers or body took too long: answer in the same
 * format and with the same headers as everything else, then let the socket go. A request already
 * in a handler is answered through the pipeline, so its log line and metrics carry the status
 * sent. Taking a listener on `clientError` makes the socket ours to close (Node no longer does),
 * and an `end()` alone only half-closes it: a client that ignores the answer and keeps writing
 * would hold it for good. So the socket is destroyed once the answer is flushed, and at the
 * latest `lingerMs` after its turn came.
 */
function answerBrokenRequest(error: NodeJS.ErrnoException, socket: Socket, guarded: Guarded) {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }

  const refusal = brokenRequest(error.code);
  const throughPipeline = guarded.pipeline.refuse(socket, refusal);
  // Nothing after the broken bytes can be parsed: reading on would only repeat the error.
  socket.pause();
  // RFC 9112 9.3.2: requests read before the broken bytes are answered first, in order (their
  // events may be stored already); the refusal written now would cut them off or land inside one.
  guarded.pipeline.whenAnswered(socket, () => {
    cutAfter(socket, guarded.timeouts.lingerMs);
    if (!throughPipeline) answerRaw(socket, refusal, error.code, guarded);
  });
}

function brokenRequest(parserCode: string | undefined): RequestError {
  const { status, code } = BROKEN_REQUEST[parserCode ?? ''] ?? {
    status: 400,
    code: 'ERR_BAD_REQUEST',
  };

  // No cause: Node's parser errors carry the raw bytes read, headers and all.
  return new RequestError(code, status, STATUS_CODES[status] ?? 'Bad Request');
}

/** The refusal of bytes that never became a request: written on the socket itself. */
function answerRaw(
  socket: Socket,
  refusal: RequestError,
  parserCode: string | undefined,
  guarded: Guarded,
) {
  // The connection can have ended while earlier answers went out (the client left, or its last
  // request asked to close); then Node or the cut closes it, and nothing is sent. Still owned by
  // a response would mean one the pipeline never saw: the refusal must not land inside it.
  const owned = Boolean((socket as Socket & { _httpMessage?: unknown })._httpMessage);
  const sendable = socket.writable && !owned;
  const status = sendable ? refusal.status : NOT_ANSWERED;
  guarded.metrics.errors.inc({ code: refusal.code });
  // No request line to log (none was parsed): this one stands for it, at the same level.
  guarded.logger.info('http.refused', { status, code: refusal.code, parser: parserCode });
  if (!sendable) return;

  socket.write(rawAnswer(refusal.status, refusal.code, refusal.message));
  socket.destroySoon();
}

function rawAnswer(status: number, code: ErrorCode, message: string): string {
  const body = JSON.stringify({ error: { code, message } });
  const headers = {
    ...SECURITY_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
  };
  const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);

  return `HTTP/1.1 ${status} ${message}\r\n${head.join('')}\r\n${body}`;
}

/** Destroys `socket` after `ms` unless it closed first; never keeps the process alive. */
function cutAfter(socket: Socket, ms: number): void {
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

function createMetricsServer(
  registry: MetricsRegistry,
  httpMetrics: ReturnType<typeof createHttpMetrics>,
  logger: Logger,
  timeouts: ServerTimeouts,
): Server {
  const router = createRouter().add('GET', '/metrics', metricsHandler(registry, undefined));
  const pipeline = createPipeline({ router, logger, metrics: httpMetrics });
  const server = createHttpServer(httpServerOptions(timeouts), pipeline.listener);
  guard(server, { timeouts, logger, pipeline, metrics: httpMetrics });

  return server;
}

/** Listens, refusing as `lighttrail start` reports it: ERR_PORT_IN_USE or ERR_CONFIG_INVALID. */
/** The setting that names the address a port setting listens on. */
function hostSetting(portSetting: string): string {
  return portSetting === 'LIGHTTRAIL_PORT' ? 'LIGHTTRAIL_HOST' : `${portSetting} (its host)`;
}

export async function listenOn(server: NetServer, port: number, host: string, setting: string) {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      // Another server holds the port: the setting is fine, something is in the way (exit 1).
      // Any other refusal (a privileged port, an address not on this machine) is the setting's.
      const inUse = error.code === 'EADDRINUSE';
      // An address this machine does not have is the host's fault, not the port's (QA).
      const message =
        error.code === 'EADDRNOTAVAIL'
          ? `${hostSetting(setting)}: ${host} is not an address of this machine (${error.code})`
          : `${setting}: cannot listen on port ${port} (${error.code})`;
      reject(new ConfigError(inUse ? 'ERR_PORT_IN_USE' : 'ERR_CONFIG_INVALID', message, error));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });

  const address = server.address();

  return typeof address === 'object' && address !== null ? address.port : port;
}

/**
 * How long a stopping server still answers requests on keep-alive connections it has open. A
 * client may have sent its next request on such a connection before it could learn of the
 * stop: closing the connection at once answered that request with a reset, which a beacon does
 * not retry (fresh-clone QA). Each answer in this time carries `Connection: close`.
 */
const KEEP_ALIVE_GRACE_MS = 1_000;

/**
 * Graceful stop: refuse new connections now; for `KEEP_ALIVE_GRACE_MS` go on answering what
 * arrives on open connections, every answer closing its connection; then close the idle ones
 * and let in-flight requests finish; after `timeoutMs` cut every socket still open, including
 * ones stuck in a TLS handshake.
 */
async function drain(
  server: Server,
  sockets: Set<Socket>,
  timeoutMs: number,
  logger: Logger,
  inFlight: () => number,
): Promise<void> {
  if (!server.listening) return;

  await new Promise<void>((resolve) => {
    const deadline = setTimeout(() => {
      logger.warn('server.shutdown_timeout', { inFlight: inFlight(), sockets: sockets.size });
      for (const socket of sockets) socket.destroy();
    }, timeoutMs);
    deadline.unref();
    const grace = setTimeout(
      () => server.closeIdleConnections(),
      Math.min(KEEP_ALIVE_GRACE_MS, timeoutMs),
    );

    // The listener alone: Node's own `close()` also closes idle keep-alive connections at once.
    NetServer.prototype.close.call(server, () => {
      clearTimeout(deadline);
      clearTimeout(grace);
      resolve();
    });
  });
}

async function stop(server: Server): Promise<void> {
  if (!server.listening) return;

  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
