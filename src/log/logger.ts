import { isSensitiveKey, REDACTED, redactText, redactValue } from './redact.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export const LOG_LEVELS = Object.keys(RANK) as LogLevel[];

/** Where finished log lines go. The default writes JSON lines to stderr. */
export type LogSink = (line: string) => void;

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
  readonly level: LogLevel;
}

let buffered: string[] = [];
let flushScheduled = false;

/**
 * Writes the log lines not yet written. Lines are buffered for one turn of the event loop and
 * written together, one write for many requests' lines instead of one each; anything that writes
 * to stderr by itself calls this first so the order holds, and so does process exit.
 */
export function flushLogs(): void {
  flushScheduled = false;
  if (buffered.length === 0) return;

  const text = buffered.join('');
  buffered = [];
  process.stderr.write(text);
}

const stderrSink: LogSink = (line) => {
  buffered.push(`${line}\n`);
  if (flushScheduled) return;

  flushScheduled = true;
  setImmediate(flushLogs);
};

process.on('exit', flushLogs);

/**
 * The one logger. Events are short dotted names (`server.listening`); fields are redacted before
 * serialisation, so a caller passing a request object cannot leak its query, cookie or address.
 *
 * @example
 * const log = createLogger({ level: 'info' });
 * log.info('server.listening', { port: 8443 });
 */
export function createLogger(
  options: { level?: LogLevel; sink?: LogSink; bindings?: Record<string, unknown> } = {},
): Logger {
  const level = options.level ?? 'info';
  const sink = options.sink ?? stderrSink;
  const bindings = options.bindings ?? {};

  const write = (
    at: Exclude<LogLevel, 'silent'>,
    event: string,
    fields?: Record<string, unknown>,
  ) => {
    if (RANK[at] < RANK[level]) return;

    const record: Record<string, unknown> = {
      time: new Date().toISOString(),
      level: at,
      event: redactText(event),
    };
    for (const source of [bindings, fields]) {
      for (const key in source) {
        record[key] = isSensitiveKey(key) ? REDACTED : redactValue(source[key], 1);
      }
    }
    sink(JSON.stringify(record));
  };

  return {
    level,
    debug: (event, fields) => write('debug', event, fields),
    info: (event, fields) => write('info', event, fields),
    warn: (event, fields) => write('warn', event, fields),
    error: (event, fields) => write('error', event, fields),
    child: (more) => createLogger({ level, sink, bindings: { ...bindings, ...more } }),
  };
}

/** A logger that keeps its lines in memory: for tests that scan log output for leaks. */
export function createMemoryLogger(level: LogLevel = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];

  return { logger: createLogger({ level, sink: (line) => lines.push(line) }), lines };
}
