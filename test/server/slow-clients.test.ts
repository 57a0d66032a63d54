import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readBody } from '../../src/server/body.js';
import { requestLines, startTestServer, type TestServer } from './fixture.js';

/** Short limits so that each case settles in about a second; Node checks every 100 ms. */
const TIMEOUTS = { headersMs: 600, requestMs: 1200, checkIntervalMs: 100, lingerMs: 400 };

/** How long a client may wait for the server to let go, counted from the first byte it sent. */
const LIMIT_MS = 5000;

interface SlowClientResult {
  /** Everything the server sent (nothing for a client that does not read). */
  text: string;
  /** Milliseconds from the first byte sent to the socket's close; undefined if still open. */
  closedAfterMs: number | undefined;
}

interface SlowClientOptions {
  head: string;
  /** Written every `everyMs` until the socket is gone. */
  drip: string;
  everyMs?: number;
  /** False: the client never reads, so the server's answer sits unread in its buffers. */
  reads?: boolean;
  afterHead?: (socket: tls.TLSSocket) => void;
}

/**
 * A client that sends `head`, then `drip` every `everyMs`, and keeps going whatever the server
 * says: it ignores the server's close (half-open) and only stops when its socket is gone or
 * after LIMIT_MS. What a slowloris or slow-body attacker does.
 */
function slowClient(server: TestServer, client: SlowClientOptions): Promise<SlowClientResult> {
  return new Promise((resolve) => {
    let text = '';
    let started = 0;
    let timer: NodeJS.Timeout | undefined;
    // Node honours allowHalfOpen here; its TLS typings leave it out.
    const options: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
      host: '127.0.0.1',
      port: server.port,
      servername: 'localhost',
      ca: server.ca,
      allowHalfOpen: true,
    };
    const socket = tls.connect(options, () => {
      started = Date.now();
      if (client.reads === false) socket.pause();
      socket.write(client.head);
      client.afterHead?.(socket);
      timer = setInterval(() => {
        if (!socket.destroyed) socket.write(client.drip);
      }, client.everyMs ?? 150);
    });
    const limit = setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      resolve({ text, closedAfterMs: undefined });
    }, LIMIT_MS);

    if (client.reads !== false) {
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
      });
    }

    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(limit);
      resolve({ text, closedAfterMs: Date.now() - started });
    });
  });
}

function statusOf(text: string): number {
  return Number(text.split('\r\n')[0]?.split(' ')[1]);
}

function bodyOf(text: string): unknown {
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
}

/** The value of `lighttrail_http_requests_total` for one route and status, 0 when absent. */
function requestsTotal(server: TestServer, route: string, status: string): number {
  const line = server.metrics
    .render()
    .split('\n')
    .find(
      (candidate) =>
        candidate.startsWith('lighttrail_http_requests_total{') &&
        candidate.includes(`route="${route}"`) &&
        candidate.includes(`status="${status}"`),
    );

  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

/** Waits until the server holds no socket any more, up to `withinMs`; returns the count left. */
async function connectionsAfter(server: TestServer, withinMs: number): Promise<number> {
  const deadline = Date.now() + withinMs;
  while (server.connections() > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  return server.connections();
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 100));
}

const SLOW_HEAD = 'POST /api/collect HTTP/1.1\r\nHost: localhost\r\n';

const SLOW_BODY_HEAD =
  'POST /api/collect HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n' +
  'Content-Length: 1000\r\n\r\n';

describe('slow clients that ignore the refusal', () => {
  let server: TestServer;
  /** What readBody threw in each handler, as `code/status`. */
  const rejections: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  const readAndRecord = async (req: Parameters<typeof readBody>[0]) => {
    try {
      return await readBody(req, 4096);
    } catch (error) {
      const { code, status } = error as { code?: string; status?: number };
      rejections.push(`${code}/${status}`);
      throw error;
    }
  };

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    server = await startTestServer({
      timeouts: TIMEOUTS,
      routes: (router) => {
        router.add('POST', '/api/collect', async ({ req }) => {
          const body = await readAndRecord(req);

          return { status: 200, json: { bytes: body.length } };
        });
        // Answers before reading: the status is on the wire when the body times out.
        router.add('POST', '/echo', async ({ req, res }) => {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.write('reading\n');
          const body = await readAndRecord(req);
          res.end(body);

          return undefined;
        });
      },
    });
  });

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await server.close();
  });

  it('cuts a slowloris that keeps sending header lines after its 408', async () => {
    const before = server.lines.length;
    const result = await slowClient(server, { head: SLOW_HEAD, drip: 'X-Slow: a\r\n' });

    expect(statusOf(result.text)).toBe(408);
    expect(bodyOf(result.text)).toEqual({
      error: { code: 'ERR_REQUEST_TIMEOUT', message: 'Request Timeout' },
    });
    // The 408 comes at headersMs; the socket is gone within the grace after it, not at idleMs.
    expect(result.closedAfterMs).toBeDefined();
    expect(result.closedAfterMs).toBeLessThan(TIMEOUTS.headersMs + 1500);
    expect(await connectionsAfter(server, 500)).toBe(0);
    // No handler ran: nothing was logged as a request, and the refusal is counted.
    expect(requestLines(server.lines.slice(before))).toEqual([]);
    expect(server.metrics.render()).toMatch(
      /lighttrail_errors_total\{code="ERR_REQUEST_TIMEOUT"\} [1-9]/,
    );
  });

  it('answers a slow body with 408 at requestMs, logs 408 and lets readBody reject', async () => {
    const before = server.lines.length;
    const seenBefore = rejections.length;
    const result = await slowClient(server, { head: SLOW_BODY_HEAD, drip: 'a' });
    await settle();

    expect(statusOf(result.text)).toBe(408);
    expect(result.text).toMatch(/\r\nconnection: close\r\n/i);
    expect(result.text).toMatch(/\r\nstrict-transport-security: /i);
    expect(bodyOf(result.text)).toEqual({
      error: { code: 'ERR_REQUEST_TIMEOUT', message: 'Request Timeout' },
    });
    expect(result.closedAfterMs).toBeDefined();
    expect(result.closedAfterMs).toBeLessThan(TIMEOUTS.requestMs + 1500);
    expect(await connectionsAfter(server, 500)).toBe(0);

    // The handler learnt why its body never came, and nothing was logged as a failure.
    expect(rejections.slice(seenBefore)).toEqual(['ERR_REQUEST_TIMEOUT/408']);
    const fresh = server.lines.slice(before);
    expect(fresh.some((line) => line.includes('"http.error"'))).toBe(false);
    const entries = requestLines(fresh);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      method: 'POST',
      route: '/api/collect',
      status: 408,
      code: 'ERR_REQUEST_TIMEOUT',
    });
    expect(entries[0]?.aborted).toBeUndefined();
    expect(requestsTotal(server, '/api/collect', '408')).toBe(1);
    expect(requestsTotal(server, '/api/collect', '200')).toBe(0);
    expect(server.inFlight()).toBe(0);
    expect(unhandled).toEqual([]);
  });

  it('cuts slow headers and a slow body from a client that never reads its 408', async () => {
    const before = server.lines.length;
    const [headers, body] = await Promise.all([
      slowClient(server, { head: SLOW_HEAD, drip: 'X-Slow: a\r\n', reads: false }),
      slowClient(server, { head: SLOW_BODY_HEAD, drip: 'a', reads: false }),
    ]);
    await settle();

    expect(headers.closedAfterMs).toBeDefined();
    expect(headers.closedAfterMs).toBeLessThan(TIMEOUTS.headersMs + 1500);
    expect(body.closedAfterMs).toBeDefined();
    expect(body.closedAfterMs).toBeLessThan(TIMEOUTS.requestMs + 1500);
    expect(await connectionsAfter(server, 500)).toBe(0);
    expect(requestLines(server.lines.slice(before))).toEqual([
      expect.objectContaining({ route: '/api/collect', status: 408 }),
    ]);
    expect(server.inFlight()).toBe(0);
  });

  it('cuts a slow body whose answer had begun, and logs the status sent', async () => {
    const before = server.lines.length;
    const seenBefore = rejections.length;
    const result = await slowClient(server, {
      head: SLOW_BODY_HEAD.replace('/api/collect', '/echo'),
      drip: 'a',
    });
    await settle();

    expect(statusOf(result.text)).toBe(200);
    expect(result.text).not.toContain(' 408 ');
    expect(result.closedAfterMs).toBeDefined();
    expect(result.closedAfterMs).toBeLessThan(TIMEOUTS.requestMs + 1500);
    expect(await connectionsAfter(server, 500)).toBe(0);

    expect(rejections.slice(seenBefore)).toEqual(['ERR_REQUEST_TIMEOUT/408']);
    const fresh = server.lines.slice(before);
    expect(fresh.some((line) => line.includes('"http.error"'))).toBe(false);
    expect(requestLines(fresh)).toEqual([
      expect.objectContaining({ route: '/echo', status: 200, aborted: true }),
    ]);
    expect(server.inFlight()).toBe(0);
    expect(unhandled).toEqual([]);
  });

  it('logs status 0, never 200, for a request whose client reset before any answer', async () => {
    const before = server.lines.length;
    const seenBefore = rejections.length;
    await new Promise<void>((resolve) => {
      const tcp = net.connect({ host: '127.0.0.1', port: server.port });
      const socket = tls.connect({ socket: tcp, servername: 'localhost', ca: server.ca }, () => {
        socket.write(`${SLOW_BODY_HEAD}abc`);
        // An RST, not a FIN: the server learns of it as ECONNRESET and can send nothing more.
        setTimeout(() => tcp.resetAndDestroy(), 150);
      });
      socket.on('error', () => undefined);
      tcp.on('close', () => resolve());
    });
    await settle();

    expect(rejections.slice(seenBefore)).toEqual(['ERR_BAD_REQUEST/400']);
    const fresh = server.lines.slice(before);
    expect(fresh.some((line) => line.includes('"http.error"'))).toBe(false);
    expect(requestLines(fresh)).toEqual([
      expect.objectContaining({ route: '/api/collect', status: 0, aborted: true }),
    ]);
    expect(requestsTotal(server, '/api/collect', '0')).toBe(1);
    expect(requestsTotal(server, '/api/collect', '200')).toBe(0);
    expect(requestsTotal(server, '/api/collect', '400')).toBe(0);
    expect(server.inFlight()).toBe(0);
    expect(unhandled).toEqual([]);
  });

  it('answers 400 through the handler to a client that ends its side mid-body', async () => {
    const before = server.lines.length;
    const seenBefore = rejections.length;
    const result = await slowClient(server, {
      head: `${SLOW_BODY_HEAD}abc`,
      drip: '',
      everyMs: 60_000,
      afterHead: (socket) => setTimeout(() => socket.end(), 150),
    });
    await settle();

    expect(statusOf(result.text)).toBe(400);
    expect(result.closedAfterMs).toBeLessThan(1500);
    expect(await connectionsAfter(server, 500)).toBe(0);
    expect(rejections.slice(seenBefore)).toEqual(['ERR_BAD_REQUEST/400']);
    const fresh = server.lines.slice(before);
    expect(fresh.some((line) => line.includes('"http.error"'))).toBe(false);
    expect(requestLines(fresh)).toEqual([
      expect.objectContaining({ route: '/api/collect', status: 400 }),
    ]);
    expect(requestLines(fresh)[0]?.aborted).toBeUndefined();
    expect(server.inFlight()).toBe(0);
  });
});
