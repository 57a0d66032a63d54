import { parentPort } from 'node:worker_threads';

import type { Stats, StatsQuery } from '../../domain/stats.js';
import { LightTrailError } from '../../errors.js';
import { nameThread } from '../../thread-name.js';
import { openTenantStore, type SqliteTenantStore } from './tenant.js';

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

nameThread('lt-stats');

const stores = new Map<string, SqliteTenantStore>();

function forget(tenantId: string): void {
  stores.get(tenantId)?.close();
  stores.delete(tenantId);
}

function answer(request: Extract<StatsRequest, { op: 'stats' }>): StatsReply {
  try {
    let store = stores.get(request.tenantId);
    if (store === undefined) {
      store = openTenantStore(request.file, Buffer.from(request.key), 'tenant database', {
        readonly: true,
      });
      stores.set(request.tenantId, store);
    }

    return { id: request.id, ok: true, stats: store.stats(request.query) };
  } catch (error) {
    forget(request.tenantId);
    const code = error instanceof LightTrailError ? error.code : 'ERR_INTERNAL';

    return { id: request.id, ok: false, code, message: (error as Error).message };
  }
}

parentPort?.on('message', (request: StatsRequest) => {
  if (request.op === 'forget') forget(request.tenantId);
  else parentPort?.postMessage(answer(request));
});
