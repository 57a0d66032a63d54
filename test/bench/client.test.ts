import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Connection, NO_ANSWER, postBytes } from '../../bench/client.mjs';
import { makeCertificate, type TestCertificate } from '../helpers/tls.js';

/** What the server saw of each request: its socket's number, headers and body. */
interface Seen {
  socket: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe('the load generator client (bench/client.mjs)', () => {
  let material: TestCertificate;
  let server: Server;
  let port: number;
  const seen: Seen[] = [];
  const sockets = new WeakMap<object, number>();
  let socketCount = 0;

  beforeAll(async () => {
    material = makeCertificate();
    server = createServer({ cert: material.cert, key: material.key }, (req, res) => {
      let number = sockets.get(req.socket);
      if (number === undefined) sockets.set(req.socket, (number = ++socketCount));
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push({ socket: number, headers: req.headers, body: Buffer.concat(chunks).toString() });
        const mode = req.url ?? '/';
        if (mode === '/drop') {
          req.socket.destroy();
          return;
        }

        if (mode === '/chunked') {
          res.writeHead(201, { 'Content-Type': 'text/plain' });
          res.write('first part, ');
          setTimeout(() => res.end('and the last'), 20);
          return;
        }

        if (mode === '/late-body') {
          // The head in one TLS record, the body in a later one.
          const body = JSON.stringify({ late: true });
          res.writeHead(202, { 'Content-Length': body.length });
          res.flushHeaders();
          setTimeout(() => res.end(body), 20);
          return;
        }

        if (mode === '/bad-chunk') {
          req.socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
          return;
        }

        if (mode === '/close') res.setHeader('Connection', 'close');
        const body = JSON.stringify({ ok: true });
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const connect = (ca = material.cert) =>
    new Connection({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  const post = (pathname: string, body = '{"site":"s"}') =>
    postBytes(new URL(`https://127.0.0.1:${port}${pathname}`), Buffer.from(body), {
      userAgent: 'Bench/1.0',
      address: '192.0.2.7',
    });

  it('sends a beacon-shaped POST and reads answers on one kept-alive connection', async () => {
    seen.length = 0;
    const connection = connect();

    expect(await connection.send(post('/a'))).toBe(200);
    expect(await connection.send(post('/chunked'))).toBe(201);
    expect(await connection.send(post('/b', '{"site":"t"}'))).toBe(200);
    connection.close();

    expect(seen.map((s) => s.socket)).toEqual([seen[0]!.socket, seen[0]!.socket, seen[0]!.socket]);
    expect(seen[2]!.body).toBe('{"site":"t"}');
    expect(seen[0]!.headers).toMatchObject({
      'content-type': 'text/plain;charset=UTF-8',
      'content-length': '12',
      'user-agent': 'Bench/1.0',
      'x-forwarded-for': '192.0.2.7',
      origin: 'https://localhost',
    });
  });

  it('waits for a body that comes after its head, then reads the next answer (QA)', async () => {
    const connection = connect();

    expect(await connection.send(post('/late-body'))).toBe(202);
    expect(await connection.send(post('/a'))).toBe(200);
    connection.close();
  });

  it('reports NO_ANSWER for a chunk size that is not hexadecimal, and goes on (QA)', async () => {
    const connection = connect();

    expect(await connection.send(post('/bad-chunk'))).toBe(NO_ANSWER);
    expect(await connection.send(post('/a'))).toBe(200);
    connection.close();
  });

  it('opens a new connection after an answer that closes the old one', async () => {
    seen.length = 0;
    const connection = connect();

    expect(await connection.send(post('/close'))).toBe(200);
    expect(await connection.send(post('/a'))).toBe(200);
    connection.close();

    expect(seen).toHaveLength(2);
    expect(seen[1]!.socket).not.toBe(seen[0]!.socket);
  });

  it('reports NO_ANSWER when the server drops the connection, and goes on afterwards', async () => {
    const connection = connect();

    expect(await connection.send(post('/drop'))).toBe(NO_ANSWER);
    expect(await connection.send(post('/a'))).toBe(200);
    connection.close();
  });

  it('refuses a server whose certificate the CA file does not sign: nothing is sent', async () => {
    seen.length = 0;
    const connection = connect(makeCertificate().cert);

    expect(await connection.open()).toBe(false);
    expect(await connection.send(post('/a'))).toBe(NO_ANSWER);
    expect(seen).toHaveLength(0);
  });
});
