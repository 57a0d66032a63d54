import { randomBytes } from 'node:crypto';

import type { Stats, StatsQuery } from '../../domain/stats.js';
import { StoreError } from '../../errors.js';
import type { ControlStore, TenantStore } from '../types.js';
import { migrate } from './migrate.js';
import { integrityCheck, isCorruption, openEncrypted, type Db } from './open.js';
import { TENANT_MIGRATIONS } from './schema.js';
import { queryStats } from './stats.js';

/** Opens a tenant's own file with that tenant's own data key, migrating it if needed. */
export async function openTenantDb(
  control: ControlStore,
  tenantId: string,
  options: { readonly?: boolean } = {},
): Promise<Db> {
  const { key } = await control.tenantKey(tenantId);
  const db = openEncrypted(control.tenantFile(tenantId), key, { readonly: options.readonly });
  if (!options.readonly) migrate(db, TENANT_MIGRATIONS);

  return db;
}

/**
 * A tenant's file as a store, opened with its data key and migrated. The key came unwrapped
 * from the control store, so a file it does not open is damaged: ERR_DB_CORRUPT, naming `what`.
 */
export function openTenantStore(file: string, key: Buffer, what: string): SqliteTenantStore {
  let db: Db;
  try {
    db = openEncrypted(file, key);
  } catch (error) {
    if (error instanceof StoreError && error.code === 'ERR_DB_KEY') {
      throw new StoreError('ERR_DB_CORRUPT', `${what} is damaged`, error);
    }

    throw error;
  }

  try {
    migrate(db, TENANT_MIGRATIONS);
  } catch (error) {
    db.close();
    throw error;
  }

  return new SqliteTenantStore(db);
}

/**
 * Reads a tenant's file through (SQLite's quick_check) on a read-only connection, which never
 * copies a WAL into the file or deletes it on close: a damaged file, and the WAL beside it, are
 * left exactly as found. Throws ERR_DB_CORRUPT naming the file and what is wrong with it.
 */
export async function checkTenantFile(control: ControlStore, tenantId: string): Promise<void> {
  const file = control.tenantFile(tenantId);
  const what = `tenant database ${file}`;
  const { key } = await control.tenantKey(tenantId);
  let db: Db;
  try {
    db = openEncrypted(file, key, { readonly: true });
  } catch (error) {
    if (error instanceof StoreError && error.code === 'ERR_DB_CORRUPT') throw error;
    // The key unwrapped, so a file it does not open is damaged; so is one that cannot be read.
    const reason = error instanceof StoreError ? 'does not open with its key' : 'cannot be read';
    throw new StoreError('ERR_DB_CORRUPT', `${what} is damaged: it ${reason}`, error);
  }

  try {
    integrityCheck(db, what);
  } finally {
    db.close();
  }
}

/** A tenant's own encrypted file, read side: statistics and the import deduplication key. */
export class SqliteTenantStore implements TenantStore {
  constructor(private readonly db: Db) {}

  stats(query: StatsQuery): Stats {
    try {
      return queryStats(this.db, query);
    } catch (error) {
      if (isCorruption(error))
        throw new StoreError('ERR_DB_CORRUPT', 'tenant database is damaged', error);
      throw error;
    }
  }

  check(): void {
    integrityCheck(this.db, 'tenant database');
  }

  importKey(): Buffer {
    const read = () =>
      this.db.prepare(`SELECT value FROM meta WHERE key = 'import_dedupe_key'`).get() as
        { value: Buffer } | undefined;
    const known = read();
    if (known !== undefined) return known.value;

    this.db
      .prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('import_dedupe_key', ?)`)
      .run(randomBytes(32));

    return (read() as { value: Buffer }).value;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
