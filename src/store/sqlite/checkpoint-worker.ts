import { parentPort, workerData, type MessagePort } from 'node:worker_threads';

import { nameThread } from '../../thread-name.js';
import { checkpointInPasses } from './checkpoint.js';
import { openEncrypted, type Db } from './open.js';

/**
 * The checkpointer thread: copies committed WAL pages back into each tenant file on its own
 * connection, so the writer never pays for a whole checkpoint inside a commit (which doubled
 * commit time and set the p99 of the collect endpoint). PASSIVE checkpoints never block the
 * writer.
 *
 * The writer asks for a checkpoint through its own port once enough has been committed (see
 * `CheckpointCycle` in writer-worker.ts) and is told when it is done: the writer then copies the
 * few pages committed meanwhile itself, between two commits, which lets SQLite start the WAL over
 * from its beginning. Under steady load a checkpoint on this thread alone never catches up with
 * the writer, and the WAL would only grow.
 */
export type CheckpointRequest =
  | { op: 'watch'; tenantId: string; file: string; key: Uint8Array }
  | { op: 'forget'; tenantId: string }
  | { op: 'close' };

/** Between the writer and this thread, on the port the writer was given. */
export type CheckpointCall = { op: 'checkpoint'; tenantId: string };
export type CheckpointDone = { op: 'checkpointed'; tenantId: string };

export interface CheckpointerData {
  /** The writer's end of it is in the writer's `WriterOptions.checkpointPort`. */
  port?: MessagePort;
}

nameThread('lt-checkpoint');

const watched = new Map<string, Db>();
const writer = (workerData as CheckpointerData | undefined)?.port;

function checkpoint(tenantId: string): void {
  const db = watched.get(tenantId);
  if (db === undefined) return;

  try {
    checkpointInPasses(db);
  } catch {
    // A file being rekeyed or deleted: drop it; the writer registers it again when needed.
    forget(tenantId);
  }
}

function forget(tenantId: string): void {
  const db = watched.get(tenantId);
  if (db === undefined) return;
  if (db.open) db.close();
  watched.delete(tenantId);
}

// Answered even for a tenant not (or no longer) watched: the writer then does it all itself.
writer?.on('message', (call: CheckpointCall) => {
  checkpoint(call.tenantId);
  writer.postMessage({ op: 'checkpointed', tenantId: call.tenantId } satisfies CheckpointDone);
});

parentPort?.on('message', (message: CheckpointRequest) => {
  if (message.op === 'watch') {
    if (watched.has(message.tenantId)) return;
    try {
      const db = openEncrypted(message.file, Buffer.from(message.key), { create: false });
      watched.set(message.tenantId, db);
    } catch {
      // Unreadable now: the writer reports it; nothing to checkpoint.
    }
  } else if (message.op === 'forget') {
    forget(message.tenantId);
  } else {
    writer?.close();
    for (const tenantId of [...watched.keys()]) forget(tenantId);
    parentPort?.postMessage('closed');
  }
});
