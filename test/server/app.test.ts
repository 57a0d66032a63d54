import { request as httpsRequest, Agent } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LightTrailError, RequestError, StoreError } from '../../src/errors.js';
import { DEFAULT_CSP, SECURITY_HEADERS } from '../../src/server/headers.js';
import { handshake, send, sendRaw, type TestResponse } from '../helpers/tls.js';
import { requestLines, startTestServer, type TestServer } from './fixture.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function expectSecurityHeaders(
  headers: TestResponse['headers'],
  overrides: Record<string, string> = {},
) {
  for (const [name, value] of Object.entries({ ...SECURITY_HEADERS, ...overrides })) {
    expect(headers[name.toLowerCase()], name).toBe(value);
  }

  expect(headers['x-powered-by']).toBeUndefined();
  expect(headers.server).toBeUndefined();
}

/** Parses the head of a raw HTTP response into a status and lower-cased headers. */
function parseRaw(text: string): { status: number; headers: Record<string, string>; body: string } {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }

  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

describe('LightTrail HTTPS app', () => {
  let server: TestServer;
  const reached: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      routes: (router) => {
        router.add('GET', '/api/sites/:siteId/stats', ({ params }) => ({
          status: 200,
          json: { site: params.siteId },
        }));
        router.add('GET', '/refuse', () => {
          throw new RequestError('ERR_INVALID_ARGUMENT', 400, 'range must be 7d or 30d');
        });
        router.add('GET', '/limited', () => {
          throw new RequestError('ERR_RATE_LIMITED', 429, 'slow down', undefined, {
            'Retry-After': '3',
          });
        });
        router.add('GET', '/crash', () => {
          throw new Error('boom for pat.doe@mail.test from 203.0.113.50 at /srv/secret.db');
        });
        router.add('GET', '/store', () => {
          throw new StoreError('ERR_DB_CORRUPT', 'page 7 of /srv/tenant-a.db is corrupt');
        });
        router.add('GET', '/busy', () => {
          throw new LightTrailError('ERR_QUEUE_FULL', 'queue at 20000 of 20000', {
            status: 503,
            headers: { 'Retry-After': '1' },
          });
        });
        router.add('GET', '/half', ({ res }) => {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.write('partial');
          throw new Error('failed mid-stream');
        });
        router.add(
          'GET',
          '/script',
          () => ({ status: 200, body: 'void 0;', headers: { 'Content-Type': 'text/javascript' } }),
          {
            headers: {
              'Cross-Origin-Resource-Policy': 'cross-origin',
              'Content-Security-Policy': "default-src 'self'",
            },
          },
        );
        router.add(
          'POST',
          '/script-refusal',
          () => {
            reached.push('script-refusal');
            throw new RequestError('ERR_INVALID_EVENT', 400, 'bad event');
          },
          { headers: { 'Cross-Origin-Resource-Policy': 'cross-origin' } },
        );
      },
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it('sets the security headers on a 200, a 404, a 405, a refusal and a 500', async () => {
    const ok = await send(server.port, { path: '/api/sites/a/stats', ca: server.ca });
    const missing = await send(server.port, { path: '/nowhere', ca: server.ca });
    const wrongMethod = await send(server.port, {
      method: 'DELETE',
      path: '/api/sites/a/stats',
      ca: server.ca,
    });
    const refused = await send(server.port, { path: '/refuse', ca: server.ca });
    const crashed = await send(server.port, { path: '/crash', ca: server.ca });

    expect([ok.status, missing.status, wrongMethod.status, refused.status, crashed.status]).toEqual(
      [200, 404, 405, 400, 500],
    );
    for (const response of [ok, missing, wrongMethod, refused, crashed]) {
      expectSecurityHeaders(response.headers);
      expect(response.headers['x-request-id']).toMatch(UUID);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    }

    expect(SECURITY_HEADERS['Content-Security-Policy']).toBe(DEFAULT_CSP);
    expect(SECURITY_HEADERS['Strict-Transport-Security']).toBe(
      'max-age=63072000; includeSubDomains',
    );
    expect(JSON.parse(ok.text)).toEqual({ site: 'a' });
    expect(JSON.parse(missing.text)).toEqual({
      error: { code: 'ERR_NOT_FOUND', message: 'not found' },
    });
    expect(JSON.parse(wrongMethod.text).error.code).toBe('ERR_METHOD_NOT_ALLOWED');
    expect(wrongMethod.headers.allow).toBe('GET, HEAD');
  });

  it('lets a route widen CSP and CORP, on its replies and its refusals', async () => {
    const script = await send(server.port, { path: '/script', ca: server.ca });
    const refusal = await send(server.port, {
      method: 'POST',
      path: '/script-refusal',
      ca: server.ca,
    });

    expectSecurityHeaders(script.headers, {
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Content-Security-Policy': "default-src 'self'",
    });
    expect(script.headers['content-type']).toBe('text/javascript');
    expect(script.text).toBe('void 0;');
    expect(refusal.status).toBe(400);
    expectSecurityHeaders(refusal.headers, { 'Cross-Origin-Resource-Policy': 'cross-origin' });
  });

  it('maps errors: 4xx keep code and message, 5xx say nothing of the exception', async () => {
    const refused = await send(server.port, { path: '/refuse', ca: server.ca });
    const limited = await send(server.port, { path: '/limited', ca: server.ca });
    const crashed = await send(server.port, { path: '/crash', ca: server.ca });
    const store = await send(server.port, { path: '/store', ca: server.ca });
    const busy = await send(server.port, { path: '/busy', ca: server.ca });

    expect(JSON.parse(refused.text)).toEqual({
      error: { code: 'ERR_INVALID_ARGUMENT', message: 'range must be 7d or 30d' },
    });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('3');
    const generic = { error: { code: 'ERR_INTERNAL', message: 'internal error' } };
    expect([crashed.status, JSON.parse(crashed.text)]).toEqual([500, generic]);
    expect([store.status, JSON.parse(store.text)]).toEqual([500, generic]);
    expect(busy.status).toBe(503);
    expect(busy.headers['retry-after']).toBe('1');
    expect(JSON.parse(busy.text)).toEqual({
      error: { code: 'ERR_QUEUE_FULL', message: 'service unavailable' },
    });
    for (const response of [crashed, store, busy]) {
      expect(response.text).not.toMatch(/boom|srv|corrupt|20000|stack|Error/);
    }
  });

  it('logs an internal failure once, with the request id and without PHI', async () => {
    const crashed = await send(server.port, { path: '/crash', ca: server.ca });
    const requestId = crashed.headers['x-request-id'];

    const records = server.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const failures = records.filter(
      (record) => record.event === 'http.error' && record.requestId === requestId,
    );
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ level: 'error', route: '/crash' });
    const text = JSON.stringify(failures);
    expect(text).toContain('boom for');
    expect(text).not.toContain('pat.doe');
    expect(text).not.toContain('203.0.113.50');
  });

  it('cuts the connection when a handler fails after sending headers', async () => {
    await expect(send(server.port, { path: '/half', ca: server.ca })).rejects.toThrow(
      /aborted|hang up|ECONNRESET/,
    );
  });

  it('answers malformed request targets with 400 ERR_BAD_REQUEST, not 500', async () => {
    for (const path of [
      '/api/sites/%E0%A4%A/stats',
      '/api/sites/%zz/stats',
      '/api/sites/a%00/stats',
    ]) {
      const response = await send(server.port, { path, ca: server.ca });

      expect(response.status, path).toBe(400);
      expect(JSON.parse(response.text).error.code).toBe('ERR_BAD_REQUEST');
      expectSecurityHeaders(response.headers);
    }

    const absolute = await sendRaw(server.port, server.ca, (socket) => {
      socket.write(
        'GET https://other.example/api HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      );
    });
    expect(parseRaw(absolute.text).status).toBe(400);
  });

  it('answers what the HTTP parser refuses, and a missing Host, in the same format', async () => {
    const broken = await sendRaw(server.port, server.ca, (socket) => {
      socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n');
    });
    const noHost = await sendRaw(server.port, server.ca, (socket) =>
      socket.write('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'),
    );

    const huge = await sendRaw(server.port, server.ca, (socket) =>
      socket.write(
        `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      ),
    );

    const cases = [
      { reply: broken, status: 400, code: 'ERR_BAD_REQUEST', message: 'Bad Request' },
      {
        reply: noHost,
        status: 400,
        code: 'ERR_BAD_REQUEST',
        message: 'the Host header is required',
      },
      {
        reply: huge,
        status: 431,
        code: 'ERR_HEADERS_TOO_LARGE',
        message: 'Request Header Fields Too Large',
      },
    ];
    // Refusals Node's parser decides are logged at info like any other refusal.
    const refused = server.lines
      .map((line) => JSON.parse(line) as { event: string; level: string; status?: number })
      .filter((record) => record.event === 'http.refused');
    expect(refused.map(({ level, status }) => [level, status])).toEqual(
      expect.arrayContaining([
        ['info', 400],
        ['info', 431],
      ]),
    );

    for (const { reply, status, code, message } of cases) {
      const parsed = parseRaw(reply.text);

      expect(reply.closed).toBe(true);
      expect(parsed.status).toBe(status);
      expect(JSON.parse(parsed.body)).toEqual({ error: { code, message } });
      expect(parsed.headers['strict-transport-security']).toBe(
        'max-age=63072000; includeSubDomains',
      );
      expect(parsed.headers['content-security-policy']).toBe(DEFAULT_CSP);
    }
  });

  it('refuses an expectation but 100-continue with 417 in the same format (QA)', async () => {
    const before = server.lines.length;
    const odd = await sendRaw(server.port, server.ca, (socket) =>
      socket.write(
        'GET /healthz HTTP/1.1\r\nHost: localhost\r\nExpect: 200-ok\r\nConnection: close\r\n\r\n',
      ),
    );
    // HTTP/1.0 has no expectations (Node reads none there), an empty header expects nothing,
    // and 100-continue is met.
    const old = await sendRaw(server.port, server.ca, (socket) =>
      socket.write('GET /healthz HTTP/1.0\r\nHost: localhost\r\nExpect: 200-ok\r\n\r\n'),
    );
    const empty = await sendRaw(server.port, server.ca, (socket) =>
      socket.write(
        'GET /healthz HTTP/1.1\r\nHost: localhost\r\nExpect: \r\nConnection: close\r\n\r\n',
      ),
    );
    const continued = await sendRaw(server.port, server.ca, (socket) =>
      socket.write(
        'GET /healthz HTTP/1.1\r\nHost: localhost\r\nExpect: 100-Continue\r\n' +
          'Connection: close\r\n\r\n',
      ),
    );

    const parsed = parseRaw(odd.text);
    expect(parsed.status).toBe(417);
    expect(JSON.parse(parsed.body)).toEqual({
      error: {
        code: 'ERR_EXPECTATION_FAILED',
        message: 'the only expectation this server meets is 100-continue',
      },
    });
    expect(parsed.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
    expect(parsed.headers['cache-control']).toBe('no-store');
    const logged = server.lines
      .slice(before)
      .map((line) => JSON.parse(line) as { event: string; status?: number; code?: string });
    expect(logged).toContainEqual(
      expect.objectContaining({
        event: 'http.request',
        status: 417,
        code: 'ERR_EXPECTATION_FAILED',
      }),
    );
    expect(parseRaw(old.text).status).toBe(200);
    expect(parseRaw(empty.text).status).toBe(200);
    expect(parseRaw(continued.text).status).toBe(200);
  });

  it('logs one line per request with the route pattern, never path, query or address', async () => {
    const before = server.lines.length;
    const response = await send(server.port, {
      path: '/api/sites/pat.doe@mail.test/stats?email=a@b.c&mrn=0048213',
      ca: server.ca,
      headers: { Cookie: 'sid=s3cr3t', Referer: 'https://portal.example/?email=a@b.c' },
    });
    await send(server.port, { path: '/patients/jane.roe%40mail.test/results?x=1', ca: server.ca });
    const wrongMethod = { method: 'DELETE', path: '/api/sites/pat.doe@mail.test/stats' };
    await send(server.port, { ...wrongMethod, ca: server.ca });

    const fresh = server.lines.slice(before);
    const entries = requestLines(fresh);
    expect(entries).toHaveLength(3);
    expect(entries[0]).toMatchObject({
      level: 'info',
      method: 'GET',
      route: '/api/sites/:siteId/stats',
      status: 200,
      requestId: response.headers['x-request-id'],
    });
    expect(typeof entries[0]?.durationMs).toBe('number');
    expect(entries[0]?.code).toBeUndefined();
    // A refusal's line names its code (QA: the status alone did not say why).
    expect(entries[1]).toMatchObject({ route: '(unmatched)', status: 404, code: 'ERR_NOT_FOUND' });
    // A known path with a method it does not take is logged under its route.
    expect(entries[2]).toMatchObject({
      route: '/api/sites/:siteId/stats',
      status: 405,
      code: 'ERR_METHOD_NOT_ALLOWED',
    });
    const text = fresh.join('\n');
    for (const secret of [
      'pat.doe',
      'a@b.c',
      'email',
      '0048213',
      'jane.roe',
      'patients',
      's3cr3t',
      'portal',
      '127.0.0.1',
      '?',
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it('serves /healthz and HEAD, and refuses other methods on it', async () => {
    const health = await send(server.port, { path: '/healthz', ca: server.ca });
    const head = await send(server.port, { method: 'HEAD', path: '/healthz', ca: server.ca });
    const post = await send(server.port, { method: 'POST', path: '/healthz', ca: server.ca });

    expect([health.status, JSON.parse(health.text)]).toEqual([200, { status: 'ok' }]);
    expect([head.status, head.text]).toEqual([200, '']);
    expect(post.status).toBe(405);
  });
});

describe('readiness', () => {
  it('follows isReady, and a throwing check means not ready', async () => {
    let state: boolean | 'throw' = false;
    const server = await startTestServer({
      isReady: () => {
        if (state === 'throw') throw new Error('store at /srv/x.db unavailable');
        return state;
      },
    });
    try {
      const statuses: number[] = [];
      for (const next of [false, true, 'throw'] as const) {
        state = next;
        statuses.push((await send(server.port, { path: '/readyz', ca: server.ca })).status);
      }

      expect(statuses).toEqual([503, 200, 503]);
      expect((await send(server.port, { path: '/healthz', ca: server.ca })).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('graceful close', () => {
  it('lets an in-flight request finish, refuses new connections, then resolves', async () => {
    let release: () => void = () => undefined;
    let entered: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const server = await startTestServer({
      routes: (router) =>
        router.add('GET', '/slow', async () => {
          entered();
          await new Promise<void>((resolve) => (release = resolve));
          return { status: 200, json: { done: true } };
        }),
    });

    const slow = send(server.port, { path: '/slow', ca: server.ca });
    await inside;
    expect(server.inFlight()).toBe(1);

    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 50));

    const late = await handshake(server.port, { ca: server.ca });
    expect(late).toMatchObject({ ok: false, code: 'ECONNREFUSED' });
    expect(closed).toBe(false);

    release();
    const response = await slow;
    await closing;

    expect([response.status, JSON.parse(response.text)]).toEqual([200, { done: true }]);
    expect(response.headers.connection).toBe('close');
    expect(server.inFlight()).toBe(0);
  });

  it('closes idle keep-alive connections after a second of grace', async () => {
    const server = await startTestServer({ env: { LIGHTTRAIL_SHUTDOWN_TIMEOUT_MS: '20000' } });
    const agent = new Agent({ keepAlive: true, ca: server.ca });
    await new Promise<void>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: server.port, path: '/healthz', servername: 'localhost', agent },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end();
    });

    const started = Date.now();
    await server.close();
    agent.destroy();

    // A request already on its way over such a connection is answered in that second, not reset.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('cuts requests still running after the shutdown timeout', async () => {
    let entered: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const server = await startTestServer({
      env: { LIGHTTRAIL_SHUTDOWN_TIMEOUT_MS: '300' },
      routes: (router) =>
        router.add('GET', '/stuck', () => {
          entered();
          return new Promise(() => undefined);
        }),
    });

    const stuck = send(server.port, { path: '/stuck', ca: server.ca }).then(
      () => 'answered',
      () => 'cut',
    );
    await inside;
    const started = Date.now();
    await server.close();

    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await stuck).toBe('cut');
    expect(server.lines.some((line) => line.includes('server.shutdown_timeout'))).toBe(true);
  });
});

describe('slow clients', () => {
  it('drops a client that never finishes its headers (slowloris)', async () => {
    const server = await startTestServer({
      timeouts: { headersMs: 500, requestMs: 1000, checkIntervalMs: 100 },
    });
    try {
      const started = Date.now();
      const reply = await sendRaw(
        server.port,
        server.ca,
        (socket) => socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: a'),
        8000,
      );

      expect(reply.closed).toBe(true);
      expect(Date.now() - started).toBeLessThan(4000);
      expect(reply.text).not.toContain('"status":"ok"');
      expect(parseRaw(reply.text).status).toBe(408);
      expect(JSON.parse(parseRaw(reply.text).body)).toEqual({
        error: { code: 'ERR_REQUEST_TIMEOUT', message: 'Request Timeout' },
      });
    } finally {
      await server.close();
    }
  });
});
