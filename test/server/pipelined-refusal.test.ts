import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CHROME_UA, startProduct, type Product } from '../helpers/product.js';
import { requestLines, startTestServer, type TestServer } from './fixture.js';

/**
 * RFC 9112 section 9.3.2: a server answers pipelined requests in the order they came. A valid
 * request followed on the same connection by bytes the parser refuses gets its own answer first,
 * then the refusal, then the connection closes.
 */

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes `bytes` in one write and reads until the server closes (or `waitMs` passes). */
function exchange(port: number, ca: string, bytes: string, waitMs = 5000) {
  return new Promise<{ text: string; closed: boolean }>((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca }, () =>
      socket.write(bytes),
    );
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, waitMs);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
  });
}

/** Splits a stream of HTTP/1.1 responses, each with a Content-Length, into its responses. */
function responses(text: string): RawResponse[] {
  const found: RawResponse[] = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) throw new Error(`an unfinished head: ${JSON.stringify(rest)}`);

    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }

    const length = Number(headers['content-length'] ?? 0);
    const body = rest.slice(end + 4, end + 4 + length);
    found.push({ status: Number(statusLine.split(' ')[1]), headers, body });
    rest = rest.slice(end + 4 + length);
  }

  return found;
}

function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** The value of one metric series in the registry's text rendering, 0 when absent. */
function metric(render: string, name: string, labels: string[]): number {
  const line = render
    .split('\n')
    .find((row) => row.startsWith(`${name}{`) && labels.every((label) => row.includes(label)));

  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

function records(lines: string[]): Array<Record<string, unknown>> {
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('a valid collect followed by broken bytes on the same connection', () => {
  let product: Product;

  beforeAll(async () => {
    product = await startProduct();
  });

  afterAll(async () => {
    await product?.close();
  });

  function collect(path: string, extraHeaders = ''): string {
    const body = JSON.stringify({
      site: product.siteId,
      type: 'pageview',
      url: `https://localhost${path}`,
    });

    return (
      'POST /api/collect HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n' +
      `User-Agent: ${CHROME_UA}\r\n${extraHeaders}Content-Length: ${Buffer.byteLength(body)}` +
      `\r\n\r\n${body}`
    );
  }

  async function stored(path: string): Promise<number> {
    const db = await product.tenantDb();
    try {
      const row = db.prepare('SELECT COUNT(*) AS n FROM events WHERE path = ?').get(path) as {
        n: number;
      };

      return row.n;
    } finally {
      db.close();
    }
  }

  /** Sends `bytes`, and gives the responses with the log records and metrics they caused. */
  async function run(bytes: string) {
    const before = product.logs.length;
    const metricsBefore = product.app.metrics.render();
    const reply = await exchange(product.port, product.app.tls.cert, bytes);

    return {
      reply,
      answers: responses(reply.text),
      logs: records(product.logs.slice(before)),
      metricsBefore,
      metricsAfter: product.app.metrics.render(),
    };
  }

  it('answers the collect with its 200, then the garbage with 400, then closes', async () => {
    const { reply, answers, logs, metricsBefore, metricsAfter } = await run(
      `${collect('/pipelined/garbage')}\x00\x01 this is not HTTP\r\n\r\n`,
    );

    expect(reply.closed).toBe(true);
    expect(answers.map(({ status }) => status)).toEqual([200, 400]);
    const [accepted, refused] = answers as [RawResponse, RawResponse];
    expect(JSON.parse(accepted.body)).toEqual({ ok: true, stored: 1, filtered: 0 });
    expect(JSON.parse(refused.body)).toEqual(errorBody('ERR_BAD_REQUEST', 'Bad Request'));
    expect(refused.headers.connection).toBe('close');
    expect(refused.headers['strict-transport-security']).toBe(
      'max-age=63072000; includeSubDomains',
    );
    expect(refused.headers['cache-control']).toBe('no-store');
    expect(await stored('/pipelined/garbage')).toBe(1);

    // One line each, with the status that went out, in that order.
    const lines = logs.filter(({ event }) => event === 'http.request' || event === 'http.refused');
    expect(lines).toEqual([
      expect.objectContaining({ event: 'http.request', route: '/api/collect', status: 200 }),
      expect.objectContaining({ event: 'http.refused', status: 400, code: 'ERR_BAD_REQUEST' }),
    ]);
    const grew = (name: string, labels: string[]) =>
      metric(metricsAfter, name, labels) - metric(metricsBefore, name, labels);
    expect(grew('lighttrail_http_requests_total', ['route="/api/collect"', 'status="200"'])).toBe(
      1,
    );
    expect(grew('lighttrail_errors_total', ['code="ERR_BAD_REQUEST"'])).toBe(1);
  });

  it('answers two collects in order before the 400 for the garbage after them', async () => {
    const { answers } = await run(
      `${collect('/pipelined/first')}${collect('/pipelined/second')}GARBAGE\r\n\r\n`,
    );

    expect(answers.map(({ status }) => status)).toEqual([200, 200, 400]);
    expect(JSON.parse(answers[2]?.body ?? '')).toEqual(errorBody('ERR_BAD_REQUEST', 'Bad Request'));
    expect(await stored('/pipelined/first')).toBe(1);
    expect(await stored('/pipelined/second')).toBe(1);
  });

  it('answers the collect with its 200, then an oversized header with 431', async () => {
    const { reply, answers, logs } = await run(
      `${collect('/pipelined/big-header')}GET /healthz HTTP/1.1\r\nHost: localhost\r\n` +
        `X-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );

    expect(reply.closed).toBe(true);
    expect(answers.map(({ status }) => status)).toEqual([200, 431]);
    expect(JSON.parse(answers[1]?.body ?? '')).toEqual(
      errorBody('ERR_HEADERS_TOO_LARGE', 'Request Header Fields Too Large'),
    );
    expect(await stored('/pipelined/big-header')).toBe(1);
    expect(logs).toContainEqual(
      expect.objectContaining({
        event: 'http.refused',
        status: 431,
        code: 'ERR_HEADERS_TOO_LARGE',
      }),
    );
  });

  it('answers the collect with its 200, then a broken chunked collect with 400', async () => {
    const broken =
      'POST /api/collect HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n' +
      `User-Agent: ${CHROME_UA}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`;
    const { reply, answers, logs } = await run(`${collect('/pipelined/chunk')}${broken}`);

    expect(reply.closed).toBe(true);
    expect(answers.map(({ status }) => status)).toEqual([200, 400]);
    expect(JSON.parse(answers[1]?.body ?? '')).toEqual(errorBody('ERR_BAD_REQUEST', 'Bad Request'));
    expect(answers[1]?.headers.connection).toBe('close');
    expect(await stored('/pipelined/chunk')).toBe(1);
    // The broken request reached the pipeline: its own request line carries the refusal.
    const lines = logs.filter(({ event }) => event === 'http.request' || event === 'http.refused');
    expect(lines).toEqual([
      expect.objectContaining({ event: 'http.request', route: '/api/collect', status: 200 }),
      expect.objectContaining({
        event: 'http.request',
        route: '/api/collect',
        status: 400,
        code: 'ERR_BAD_REQUEST',
      }),
    ]);
  });

  it('refuses garbage sent before a collect with 400 alone, and stores nothing', async () => {
    const { reply, answers, logs } = await run(`GARBAGE\r\n\r\n${collect('/pipelined/never')}`);

    expect(reply.closed).toBe(true);
    expect(answers.map(({ status }) => status)).toEqual([400]);
    expect(JSON.parse(answers[0]?.body ?? '')).toEqual(errorBody('ERR_BAD_REQUEST', 'Bad Request'));
    expect(logs.filter(({ event }) => event === 'http.request')).toEqual([]);
    expect(await stored('/pipelined/never')).toBe(0);
  });

  it('stores the collect and keeps serving when the client leaves before its answers', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const before = product.logs.length;
    try {
      await new Promise<void>((resolve) => {
        const socket = tls.connect(
          {
            host: '127.0.0.1',
            port: product.port,
            servername: 'localhost',
            ca: product.app.tls.cert,
          },
          () => {
            // Gone once the bytes are out, before any answer can come back.
            socket.write(`${collect('/pipelined/gone')}GARBAGE\r\n\r\n`, () => socket.destroy());
          },
        );
        socket.on('error', () => undefined);
        socket.on('close', () => resolve());
      });
      const deadline = Date.now() + 3000;
      const settled = async () =>
        product.app.server.inFlight() === 0 &&
        product.logs.slice(before).some((line) => line.includes('"http.refused"'));
      while (!(await settled()) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }

      expect(await stored('/pipelined/gone')).toBe(1);
      // Whatever reached the client, each request has its one line and nothing failed.
      const logs = records(product.logs.slice(before));
      expect(logs.filter(({ event }) => event === 'http.request')).toHaveLength(1);
      expect(logs.filter(({ event }) => event === 'http.refused')).toHaveLength(1);
      expect(logs.filter(({ event }) => event === 'http.error')).toEqual([]);
      expect((await product.get('/healthz')).status).toBe(200);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('pipelined requests behind a slow one', () => {
  const SLOW_MS = 900;
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      // The linger is shorter than the slow answer: it must count from the refusal's turn.
      timeouts: { headersMs: 300, requestMs: 600, checkIntervalMs: 100, lingerMs: 200 },
      routes: (router) =>
        router.add('GET', '/slow', async () => {
          await new Promise((resolve) => setTimeout(resolve, SLOW_MS));

          return { status: 200, json: { slow: true } };
        }),
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('answers the slow request with its 200, then the unfinished head with 408', async () => {
    const before = server.lines.length;
    const reply = await exchange(
      server.port,
      server.ca,
      'GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: local',
    );

    expect(reply.closed).toBe(true);
    const answers = responses(reply.text);
    expect(answers.map(({ status }) => status)).toEqual([200, 408]);
    expect(JSON.parse(answers[0]?.body ?? '')).toEqual({ slow: true });
    expect(JSON.parse(answers[1]?.body ?? '')).toEqual(
      errorBody('ERR_REQUEST_TIMEOUT', 'Request Timeout'),
    );
    expect(requestLines(server.lines.slice(before))).toEqual([
      expect.objectContaining({ route: '/slow', status: 200 }),
    ]);
    expect(records(server.lines.slice(before))).toContainEqual(
      expect.objectContaining({ event: 'http.refused', status: 408, code: 'ERR_REQUEST_TIMEOUT' }),
    );
  });

  it('logs both pipelined requests and leaves none in flight when the client goes', async () => {
    const before = server.lines.length;
    await new Promise<void>((resolve) => {
      const options = { host: '127.0.0.1', port: server.port, servername: 'localhost' };
      const socket = tls.connect({ ...options, ca: server.ca }, () => {
        const slow = 'GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n';
        socket.write(`${slow}${slow}`, () => setTimeout(() => socket.destroy(), 50));
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
    });
    // Both handlers run on and answer into a closed connection (waited for, up to 5 s: a busy
    // machine runs the timers late).
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && requestLines(server.lines.slice(before)).length < 2) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // The second answer was queued behind the first when the connection ended.
    const unanswered = expect.objectContaining({ route: '/slow', status: 0, aborted: true });
    expect(requestLines(server.lines.slice(before))).toEqual([unanswered, unanswered]);
    expect(server.inFlight()).toBe(0);
  });
});
