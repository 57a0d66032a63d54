import { randomBytes } from 'node:crypto';
import path from 'node:path';

import { afterEach, beforeEach } from 'vitest';

import { migrate } from '../../src/store/sqlite/migrate.js';
import { openEncrypted } from '../../src/store/sqlite/open.js';
import { TENANT_MIGRATIONS } from '../../src/store/sqlite/schema.js';
import type { ControlStore } from '../../src/store/types.js';
import { tempDir } from './temp.js';

export interface TenantFile {
  /** The encrypted, migrated organisation file of the running test. */
  readonly file: string;
  readonly key: Buffer;
  /** The part of a control store a queue asks: where the file is and its key. */
  readonly control: ControlStore;
}

/**
 * A fresh organisation file for each test of the calling `describe`, in a temporary folder
 * removed after the test. Read its fields inside tests and hooks: they change per test.
 */
export function useTenantFile(): TenantFile {
  let cleanup: () => void = () => undefined;
  const current = { file: '', key: Buffer.alloc(0) };
  const control = {
    tenantKey: () => Promise.resolve({ version: 1, key: current.key }),
    tenantFile: () => current.file,
  } as unknown as ControlStore;

  beforeEach(() => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    current.file = path.join(temp.dir, 'tenant.db');
    current.key = randomBytes(32);
    const db = openEncrypted(current.file, current.key, { create: true });
    migrate(db, TENANT_MIGRATIONS);
    db.close();
  });

  afterEach(() => cleanup());

  return {
    get file() {
      return current.file;
    },
    get key() {
      return current.key;
    },
    control,
  };
}
