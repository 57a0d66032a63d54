import { constants } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TLS12_CIPHERS, TLS13_CIPHERS, tlsServerOptions } from '../../src/server/tls.js';
import { handshake, makeCertificate, send, type TestCertificate } from '../helpers/tls.js';
import { startTestServer, type TestServer } from './fixture.js';

/** A plain Node TLS server with a given policy: the control that shows what the client offers. */
async function controlServer(material: TestCertificate, options: tls.TlsOptions = {}) {
  const server = tls.createServer({ ...material, ...options }, (socket) => {
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => socket.write(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const OLD_CLIENT = {
  minVersion: 'TLSv1',
  maxVersion: 'TLSv1.1',
  ciphers: 'DEFAULT:@SECLEVEL=0',
} as const;

describe('TLS policy (NIST SP 800-52r2)', () => {
  const ec = makeCertificate('ec');
  const rsa = makeCertificate('rsa');
  let ecServer: TestServer;
  let rsaServer: TestServer;

  beforeAll(async () => {
    ecServer = await startTestServer({ certificate: ec });
    rsaServer = await startTestServer({ certificate: rsa });
  });

  afterAll(async () => {
    await ecServer.close();
    await rsaServer.close();
  });

  it('states the policy precisely', () => {
    const options = tlsServerOptions(ec);

    expect(options.minVersion).toBe('TLSv1.2');
    expect(options.maxVersion).toBe('TLSv1.3');
    expect(options.honorCipherOrder).toBe(true);
    expect(options.ciphers?.split(':')).toEqual([...TLS13_CIPHERS, ...TLS12_CIPHERS]);
    for (const suite of TLS12_CIPHERS) expect(suite).toMatch(/^ECDHE-(ECDSA|RSA)-.*(GCM|POLY1305)/);
    expect((options.secureOptions ?? 0) & constants.SSL_OP_NO_RENEGOTIATION).not.toBe(0);
  });

  it('refuses TLS 1.0 and 1.1 with a protocol_version alert from the server', async () => {
    const control = await controlServer(ec, {
      minVersion: 'TLSv1',
      ciphers: 'DEFAULT:@SECLEVEL=0',
    });
    try {
      // The same client completes a TLS 1.0/1.1 handshake with a lax server: it does offer them.
      const lax = await handshake(control.port, { ...OLD_CLIENT, rejectUnauthorized: false });
      expect(lax).toMatchObject({ ok: true });
      expect(['TLSv1', 'TLSv1.1']).toContain(lax.ok ? lax.protocol : '');
    } finally {
      await control.close();
    }

    for (const maxVersion of ['TLSv1', 'TLSv1.1'] as const) {
      const result = await handshake(ecServer.port, { ...OLD_CLIENT, maxVersion, ca: ec.cert });

      expect(result).toMatchObject({ ok: false, code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
    }
  });

  it('refuses TLS 1.2 CBC and static-RSA suites that a default Node server accepts', async () => {
    const refusedEc = ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES128-SHA'];
    const refusedRsa = ['ECDHE-RSA-AES128-SHA256', 'AES128-GCM-SHA256', 'AES256-SHA256'];
    const cases = [
      { material: ec, server: ecServer, suites: refusedEc },
      { material: rsa, server: rsaServer, suites: refusedRsa },
    ];

    for (const { material, server, suites } of cases) {
      const control = await controlServer(material);
      try {
        for (const ciphers of suites) {
          const client = { maxVersion: 'TLSv1.2', ciphers, ca: material.cert } as const;

          expect(await handshake(control.port, client)).toMatchObject({
            ok: true,
            cipher: ciphers,
          });
          expect(await handshake(server.port, client)).toMatchObject({
            ok: false,
            code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
          });
        }
      } finally {
        await control.close();
      }
    }
  });

  it('accepts nothing in TLS 1.2 but the six ECDHE-AEAD suites (every suite tried)', async () => {
    const accepted = new Set<string>();
    const offered = tls.getCiphers().filter((name) => !name.startsWith('tls_'));
    for (const [material, server] of [
      [ec, ecServer],
      [rsa, rsaServer],
    ] as const) {
      for (const name of offered) {
        const result = await handshake(server.port, {
          maxVersion: 'TLSv1.2',
          ciphers: `${name.toUpperCase()}:@SECLEVEL=0`,
          ca: material.cert,
        });
        if (result.ok) accepted.add(result.cipher);
      }
    }

    expect(offered.length).toBeGreaterThan(20);
    expect([...accepted].sort()).toEqual([...TLS12_CIPHERS].sort());
  });

  it('negotiates TLS 1.2 ECDHE-GCM and TLS 1.3 in the server order', async () => {
    const tls12 = await handshake(ecServer.port, { maxVersion: 'TLSv1.2', ca: ec.cert });
    const tls12Rsa = await handshake(rsaServer.port, {
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-RSA-AES256-GCM-SHA384',
      ca: rsa.cert,
    });
    // The client lists AES-256 first; the server's own order (AES-128 first) decides.
    const tls13 = await handshake(ecServer.port, {
      ca: ec.cert,
      ciphers: 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256',
    });

    expect(tls12).toEqual({
      ok: true,
      protocol: 'TLSv1.2',
      cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256',
    });
    expect(tls12Rsa).toEqual({
      ok: true,
      protocol: 'TLSv1.2',
      cipher: 'ECDHE-RSA-AES256-GCM-SHA384',
    });
    expect(tls13).toEqual({ ok: true, protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' });
  });

  it('refuses renegotiation, which a default Node server allows', async () => {
    const renegotiate = (port: number) =>
      new Promise<Error | null>((resolve) => {
        const socket = tls.connect(
          { host: '127.0.0.1', port, maxVersion: 'TLSv1.2', ca: ec.cert, servername: 'localhost' },
          () => {
            socket.renegotiate({ rejectUnauthorized: true }, (error) => {
              resolve(error);
              socket.destroy();
            });
            // The renegotiation runs on the next exchange of records.
            socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
          },
        );
        // A refused renegotiation may surface as a socket error instead of through the callback.
        socket.on('error', (error) => resolve(error));
      });

    const control = await controlServer(ec);
    try {
      expect(await renegotiate(control.port)).toBeNull();
    } finally {
      await control.close();
    }

    expect((await renegotiate(ecServer.port))?.message).toMatch(/no renegotiation/);
  });

  it('answers plain HTTP on the HTTPS port with no HTTP response', async () => {
    const reply = await new Promise<{ text: string; closed: boolean }>((resolve) => {
      const socket = netConnect({ host: '127.0.0.1', port: ecServer.port }, () => {
        socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
      });
      let text = '';
      const timer = setTimeout(() => resolve({ text, closed: false }), 5000);
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ text, closed: true });
      });
    });

    expect(reply.closed).toBe(true);
    expect(reply.text).not.toMatch(/HTTP\/1\.[01]/);
    expect(reply.text).not.toContain('"status"');
  });

  it('presents a certificate a client verifies for localhost and 127.0.0.1', async () => {
    const byName = await send(ecServer.port, { path: '/healthz', ca: ec.cert });
    const byIp = await handshake(ecServer.port, { ca: ec.cert, servername: undefined });
    const untrusted = await handshake(ecServer.port, { ca: rsa.cert });

    expect(byName.status).toBe(200);
    expect(byIp).toMatchObject({ ok: true });
    expect(untrusted).toMatchObject({ ok: false });
  });
});
