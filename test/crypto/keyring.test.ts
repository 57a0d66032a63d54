import { chmodSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config/load.js';
import { associatedData, open, seal } from '../../src/crypto/envelope.js';
import { openKeyProvider } from '../../src/crypto/keyring.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { tempDir } from '../helpers/temp.js';

describe('master key source', () => {
  it('generates a 0600 key file in development, warns loudly, and reuses it', () => {
    const { dir, cleanup } = tempDir();
    const config = loadConfig({ env: { LIGHTTRAIL_DATA_DIR: dir }, cwd: dir });
    const { logger, lines } = createMemoryLogger();

    const first = openKeyProvider(config, logger);
    const second = openKeyProvider(config, logger);

    expect(first.generated).toBe(true);
    expect(second.generated).toBe(false);
    expect(second.provider.currentVersion()).toBe(first.provider.currentVersion());
    expect(statSync(path.join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    expect(lines.filter((line) => line.includes('keys.dev_master_key_generated'))).toHaveLength(1);
    expect(lines.join('\n')).not.toContain(
      JSON.parse(readFileSync(path.join(dir, 'master.key'), 'utf8')).keys[
        first.provider.currentVersion()
      ],
    );
    cleanup();
  });

  it('warns when the key file is readable by others', () => {
    const { dir, cleanup } = tempDir();
    const config = loadConfig({ env: { LIGHTTRAIL_DATA_DIR: dir }, cwd: dir });
    openKeyProvider(config, createMemoryLogger().logger);
    chmodSync(path.join(dir, 'master.key'), 0o644);
    const { logger, lines } = createMemoryLogger();

    openKeyProvider(config, logger);

    expect(lines.some((line) => line.includes('keys.master_key_file_exposed'))).toBe(true);
    cleanup();
  });

  it('refuses production without a supplied key and a missing key file', () => {
    const { logger } = createMemoryLogger();

    expect(() =>
      openKeyProvider(loadConfig({ env: { LIGHTTRAIL_ENV: 'production' }, cwd: '/tmp' }), logger),
    ).toThrowError(expect.objectContaining({ code: 'ERR_MASTER_KEY_MISSING' }));
    expect(() =>
      openKeyProvider(
        loadConfig({ env: { LIGHTTRAIL_MASTER_KEY_FILE: '/nonexistent/key' }, cwd: '/tmp' }),
        logger,
      ),
    ).toThrowError(expect.objectContaining({ code: 'ERR_MASTER_KEY_MISSING' }));
  });
});

describe('envelope encryption', () => {
  it('binds a sealed key to its purpose, owner and version', () => {
    const master = Buffer.alloc(32, 7);
    const sealed = seal(
      master,
      Buffer.from('data key'),
      associatedData({ purpose: 'tenant', owner: 'a', version: 1 }),
    );

    expect(
      open(
        master,
        sealed,
        associatedData({ purpose: 'tenant', owner: 'a', version: 1 }),
      ).toString(),
    ).toBe('data key');
    for (const context of [
      { purpose: 'tenant' as const, owner: 'b', version: 1 },
      { purpose: 'tenant' as const, owner: 'a', version: 2 },
      { purpose: 'salt' as const, owner: 'a', version: 1 },
    ]) {
      expect(() => open(master, sealed, associatedData(context))).toThrowError(
        expect.objectContaining({ code: 'ERR_KEY_UNWRAP' }),
      );
    }

    const tampered = Buffer.from(sealed);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 1) ^ 1, tampered.length - 1);
    expect(() =>
      open(master, tampered, associatedData({ purpose: 'tenant', owner: 'a', version: 1 })),
    ).toThrowError(expect.objectContaining({ code: 'ERR_KEY_UNWRAP' }));
  });

  it('keeps length-prefixed contexts apart ("ab"+"c" is not "a"+"bc")', () => {
    expect(associatedData({ purpose: 'tenant', owner: 'ab', version: 1 })).not.toEqual(
      associatedData({ purpose: 'tenant', owner: 'a', version: 1 }),
    );
  });
});
