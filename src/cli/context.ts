import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

import Database from 'better-sqlite3-multiple-ciphers';

import { loadConfig } from '../config/load.js';
import type { Config } from '../config/settings.js';
import { openKeyProvider } from '../crypto/keyring.js';
import type { KeyProvider } from '../crypto/provider.js';
import { ConfigError, LightTrailError } from '../errors.js';
import { createLogger, type Logger } from '../log/logger.js';
import { SqliteControlStore } from '../store/sqlite/control.js';
import type { ControlStore } from '../store/types.js';

export interface CliContext {
  config: Config;
  logger: Logger;
  provider: KeyProvider;
  control: ControlStore;
  generatedKey: boolean;
  /** Where the master key came from: the variable's name or the key file's path. */
  keySource: string;
}

/** The shared start of every command: settings, logger, master key, control store. */
export async function openContext(
  options: { allowGenerate?: boolean; config?: Config } = {},
): Promise<CliContext> {
  const config = options.config ?? loadConfig();
  const logger = createLogger({ level: config.logLevel });
  // Only the commands that create data create its folder: any other, pointed at the wrong place,
  // says so and leaves nothing behind (QA).
  if (options.allowGenerate !== true) requireDataFolder(config);

  // Before the key is read: a key rotation finishing meanwhile would leave this command sealing
  // new keys under the retired master key.
  holdDataLock(config);
  const opened = openKeyProvider(config, logger, { allowGenerate: options.allowGenerate ?? false });
  const control = await SqliteControlStore.open(config.dataDir, opened.provider);

  return {
    config,
    logger,
    provider: opened.provider,
    control,
    generatedKey: opened.generated,
    keySource: opened.source,
  };
}

/** Refuses with ERR_NO_DATA, creating nothing, when the data folder does not exist. */
export function requireDataFolder(config: Config): void {
  if (existsSync(config.dataDir)) return;

  throw new LightTrailError(
    'ERR_NO_DATA',
    `${config.dataDir} does not exist: run "lighttrail setup" first, or set ` +
      'LIGHTTRAIL_DATA_DIR to the data folder of the server',
  );
}

/**
 * Refuses a data folder that is a file (ERR_CONFIG_INVALID), or one this user cannot read and
 * write (ERR_DATA_ACCESS): reported so, not as a raw system error or, further on, as a database
 * that "does not open with its key" (QA).
 */
export function checkDataFolder(config: Config): void {
  if (!existsSync(config.dataDir)) return;

  if (!statSync(config.dataDir).isDirectory()) {
    throw new ConfigError(
      'ERR_CONFIG_INVALID',
      `LIGHTTRAIL_DATA_DIR: ${config.dataDir} is a file, not a folder`,
    );
  }
  for (const name of ['', 'tenants', 'control.db']) {
    const target = path.join(config.dataDir, name);
    if (name !== '' && !existsSync(target)) continue;

    const folder = name !== 'control.db';
    try {
      accessSync(target, constants.R_OK | constants.W_OK | (folder ? constants.X_OK : 0));
    } catch (cause) {
      throw new LightTrailError(
        'ERR_DATA_ACCESS',
        `${target} is not readable and writable by this user: check its owner and mode`,
        { cause },
      );
    }
  }
}

const DATA_LOCK_FILE = 'data.lock';

let dataLock: Database.Database | undefined;

/**
 * Every command that opens the data folder holds a shared lock on `<dataDir>/data.lock` until it
 * ends (the server for as long as it runs), and a command that rewrites key material or deletes
 * an organisation upgrades it to an exclusive one (`requireSoleUse`): such a command runs alone.
 * Without it, a `migrate` or a starting server that opened an organisation in the middle of its
 * data key rotation took the rotation for an interrupted one and undid it, and the rotation then
 * destroyed every key of the organisation; a `setup` during a master key rotation sealed the new
 * organisation's key under the retired master key (QA). The lock is SQLite's own on that file,
 * which the operating system drops when the process ends, however it ends.
 */
function holdDataLock(config: Config): void {
  if (dataLock !== undefined) return;

  makeDataFolder(config);
  const db = new Database(path.join(config.dataDir, DATA_LOCK_FILE));
  try {
    db.pragma('busy_timeout = 0');
    db.exec('BEGIN');
    // A read takes the shared lock; the transaction keeps it.
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
    throw new LightTrailError(
      'ERR_DATA_BUSY',
      `${config.dataDir} is being changed by a key rotation or an organisation deletion: ` +
        'try again when it is done',
      { status: 409 },
    );
  }

  dataLock = db;
}

/**
 * Commands that rewrite key material or delete an organisation: refused while a server runs, or
 * while any other command uses the data folder; from here on, none can start until this ends.
 */
export function requireSoleUse(config: Config, action: string): void {
  if (serverRunning(config)) throw serverRunningError(config, action);

  holdDataLock(config);
  const lock = dataLock as Database.Database;
  lock.exec('ROLLBACK');
  try {
    lock.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
    throw new LightTrailError(
      'ERR_DATA_BUSY',
      `${action} needs ${config.dataDir} to itself, and another LightTrail command is using it ` +
        '(an import, a migrate, a setup...): try again when it is done',
      { status: 409 },
    );
  }
}

/**
 * Creates the data folder (and the folders above it) if it is missing, after checking the one
 * there (checkDataFolder): every command that opens the folder comes through here. A path
 * through a file, a broken link or a folder this user may not write is said so, not as a raw
 * system error (final QA).
 */
function makeDataFolder(config: Config): void {
  checkDataFolder(config);
  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new LightTrailError(
        'ERR_DATA_ACCESS',
        `${config.dataDir} cannot be created: this user may not write where it goes (${code})`,
        { cause },
      );
    }
    throw new ConfigError(
      'ERR_CONFIG_INVALID',
      `LIGHTTRAIL_DATA_DIR: ${config.dataDir} cannot be created: a part of its path is a file ` +
        `or a broken link (${code})`,
      cause,
    );
  }
}

const importLocks: Database.Database[] = [];

/**
 * One import per site at a time: two imports of one site each kept its own sessions in memory,
 * and their visitors and sessions counted twice (QA; pageviews were deduplicated). An
 * exclusive SQLite lock on `<dataDir>/import-<siteId>.lock`, dropped when the process ends.
 */
export function holdImportLock(config: Config, siteId: string): void {
  const db = new Database(path.join(config.dataDir, `import-${siteId}.lock`));
  db.pragma('busy_timeout = 0');
  try {
    db.exec('BEGIN EXCLUSIVE');
  } catch {
    db.close();
    throw new LightTrailError(
      'ERR_DATA_BUSY',
      `another import into site ${siteId} is running: run one at a time, or the second would ` +
        'count its visitors and sessions again',
      { status: 409 },
    );
  }
  importLocks.push(db);
}

const PID_FILE = 'server.pid';
const LOCK_FILE = 'server.lock';

let heldLock: Database.Database | undefined;

/**
 * Marks the data folder as served by this process. The mark is an exclusive SQLite lock on
 * `<dataDir>/server.lock`, which the operating system drops when the process ends, however it
 * ends: no stale mark after a crash, and no way to lose it by deleting a file. The pid file
 * beside it is only for people to read.
 */
export function holdServerLock(config: Config): void {
  makeDataFolder(config);
  const db = new Database(path.join(config.dataDir, LOCK_FILE));
  db.pragma('busy_timeout = 0');
  try {
    db.exec('BEGIN EXCLUSIVE');
  } catch {
    db.close();
    throw serverRunningError(config, 'starting a second server');
  }

  heldLock = db;
  writeFileSync(path.join(config.dataDir, PID_FILE), `${process.pid}\n`, { mode: 0o600 });
}

export function releaseServerLock(config: Config): void {
  rmSync(path.join(config.dataDir, PID_FILE), { force: true });
  heldLock?.close();
  heldLock = undefined;
}

/** True when another process serves this data folder. */
export function serverRunning(config: Config): boolean {
  const file = path.join(config.dataDir, LOCK_FILE);
  if (heldLock !== undefined || !existsSync(file)) return false;

  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 0');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('ROLLBACK');

    return false;
  } catch (error) {
    return (error as { code?: string }).code === 'SQLITE_BUSY';
  } finally {
    db.close();
  }
}

/** The pid the running server wrote, for messages. */
export function serverPid(config: Config): string {
  try {
    return readFileSync(path.join(config.dataDir, PID_FILE), 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

function serverRunningError(config: Config, action: string): LightTrailError {
  return new LightTrailError(
    'ERR_SERVER_RUNNING',
    `${action} needs the server stopped ` +
      `(a LightTrail server, pid ${serverPid(config)}, uses ${config.dataDir})`,
    { status: 409 },
  );
}

/** Writes to standard output: the CLI's only way to speak besides the logger. */
export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Settings another terminal's commands must share with this server, none of them secret. */
const SHARED_SETTINGS = [
  'LIGHTTRAIL_CONFIG',
  'LIGHTTRAIL_DATA_DIR',
  'LIGHTTRAIL_MASTER_KEY_FILE',
  'LIGHTTRAIL_HOST',
  'LIGHTTRAIL_PORT',
];

/** `text` as one word for a POSIX shell: as it is when plain, else in single quotes. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

/**
 * What to put before a printed `npx lighttrail ...` so that, typed in another terminal, it
 * finds this command's data folder, key file and server: the non-secret LIGHTTRAIL_* settings
 * of this process (never the master key or a token), the data folder as resolved, and `port`
 * when given (the port a server got, also when it asked for any free one).
 */
export function sharedSettings(config: Config, port?: number): string {
  const value = (name: string): string => {
    if (name === 'LIGHTTRAIL_DATA_DIR') return config.dataDir;
    if (name === 'LIGHTTRAIL_PORT' && port !== undefined) return String(port);

    return process.env[name] as string;
  };

  return SHARED_SETTINGS.filter((name) => process.env[name] !== undefined)
    .map((name) => `${name}=${shellWord(value(name))} `)
    .join('');
}
