import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';

/**
 * What LightTrail reads of SQLite's WAL files itself (https://www.sqlite.org/walformat.html):
 * the frame count in the WAL index (`-shm`), and the frame headers of the WAL, which the cipher
 * leaves unencrypted.
 */

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
      const before = walIndexFrames(indexFd);
      const commits = before === null ? 0 : commitsPast(fd, before);
      if (before === null || walIndexFrames(indexFd) !== before) continue;

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
