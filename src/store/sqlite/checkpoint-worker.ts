import { statSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

import { openEncrypted, type Db } from './open.js';

/**
 * The checkpointer thread: copies committed WAL pages back into each tenant file on its own
 * connection, so the writer never pays for a checkpoint inside a commit (which doubled commit
 * time and set the p99 of the collect endpoint). PASSIVE checkpoints never block the writer.
 */
export type CheckpointRequest =
  | { op: 'watch'; tenantId: string; file: string; key: Uint8Array }
  | { op: 'forget'; tenantId: string }
  | { op: 'close' };

const INTERVAL_MS = 250;
/** Below this the WAL is left to grow: small checkpoints cost more than they save. */
const MIN_WAL_BYTES = 16 * 1024 * 1024;

const watched = new Map<string, { file: string; db: Db }>();

function checkpointAll(): void {
  for (const [tenantId, entry] of watched) {
    try {
      if (walSize(entry.file) < MIN_WAL_BYTES) continue;
      entry.db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // A file being rekeyed or deleted: drop it; the writer registers it again when needed.
      forget(tenantId);
    }
  }
}

function walSize(file: string): number {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}

function forget(tenantId: string): void {
  const entry = watched.get(tenantId);
  if (entry === undefined) return;
  if (entry.db.open) entry.db.close();
  watched.delete(tenantId);
}

const timer = setInterval(checkpointAll, INTERVAL_MS);

parentPort?.on('message', (message: CheckpointRequest) => {
  if (message.op === 'watch') {
    if (watched.has(message.tenantId)) return;
    try {
      const db = openEncrypted(message.file, Buffer.from(message.key), { create: false });
      watched.set(message.tenantId, { file: message.file, db });
    } catch {
      // Unreadable now: the writer reports it; nothing to checkpoint.
    }
  } else if (message.op === 'forget') {
    forget(message.tenantId);
  } else {
    clearInterval(timer);
    for (const tenantId of [...watched.keys()]) forget(tenantId);
    parentPort?.postMessage('closed');
  }
});
