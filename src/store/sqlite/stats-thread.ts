import { Worker } from 'node:worker_threads';

import type { Stats, StatsQuery } from '../../domain/stats.js';
import { compiledUrl } from '../../dist-path.js';
import { RequestError, StoreError, type ErrorCode } from '../../errors.js';
import type { ControlStore, TenantStatsSource } from '../types.js';
import type { StatsReply, StatsRequest } from './stats-worker.js';

export interface StatsThreadOptions {
  /** Questions waiting or running at once; one more is refused with a retryable 503. */
  maxWaiting?: number;
  /**
   * Longest a question waits for its answer. Past it the thread, and the query it is running,
   * is stopped: its questions get a retryable 503 and the next question starts a new thread.
   */
  timeoutMs?: number;
}

/**
 * Runs statistics queries on the statistics thread (stats-worker.ts), one at a time. A thread
 * that dies or overruns fails the questions it held with a retryable 503, and the next question
 * starts a new one.
 */
export class StatsThread implements TenantStatsSource {
  private worker: Worker | undefined;
  private readonly waiting = new Map<
    number,
    { resolve: (stats: Stats) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }
  >();
  private nextId = 1;
  private asked = 0;
  private readonly maxWaiting: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly control: ControlStore,
    options: StatsThreadOptions = {},
  ) {
    this.maxWaiting = options.maxWaiting ?? 32;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async stats(tenantId: string, query: StatsQuery): Promise<Stats> {
    // Counted from the call, not from the hand-over: the key lookup comes in between.
    if (this.asked >= this.maxWaiting) throw unavailable('statistics are busy; retry shortly');

    this.asked++;
    try {
      return await this.ask(tenantId, query);
    } finally {
      this.asked--;
    }
  }

  private async ask(tenantId: string, query: StatsQuery): Promise<Stats> {
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
      const worker = this.thread();
      const timer = setTimeout(() => {
        // The thread is still on this question or one before it: stop it, query and all.
        if (this.worker === worker) this.worker = undefined;
        this.failAll(new Error(`a statistics query ran over ${this.timeoutMs} ms`));
        void worker.terminate();
      }, this.timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      worker.postMessage(request);
    });
  }

  forget(tenantId: string): void {
    this.worker?.postMessage({ op: 'forget', tenantId } satisfies StatsRequest);
  }

  close(): void {
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(new Error('the statistics thread was closed'));
    void worker?.terminate();
  }

  private thread(): Worker {
    if (this.worker !== undefined) return this.worker;

    const worker = new Worker(compiledUrl(import.meta.url, './stats-worker.ts'));
    worker.on('message', (reply: StatsReply) => {
      const waiting = this.waiting.get(reply.id);
      if (waiting === undefined) return;

      this.waiting.delete(reply.id);
      clearTimeout(waiting.timer);
      if (reply.ok) waiting.resolve(reply.stats);
      else waiting.reject(new StoreError(reply.code as ErrorCode, reply.message));
    });
    const fail = (cause: unknown) => {
      if (this.worker !== worker) return;

      this.worker = undefined;
      this.failAll(cause);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`statistics thread exited with code ${code}`)));
    this.worker = worker;

    return worker;
  }

  /** A retryable 503 for every question held, as for a file that cannot be read now. */
  private failAll(cause: unknown): void {
    for (const { reject, timer } of this.waiting.values()) {
      clearTimeout(timer);
      reject(unavailable('statistics are unavailable', cause));
    }
    this.waiting.clear();
  }
}

function unavailable(message: string, cause?: unknown): RequestError {
  return new RequestError('ERR_STORE_UNAVAILABLE', 503, message, cause, { 'Retry-After': '5' });
}
