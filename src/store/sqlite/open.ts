import {
  accessSync,
  chmodSync,
  constants,
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import path from 'node:path';

import Database from 'better-sqlite3-multiple-ciphers';

import { StoreError } from '../../errors.js';
import { sqliteFileDescriptor } from './wal.js';

export type Db = Database.Database;

const PLAIN_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Opens (or creates) a SQLite file encrypted with AES-256 in the SQLCipher v4 scheme, keyed with a
 * raw 256-bit key (no passphrase derivation: the key already is random). WAL and journal files
 * are encrypted by the same cipher. A file that does not decrypt with `key` is refused with
 * ERR_DB_KEY before any statement runs.
 */
export function openEncrypted(
  file: string,
  key: Buffer,
  options: { create?: boolean; readonly?: boolean } = {},
): Db {
  if (!options.create && !existsSync(file)) {
    throw new StoreError('ERR_DB_CORRUPT', `database file ${file} is missing`);
  }

  if (!options.create && statSync(file).size === 0) {
    throw new StoreError('ERR_DB_CORRUPT', `database file ${file} is empty`);
  }

  // A file this user may not write (or read) would fail below as one that "does not open with
  // this key": said as it is instead (QA).
  if (existsSync(file)) {
    const readonly = options.readonly === true;
    try {
      accessSync(file, constants.R_OK | (readonly ? 0 : constants.W_OK));
    } catch (cause) {
      const access = readonly ? 'readable' : 'readable and writable';
      throw new StoreError(
        'ERR_DATA_ACCESS',
        `database file ${file} is not ${access} by this user: check its owner and mode`,
        cause,
      );
    }
  }

  const creating = options.create === true && !existsSync(file);
  let db: Db;
  try {
    db = new Database(file, {
      readonly: options.readonly ?? false,
      fileMustExist: !options.create,
    });
  } catch (cause) {
    throw new StoreError('ERR_DB_CORRUPT', `database file ${file} cannot be opened`, cause);
  }

  try {
    applyKey(db, key);
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (cause) {
    db.close();
    // Looked at only now: reading the file ourselves while another connection of this process
    // has it open could cost that connection its locks (see sqliteFileDescriptor).
    if (hasPlaintextHeader(file)) {
      throw new StoreError('ERR_DB_CORRUPT', `database file ${file} is not encrypted`, cause);
    }
    throw new StoreError(
      'ERR_DB_KEY',
      `database file ${file} does not open with this key (wrong key or damaged file)`,
      cause,
    );
  }

  if (creating) chmodSync(file, 0o600);
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    // FULL: the WAL is synced at every commit, so an acknowledged write survives power loss.
    db.pragma('synchronous = FULL');
  }

  // Sorts and temporary tables too large for memory would otherwise spill, decrypted, into a
  // file under /var/tmp: the cipher covers the database, its WAL and journal, nothing else.
  db.pragma('temp_store = MEMORY');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('secure_delete = ON');

  return db;
}

export function applyKey(db: Db, key: Buffer): void {
  db.pragma(`cipher = 'sqlcipher'`);
  db.pragma('legacy = 4');
  db.pragma(`key = "x'${key.toString('hex')}'"`);
}

/**
 * Re-encrypts the file under `newKey` so that a crash at any moment leaves it whole under one of
 * the two keys. Rekeying the file in place did not: SQLite3MultipleCiphers writes the rollback
 * journal of a rekey so that neither key reads it back, and a rotation killed half-way left a
 * file neither key opened (fifteenth session's QA). So the file is copied (`VACUUM INTO`, under
 * the old key still), the copy rekeyed, made durable, and renamed over the file: the rename is
 * atomic, and until it happens the file is untouched. It needs the file's size again in free
 * space for the while, and no other connection on the file (its callers hold the data folder).
 */
export function rekeyFile(file: string, oldKey: Buffer, newKey: Buffer): void {
  const copy = rekeyCopy(file);
  removeRekeyCopy(file);

  const db = openEncrypted(file, oldKey);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.prepare('VACUUM INTO ?').run(copy);
  } finally {
    db.close();
  }

  chmodSync(copy, 0o600);
  const fresh = openEncrypted(copy, oldKey);
  try {
    rekey(fresh, newKey);
  } finally {
    fresh.close();
  }

  // The last connection closed: its WAL is gone, or empty (a stray one would be read into the
  // new file as frames of its own).
  if (existsSync(`${file}-wal`) && statSync(`${file}-wal`).size > 0) {
    removeRekeyCopy(file);
    throw new StoreError('ERR_DATA_BUSY', `database file ${file} is in use by another process`);
  }
  syncFile(copy);
  renameSync(copy, file);
  rmSync(`${file}-shm`, { force: true });
  syncFile(path.dirname(file));
}

/** Where `rekeyFile` builds the new file. */
function rekeyCopy(file: string): string {
  return `${file}.rekey`;
}

/** Removes what an interrupted `rekeyFile` left beside `file`: the copy and its journals. */
export function removeRekeyCopy(file: string): void {
  const copy = rekeyCopy(file);
  for (const suffix of ['', '-journal', '-wal', '-shm'])
    rmSync(`${copy}${suffix}`, { force: true });
}

function syncFile(target: string): void {
  const fd = openSync(target, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Re-encrypts the whole file under `newKey`. SQLite3MultipleCiphers cannot rekey in WAL mode. */
function rekey(db: Db, newKey: Buffer): void {
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.pragma('journal_mode = DELETE');
  db.pragma(`rekey = "x'${newKey.toString('hex')}'"`);
  db.pragma('journal_mode = WAL');
}

function hasPlaintextHeader(file: string): boolean {
  const fd = sqliteFileDescriptor(file);
  if (fd === null) return false;

  const header = Buffer.alloc(16);
  const read = readSync(fd, header, 0, 16, 0);

  return read === 16 && header.equals(PLAIN_HEADER);
}

/**
 * SQLite's quick check: every page of the file read and decrypted, structure verified. It costs
 * a full read, so it runs at start and in `doctor`, not per request.
 */
export function integrityCheck(db: Db, what: string): void {
  let result: unknown;
  try {
    result = db.pragma('quick_check(1)', { simple: true });
  } catch (cause) {
    throw new StoreError('ERR_DB_CORRUPT', `${what} is damaged (${oneLine(cause)})`, cause);
  }

  // SQLite's first finding: a page number and what is wrong with it, never row content.
  if (result !== 'ok')
    throw new StoreError('ERR_DB_CORRUPT', `${what} is damaged (${oneLine(result)})`);
}

function oneLine(finding: unknown): string {
  const text = finding instanceof Error ? finding.message : String(finding);

  return text.replace(/\s*\n\s*/g, '; ');
}

/** True for SQLite's corruption errors. */
export function isCorruption(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? '';

  return code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB';
}
