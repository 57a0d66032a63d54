import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * A minimal X.509 v3 certificate writer (RFC 5280) for the development certificate. It uses only
 * `node:crypto`: @peculiar/x509 2.2 cannot load without a global Reflect-metadata polyfill, which
 * is not a dependency of ours, and a self-signed leaf needs a handful of DER shapes, no more.
 * Parsing and checking stay with Node's own `X509Certificate`.
 *
 * @example
 * const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
 * const pem = createSelfSignedCertificate({ privateKey, publicKey, commonName: 'localhost',
 *   dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'], notAfter: inOneYear });
 */
export interface SelfSignedRequest {
  privateKey: KeyObject;
  publicKey: KeyObject;
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  notBefore?: Date;
  notAfter: Date;
}

/** Returns the PEM text of a self-signed server certificate for an EC (P-256) or RSA key. */
export function createSelfSignedCertificate(request: SelfSignedRequest): string {
  const algorithm = signatureAlgorithm(request.privateKey);
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))),
    integer(serialNumber()),
    algorithm,
    name(request.commonName),
    sequence(time(request.notBefore ?? new Date()), time(request.notAfter)),
    name(request.commonName),
    request.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...extensions(request))),
  );
  const signature = sign('sha256', tbs, request.privateKey);
  const der = sequence(tbs, algorithm, bitString(signature));

  return toPem(der);
}

const OID = {
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

function signatureAlgorithm(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === 'ec') return sequence(oid(OID.ecdsaWithSha256));
  if (key.asymmetricKeyType === 'rsa') return sequence(oid(OID.sha256WithRsa), NULL);

  throw new TypeError(`unsupported key type for a certificate: ${key.asymmetricKeyType}`);
}

function extensions(request: SelfSignedRequest): Buffer[] {
  const names = [
    ...request.dnsNames.map((dns) => tlv(0x82, Buffer.from(dns, 'ascii'))),
    ...request.ipAddresses.map((ip) => tlv(0x87, ipBytes(ip))),
  ];
  // RFC 5280 4.2.1.3: digitalSignature for ECDHE signing; RSA adds keyEncipherment for old peers.
  const usage = request.privateKey.asymmetricKeyType === 'rsa' ? [0x05, 0xa0] : [0x07, 0x80];
  const spki = request.publicKey.export({ type: 'spki', format: 'der' });

  return [
    extension(OID.basicConstraints, true, sequence()),
    extension(OID.keyUsage, true, tlv(0x03, Buffer.from(usage))),
    extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth))),
    extension(OID.subjectAltName, false, sequence(...names)),
    extension(
      OID.subjectKeyIdentifier,
      false,
      octetString(createHash('sha1').update(spki).digest()),
    ),
  ];
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  const flag = critical ? [tlv(0x01, Buffer.from([0xff]))] : [];

  return sequence(oid(id), ...flag, octetString(value));
}

function name(commonName: string): Buffer {
  return sequence(tlv(0x31, sequence(oid(OID.commonName), tlv(0x0c, Buffer.from(commonName)))));
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always in UTC, seconds. */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const year = date.getUTCFullYear();

  return year < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii'))
    : tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}

/** 16 random bytes, positive (RFC 5280 4.1.2.2 allows up to 20 octets). */
function serialNumber(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;

  return bytes;
}

function ipBytes(ip: string): Buffer {
  const family = isIP(ip);
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  if (family !== 6 || ip.includes('.'))
    throw new TypeError(`unsupported IP for a certificate: ${ip}`);

  const [head = '', tail] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((group, index) => out.writeUInt16BE(parseInt(group, 16), index * 2));

  return out;
}

const NULL = Buffer.from([0x05, 0x00]);

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

/** DER definite length: short form below 128, else 0x80 | byte count, then big-endian bytes. */
function length(size: number): Buffer {
  if (size < 0x80) return Buffer.from([size]);

  const bytes: number[] = [];
  for (let rest = size; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);

  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function sequence(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function explicit(tagNumber: number, inner: Buffer): Buffer {
  return tlv(0xa0 | tagNumber, inner);
}

function integer(unsigned: Buffer): Buffer {
  const padded = (unsigned[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), unsigned]) : unsigned;

  return tlv(0x02, padded);
}

function octetString(content: Buffer): Buffer {
  return tlv(0x04, content);
}

function bitString(content: Buffer): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([0]), content]));
}

/** X.690 8.19: the first two arcs share one byte, every arc is base-128 with a continuation bit. */
function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes: number[] = [first * 40 + second];
  for (const arc of rest) {
    const chunk: number[] = [arc & 0x7f];
    for (let value = arc >>> 7; value > 0; value >>>= 7) chunk.unshift((value & 0x7f) | 0x80);
    bytes.push(...chunk);
  }

  return tlv(0x06, Buffer.from(bytes));
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];

  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
