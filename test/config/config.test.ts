import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { describeConfig, loadConfig } from '../../src/config/load.js';
import { SETTINGS } from '../../src/config/settings.js';
import { tempDir } from '../helpers/temp.js';

describe('configuration', () => {
  it('defaults: embedded store in ./data on https://127.0.0.1:8443', () => {
    const config = loadConfig({ env: {}, cwd: '/srv/lt' });

    expect(config).toMatchObject({
      dataDir: '/srv/lt/data',
      host: '127.0.0.1',
      port: 8443,
      env: 'development',
    });
  });

  it.each([
    [{ LIGHTTRAIL_PORT: '70000' }, 'LIGHTTRAIL_PORT: must be between 0 and 65535'],
    [{ LIGHTTRAIL_PORT: '12ab' }, 'LIGHTTRAIL_PORT: must be a whole number'],
    [{ LIGHTTRAIL_LOG_LEVEL: 'loud' }, 'LIGHTTRAIL_LOG_LEVEL: must be one of'],
    [{ LIGHTTRAIL_HOST: 'example.com' }, 'LIGHTTRAIL_HOST: must be an IP address'],
    [{ LIGHTTRAIL_TRUSTED_PROXIES: '10.0.0.0/33' }, 'LIGHTTRAIL_TRUSTED_PROXIES: "10.0.0.0/33"'],
    [{ LIGHTTRAIL_TLS_CERT: '/x.pem' }, 'go together'],
    [{ LIGHTTRAIL_MASTER_KEY: 'a', LIGHTTRAIL_MASTER_KEY_FILE: '/k' }, 'not both'],
    [{ LIGHTTRAIL_COLLECT_MAX_BODY: '10' }, 'LIGHTTRAIL_COLLECT_MAX_BODY: must be between'],
    [{ LIGHTTRAIL_COMMIT_GATHER_MS: '-1' }, 'LIGHTTRAIL_COMMIT_GATHER_MS: must be between 0 and'],
    [{ LIGHTTRAIL_COMMIT_GATHER_MS: '101' }, 'LIGHTTRAIL_COMMIT_GATHER_MS: must be between 0 and'],
    [{ LIGHTTRAIL_COMMIT_GATHER_MS: '1.5' }, 'LIGHTTRAIL_COMMIT_GATHER_MS: must be a whole number'],
    [{ LIGHTTRAIL_METRICS_TOKEN: 'abc' }, 'LIGHTTRAIL_METRICS_TOKEN: must be at least 32'],
    [
      { LIGHTTRAIL_PROT: '8443' },
      'LIGHTTRAIL_PROT: no such setting (did you mean LIGHTTRAIL_PORT?)',
    ],
    [{ LIGHTTRAIL_WHATEVER: 'x' }, 'LIGHTTRAIL_WHATEVER: no such setting'],
  ])('refuses %o with ERR_CONFIG_INVALID naming the setting', (env, message) => {
    expect(() => loadConfig({ env, cwd: '/' })).toThrowError(
      expect.objectContaining({
        code: 'ERR_CONFIG_INVALID',
        message: expect.stringContaining(message),
      }),
    );
  });

  it('an empty variable is an unset one: the default or the file applies (QA)', () => {
    const empty = Object.fromEntries(
      SETTINGS.filter((setting) => setting.kind !== 'list').map((setting) => [setting.env, '']),
    );
    expect(loadConfig({ env: empty, cwd: '/srv/lt' })).toEqual(
      loadConfig({ env: {}, cwd: '/srv/lt' }),
    );
    const config = loadConfig({ env: empty, cwd: '/srv/lt' });
    expect(config).toMatchObject({ dataDir: '/srv/lt/data', port: 8443, host: '127.0.0.1' });
    expect(config.collectMaxBody).toBeGreaterThan(0);
    expect(config.rateLimitPerSecond).toBeGreaterThan(0);

    const { dir, cleanup } = tempDir();
    writeFileSync(path.join(dir, 'lighttrail.config.json'), JSON.stringify({ port: 9443 }));
    expect(loadConfig({ env: { LIGHTTRAIL_PORT: '' }, cwd: dir }).port).toBe(9443);
    cleanup();
  });

  it('refuses the PostgreSQL URL until that backend exists', () => {
    expect(() =>
      loadConfig({ env: { LIGHTTRAIL_DATABASE_URL: 'postgres://x' }, cwd: '/' }),
    ).toThrowError(expect.objectContaining({ code: 'ERR_CONFIG_UNSUPPORTED' }));
  });

  it('reads a JSON config file under the environment, and refuses unknown keys', () => {
    const { dir, cleanup } = tempDir();
    const file = path.join(dir, 'lighttrail.config.json');
    writeFileSync(file, JSON.stringify({ port: 9443, logLevel: 'warn' }));

    expect(loadConfig({ env: { LIGHTTRAIL_LOG_LEVEL: 'error' }, cwd: dir })).toMatchObject({
      port: 9443,
      logLevel: 'error',
    });

    writeFileSync(file, JSON.stringify({ prot: 9443 }));
    expect(() => loadConfig({ env: {}, cwd: dir })).toThrowError(
      expect.objectContaining({
        code: 'ERR_CONFIG_FILE',
        message: expect.stringContaining('unknown setting "prot" (did you mean "port"?)'),
      }),
    );
    // A wrong value from the file names the file's key, not only a variable never set (QA).
    writeFileSync(file, JSON.stringify({ collectMaxBody: 1000 }));
    expect(() => loadConfig({ env: {}, cwd: dir })).toThrowError(
      expect.objectContaining({
        code: 'ERR_CONFIG_INVALID',
        message: expect.stringMatching(
          /^collectMaxBody in the config file \(LIGHTTRAIL_COLLECT_MAX_BODY not set\): must be/,
        ),
      }),
    );
    writeFileSync(file, '{ not json');
    expect(() => loadConfig({ env: {}, cwd: dir })).toThrowError(
      expect.objectContaining({ code: 'ERR_CONFIG_FILE', message: expect.stringMatching(/JSON/) }),
    );
    // A named file that is not there says so, rather than blaming its JSON.
    const missing = { LIGHTTRAIL_CONFIG: 'missing.json' };
    expect(() => loadConfig({ env: missing, cwd: dir })).toThrowError(
      expect.objectContaining({
        code: 'ERR_CONFIG_FILE',
        message: expect.stringMatching(/no such file/),
      }),
    );
    cleanup();
  });

  it('masks every secret in the effective configuration', () => {
    const config = loadConfig({
      env: { LIGHTTRAIL_MASTER_KEY: 'ab'.repeat(32), LIGHTTRAIL_METRICS_TOKEN: 'z'.repeat(40) },
      cwd: '/',
    });
    const shown = JSON.stringify(describeConfig(config));

    expect(shown).not.toContain('abab');
    expect(shown).not.toContain('zzz');
  });

  it('the README documents every setting', () => {
    const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');

    for (const setting of SETTINGS) expect(readme, setting.env).toContain(`| \`${setting.env}\` |`);
  });
});

describe('settings that could never work', () => {
  it('refuses a queue or token bucket smaller than the largest accepted batch', () => {
    expect(() => loadConfig({ env: { LIGHTTRAIL_QUEUE_MAX: '10' }, cwd: '/' })).toThrowError(
      expect.objectContaining({
        code: 'ERR_CONFIG_INVALID',
        message: expect.stringContaining('LIGHTTRAIL_QUEUE_MAX'),
      }),
    );
    expect(() => loadConfig({ env: { LIGHTTRAIL_RATE_BURST: '15' }, cwd: '/' })).toThrowError(
      expect.objectContaining({
        code: 'ERR_CONFIG_INVALID',
        message: expect.stringContaining('LIGHTTRAIL_RATE_BURST'),
      }),
    );
    expect(
      loadConfig({
        env: {
          LIGHTTRAIL_QUEUE_MAX: '10',
          LIGHTTRAIL_COLLECT_MAX_BATCH: '10',
          LIGHTTRAIL_RATE_BURST: '10',
        },
        cwd: '/',
      }).queueMax,
    ).toBe(10);
  });
});
