import { constants } from 'node:crypto';
import type { ServerOptions } from 'node:https';

/**
 * TLS 1.2 suites allowed by NIST SP 800-52r2 section 3.3.1: ephemeral ECDH key exchange (forward
 * secrecy) with an AEAD cipher only. No CBC (Lucky13 family), no static RSA key exchange (no
 * forward secrecy), no finite-field DHE (weak or slow groups). AES-128 first: as strong in
 * practice and faster. ChaCha20-Poly1305 is kept last for clients without AES hardware; it is not
 * in the FIPS list, and a FIPS deployment drops it by removing the two CHACHA20 entries.
 */
export const TLS12_CIPHERS: readonly string[] = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

/** TLS 1.3 suites (all AEAD, all forward-secret by design, RFC 8446 section 9.1). */
export const TLS13_CIPHERS: readonly string[] = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
];

/** Key exchange groups: the NIST curves of SP 800-52r2 3.3.1.2, and X25519 (SP 800-186). */
export const TLS_GROUPS = 'X25519:P-256:P-384';

export interface TlsMaterial {
  cert: string | Buffer;
  key: string | Buffer;
}

/**
 * Server-side TLS options for the HTTPS listener: TLS 1.2 and 1.3 only, the suites above in our
 * order, and renegotiation switched off (CVE-2009-3555 and renegotiation-based DoS; Node only rate
 * limits it by default). Compression stays off as OpenSSL 3 ships it (CRIME).
 *
 * @example
 * https.createServer(tlsServerOptions({ cert, key }), handler);
 */
export function tlsServerOptions(material: TlsMaterial): ServerOptions {
  return {
    cert: material.cert,
    key: material.key,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: [...TLS13_CIPHERS, ...TLS12_CIPHERS].join(':'),
    ecdhCurve: TLS_GROUPS,
    honorCipherOrder: true,
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_COMPRESSION,
  };
}
