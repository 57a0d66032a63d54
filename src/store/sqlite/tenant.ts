import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';

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
    const db = open(file, key, what, true);
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

function open(file: string, key: Buffer, what: string, readonly: boolean): Db {
  try {
    return openEncrypted(file, key, { readonly });
  } catch (error) {
    if (error instanceof StoreError && error.code === 'ERR_DB_KEY') {
      throw new StoreError('ERR_DB_CORRUPT', `${what} is damaged`, error);
    }

    throw error;
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
    // While the connection is open, the WAL's index reflects SQLite's reading of the WAL.
    const lost = committedPastWalEnd(file);
    if (lost !== null) throw new StoreError('ERR_DB_CORRUPT', `${what} is damaged (${lost})`);
  } finally {
    db.close();
  }
}

const WAL_MAGIC: ReadonlySet<number> = new Set([0x377f0682, 0x377f0683]);
const WAL_HEADER = 32;
const FRAME_HEADER = 24;

/**
 * Damage in the middle of a WAL, which SQLite's recovery cannot tell from a torn write: it ends
 * the WAL at the first frame that fails its checksum, and what was committed after it is lost
 * without a word. The frame headers are not encrypted, so this reads them: frames of the WAL's
 * current generation (its salts) that close a transaction, past the last frame SQLite accepted
 * (`mxFrame` in the WAL index, https://www.sqlite.org/walformat.html). A crash can leave one such
 * transaction half written (the last, never acknowledged); two or more mean committed data
 * behind a damaged frame. Returns what was found, or null.
 */
function committedPastWalEnd(file: string): string | null {
  let fd: number;
  let indexFd: number;
  try {
    indexFd = openSync(`${file}-shm`, 'r');
  } catch {
    return null;
  }
  try {
    fd = openSync(`${file}-wal`, 'r');
  } catch {
    closeSync(indexFd);
    return null;
  }

  try {
    // Another process (a server beside an import) may commit during the scan: its frames would
    // look like ones SQLite refused. The index moving means exactly that, so look again; a WAL
    // that never holds still is left unjudged.
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = acceptedFrames(indexFd);
      const commits = before === null ? 0 : commitsPast(fd, before);
      if (before === null || acceptedFrames(indexFd) !== before) continue;

      return commits < 2
        ? null
        : `its WAL holds ${commits} committed transactions that SQLite cannot read back`;
    }

    return null;
  } finally {
    closeSync(fd);
    closeSync(indexFd);
  }
}

/** `mxFrame` of the WAL index header, in the machine's byte order; null if unreadable. */
function acceptedFrames(indexFd: number): number | null {
  const header = Buffer.alloc(20);
  if (readSync(indexFd, header, 0, 20, 0) < 20) return null;

  return endianness() === 'LE' ? header.readUInt32LE(16) : header.readUInt32BE(16);
}

/** Frames of the WAL's current generation that close a transaction, past frame `accepted`. */
function commitsPast(fd: number, accepted: number): number {
  const size = fstatSync(fd).size;
  const header = Buffer.alloc(WAL_HEADER);
  const read = (buffer: Buffer, at: number) => readSync(fd, buffer, 0, buffer.length, at);
  if (read(header, 0) < WAL_HEADER || !WAL_MAGIC.has(header.readUInt32BE(0))) return 0;

  const frameSize = FRAME_HEADER + header.readUInt32BE(8);
  const salts = [header.readUInt32BE(16), header.readUInt32BE(20)];
  const frame = Buffer.alloc(FRAME_HEADER);
  let commits = 0;
  for (let at = WAL_HEADER + accepted * frameSize; at + frameSize <= size; at += frameSize) {
    read(frame, at);
    const current = frame.readUInt32BE(8) === salts[0] && frame.readUInt32BE(12) === salts[1];
    if (current && frame.readUInt32BE(4) !== 0) commits++;
  }

  return commits;
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
