import { randomBytes } from 'node:crypto';

import type { Stats, StatsQuery } from '../../domain/stats.js';
import { StoreError } from '../../errors.js';
import type { ControlStore, Redated, RowMark, TenantStore } from '../types.js';
import { migrate } from './migrate.js';
import { integrityCheck, isCorruption, openEncrypted, type Db } from './open.js';
import { TENANT_MIGRATIONS } from './schema.js';
import { redateSite, rowMark } from './redate.js';
import { queryStats } from './stats.js';
import { committedPastWalEnd, walCutShort } from './wal.js';

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
 * `readonly`: a connection that never writes into the file, nor copies the WAL into it when it
 * closes; a file of an older schema is migrated first all the same.
 */
export function openTenantStore(
  file: string,
  key: Buffer,
  what: string,
  options: { readonly?: boolean } = {},
): SqliteTenantStore {
  if (options.readonly === true) {
    refuseWalCutShort(file, what);
    const db = open(file, key, what, true);
    // Figures read past a damaged WAL frame would be short without a word: refuse them.
    const lost = committedPastWalEnd(file);
    if (lost !== null) {
      db.close();
      throw new StoreError('ERR_DB_CORRUPT', `${what} is damaged (${lost})`);
    }

    const latest = TENANT_MIGRATIONS[TENANT_MIGRATIONS.length - 1]?.version ?? 0;
    if (db.pragma('user_version', { simple: true }) === latest) return new SqliteTenantStore(db);

    db.close();
  }

  const db = open(file, key, what, false);
  try {
    migrate(db, TENANT_MIGRATIONS);
  } catch (error) {
    db.close();
    throw error;
  }

  return new SqliteTenantStore(db);
}

/**
 * Opens a tenant's file. Its key came unwrapped from the control store, so a file the key does
 * not open is damaged, and so is a path that is no file (a directory): ERR_DB_CORRUPT, naming
 * `what` and why.
 */
function open(file: string, key: Buffer, what: string, readonly: boolean): Db {
  try {
    return openEncrypted(file, key, { readonly });
  } catch (error) {
    if (
      error instanceof StoreError &&
      (error.code === 'ERR_DB_CORRUPT' || error.code === 'ERR_DATA_ACCESS')
    ) {
      throw error;
    }

    const reason = error instanceof StoreError ? 'does not open with its key' : 'cannot be read';
    throw new StoreError('ERR_DB_CORRUPT', `${what} is damaged: it ${reason}`, error);
  }
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
  refuseWalCutShort(file, what);
  const db = open(file, key, what, true);

  try {
    integrityCheck(db, what);
    // While the connection is open, the WAL's index reflects SQLite's reading of the WAL.
    const lost = committedPastWalEnd(file);
    if (lost !== null) throw new StoreError('ERR_DB_CORRUPT', `${what} is damaged (${lost})`);
  } finally {
    db.close();
  }
}

/** Before any connection rebuilds the WAL index: committed data the WAL cannot give back. */
function refuseWalCutShort(file: string, what: string): void {
  const lost = walCutShort(file);
  if (lost !== null) throw new StoreError('ERR_DB_CORRUPT', `${what} is damaged (${lost})`);
}

/**
 * A tenant's own encrypted file, beside the writer: statistics, the import deduplication key,
 * and moving days after a time zone change.
 */
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

  redate(siteId: string, timeZone: string, after?: RowMark): Redated {
    return redateSite(this.db, siteId, timeZone, after);
  }

  mark(): RowMark {
    return rowMark(this.db);
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
