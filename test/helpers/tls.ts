import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls, { type ConnectionOptions } from 'node:tls';

import { createSelfSignedCertificate } from '../../src/server/self-signed.js';

/**
 * Test-time TLS material and clients. Keys are generated per test run in memory or in a temp
 * folder; none is ever committed.
 */
export interface TestCertificate {
  cert: string;
  key: string;
}

export function makeCertificate(
  kind: 'ec' | 'rsa' = 'ec',
  validity: { notBefore?: Date; notAfter?: Date } = {},
): TestCertificate {
  const pair =
    kind === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = createSelfSignedCertificate({
    ...pair,
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
    notBefore: validity.notBefore ?? new Date(Date.now() - 60_000),
    notAfter: validity.notAfter ?? new Date(Date.now() + 30 * 24 * 3600 * 1000),
  });

  return { cert, key: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

export function makeTempDir(prefix = 'lighttrail-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));

  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes the pair as `server.crt` / `server.key` (mode 0600) and returns the paths. */
export function writeCertificate(dir: string, material: TestCertificate) {
  const certFile = path.join(dir, 'server.crt');
  const keyFile = path.join(dir, 'server.key');
  writeFileSync(certFile, material.cert);
  writeFileSync(keyFile, material.key, { mode: 0o600 });

  return { certFile, keyFile };
}

export type HandshakeResult =
  | { ok: true; protocol: string | null; cipher: string }
  | { ok: false; code: string | undefined; message: string };

/** One TLS handshake against 127.0.0.1; the client options decide what is offered. */
export function handshake(port: number, options: ConnectionOptions): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...options });
    socket.once('secureConnect', () => {
      resolve({ ok: true, protocol: socket.getProtocol(), cipher: socket.getCipher().name });
      socket.destroy();
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve({ ok: false, code: error.code, message: error.message });
    });
  });
}

export interface TestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface TestRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  ca: string;
  host?: string;
}

/** One HTTPS request on a fresh connection (no agent), verifying the server against `ca`. */
export function send(port: number, options: TestRequest): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: options.host ?? '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: options.headers,
        ca: options.ca,
        servername: 'localhost',
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Writes raw bytes over TLS and collects everything the server sends until it closes the
 * connection or `waitMs` passes: for requests a well-behaved client library would not send.
 */
export function sendRaw(
  port: number,
  ca: string,
  write: (socket: tls.TLSSocket) => void,
  waitMs = 5000,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca }, () =>
      write(socket),
    );
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, waitMs);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
  });
}
