import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

import type { Stats, StatsQuery } from '../../domain/stats.js';
import { compiledUrl } from '../../dist-path.js';
import { RequestError, StoreError, type ErrorCode } from '../../errors.js';
import type { ControlStore, TenantStatsSource } from '../types.js';
import type { StatsReply, StatsRequest } from './stats-worker.js';

export interface StatsThreadOptions {
  /**
   * Threads answering at once: by default half the CPUs, at least one and at most four (the
   * other half stays with the requests and the writer).
   */
  threads?: number;
  /** Questions waiting or running at once; one more is refused with a retryable 503. */
  maxWaiting?: number;
  /**
   * Longest a question waits for its answer. Past it a waiting question is dropped, and a
   * running one is stopped with its thread (the next question starts a new one); either gets a
   * retryable 503.
   */
  timeoutMs?: number;
}

interface Question {
  id: number;
  request: StatsRequest;
  resolve: (stats: Stats) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** One statistics thread (started when first needed) and the question it is answering. */
interface Slot {
  worker: Worker | undefined;
  running: Question | undefined;
}

/**
 * Runs statistics queries on statistics threads (stats-worker.ts), each answering one question
 * at a time, taking the organisations in turn: a busy organisation's year queries wait behind
 * each other, not in front of another organisation's question. A free thread goes to an
 * organisation with nothing running first; an organisation alone may use them all.
 */
export class StatsThread implements TenantStatsSource {
  private readonly slots: Slot[];
  /** Waiting questions per organisation; the map's order is the order of turns. */
  private readonly queues = new Map<string, Question[]>();
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
    const threads = options.threads ?? Math.min(4, Math.floor(availableParallelism() / 2));
    this.slots = Array.from({ length: Math.max(1, threads) }, () => ({
      worker: undefined,
      running: undefined,
    }));
  }

  async stats(tenantId: string, query: StatsQuery): Promise<Stats> {
    // Counted from the call, not from the queueing: the key lookup comes in between.
    if (this.asked >= this.maxWaiting) throw unavailable('statistics are busy; retry shortly');

    this.asked++;
    try {
      return await this.ask(tenantId, query);
    } finally {
      this.asked--;
    }
  }

  forget(tenantId: string): void {
    for (const slot of this.slots) {
      slot.worker?.postMessage({ op: 'forget', tenantId } satisfies StatsRequest);
    }
  }

  close(): void {
    const cause = new Error('the statistics thread was closed');
    for (const slot of this.slots) {
      const { worker, running } = slot;
      slot.worker = undefined;
      slot.running = undefined;
      if (running !== undefined) this.settle(running, unavailable('closed', cause));
      void worker?.terminate();
    }
    for (const queue of this.queues.values()) {
      for (const question of queue) this.settle(question, unavailable('closed', cause));
    }
    this.queues.clear();
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
      const question: Question = {
        id,
        request,
        resolve,
        reject,
        timer: setTimeout(() => this.overrun(tenantId, question), this.timeoutMs),
      };
      const queue = this.queues.get(tenantId);
      if (queue === undefined) this.queues.set(tenantId, [question]);
      else queue.push(question);
      this.next();
    });
  }

  /** Hands each free thread the oldest question of the next organisation in turn. */
  private next(): void {
    for (const slot of this.slots) {
      if (slot.running !== undefined) continue;

      const tenantId = this.nextTenant();
      if (tenantId === undefined) return;

      const queue = this.queues.get(tenantId) as Question[];
      const question = queue.shift() as Question;
      // This organisation's turn is over: its next question goes behind the others'.
      this.queues.delete(tenantId);
      if (queue.length > 0) this.queues.set(tenantId, queue);
      slot.running = question;
      this.thread(slot).postMessage(question.request);
    }
  }

  /** The first organisation in turn with nothing running, else the first waiting at all. */
  private nextTenant(): string | undefined {
    let first: string | undefined;
    for (const tenantId of this.queues.keys()) {
      first ??= tenantId;
      if (!this.slots.some((slot) => slot.running?.request.tenantId === tenantId)) return tenantId;
    }

    return first;
  }

  private overrun(tenantId: string, question: Question): void {
    const error = unavailable('statistics took too long; retry shortly');
    const slot = this.slots.find((candidate) => candidate.running === question);
    if (slot !== undefined) {
      // Stop the query with its thread; the questions still waiting go to the others or a new one.
      const worker = slot.worker;
      slot.worker = undefined;
      slot.running = undefined;
      this.settle(question, error);
      void worker?.terminate();
      this.next();
      return;
    }

    const queue = this.queues.get(tenantId) ?? [];
    const at = queue.indexOf(question);
    if (at !== -1) queue.splice(at, 1);
    if (queue.length === 0) this.queues.delete(tenantId);
    this.settle(question, error);
  }

  private settle(question: Question, outcome: Stats | Error): void {
    clearTimeout(question.timer);
    if (outcome instanceof Error) question.reject(outcome);
    else question.resolve(outcome);
  }

  private thread(slot: Slot): Worker {
    if (slot.worker !== undefined) return slot.worker;

    const worker = new Worker(compiledUrl(import.meta.url, './stats-worker.ts'));
    worker.on('message', (reply: StatsReply) => {
      const question = slot.running;
      if (slot.worker !== worker || question === undefined || question.id !== reply.id) return;

      slot.running = undefined;
      this.settle(
        question,
        reply.ok ? reply.stats : new StoreError(reply.code as ErrorCode, reply.message),
      );
      this.next();
    });
    const fail = (cause: unknown) => {
      if (slot.worker !== worker) return;

      slot.worker = undefined;
      const question = slot.running;
      slot.running = undefined;
      if (question !== undefined) this.settle(question, unavailable('statistics failed', cause));
      this.next();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`statistics thread exited with code ${code}`)));
    slot.worker = worker;

    return worker;
  }
}

/** A retryable 503, as for a file that cannot be read now. */
function unavailable(message: string, cause?: unknown): RequestError {
  return new RequestError('ERR_STORE_UNAVAILABLE', 503, message, cause, { 'Retry-After': '5' });
}
