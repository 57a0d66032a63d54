import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readBody } from '../../src/server/body.js';
import { send, sendRaw } from '../helpers/tls.js';
import { requestLines, startTestServer, type TestServer } from './fixture.js';

const LIMIT = 1024;

function statusOf(text: string): number {
  return Number(text.split('\r\n')[0]?.split(' ')[1]);
}

describe('readBody', () => {
  let server: TestServer;
  const seen: number[] = [];
  const failures: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      routes: (router) =>
        router.add('POST', '/collect', async ({ req }) => {
          let body: Buffer;
          try {
            body = await readBody(req, LIMIT);
          } catch (error) {
            failures.push((error as { code?: string }).code ?? 'unknown');
            throw error;
          }

          seen.push(body.length);
          return { status: 202, json: { bytes: body.length } };
        }),
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it('accepts a body of exactly the limit, on a connection that stays usable', async () => {
    const exact = await send(server.port, {
      method: 'POST',
      path: '/collect',
      body: Buffer.alloc(LIMIT, 120),
      ca: server.ca,
    });
    const pipelined = await sendRaw(server.port, server.ca, (socket) => {
      const body = 'x'.repeat(LIMIT);
      socket.write(
        `POST /collect HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${LIMIT}\r\n\r\n${body}` +
          'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      );
    });

    expect([exact.status, JSON.parse(exact.text)]).toEqual([202, { bytes: LIMIT }]);
    expect(pipelined.text.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 202', 'HTTP/1.1 200']);
  });

  it('refuses a declared Content-Length over the limit before the body is sent', async () => {
    const before = seen.length;
    const reply = await sendRaw(server.port, server.ca, (socket) => {
      // Headers only: the 2 MB body is never written, so a server waiting for it would hang.
      socket.write(
        'POST /collect HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
          'Content-Length: 2097152\r\n\r\n{"a":',
      );
    });

    expect(reply.closed).toBe(true);
    expect(statusOf(reply.text)).toBe(413);
    expect(reply.text).toMatch(/\r\nconnection: close\r\n/i);
    expect(reply.text).toContain('"code":"ERR_PAYLOAD_TOO_LARGE"');
    expect(seen.length).toBe(before);
  });

  it('answers Expect: 100-continue with the 413 when the body would be too large', async () => {
    const before = seen.length;
    const reply = await sendRaw(server.port, server.ca, (socket) => {
      // As curl sends a large upload: headers, then the body only after a `100 Continue`.
      socket.write(
        'POST /collect HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
          'Content-Length: 2097152\r\nExpect: 100-continue\r\n\r\n',
      );
    });

    expect(reply.text).not.toContain('100 Continue');
    expect(statusOf(reply.text)).toBe(413);
    expect(reply.text).toContain('"code":"ERR_PAYLOAD_TOO_LARGE"');
    expect(reply.closed).toBe(true);
    expect(seen.length).toBe(before);
  });

  it('sends 100 Continue when the handler reads a body that fits, then answers', async () => {
    const reply = await sendRaw(server.port, server.ca, (socket) => {
      socket.write(
        'POST /collect HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n' +
          'Expect: 100-continue\r\nConnection: close\r\n\r\n',
      );
      socket.once('data', (chunk: Buffer) => {
        if (chunk.toString('latin1').startsWith('HTTP/1.1 100 Continue')) socket.write('hello');
      });
    });

    expect(reply.text.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 100', 'HTTP/1.1 202']);
    expect(reply.text).toContain('{"bytes":5}');
  });

  it('refuses a chunked body past the limit while the client is still sending', async () => {
    const before = seen.length;
    let written = 0;
    let timer: NodeJS.Timeout | undefined;
    const reply = await sendRaw(server.port, server.ca, (socket) => {
      socket.write(
        'POST /collect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n',
      );
      // An endless upload: 512-byte chunks until the server hangs up.
      timer = setInterval(() => {
        if (socket.destroyed || !socket.writable) return clearInterval(timer);
        socket.write(`200\r\n${'y'.repeat(512)}\r\n`);
        written += 512;
      }, 5);
    });
    clearInterval(timer);

    expect(statusOf(reply.text)).toBe(413);
    expect(reply.closed).toBe(true);
    expect(written).toBeGreaterThan(LIMIT);
    expect(seen.length).toBe(before);
    expect(failures.at(-1)).toBe('ERR_PAYLOAD_TOO_LARGE');
  });

  it("answers chunk extensions past Node's limit with 413, as Node would (QA)", async () => {
    const before = seen.length;
    // Node's parser stops at 16 KB of chunk extensions (HPE_CHUNK_EXTENSIONS_OVERFLOW).
    const reply = await sendRaw(server.port, server.ca, (socket) => {
      socket.write(
        'POST /collect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n' +
          `5;${'x'.repeat(20_000)}\r\nhello\r\n0\r\n\r\n`,
      );
    });

    expect(statusOf(reply.text)).toBe(413);
    expect(reply.text).toContain('"code":"ERR_PAYLOAD_TOO_LARGE"');
    expect(reply.closed).toBe(true);
    expect(seen.length).toBe(before);
  });

  it('reads an oversized chunked body to its end, answers 413, keeps the connection', async () => {
    const before = seen.length;
    // 64 chunks of 1 KB, written at once: a connection closed at the first byte past the limit
    // is reset as the rest arrives, and the reset can destroy the 413 unread.
    const reply = await sendRaw(server.port, server.ca, (socket) => {
      const chunk = `400\r\n${'z'.repeat(1024)}\r\n`;
      socket.write(
        'POST /collect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n' +
          chunk.repeat(64) +
          '0\r\n\r\n' +
          'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      );
    });

    expect(reply.text.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 413', 'HTTP/1.1 200']);
    expect(reply.text).toContain('"code":"ERR_PAYLOAD_TOO_LARGE"');
    expect(seen.length).toBe(before);
    expect(failures.at(-1)).toBe('ERR_PAYLOAD_TOO_LARGE');
  });

  it('answers 413 within two seconds when an oversized chunked body stops arriving', async () => {
    const started = Date.now();
    const reply = await sendRaw(
      server.port,
      server.ca,
      (socket) => {
        const chunk = `400\r\n${'s'.repeat(1024)}\r\n`;
        socket.write(
          'POST /collect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n' +
            chunk.repeat(2),
        );
      },
      4_000,
    );

    expect(statusOf(reply.text)).toBe(413);
    expect(reply.closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(3_500);
  });

  it('answers 413 to an ordinary client posting 2 MB with Content-Length', async () => {
    const before = seen.length;
    const response = await send(server.port, {
      method: 'POST',
      path: '/collect',
      body: Buffer.alloc(2 * 1024 * 1024, 122),
      ca: server.ca,
    });

    expect(response.status).toBe(413);
    expect(JSON.parse(response.text)).toEqual({
      error: {
        code: 'ERR_PAYLOAD_TOO_LARGE',
        message: `the request body is larger than ${LIMIT} bytes`,
      },
    });
    expect(seen.length).toBe(before);
  });

  it('turns a client that hangs up mid-body into ERR_BAD_REQUEST, not a crash', async () => {
    const before = requestLines(server.lines).length;
    await sendRaw(
      server.port,
      server.ca,
      (socket) => {
        socket.write('POST /collect HTTP/1.1\r\nHost: localhost\r\nContent-Length: 500\r\n\r\nabc');
        setTimeout(() => socket.destroy(), 100);
      },
      1000,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(failures.at(-1)).toBe('ERR_BAD_REQUEST');
    const entries = requestLines(server.lines).slice(before);
    expect(entries).toHaveLength(1);
    // A FIN mid-body reads as a half-close: the 400 is written before the socket goes, and the
    // log says so (a reset, where nothing can be sent, logs status 0: slow-clients.test.ts).
    expect(entries[0]).toMatchObject({ route: '/collect', status: 400 });
    expect((await send(server.port, { path: '/healthz', ca: server.ca })).status).toBe(200);
  });
});
