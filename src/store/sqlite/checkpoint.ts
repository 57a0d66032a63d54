import type { Db } from './open.js';

/**
 * A pass that copied at most this many frames took about a millisecond, so the writer's commits
 * meanwhile left little behind. A pass copies the frames committed before it began: the first,
 * the bulk, takes tens of milliseconds on a 2-vCPU machine under load, and the frames committed
 * meanwhile took the writer 3 to 7 ms to copy between two of its commits, a stall that every
 * request waiting for the next commit saw. Each further pass copies the frames committed during
 * the one before, fewer each time.
 */
const SETTLED_FRAMES = 64;
const MAX_PASSES = 4;

interface CheckpointRow {
  busy: number;
  log: number;
  checkpointed: number;
}

export interface Passes {
  passes: number;
  /** Frames copied by each pass. */
  copied: number[];
  /** Frames in the WAL not yet copied when the last pass ended (as that pass saw the WAL). */
  left: number;
}

/**
 * PASSIVE checkpoints of `db` one after another while each still finds much to copy: the
 * checkpointer thread's part of a cycle (see `CheckpointCycle` in writer-worker.ts). Never blocks
 * the writer.
 */
export function checkpointInPasses(db: Db): Passes {
  const result: Passes = { passes: 0, copied: [], left: 0 };
  let done = 0;
  while (result.passes < MAX_PASSES) {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)') as CheckpointRow[];
    // Not a WAL file, or fewer frames than copied before: the writer started the WAL over.
    if (row === undefined || row.log < done) break;

    const copied = row.checkpointed - done;
    result.passes += 1;
    result.copied.push(copied);
    result.left = row.log - row.checkpointed;
    done = row.checkpointed;
    // Little copied: little was committed meanwhile, or a reader on an older state of the file
    // holds the copy back (the next pass would copy no more). A pass may leave frames behind
    // while the writer commits (QA: one in eight under a busy writer), so that alone is no stop.
    if (copied <= SETTLED_FRAMES) break;
  }

  return result;
}
