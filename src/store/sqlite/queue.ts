import { performance } from 'node:perf_hooks';
import { MessageChannel, Worker } from 'node:worker_threads';

import type { EnrichedEvent, FilteredHit } from '../../domain/event.js';
import { compiledUrl } from '../../dist-path.js';
import { LightTrailError, RequestError, type ErrorCode } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type {
  CommitCounts,
  ControlStore,
  EventSink,
  PreparerSpec,
  QueueObserver,
} from '../types.js';
import type { CheckpointerData, CheckpointRequest } from './checkpoint-worker.js';
import type { WireRequest, WriterOptions, WriterReply, WriterRequest } from './writer-worker.js';

export interface QueueOptions {
  control: ControlStore;
  logger: Logger;
  /** Events waiting (queued or being committed) before enqueue refuses with 503. */
  maxDepth: number;
  /** Longest wait before a group commit starts. */
  intervalMs: number;
  /**
   * Shortest time between two hand-overs of requests to the writer thread (ms). Requests that
   * arrive sooner after the last one wait for the next, so under load each group commits more
   * events; a request after a quiet spell goes at once. Unset or 0: every turn of the loop.
   */
  gatherMs?: number;
  /** Commit at once when this many events wait. */
  eagerSize?: number;
  /** Most events and hits per transaction (see WriterOptions.maxGroup). */
  maxGroup?: number;
  /** WAL frames at which a checkpoint starts (see WriterOptions.checkpointFrames). */
  checkpointFrames?: number;
  /** Tenants whose file is damaged: refused at once, their file never opened for writing. */
  unavailable?: ReadonlySet<string>;
  observer?: QueueObserver;
  /** The stage that turns `submit`ted jobs into events on the writer thread. */
  preparer?: PreparerSpec;
  /**
   * The server's queue only: how long session figures may wait in the writer's memory, 0 for
   * none (TenantWriterOptions.sessionFlushMs). Unset for the log import.
   */
  sessionFlushMs?: number;
}

interface Pending {
  size: number;
  resolve: (result: CommitCounts) => void;
  reject: (error: Error) => void;
}

/**
 * Group commit: each request's events go to the writer thread at once, and the request waits;
 * the writer commits whatever arrived during its previous transaction as the next one and answers
 * for the whole group in one message. A request is answered only after its events' transaction
 * committed, so a 2xx always means durably stored.
 */
export class IngestQueue implements EventSink {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private outbox: WireRequest[] = [];
  /** When the outbox last went to the writer (performance.now()). */
  private handedOver = -Infinity;
  private outstanding = 0;
  private nextId = 1;
  /** Tenants the writer can open: true once told, or the telling under way. */
  private readonly opened = new Map<string, true | Promise<void>>();
  private readonly acks = new Map<number, () => void>();
  private closed = false;
  private readonly checkpointer: Worker;
  private failure: Error | undefined;
  private idle: Array<() => void> = [];

  constructor(private readonly options: QueueOptions) {
    // The writer asks the checkpointer for checkpoints directly, not through this thread.
    const { port1, port2 } = new MessageChannel();
    this.worker = new Worker(compiledUrl(import.meta.url, './writer-worker.ts'), {
      workerData: {
        intervalMs: options.intervalMs,
        eagerSize: options.eagerSize ?? 2000,
        maxGroup: options.maxGroup,
        preparer: options.preparer,
        sessionFlushMs: options.sessionFlushMs,
        checkpointPort: port1,
        ...(options.checkpointFrames === undefined
          ? {}
          : { checkpointFrames: options.checkpointFrames }),
      } satisfies WriterOptions,
      transferList: [port1],
    });
    this.checkpointer = new Worker(compiledUrl(import.meta.url, './checkpoint-worker.ts'), {
      workerData: { port: port2 } satisfies CheckpointerData,
      transferList: [port2],
    });
    this.checkpointer.on('error', (error) => {
      // Without it the writer's own safety-net checkpoints take over; ingestion goes on.
      options.logger.warn('ingest.checkpointer_failed', { error });
    });
    this.checkpointer.unref();
    this.worker.on('message', (reply: WriterReply) => this.receive(reply));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => {
      if (!this.closed || this.pending.size > 0 || this.acks.size > 0) {
        this.fail(new Error(`writer thread exited with code ${code}`));
      }
    });
  }

  get depth(): number {
    return this.outstanding;
  }

  /** False once the writer thread has failed: nothing more can be stored by this process. */
  get healthy(): boolean {
    return this.failure === undefined;
  }

  /** Resolves once the events are committed; refuses at once when the queue is full. */
  async enqueue(
    tenantId: string,
    events: EnrichedEvent[],
    filtered: FilteredHit[] = [],
  ): Promise<CommitCounts> {
    const size = events.length + filtered.length;

    return this.send(tenantId, size, (id) => ({ op: 'write', id, tenantId, events, filtered }));
  }

  /** Like `enqueue`, for a job the writer thread's preparer turns into events. */
  submit(tenantId: string, json: string, size: number, carried?: object): Promise<CommitCounts> {
    if (this.options.preparer === undefined) {
      return Promise.reject(new Error('this queue was made without a preparer'));
    }

    return this.send(tenantId, size, (id) => {
      // JSON text: V8's structured clone of the job object cost both threads half as much again.
      const head = `{"op":"prepare","id":${id},"tenantId":${JSON.stringify(tenantId)}`;
      const request = `${head},"size":${size},"job":${json}}`;

      return carried === undefined ? request : { request, carried };
    });
  }

  private send(
    tenantId: string,
    size: number,
    request: (id: number) => WireRequest,
  ): Promise<CommitCounts> {
    if (this.closed) {
      return Promise.reject(new RequestError('ERR_SHUTTING_DOWN', 503, 'server is shutting down'));
    }

    if (this.outstanding + size > this.options.maxDepth) {
      return Promise.reject(
        new RequestError('ERR_QUEUE_FULL', 503, 'ingest queue is full; retry shortly', undefined, {
          'Retry-After': '1',
        }),
      );
    }

    // A dead writer answers nothing: callers see 503 at once, never a hang.
    if (this.failure !== undefined) return Promise.reject(unavailable(this.failure));
    if (this.options.unavailable?.has(tenantId) === true) {
      return Promise.reject(
        new RequestError('ERR_STORE_UNAVAILABLE', 503, "the organisation's data is unavailable"),
      );
    }

    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { size, resolve, reject });
      this.outstanding += size;
      this.options.observer?.depth(this.outstanding);

      const write = request(id);
      const ready = this.opened.get(tenantId) ?? this.open(tenantId);
      if (ready === true) {
        this.post(write);
      } else {
        ready.then(
          () => this.post(write),
          (error: unknown) => this.settle(id, asServiceError(error)),
        );
      }
    });
  }

  /** Waits until everything enqueued so far is committed (or failed). */
  async drain(): Promise<void> {
    if (this.outstanding === 0 && this.pending.size === 0) return;

    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /** Stops taking events, commits what is queued and stops the writer thread. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
    await this.stopCheckpointer();
    if (this.failure === undefined) await this.command({ op: 'close', id: this.nextId++ });
    await this.worker.terminate();
  }

  /** Makes the writer drop its connection to a tenant file (after a rekey or deletion). */
  async forget(tenantId: string): Promise<void> {
    this.opened.delete(tenantId);
    this.checkpointer.postMessage({ op: 'forget', tenantId } satisfies CheckpointRequest);
    if (this.failure === undefined)
      await this.command({ op: 'forget', id: this.nextId++, tenantId });
  }

  /**
   * Sends requests to the writer thread together, once per turn of the event loop and, with
   * `gatherMs`, at most once per that many milliseconds: a message costs both threads a wake-up
   * (6 to 8 µs of the sender's CPU on a virtual machine, the writer asleep) and each group its
   * commit, whose WAL pages are written and encrypted whole however few events they gained.
   */
  private post(request: WireRequest): void {
    this.outbox.push(request);
    if (this.outbox.length > 1) return;

    const wait = this.handedOver + (this.options.gatherMs ?? 0) - performance.now();
    if (wait > 0) setTimeout(() => this.handOver(), wait);
    else setImmediate(() => this.handOver());
  }

  private handOver(): void {
    const requests = this.outbox;
    this.outbox = [];
    this.handedOver = performance.now();
    this.worker.postMessage(requests);
  }

  /** Tells the writer (and the checkpointer) where a tenant's file is and its key. */
  private open(tenantId: string): Promise<void> {
    const opening = (async () => {
      const { key } = await this.options.control.tenantKey(tenantId);
      const file = this.options.control.tenantFile(tenantId);
      this.post({
        op: 'open',
        tenantId,
        file,
        key: new Uint8Array(key),
      } satisfies WriterRequest);
      this.checkpointer.postMessage({
        op: 'watch',
        tenantId,
        file,
        key: new Uint8Array(key),
      } satisfies CheckpointRequest);
    })();
    this.opened.set(tenantId, opening);
    opening.then(
      () => {
        if (this.opened.get(tenantId) === opening) this.opened.set(tenantId, true);
      },
      () => {
        // Unknown tenant or an unreadable key: the next request asks again.
        if (this.opened.get(tenantId) === opening) this.opened.delete(tenantId);
      },
    );

    return opening;
  }

  private receive(reply: WriterReply): void {
    if (reply.op === 'log') {
      this.options.logger[reply.level](reply.event, reply.fields as Record<string, unknown>);
      return;
    }

    if (reply.op === 'ack') {
      const done = this.acks.get(reply.id);
      this.acks.delete(reply.id);
      done?.();
      return;
    }

    this.options.observer?.commit(reply.events, reply.seconds);
    const { stored } = reply;
    for (let i = 0; i < stored.length; i += 4) {
      const counts = {
        inserted: stored[i + 1]!,
        duplicates: stored[i + 2]!,
        filtered: stored[i + 3]!,
      };
      this.settle(stored[i]!, counts);
    }

    const failed = new Map<string, number>();
    for (const result of reply.refused) {
      if (result.status >= 400 && result.status < 500) {
        // The preparer refused the request's content: the client's error, as on the main thread.
        this.settle(
          result.id,
          new RequestError(result.code as ErrorCode, result.status, result.message),
        );
      } else {
        failed.set(result.code, (failed.get(result.code) ?? 0) + 1);
        this.settle(result.id, unavailable());
      }
    }

    for (const [code, requests] of failed) {
      this.options.logger.error('ingest.commit_failed', { code, requests });
    }
  }

  private settle(id: number, outcome: CommitCounts | Error): void {
    const waiting = this.pending.get(id);
    if (waiting === undefined) return;

    this.pending.delete(id);
    this.outstanding -= waiting.size;
    this.options.observer?.depth(this.outstanding);
    if (outcome instanceof Error) waiting.reject(outcome);
    else waiting.resolve(outcome);

    if (this.pending.size === 0) this.settleIdle();
  }

  private fail(error: Error): void {
    if (this.failure !== undefined) return;

    this.failure = error;
    this.options.logger.error('ingest.worker_failed', { error });
    for (const id of [...this.pending.keys()]) this.settle(id, unavailable(error));
    for (const done of this.acks.values()) done();
    this.acks.clear();
  }

  private command(request: Extract<WriterRequest, { op: 'forget' | 'close' }>): Promise<void> {
    return new Promise((resolve) => {
      this.acks.set(request.id, resolve);
      this.post(request);
    });
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

  private settleIdle(): void {
    const waiters = this.idle;
    this.idle = [];
    for (const resolve of waiters) resolve();
  }
}

function unavailable(cause?: unknown): RequestError {
  return new RequestError(
    'ERR_STORE_UNAVAILABLE',
    503,
    'events could not be stored; retry',
    cause,
    { 'Retry-After': '2' },
  );
}

function asServiceError(error: unknown): Error {
  if (error instanceof LightTrailError) return error;

  return unavailable(error);
}
