import { Worker } from 'node:worker_threads';

import type { Stats, StatsQuery } from '../../domain/stats.js';
import { compiledUrl } from '../../dist-path.js';
import { RequestError, StoreError, type ErrorCode } from '../../errors.js';
import type { ControlStore, TenantStatsSource } from '../types.js';
import type { StatsReply, StatsRequest } from './stats-worker.js';

/**
 * Runs statistics queries on the statistics thread (stats-worker.ts). A thread that dies fails
 * the questions it held with ERR_STORE_UNAVAILABLE, and the next question starts a new one.
 */
export class StatsThread implements TenantStatsSource {
  private worker: Worker | undefined;
  private readonly waiting = new Map<
    number,
    { resolve: (stats: Stats) => void; reject: (error: Error) => void }
  >();
  private nextId = 1;

  constructor(private readonly control: ControlStore) {}

  async stats(tenantId: string, query: StatsQuery): Promise<Stats> {
    const { key } = await this.control.tenantKey(tenantId);
    const id = this.nextId++;
    const request: StatsRequest = {
      op: 'stats',
      id,
      tenantId,
      file: this.control.tenantFile(tenantId),
      key: new Uint8Array(key),
      query,
    };

    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.thread().postMessage(request);
    });
  }

  forget(tenantId: string): void {
    this.worker?.postMessage({ op: 'forget', tenantId } satisfies StatsRequest);
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = undefined;
  }

  private thread(): Worker {
    if (this.worker !== undefined) return this.worker;

    const worker = new Worker(compiledUrl(import.meta.url, './stats-worker.ts'));
    worker.on('message', (reply: StatsReply) => {
      const waiting = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (reply.ok) waiting?.resolve(reply.stats);
      else waiting?.reject(new StoreError(reply.code as ErrorCode, reply.message));
    });
    const fail = (cause: unknown) => {
      if (this.worker === worker) this.worker = undefined;
      // A retryable 503, as for a file that cannot be read now: the next question starts anew.
      for (const { reject } of this.waiting.values()) {
        reject(
          new RequestError('ERR_STORE_UNAVAILABLE', 503, 'statistics are unavailable', cause, {
            'Retry-After': '5',
          }),
        );
      }
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`statistics thread exited with code ${code}`)));
    this.worker = worker;

    return worker;
  }
}
