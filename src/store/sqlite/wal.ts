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
  const wal = readWalHeader(fd);
  if (wal === null || !wal.known) return 0;

  const frame = Buffer.alloc(FRAME_HEADER);
  let commits = 0;
  for (let index = accepted; index < wal.frames; index++) {
    readSync(fd, frame, 0, FRAME_HEADER, WAL_HEADER + index * wal.frameSize);
    // Of the WAL's current generation (its salts), and closing a transaction.
    if (frame.subarray(8, 16).equals(wal.salts) && frame.readUInt32BE(4) !== 0) commits++;
  }

  return commits;
}

/** The WAL index header (https://www.sqlite.org/walformat.html#the_wal_index_file_format). */
const INDEX_COPY = 48;
const INDEX_READ = 2 * INDEX_COPY + 4;

/**
 * Committed transactions that a WAL left by a crash can no longer give back, seen by comparing it
 * with the WAL index the crashed process left beside it: the index records how many frames were
 * committed (`mxFrame`) and how many of them were copied into the database file (`nBackfill`).
 * Committed frames not yet copied, and a WAL that is shorter than them, whose header fails its
 * checksum, or whose salts are not the index's, mean acknowledged data SQLite would drop without
 * a word: its recovery reads a WAL with a bad header as empty, and one cut short up to its end.
 * Must run before any connection opens the file, since the first one rebuilds the index from
 * the WAL; with another process using the file, the index is live and this finds nothing.
 * Returns what was found, or null (also when there is no index, or it is not a valid one).
 */
export function walCutShort(file: string): string | null {
  const indexFd = sqliteFileDescriptor(`${file}-shm`);
  if (indexFd === null) return null;

  // A process committing meanwhile changes the index: read it again around the WAL's header.
  for (let attempt = 0; attempt < 3; attempt++) {
    const before = readIndex(indexFd);
    if (before === null || before.nBackfill >= before.mxFrame) return null;

    const fd = sqliteFileDescriptor(`${file}-wal`);
    const wal = fd === null ? null : readWalHeader(fd);
    const after = readIndex(indexFd);
    if (after === null || !after.raw.equals(before.raw)) continue;

    const committed = before.mxFrame - before.nBackfill;
    if (wal === null || !wal.valid || !wal.salts.equals(before.salts)) {
      return `its WAL header is missing or damaged: ${committed} committed frames cannot be read`;
    }

    if (wal.frames < before.mxFrame) {
      return `its WAL was cut short: ${before.mxFrame} frames committed, ${wal.frames} present`;
    }

    return null;
  }

  return null;
}

interface IndexHeader {
  raw: Buffer;
  mxFrame: number;
  nBackfill: number;
  salts: Buffer;
}

/** The index header, when both of its copies agree and it was initialised; else null. */
function readIndex(fd: number): IndexHeader | null {
  const raw = Buffer.alloc(INDEX_READ);
  if (readSync(fd, raw, 0, INDEX_READ, 0) < INDEX_READ) return null;

  const first = raw.subarray(0, INDEX_COPY);
  if (!first.equals(raw.subarray(INDEX_COPY, 2 * INDEX_COPY)) || first[12] !== 1) return null;

  const u32 = (at: number) => (LITTLE_ENDIAN ? raw.readUInt32LE(at) : raw.readUInt32BE(at));

  // The salts are kept as the WAL header's bytes, whatever the machine's byte order.
  return { raw, mxFrame: u32(16), nBackfill: u32(2 * INDEX_COPY), salts: raw.subarray(32, 40) };
}

interface WalHeader {
  /** The magic number is SQLite's. */
  known: boolean;
  /** Known, and the header's checksum holds. */
  valid: boolean;
  salts: Buffer;
  frameSize: number;
  /** Whole frames the file has. */
  frames: number;
}

/** The WAL header as SQLite would judge it, and the whole frames the file has. */
function readWalHeader(fd: number): WalHeader | null {
  const header = Buffer.alloc(WAL_HEADER);
  if (readSync(fd, header, 0, WAL_HEADER, 0) < WAL_HEADER) return null;

  const magic = header.readUInt32BE(0);
  const known = WAL_MAGIC.has(magic);
  const frameSize = FRAME_HEADER + header.readUInt32BE(8);
  const [s1, s2] = checksum(header.subarray(0, 24), (magic & 1) === 1);
  const valid = known && header.readUInt32BE(24) === s1 && header.readUInt32BE(28) === s2;
  const frames = Math.floor((fstatSync(fd).size - WAL_HEADER) / frameSize);

  return { known, valid, salts: header.subarray(16, 24), frameSize, frames: Math.max(0, frames) };
}

/** SQLite's WAL checksum over `data` (8-byte steps), its words big- or little-endian. */
function checksum(data: Buffer, bigEndian: boolean): [number, number] {
  let s1 = 0;
  let s2 = 0;
  for (let at = 0; at < data.length; at += 8) {
    const x0 = bigEndian ? data.readUInt32BE(at) : data.readUInt32LE(at);
    const x1 = bigEndian ? data.readUInt32BE(at + 4) : data.readUInt32LE(at + 4);
    s1 = (s1 + x0 + s2) >>> 0;
    s2 = (s2 + x1 + s1) >>> 0;
  }

  return [s1, s2];
}
