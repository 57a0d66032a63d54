import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { loadConfig } from '../config/load.js';
import type { Config } from '../config/settings.js';
import { openKeyProvider } from '../crypto/keyring.js';
import type { KeyProvider } from '../crypto/provider.js';
import { LightTrailError } from '../errors.js';
import { createLogger, type Logger } from '../log/logger.js';
import { SqliteControlStore } from '../store/sqlite/control.js';
import type { ControlStore } from '../store/types.js';

export interface CliContext {
  config: Config;
  logger: Logger;
  provider: KeyProvider;
  control: ControlStore;
  generatedKey: boolean;
}

/** The shared start of every command: settings, logger, master key, control store. */
export async function openContext(
  options: { allowGenerate?: boolean; config?: Config } = {},
): Promise<CliContext> {
  const config = options.config ?? loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const opened = openKeyProvider(config, logger, { allowGenerate: options.allowGenerate ?? false });
  const control = await SqliteControlStore.open(config.dataDir, opened.provider);

  return { config, logger, provider: opened.provider, control, generatedKey: opened.generated };
}

const PID_FILE = 'server.pid';

/** The pid of a LightTrail server running on this data folder, if any. */
export function runningServer(config: Config): number | undefined {
  const file = path.join(config.dataDir, PID_FILE);
  if (!existsSync(file)) return undefined;

  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;

  try {
    process.kill(pid, 0);

    return pid;
  } catch {
    return undefined;
  }
}

export function writePidFile(config: Config): void {
  writeFileSync(path.join(config.dataDir, PID_FILE), `${process.pid}\n`, { mode: 0o600 });
}

export function removePidFile(config: Config): void {
  rmSync(path.join(config.dataDir, PID_FILE), { force: true });
}

/** Commands that rewrite key material refuse while a server holds the files open. */
export function requireStopped(config: Config, action: string): void {
  const pid = runningServer(config);
  if (pid !== undefined && pid !== process.pid) {
    throw new LightTrailError(
      'ERR_SERVER_RUNNING',
      `${action} needs the server stopped (a LightTrail server with pid ${pid} uses ${config.dataDir})`,
      { status: 409 },
    );
  }
}

/** Writes to standard output: the CLI's only way to speak besides the logger. */
export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
