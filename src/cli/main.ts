import { readFileSync } from 'node:fs';

import { LightTrailError } from '../errors.js';
import { flushLogs } from '../log/logger.js';
import { redactText } from '../log/redact.js';
import { apikey } from './apikey.js';
import type { Command } from './command.js';
import { doctor } from './doctor.js';
import { importCommand } from './import.js';
import { keys } from './keys.js';
import { migrateCommand } from './migrate.js';
import { setup } from './setup.js';
import { site } from './site.js';
import { start } from './start.js';
import { stats } from './stats.js';
import { tenant } from './tenant.js';

const COMMANDS: Command[] = [
  start,
  setup,
  migrateCommand,
  keys,
  tenant,
  site,
  apikey,
  importCommand,
  stats,
  doctor,
];

/** Mistakes in what was asked (exit 2), as opposed to failures in doing it (exit 1). */
const USAGE_CODES: ReadonlySet<string> = new Set([
  'ERR_USAGE',
  'ERR_INVALID_ARGUMENT',
  'ERR_SITE_NOT_FOUND',
  'ERR_TENANT_NOT_FOUND',
  'ERR_IMPORT_FORMAT',
  // The log named is missing, unreadable or a folder (a failure while reading it is exit 1).
  'ERR_IMPORT_FILE',
  'ERR_NOT_FOUND',
  'ERR_USER_EXISTS',
  // A master key that is not a key at all is a wrong setting; one that opens nothing is not.
  'ERR_MASTER_KEY_INVALID',
]);

function version(): string {
  const file = new URL('../../package.json', import.meta.url);

  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

function help(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));

  return `LightTrail: privacy-first web analytics for healthcare websites.

Usage: lighttrail <command> [options]

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n')}

Run "lighttrail <command> --help" for a command's options. Settings come from LIGHTTRAIL_*
environment variables or a lighttrail.config.json file; "lighttrail doctor" shows them.`;
}

let ignoring = false;

/**
 * A reader that stops early (`lighttrail doctor | head -2`) closes the pipe under the rest of the
 * output: what is left is dropped, the command still ends with its own exit code, and Node's stack
 * trace for the failed write never shows.
 */
function ignoreClosedOutput(): void {
  if (ignoring) return;

  ignoring = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
  });
}

/**
 * Runs one command and returns the exit code. A known failure prints one line with its stable
 * code, never a stack trace; exit code 2 is a usage or configuration problem, 1 anything else.
 */
export async function run(argv: string[]): Promise<number> {
  ignoreClosedOutput();
  // Every file a command makes is its owner's alone: the databases set their modes, but SQLite's
  // journals, the lock files and a rotation's copy took the shell's 0644 (QA).
  process.umask(0o077);
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    process.stdout.write(`lighttrail ${version()}\n`);

    return 0;
  }

  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${help()}\n`);

    return name === undefined ? 2 : 0;
  }

  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) {
    process.stderr.write(
      `lighttrail: ERR_USAGE: unknown command "${name}" (see "lighttrail --help")\n`,
    );

    return 2;
  }

  try {
    return await command.run(rest);
  } catch (error) {
    flushLogs();
    if (error instanceof LightTrailError) {
      process.stderr.write(`lighttrail: ${error.code}: ${error.message}\n`);

      return USAGE_CODES.has(error.code) || error.code.startsWith('ERR_CONFIG') ? 2 : 1;
    }

    // An unexpected error's text may quote input (a log line, a URL): it passes redaction.
    const message = redactText(String((error as Error)?.message ?? 'unexpected failure'));
    process.stderr.write(`lighttrail: ERR_INTERNAL: ${message}\n`);

    return 1;
  }
}
