import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { Config } from '../config/settings.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { createSelfSignedCertificate } from './self-signed.js';

export interface CertificateMaterial {
  cert: string;
  key: string;
  /** SHA-256 of the DER certificate as colon-separated upper-case hex, as browsers show it. */
  fingerprint256: string;
  /** True when this call wrote a new self-signed certificate. */
  generated: boolean;
}

export type CertificateConfig = Pick<Config, 'env' | 'dataDir' | 'tlsCertFile' | 'tlsKeyFile'>;

const DAY_MS = 24 * 60 * 60 * 1000;
const VALIDITY_DAYS = 365;
/** A generated certificate this close to expiry is replaced at start rather than mid-run. */
const RENEW_BEFORE_DAYS = 7;

/**
 * The certificate the HTTPS server presents. A configured PEM pair is read and checked (readable,
 * PEM, key matches); without one, development gets a self-signed ECDSA P-256 certificate for
 * localhost under `<dataDir>/tls/`, created once and reused until it nears expiry. Production
 * never runs on a generated certificate: browsers would rightly refuse it, and users learn to
 * click through warnings.
 *
 * @example
 * const tls = await loadOrCreateCertificate(config, logger);
 * logger.info('tls.ready', { fingerprint256: tls.fingerprint256 });
 */
export async function loadOrCreateCertificate(
  config: CertificateConfig,
  logger: Logger,
): Promise<CertificateMaterial> {
  if (config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined) {
    return loadConfigured(config.tlsCertFile, config.tlsKeyFile, logger);
  }

  if (config.tlsCertFile !== undefined || config.tlsKeyFile !== undefined) {
    throw tlsError('LIGHTTRAIL_TLS_CERT and LIGHTTRAIL_TLS_KEY must be set together');
  }

  if (config.env === 'production') {
    throw tlsError(
      'production needs a certificate: set LIGHTTRAIL_TLS_CERT and LIGHTTRAIL_TLS_KEY (PEM files)',
    );
  }

  return loadOrCreateDevelopment(path.join(config.dataDir, 'tls'), logger);
}

async function loadConfigured(
  certFile: string,
  keyFile: string,
  logger: Logger,
): Promise<CertificateMaterial> {
  const cert = await readText(certFile, 'LIGHTTRAIL_TLS_CERT');
  const key = await readText(keyFile, 'LIGHTTRAIL_TLS_KEY');
  const parsed = checkPair(cert, key, certFile, keyFile);

  const mode = (await stat(keyFile)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    logger.warn('tls.key_file_permissions', { mode: mode.toString(8), expected: '600' });
  }

  if (Date.parse(parsed.validTo) < Date.now()) {
    logger.warn('tls.certificate_expired', { validTo: logDate(parsed.validTo) });
  }

  return { cert, key, fingerprint256: parsed.fingerprint256, generated: false };
}

async function readText(file: string, setting: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw tlsError(`${setting}: cannot read ${file}`, cause);
  }
}

/** Parses both PEM texts and proves the key belongs to the certificate. */
function checkPair(cert: string, key: string, certFile: string, keyFile: string): X509Certificate {
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) {
    throw tlsError(`LIGHTTRAIL_TLS_CERT: ${certFile} is not a PEM certificate`);
  }

  if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(key)) {
    throw tlsError(
      `LIGHTTRAIL_TLS_KEY: ${keyFile} is not an unencrypted PEM private key (PKCS#8, RSA or EC)`,
    );
  }

  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
  } catch (cause) {
    throw tlsError(`LIGHTTRAIL_TLS_CERT: ${certFile} does not hold a valid certificate`, cause);
  }

  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (cause) {
    throw tlsError(`LIGHTTRAIL_TLS_KEY: ${keyFile} does not hold a valid private key`, cause);
  }

  if (!parsed.checkPrivateKey(privateKey)) {
    throw tlsError(`LIGHTTRAIL_TLS_KEY: ${keyFile} does not match the certificate in ${certFile}`);
  }

  return parsed;
}

async function loadOrCreateDevelopment(dir: string, logger: Logger): Promise<CertificateMaterial> {
  const certFile = path.join(dir, 'localhost.crt');
  const keyFile = path.join(dir, 'localhost.key');

  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);

  const existing = await reuse(certFile, keyFile, logger);
  if (existing !== undefined) return existing;

  const { cert, key } = generate();
  await writeAtomically(keyFile, key, 0o600);
  await writeAtomically(certFile, cert, 0o644);

  const fingerprint256 = new X509Certificate(cert).fingerprint256;
  logger.info('tls.certificate_generated', {
    certFile,
    sha256: logFingerprint(fingerprint256),
    validDays: VALIDITY_DAYS,
  });

  return { cert, key, fingerprint256, generated: true };
}

/** The stored pair when it is sound and not near expiry; otherwise undefined, and why is logged. */
async function reuse(
  certFile: string,
  keyFile: string,
  logger: Logger,
): Promise<CertificateMaterial | undefined> {
  let cert: string;
  let key: string;
  try {
    cert = await readFile(certFile, 'utf8');
    key = await readFile(keyFile, 'utf8');
  } catch {
    return undefined;
  }

  let parsed: X509Certificate;
  try {
    parsed = checkPair(cert, key, certFile, keyFile);
  } catch (error) {
    logger.warn('tls.certificate_replaced', { reason: 'unreadable', error });
    return undefined;
  }

  if (Date.parse(parsed.validTo) - Date.now() < RENEW_BEFORE_DAYS * DAY_MS) {
    logger.info('tls.certificate_replaced', {
      reason: 'expiring',
      validTo: logDate(parsed.validTo),
    });
    return undefined;
  }

  await chmod(keyFile, 0o600);

  return { cert, key, fingerprint256: parsed.fingerprint256, generated: false };
}

function generate(): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Date.now();
  const cert = createSelfSignedCertificate({
    privateKey,
    publicKey,
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
    // An hour back absorbs small clock differences between this machine and a browser's.
    notBefore: new Date(now - 60 * 60 * 1000),
    notAfter: new Date(now + VALIDITY_DAYS * DAY_MS),
  });
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  return { cert, key };
}

/** Write, then rename: a crash never leaves half a key, and no key is ever world-readable. */
async function writeAtomically(file: string, content: string, mode: number): Promise<void> {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, content, { mode, flag: 'wx' });
  await chmod(temporary, mode);
  await rename(temporary, file);
}

/**
 * Log forms that survive redaction: the logger scrubs colon-separated hex groups and `hh:mm:ss`
 * as possible IPv6 addresses, which would blank a fingerprint or an OpenSSL date.
 */
function logFingerprint(fingerprint256: string): string {
  return fingerprint256.replace(/:/g, '').toLowerCase();
}

function logDate(opensslDate: string): string {
  return new Date(opensslDate).toISOString();
}

function tlsError(message: string, cause?: unknown): ConfigError {
  return new ConfigError('ERR_TLS_CONFIG', message, cause);
}
