import { parentPort } from 'node:worker_threads';

import type { EnrichedEvent, FilteredHit } from '../../domain/event.js';
import { migrate } from './migrate.js';
import { isCorruption, openEncrypted, type Db } from './open.js';
import { TENANT_MIGRATIONS } from './schema.js';
import { TenantWriter } from './writer.js';

/**
 * The writer thread: owns every tenant file's write connection, so SQLite's fsync and WAL
 * checkpoints never block the event loop that answers requests. Each tenant's batch commits in
 * its own transaction and gets its own result.
 */
export interface TenantBatch {
  tenantId: string;
  file: string;
  key: Uint8Array;
  events: EnrichedEvent[];
  filtered: FilteredHit[];
  /** How many of `events` each waiting request contributed, in order. */
  sizes: number[];
}

export type BatchResult =
  | { ok: true; perRequest: Array<{ inserted: number; duplicates: number }> }
  | { ok: false; code: string; message: string };

export type WorkerRequest =
  | { op: 'commit'; id: number; batches: TenantBatch[] }
  | { op: 'forget'; id: number; tenantId: string }
  | { op: 'close'; id: number };

export interface WorkerReply {
  id: number;
  results: BatchResult[];
}

const open = new Map<string, { db: Db; writer: TenantWriter }>();

function writerFor(batch: TenantBatch): TenantWriter {
  const known = open.get(batch.tenantId);
  if (known !== undefined) return known.writer;

  const db = openEncrypted(batch.file, Buffer.from(batch.key), { create: false });
  migrate(db, TENANT_MIGRATIONS);
  // Checkpoints run on the checkpointer thread; a safety net remains for a stalled one.
  db.pragma('wal_autocheckpoint = 20000');
  const writer = new TenantWriter(db);
  open.set(batch.tenantId, { db, writer });

  return writer;
}

function forget(tenantId: string): void {
  const known = open.get(tenantId);
  if (known === undefined) return;
  try {
    known.db.pragma('wal_checkpoint(TRUNCATE)');
  } catch {
    // Closing still writes back what it can.
  }

  known.db.close();
  open.delete(tenantId);
}

function commit(batch: TenantBatch): BatchResult {
  try {
    const { written } = writerFor(batch).commit(batch.events, batch.filtered);
    let offset = 0;
    const perRequest = batch.sizes.map((size) => {
      const slice = written.slice(offset, offset + size);
      offset += size;
      const inserted = slice.filter(Boolean).length;

      return { inserted, duplicates: size - inserted };
    });

    return { ok: true, perRequest };
  } catch (error) {
    forget(batch.tenantId);
    const code = isCorruption(error)
      ? 'ERR_DB_CORRUPT'
      : ((error as { code?: string }).code ?? 'ERR_STORE_UNAVAILABLE');

    return { ok: false, code: String(code), message: (error as Error).message };
  }
}

parentPort?.on('message', (message: WorkerRequest) => {
  let results: BatchResult[] = [];
  if (message.op === 'commit') results = message.batches.map(commit);
  else if (message.op === 'forget') forget(message.tenantId);
  else for (const tenantId of [...open.keys()]) forget(tenantId);

  parentPort?.postMessage({ id: message.id, results } satisfies WorkerReply);
});
