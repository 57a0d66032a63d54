import { fstatSync, openSync, readSync, statSync } from 'node:fs';
import { endianness } from 'node:os';

/**
 * What LightTrail reads of SQLite's files itself (https://www.sqlite.org/walformat.html): the
 * frame count in the WAL index (`-shm`), the frame headers of the WAL, which the cipher leaves
 * unencrypted, and the first bytes of a database file.
 */

const descriptors = new Map<string, { fd: number; ino: number }>();

/**
 * A read-only descriptor of one of SQLite's files, opened once (per thread) and never closed;
 * null when the file does not exist. POSIX advisory locks belong to the process, and closing any
 * descriptor of a file releases every lock the process holds on it, SQLite's own included
 * (https://www.sqlite.org/howtocorrupt.html, section 2.2). With its WAL locks gone, the server
 * looked closed to other processes: an import or `migrate` beside it then took itself for the
 * last connection and deleted the WAL the server was still committing into, and a crash later
 * lost what had been acknowledged. So these files are only read through descriptors kept open.
 * SQLite deletes a WAL and its index when the last connection closes and makes new ones later: a
 * replaced file gets a new descriptor, the old one stays open (a few per file over a run).
 */
export function sqliteFileDescriptor(file: string): number | null {
  let ino: number;
  try {
    ino = statSync(file).ino;
  } catch {
    return null;
  }

  const known = descriptors.get(file);
  if (known !== undefined && known.ino === ino) return known.fd;

  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  descriptors.set(file, { fd, ino: fstatSync(fd).ino });

  return fd;
}

const LITTLE_ENDIAN = endianness() === 'LE';
const INDEX_HEADER = 20;
const mxFrame = Buffer.alloc(INDEX_HEADER);

/**
 * Frames in the WAL as SQLite reads it: `mxFrame` of the WAL index header, kept in the machine's
 * byte order. Null when the index cannot be read.
 */
export function walIndexFrames(indexFd: number): number | null {
  if (readSync(indexFd, mxFrame, 0, INDEX_HEADER, 0) < INDEX_HEADER) return null;

  return LITTLE_ENDIAN ? mxFrame.readUInt32LE(16) : mxFrame.readUInt32BE(16);
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
export function committedPastWalEnd(file: string): string | null {
  const indexFd = sqliteFileDescriptor(`${file}-shm`);
  const fd = indexFd === null ? null : sqliteFileDescriptor(`${file}-wal`);
  if (indexFd === null || fd === null) return null;

  // Another process (a server beside an import) may commit during the scan: its frames would
  // look like ones SQLite refused. The index moving means exactly that, so look again; a WAL
  // that never holds still is left unjudged.
  for (let attempt = 0; attempt < 3; attempt++) {
    const before = walIndexFrames(indexFd);
    const commits = before === null ? 0 : commitsPast(fd, before);
    if (before === null || walIndexFrames(indexFd) !== before) continue;

    return commits < 2
      ? null
      : `its WAL holds ${commits} committed transactions that SQLite cannot read back`;
  }

  return null;
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
