import { open, stat as statOf, type FileHandle } from 'node:fs/promises';

import { LightTrailError } from '../../errors.js';
import { isLogFormat, parseLine, type LogFormat, type LogRecord } from './parse.js';

/**
 * Longest line parsed, in bytes (without its line break). Real access-log lines stay under 2 KB;
 * anything past 16 KB is junk or an attack on the importer, and holding it whole would let one
 * line without a newline fill memory.
 */
export const MAX_LINE_BYTES = 16 * 1024;

/** One non-blank physical line of the log. `raw` is cut to `MAX_LINE_BYTES` for a longer line. */
export interface LogLine {
  readonly lineNo: number;
  readonly raw: string;
  /** `null` = malformed: not the shape of the format, or longer than `MAX_LINE_BYTES`. */
  readonly record: LogRecord | null;
}

export interface ReadLogOptions {
  /** Called after each chunk read from disk; feeds the progress bar. */
  onProgress?(bytesRead: number, totalBytes: number): void;
}

const NEWLINE = 0x0a;
const CR = 0x0d;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Streams a log file line by line in constant memory: the file is read in 64 KB chunks and split
 * by hand, since `readline` would build a line of any length before handing it over. LF and CRLF
 * endings both work, a last line without a newline is read, a UTF-8 BOM is dropped, and blank
 * lines are skipped (they still count in `lineNo`) so a trailing empty line is not "malformed".
 * Breaking out of the loop closes the file.
 *
 * Throws `ERR_IMPORT_FORMAT` for an unknown format, `ERR_IMPORT_FILE` when the file cannot be
 * opened and `ERR_IMPORT_READ` when reading it fails midway; the message names neither the path
 * nor any content.
 *
 * @example
 * for await (const { lineNo, record } of readLog('access.log', 'combined')) {
 *   if (record === null) malformed.push(lineNo);
 * }
 */
export async function* readLog(
  file: string,
  format: LogFormat,
  opts: ReadLogOptions = {},
): AsyncGenerator<LogLine> {
  if (!isLogFormat(format)) {
    throw new LightTrailError('ERR_IMPORT_FORMAT', 'unknown log format', { status: 400 });
  }

  const { handle, totalBytes } = await openLogFile(file);
  const stream = handle.createReadStream({ highWaterMark: 64 * 1024 });
  const splitter = new LineSplitter();
  let bytesRead = 0;
  let lineNo = 0;

  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytesRead += chunk.length;
      for (const line of splitter.push(chunk)) {
        lineNo += 1;
        const out = toLogLine(lineNo, line, format);
        if (out !== null) yield out;
      }

      opts.onProgress?.(bytesRead, totalBytes);
    }
  } catch (err) {
    // Only the file system's own failures (EIO, EISDIR...) are the file's fault; a throw from
    // onProgress is the caller's bug and goes up unchanged.
    if (!(err instanceof Error && 'syscall' in err)) throw err;
    throw new LightTrailError('ERR_IMPORT_READ', 'reading the log file failed', { cause: err });
  } finally {
    stream.destroy();
  }

  const last = splitter.end();
  if (last !== null) {
    const out = toLogLine(lineNo + 1, last, format);
    if (out !== null) yield out;
  }
}

/** Why a file could not be opened, in words that name neither the path nor its content. */
const OPEN_FAILURES: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  ENOTDIR: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a folder, not a file',
  ELOOP: 'too many symbolic links',
};

/**
 * Opens the log for reading. Refuses with `ERR_IMPORT_FILE`, and the reason, a file that is
 * missing, unreadable or not a regular file: a mistake in what was asked, told before any data
 * is opened (`lighttrail import` calls it first).
 */
export async function openLogFile(
  file: string,
): Promise<{ handle: FileHandle; totalBytes: number }> {
  // Looked at before opening: opening a named pipe waits for a writer, for ever.
  const kind = await statOf(file).catch(() => null);
  if (kind !== null && !kind.isFile()) {
    throw new LightTrailError('ERR_IMPORT_FILE', 'the log is not a regular file', { status: 400 });
  }

  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const reason = OPEN_FAILURES[(err as NodeJS.ErrnoException).code ?? ''] ?? 'unreadable';
    throw new LightTrailError('ERR_IMPORT_FILE', `cannot open the log file (${reason})`, {
      status: 400,
      cause: err,
    });
  }

  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new LightTrailError('ERR_IMPORT_FILE', 'the log is not a regular file', { status: 400 });
  }

  return { handle, totalBytes: stat.size };
}

/** A line's bytes, at most `MAX_LINE_BYTES + 1` of them, and whether more were dropped. */
interface RawLine {
  bytes: Buffer;
  overlong: boolean;
}

function toLogLine(lineNo: number, line: RawLine, format: LogFormat): LogLine | null {
  let bytes = line.bytes;
  if (bytes.at(-1) === CR) bytes = bytes.subarray(0, -1);
  if (lineNo === 1 && bytes.subarray(0, 3).equals(BOM)) bytes = bytes.subarray(3);

  const overlong = line.overlong || bytes.length > MAX_LINE_BYTES;
  const raw = bytes.subarray(0, MAX_LINE_BYTES).toString('utf8');
  if (!overlong && raw.trim() === '') return null;

  return { lineNo, raw, record: overlong ? null : parseLine(raw, format) };
}

/**
 * Splits chunks at LF. Keeps at most `MAX_LINE_BYTES + 1` bytes of the current line (the extra
 * byte leaves room for a CR), so memory stays bounded whatever the file holds.
 */
class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private overlong = false;

  *push(chunk: Buffer): Generator<RawLine> {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      // The usual case, a whole line inside one chunk, is handed over without a copy.
      if (this.size === 0 && !this.overlong && piece.length <= MAX_LINE_BYTES + 1) {
        yield { bytes: piece, overlong: false };
        continue;
      }

      this.keep(piece);
      yield this.take();
    }

    this.keep(chunk.subarray(start));
  }

  /** The last line when the file does not end with a newline. */
  end(): RawLine | null {
    return this.size > 0 || this.overlong ? this.take() : null;
  }

  private keep(piece: Buffer): void {
    const room = MAX_LINE_BYTES + 1 - this.size;
    if (piece.length > room) this.overlong = true;

    const kept = piece.subarray(0, Math.max(room, 0));
    if (kept.length === 0) return;

    // A copy, so a kept slice does not pin the whole 64 KB chunk it came from.
    this.parts.push(Buffer.from(kept));
    this.size += kept.length;
  }

  private take(): RawLine {
    const line = { bytes: Buffer.concat(this.parts, this.size), overlong: this.overlong };
    this.parts = [];
    this.size = 0;
    this.overlong = false;

    return line;
  }
}
