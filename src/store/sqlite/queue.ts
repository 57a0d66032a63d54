import { Worker } from 'node:worker_threads';

import type { EnrichedEvent, FilteredHit } from '../../domain/event.js';
import { compiledUrl } from '../../dist-path.js';
import { LightTrailError, RequestError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { ControlStore, EventSink, QueueObserver } from '../types.js';
import type { CheckpointRequest } from './checkpoint-worker.js';
import type { BatchResult, TenantBatch, WorkerReply, WorkerRequest } from './writer-worker.js';

export interface QueueOptions {
  control: ControlStore;
  logger: Logger;
  /** Events waiting (queued or being committed) before enqueue refuses with 503. */
  maxDepth: number;
  /** Longest wait before a group commit starts. */
  intervalMs: number;
  /** Commit at once when this many events wait. */
  eagerSize?: number;
  observer?: QueueObserver;
}

interface Pending {
  tenantId: string;
  events: EnrichedEvent[];
  filtered: FilteredHit[];
  resolve: (result: { inserted: number; duplicates: number }) => void;
  reject: (error: Error) => void;
}

/**
 * Group commit: requests add their events here and wait; every few milliseconds (or when enough
 * wait) one message carries all of them to the writer thread, which commits each tenant's share
 * in one transaction. A request is answered only after its events' transaction committed, so a
 * 2xx always means durably stored. One commit is in flight at a time; what arrives meanwhile
 * forms the next group.
 */
export class IngestQueue implements EventSink {
  private readonly worker: Worker;
  private waiting: Pending[] = [];
  private waitingEvents = 0;
  private inFlightEvents = 0;
  private inFlight = false;
  private cancelTimer: (() => void) | undefined;
  private nextId = 1;
  private readonly replies = new Map<number, (reply: WorkerReply) => void>();
  private closed = false;
  private readonly checkpointer: Worker;
  private readonly watched = new Set<string>();
  private failure: Error | undefined;
  private idle: Array<() => void> = [];

  constructor(private readonly options: QueueOptions) {
    this.worker = new Worker(compiledUrl(import.meta.url, './writer-worker.ts'));
    this.checkpointer = new Worker(compiledUrl(import.meta.url, './checkpoint-worker.ts'));
    this.checkpointer.on('error', (error) => {
      // Without it the writer's own safety-net checkpoints take over; ingestion goes on.
      options.logger.warn('ingest.checkpointer_failed', { error });
    });
    this.checkpointer.unref();
    this.worker.on('message', (reply: WorkerReply) => {
      const done = this.replies.get(reply.id);
      this.replies.delete(reply.id);
      done?.(reply);
    });
    const fail = (error: Error) => {
      if (this.failure !== undefined) return;
      this.failure = error;
      options.logger.error('ingest.worker_failed', { error });
      for (const done of this.replies.values()) done({ id: 0, results: [] });
      this.replies.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`writer thread exited with code ${code}`));
    });
  }

  get depth(): number {
    return this.waitingEvents + this.inFlightEvents;
  }

  /** Resolves once the events are committed; refuses at once when the queue is full. */
  enqueue(
    tenantId: string,
    events: EnrichedEvent[],
    filtered: FilteredHit[] = [],
  ): Promise<{ inserted: number; duplicates: number }> {
    if (this.closed) {
      return Promise.reject(new RequestError('ERR_SHUTTING_DOWN', 503, 'server is shutting down'));
    }

    const size = events.length + filtered.length;
    if (this.depth + size > this.options.maxDepth) {
      return Promise.reject(
        new RequestError('ERR_QUEUE_FULL', 503, 'ingest queue is full; retry shortly', undefined, {
          'Retry-After': '1',
        }),
      );
    }

    return new Promise((resolve, reject) => {
      this.waiting.push({ tenantId, events, filtered, resolve, reject });
      this.waitingEvents += size;
      this.options.observer?.depth(this.depth);
      this.schedule();
    });
  }

  /** Waits until everything enqueued so far is committed (or failed). */
  async drain(): Promise<void> {
    if (this.depth === 0 && !this.inFlight) return;

    await new Promise<void>((resolve) => {
      this.idle.push(resolve);
      if (!this.inFlight) void this.flush();
    });
  }

  /** Stops taking events, commits what is queued and stops the writer thread. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
    await this.stopCheckpointer();
    if (this.failure === undefined) await this.send({ op: 'close', id: this.nextId++ });
    await this.worker.terminate();
  }

  /** Makes the writer drop its connection to a tenant file (after a rekey or deletion). */
  async forget(tenantId: string): Promise<void> {
    this.watched.delete(tenantId);
    this.checkpointer.postMessage({ op: 'forget', tenantId } satisfies CheckpointRequest);
    await this.send({ op: 'forget', id: this.nextId++, tenantId });
  }

  private async stopCheckpointer(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      this.checkpointer.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      this.checkpointer.once('exit', () => resolve());
    });
    this.checkpointer.postMessage({ op: 'close' } satisfies CheckpointRequest);
    await closed;
    await this.checkpointer.terminate();
  }

  private schedule(): void {
    if (this.inFlight) return;
    if (this.waitingEvents >= (this.options.eagerSize ?? 2000)) {
      void this.flush();

      return;
    }

    if (this.cancelTimer !== undefined) return;

    // 0: commit on the next turn of the event loop. What arrives while a commit is in flight
    // forms the next group anyway, so waiting longer only adds latency under light load.
    if (this.options.intervalMs === 0) {
      const immediate = setImmediate(() => void this.flush());
      this.cancelTimer = () => clearImmediate(immediate);
    } else {
      const timeout = setTimeout(() => void this.flush(), this.options.intervalMs);
      this.cancelTimer = () => clearTimeout(timeout);
    }
  }

  private async flush(): Promise<void> {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    if (this.inFlight) return;
    if (this.waiting.length === 0) {
      this.settleIdle();

      return;
    }

    const group = this.waiting;
    this.waiting = [];
    this.inFlightEvents = this.waitingEvents;
    this.waitingEvents = 0;
    this.inFlight = true;
    const started = process.hrtime.bigint();

    try {
      await this.commitGroup(group);
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.options.observer?.commit(this.inFlightEvents, seconds);
      this.inFlightEvents = 0;
      this.inFlight = false;
      this.options.observer?.depth(this.depth);
    }

    if (this.waiting.length > 0) void this.flush();
    else this.settleIdle();
  }

  private async commitGroup(group: Pending[]): Promise<void> {
    const byTenant = new Map<string, Pending[]>();
    for (const item of group) {
      const list = byTenant.get(item.tenantId) ?? [];
      list.push(item);
      byTenant.set(item.tenantId, list);
    }

    const batches: TenantBatch[] = [];
    const owners: Pending[][] = [];
    for (const [tenantId, items] of byTenant) {
      try {
        const { key } = await this.options.control.tenantKey(tenantId);
        batches.push({
          tenantId,
          file: this.options.control.tenantFile(tenantId),
          key: new Uint8Array(key),
          events: items.flatMap((item) => item.events),
          filtered: items.flatMap((item) => item.filtered),
          sizes: items.map((item) => item.events.length),
        });
        if (!this.watched.has(tenantId)) {
          this.watched.add(tenantId);
          this.checkpointer.postMessage({
            op: 'watch',
            tenantId,
            file: this.options.control.tenantFile(tenantId),
            key: new Uint8Array(key),
          } satisfies CheckpointRequest);
        }
        owners.push(items);
      } catch (error) {
        for (const item of items) item.reject(asServiceError(error));
      }
    }

    if (batches.length === 0) return;

    const reply = await this.send({ op: 'commit', id: this.nextId++, batches });
    owners.forEach((items, index) => settle(items, reply.results[index], this.options.logger));
  }

  private send(request: WorkerRequest): Promise<WorkerReply> {
    // A dead writer answers every request with "no results": the callers see 503, never a hang.
    if (this.failure !== undefined) return Promise.resolve({ id: request.id, results: [] });

    return new Promise((resolve) => {
      this.replies.set(request.id, resolve);
      this.worker.postMessage(request);
    });
  }

  private settleIdle(): void {
    const waiters = this.idle;
    this.idle = [];
    for (const resolve of waiters) resolve();
  }
}

function settle(items: Pending[], result: BatchResult | undefined, logger: Logger): void {
  if (result === undefined || !result.ok) {
    const code = result && !result.ok ? result.code : 'ERR_STORE_UNAVAILABLE';
    logger.error('ingest.commit_failed', { code, events: items.length });
    for (const item of items) {
      item.reject(
        new RequestError(
          'ERR_STORE_UNAVAILABLE',
          503,
          'events could not be stored; retry',
          undefined,
          {
            'Retry-After': '2',
          },
        ),
      );
    }

    return;
  }

  items.forEach((item, index) =>
    item.resolve(result.perRequest[index] ?? { inserted: 0, duplicates: 0 }),
  );
}

function asServiceError(error: unknown): Error {
  if (error instanceof LightTrailError) return error;

  return new RequestError(
    'ERR_STORE_UNAVAILABLE',
    503,
    'events could not be stored; retry',
    error,
    {
      'Retry-After': '2',
    },
  );
}
