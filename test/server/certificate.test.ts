import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { isLightTrailError } from '../../src/errors.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { loadOrCreateCertificate, type CertificateConfig } from '../../src/server/certificate.js';
import { makeCertificate, makeTempDir, writeCertificate } from '../helpers/tls.js';

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isLightTrailError(error)) return { code: error.code, message: error.message };
    throw error;
  }

  throw new Error('expected a refusal');
}

describe('loadOrCreateCertificate', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let dev: CertificateConfig;

  beforeEach(() => {
    temp = makeTempDir();
    dev = {
      env: 'development',
      dataDir: path.join(temp.dir, 'data'),
      tlsCertFile: undefined,
      tlsKeyFile: undefined,
    };
  });

  afterEach(() => temp.remove());

  it('generates a localhost ECDSA P-256 certificate once, private, and reuses it', async () => {
    const { logger, lines } = createMemoryLogger();
    const first = await loadOrCreateCertificate(dev, logger);
    const second = await loadOrCreateCertificate(dev, logger);

    const dir = path.join(dev.dataDir, 'tls');
    const parsed = new X509Certificate(first.cert);
    expect(first.generated).toBe(true);
    expect(second.generated).toBe(false);
    expect(second.fingerprint256).toBe(first.fingerprint256);
    expect(second.key).toBe(first.key);
    expect(first.fingerprint256).toBe(parsed.fingerprint256);
    expect(first.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(parsed.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: 'prime256v1' });
    expect(parsed.subjectAltName).toBe(
      'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(parsed.verify(parsed.publicKey)).toBe(true);
    const days = (Date.parse(parsed.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(360);
    expect(days).toBeLessThan(367);
    expect(readFileSync(path.join(dir, 'localhost.crt'), 'utf8')).toBe(first.cert);
    expect(statSync(path.join(dir, 'localhost.key')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir).sort()).toEqual(['localhost.crt', 'localhost.key']);
    expect(lines.join('\n')).not.toContain('PRIVATE KEY');
    expect(lines.filter((line) => line.includes('tls.certificate_generated'))).toHaveLength(1);
  });

  it('replaces a stored certificate that has expired or is unreadable', async () => {
    const { logger } = createMemoryLogger();
    const dir = path.join(dev.dataDir, 'tls');
    mkdirSync(dir, { recursive: true });
    const expired = makeCertificate('ec', {
      notBefore: new Date(Date.now() - 400 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    writeFileSync(path.join(dir, 'localhost.crt'), expired.cert);
    writeFileSync(path.join(dir, 'localhost.key'), expired.key, { mode: 0o644 });

    const renewed = await loadOrCreateCertificate(dev, logger);
    expect(renewed.generated).toBe(true);
    expect(renewed.cert).not.toBe(expired.cert);
    expect(statSync(path.join(dir, 'localhost.key')).mode & 0o777).toBe(0o600);

    writeFileSync(path.join(dir, 'localhost.crt'), 'not a certificate');
    const again = await loadOrCreateCertificate(dev, logger);
    expect(again.generated).toBe(true);
    expect(again.fingerprint256).not.toBe(renewed.fingerprint256);
  });

  it('uses a configured certificate and key as they are', async () => {
    const material = makeCertificate('rsa');
    const files = writeCertificate(temp.dir, material);
    const { logger } = createMemoryLogger();

    const loaded = await loadOrCreateCertificate(
      { ...dev, tlsCertFile: files.certFile, tlsKeyFile: files.keyFile },
      logger,
    );

    expect(loaded).toEqual({
      cert: material.cert,
      key: material.key,
      fingerprint256: new X509Certificate(material.cert).fingerprint256,
      generated: false,
    });
    expect(existsSync(path.join(dev.dataDir, 'tls'))).toBe(false);
  });

  it('refuses an unreadable, non-PEM or mismatched pair with ERR_TLS_CONFIG', async () => {
    const { logger } = createMemoryLogger();
    const good = writeCertificate(temp.dir, makeCertificate('ec'));
    const other = makeCertificate('ec');
    const otherKey = path.join(temp.dir, 'other.key');
    writeFileSync(otherKey, other.key);
    const der = path.join(temp.dir, 'cert.der');
    writeFileSync(der, new X509Certificate(other.cert).raw);
    const garbled = path.join(temp.dir, 'garbled.crt');
    writeFileSync(garbled, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const missing = path.join(temp.dir, 'missing.crt');

    const attempts = [
      { tlsCertFile: missing, tlsKeyFile: good.keyFile, expect: /cannot read/ },
      { tlsCertFile: der, tlsKeyFile: good.keyFile, expect: /not a PEM certificate/ },
      { tlsCertFile: garbled, tlsKeyFile: good.keyFile, expect: /not hold a valid certificate/ },
      { tlsCertFile: good.certFile, tlsKeyFile: good.certFile, expect: /not an unencrypted PEM/ },
      { tlsCertFile: good.certFile, tlsKeyFile: otherKey, expect: /does not match/ },
      { tlsCertFile: good.certFile, tlsKeyFile: undefined, expect: /set together/ },
    ];
    for (const attempt of attempts) {
      const outcome = await refusal(loadOrCreateCertificate({ ...dev, ...attempt }, logger));

      expect(outcome.code).toBe('ERR_TLS_CONFIG');
      expect(outcome.message).toMatch(attempt.expect);
    }

    expect(existsSync(path.join(dev.dataDir, 'tls'))).toBe(false);
  });

  it('refuses to generate a certificate in production', async () => {
    const { logger } = createMemoryLogger();

    const outcome = await refusal(loadOrCreateCertificate({ ...dev, env: 'production' }, logger));

    expect(outcome.code).toBe('ERR_TLS_CONFIG');
    expect(existsSync(dev.dataDir)).toBe(false);
  });
});
