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

/**
 * Runs statistics queries on the statistics thread (stats-worker.ts), one at a time, taking
 * the organisations in turn: a busy organisation's year queries wait behind each other, not in
 * front of another organisation's question.
 */
export class StatsThread implements TenantStatsSource {
  private worker: Worker | undefined;
  /** Waiting questions per organisation; the map's order is the order of turns. */
  private readonly queues = new Map<string, Question[]>();
  private running: Question | undefined;
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
    this.worker?.postMessage({ op: 'forget', tenantId } satisfies StatsRequest);
  }

  close(): void {
    const worker = this.worker;
    this.worker = undefined;
    const cause = new Error('the statistics thread was closed');
    const running = this.running;
    this.running = undefined;
    if (running !== undefined) this.settle(running, unavailable('closed', cause));
    for (const queue of this.queues.values()) {
      for (const question of queue) this.settle(question, unavailable('closed', cause));
    }
    this.queues.clear();
    void worker?.terminate();
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

  /** Hands the thread the next organisation's oldest question, if it is free. */
  private next(): void {
    if (this.running !== undefined) return;

    const [tenantId, queue] = this.queues.entries().next().value ?? [];
    if (tenantId === undefined || queue === undefined) return;

    const question = queue.shift() as Question;
    // This organisation's turn is over: its next question goes behind the others'.
    this.queues.delete(tenantId);
    if (queue.length > 0) this.queues.set(tenantId, queue);
    this.running = question;
    this.thread().postMessage(question.request);
  }

  private overrun(tenantId: string, question: Question): void {
    const error = unavailable('statistics took too long; retry shortly');
    if (this.running === question) {
      // Stop the query with its thread; the questions still waiting go to a new one.
      const worker = this.worker;
      this.worker = undefined;
      this.running = undefined;
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

  private thread(): Worker {
    if (this.worker !== undefined) return this.worker;

    const worker = new Worker(compiledUrl(import.meta.url, './stats-worker.ts'));
    worker.on('message', (reply: StatsReply) => {
      const question = this.running;
      if (question === undefined || question.id !== reply.id) return;

      this.running = undefined;
      this.settle(
        question,
        reply.ok ? reply.stats : new StoreError(reply.code as ErrorCode, reply.message),
      );
      this.next();
    });
    const fail = (cause: unknown) => {
      if (this.worker !== worker) return;

      this.worker = undefined;
      const question = this.running;
      this.running = undefined;
      if (question !== undefined) this.settle(question, unavailable('statistics failed', cause));
      this.next();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`statistics thread exited with code ${code}`)));
    this.worker = worker;

    return worker;
  }
}

/** A retryable 503, as for a file that cannot be read now. */
function unavailable(message: string, cause?: unknown): RequestError {
  return new RequestError('ERR_STORE_UNAVAILABLE', 503, message, cause, { 'Retry-After': '5' });
}
