import { parentPort } from 'node:worker_threads';

import type { Stats, StatsQuery } from '../../domain/stats.js';
import { LightTrailError } from '../../errors.js';
import { migrate } from './migrate.js';
import { isCorruption, openEncrypted, type Db } from './open.js';
import { TENANT_MIGRATIONS } from './schema.js';
import { queryStats } from './stats.js';

/**
 * The statistics thread: runs the stats queries on its own connection to each tenant file, so
 * a long one (a year of a busy site) never holds up the event loop that answers beacons and
 * health checks. Reads run beside the writer thread thanks to WAL.
 */
export type StatsRequest =
  | { op: 'stats'; id: number; tenantId: string; file: string; key: Uint8Array; query: StatsQuery }
  | { op: 'forget'; tenantId: string };

export type StatsReply =
  { id: number; ok: true; stats: Stats } | { id: number; ok: false; code: string; message: string };

const connections = new Map<string, Db>();

function connection(request: Extract<StatsRequest, { op: 'stats' }>): Db {
  const known = connections.get(request.tenantId);
  if (known !== undefined) return known;

  let db: Db;
  try {
    db = openEncrypted(request.file, Buffer.from(request.key));
  } catch (error) {
    // The data key unwrapped under the master key, so a file it does not open is damaged.
    if (error instanceof LightTrailError && error.code === 'ERR_DB_KEY') {
      throw new LightTrailError('ERR_DB_CORRUPT', 'tenant database is damaged', { cause: error });
    }

    throw error;
  }

  migrate(db, TENANT_MIGRATIONS);
  connections.set(request.tenantId, db);

  return db;
}

function forget(tenantId: string): void {
  connections.get(tenantId)?.close();
  connections.delete(tenantId);
}

function answer(request: Extract<StatsRequest, { op: 'stats' }>): StatsReply {
  try {
    return { id: request.id, ok: true, stats: queryStats(connection(request), request.query) };
  } catch (error) {
    forget(request.tenantId);
    const code = isCorruption(error)
      ? 'ERR_DB_CORRUPT'
      : error instanceof LightTrailError
        ? error.code
        : 'ERR_INTERNAL';

    return { id: request.id, ok: false, code, message: (error as Error).message };
  }
}

parentPort?.on('message', (request: StatsRequest) => {
  if (request.op === 'forget') forget(request.tenantId);
  else parentPort?.postMessage(answer(request));
});
