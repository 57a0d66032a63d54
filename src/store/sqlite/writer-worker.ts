import { performance } from 'node:perf_hooks';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';

import type { EnrichedEvent, FilteredHit } from '../../domain/event.js';
import { LightTrailError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { redactValue } from '../../log/redact.js';
import type { PreparerFactory, PreparerSpec } from '../types.js';
import { nameThread } from '../../thread-name.js';
import type { CheckpointCall, CheckpointDone } from './checkpoint-worker.js';
import { migrate } from './migrate.js';
import { isCorruption, openEncrypted, type Db } from './open.js';
import { TENANT_MIGRATIONS } from './schema.js';
import { sqliteFileDescriptor, walIndexFrames } from './wal.js';
import { TenantWriter } from './writer.js';

/**
 * The writer thread: owns every tenant file's write connection, so SQLite's fsync and WAL
 * checkpoints never block the event loop that answers requests.
 *
 * Requests arrive as the request thread accepts them (those of one turn of its event loop in one
 * message) and are grouped here, not there: whatever arrived while a transaction was committing
 * forms the next one, which starts as soon as the last one is durable. Grouping on the request
 * side instead would put a round trip between the threads into every commit cycle, and under load
 * that wait, not SQLite, set the throughput. Each tenant's share of a group commits in its own
 * transaction and gets its own results.
 */
export type WriterRequest =
  | { op: 'open'; tenantId: string; file: string; key: Uint8Array }
  | { op: 'write'; id: number; tenantId: string; events: EnrichedEvent[]; filtered: FilteredHit[] }
  /**
   * A job for the preparer, which turns it into events on this thread (`size`: its events);
   * `carried`: what the job's JSON could not hold (EventSink.submit).
   */
  | { op: 'prepare'; id: number; tenantId: string; job: unknown; size: number; carried?: unknown }
  | { op: 'forget'; id: number; tenantId: string }
  | { op: 'close'; id: number };

/**
 * A request as it crosses to this thread, the requests of one turn of the request thread's event
 * loop in one message (an array). A `prepare` goes as JSON text, with what JSON cannot hold beside
 * it: V8's structured clone reads an object's every field name back into the string table, and
 * that cost both threads together half as much again as JSON (5.1 against 3.4 µs per job).
 */
export type WireRequest = WriterRequest | string | { request: string; carried: object };

/** A request refused or failed; the ones committed are counted in `stored`. */
export interface Refusal {
  id: number;
  code: string;
  status: number;
  message: string;
}

export type WriterReply =
  /**
   * One group commit: per request stored, four numbers (its id, events inserted, duplicates,
   * filtered hits counted; numbers cross threads far faster than objects), the requests refused,
   * and what it cost.
   */
  | { op: 'done'; stored: number[]; refused: Refusal[]; events: number; seconds: number }
  /** A `forget` or `close` is carried out (after everything before it was committed). */
  | { op: 'ack'; id: number }
  /** A log record from this thread, for the process's one logger. */
  | { op: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; event: string; fields: unknown };

export interface WriterOptions {
  /** Longest wait after a request arrives before its group commits; 0 commits at once. */
  intervalMs: number;
  /** Commit at once when this many events and hits wait. */
  eagerSize: number;
  /**
   * Most events and hits in one transaction (at least one request). A writer sharing its files
   * with a running server, the log import, keeps its transactions short with it.
   */
  maxGroup?: number;
  preparer?: PreparerSpec;
  /** To the checkpointer thread; without it the writer checkpoints alone. */
  checkpointPort?: MessagePort;
  /** WAL frames (pages) at which a tenant's WAL is checkpointed (see CheckpointCycle). */
  checkpointFrames?: number;
  /** How long session figures may wait in memory (TenantWriterOptions.sessionFlushMs). */
  sessionFlushMs?: number;
}

/**
 * Another process (a log import beside the server, or the server beside it) may hold a tenant's
 * write lock. Waiting for it here would stall every other tenant's commits too, so a busy tenant's
 * share is set aside and tried again shortly, for at most this long, then refused with 503.
 */
const BUSY_RETRY_MS = 2;
const BUSY_LIMIT_MS = 5_000;

/** The prepared form of a request: its events and filtered hits, ready to commit. */
interface Write {
  id: number;
  tenantId: string;
  events: EnrichedEvent[];
  filtered: FilteredHit[];
}

type Prepare = (
  job: unknown,
  carried: unknown,
) => { events: EnrichedEvent[]; filtered: FilteredHit[] };

nameThread('lt-writer');

const options: WriterOptions = {
  intervalMs: 0,
  eagerSize: 2000,
  // 4 MB of 4 KB pages. Each checkpoint's first pass is a burst of one CPU (27 ms at the median
  // after 2,560 frames, 17 after 1,024, under the ingest benchmark's load on 2 vCPUs), and the
  // requests behind it wait: with 1,024 the target load's p99 was lower in 7 of 10 pairs of
  // runs, the checkpointer's CPU per event the same.
  checkpointFrames: 1024,
  ...(workerData ?? {}),
};

/** Records go to the main thread, which writes them with its logger (and redacts them again). */
function forwardingLogger(bindings: Record<string, unknown>): Logger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (event: string, fields?: Record<string, unknown>) =>
      forward(level, event, { ...bindings, ...fields });

  return {
    level: 'debug',
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => forwardingLogger({ ...bindings, ...more }),
  };
}

const logger = forwardingLogger({});
let prepare: Prepare | undefined;
let preparing: Promise<void> | undefined;
if (options.preparer !== undefined) {
  const spec = options.preparer;
  preparing = import(spec.module)
    .then(async (module: { createPreparer: PreparerFactory }) => {
      prepare = (await module.createPreparer(spec.options as never, logger)) as Prepare;
    })
    .catch((error: unknown) => {
      // Nothing could be stored: end the thread, so the queue answers 503 and readiness fails.
      logger.error('ingest.preparer_failed', { error });
      setImmediate(() => {
        throw error;
      });
    })
    .finally(() => {
      preparing = undefined;
    });
}

const files = new Map<string, { file: string; key: Buffer }>();
const open = new Map<string, { db: Db; writer: TenantWriter }>();
let pending: Array<Extract<WriterRequest, { op: 'write' | 'prepare' }>> = [];
let pendingSize = 0;
let cancelFlush: (() => void) | undefined;

function writerFor(tenantId: string): TenantWriter {
  const known = open.get(tenantId);
  if (known !== undefined) return known.writer;

  const target = files.get(tenantId);
  if (target === undefined) {
    throw Object.assign(new Error(`tenant ${tenantId} was not opened`), { code: 'ERR_INTERNAL' });
  }

  const db = openEncrypted(target.file, target.key, { create: false });
  let writer: TenantWriter;
  try {
    migrate(db, TENANT_MIGRATIONS);
    // Checkpoints run on the checkpointer thread; a safety net remains for a stalled one.
    db.pragma('wal_autocheckpoint = 20000');
    // A long statistics read holds the WAL from restarting, so it grows meanwhile; once a
    // checkpoint catches up, the file is cut back to this size instead of keeping its peak.
    db.pragma('journal_size_limit = 67108864');
    // A locked file answers at once; `flush` sets the tenant's share aside (see BUSY_LIMIT_MS).
    db.pragma('busy_timeout = 0');
    // The server's writer replays held session figures here, which needs the write lock.
    writer = new TenantWriter(db, { sessionFlushMs: options.sessionFlushMs });
  } catch (error) {
    // Busy (a log import's transaction) or worse: the next try opens it afresh (QA: a busy
    // replay left a connection open per retry, 1,500 descriptors in 3 s).
    db.close();
    throw error;
  }

  open.set(tenantId, { db, writer });

  return writer;
}

/**
 * Where a tenant's WAL is in its cycle. SQLite writes the WAL from its start again only once a
 * checkpoint has copied every frame back, and a checkpoint on another thread never gets there
 * while commits go on: the file then grows to the writer's safety net (80 MB), every commit
 * extending it (the file system allocates and zeroes each new block), and the writer finally
 * copies the whole backlog inside a commit. So after each commit the writer reads how many
 * frames the WAL holds; past `checkpointFrames` it asks the checkpointer thread to copy the
 * bulk, and when that is done it copies the rest itself between two commits: a few
 * milliseconds of pages, after which the next commit starts the WAL over, into blocks the file
 * already has.
 */
interface CheckpointCycle {
  /** Frames in the WAL at which to ask next. */
  threshold: number;
  /** Frames at the last commit: fewer now means the WAL started over. */
  frames: number;
  /** The checkpointer is copying the bulk. */
  asked: boolean;
  /** It is done: the writer copies the rest before its next commit. */
  due: boolean;
}

/**
 * After a checkpoint that could not copy everything (a reader on an older state of the file, or
 * another process's commit in between), or one after which the WAL did not start over, the next
 * try comes this many frames later.
 */
const RETRY_FRAMES = 256;

const cycles = new Map<string, CheckpointCycle>();
let checkpointer: MessagePort | undefined = options.checkpointPort;

checkpointer?.on('message', (done: CheckpointDone) => {
  const cycle = cycles.get(done.tenantId);
  if (cycle === undefined || !cycle.asked) return;

  cycle.due = true;
  if (pending.length === 0 && cancelFlush === undefined) finishCheckpoints();
});
// The checkpointer stopped (the queue is closing, or the thread failed): finish cycles alone.
checkpointer?.on('close', () => {
  checkpointer = undefined;
  for (const cycle of cycles.values()) if (cycle.asked) cycle.due = true;
});

/** Frames in the tenant's WAL; null when its index cannot be read (the safety net then acts). */
function walFrames(tenantId: string): number | null {
  const file = files.get(tenantId)?.file;
  const fd = file === undefined ? null : sqliteFileDescriptor(`${file}-shm`);

  return fd === null ? null : walIndexFrames(fd);
}

function noteCommitted(tenantId: string): void {
  const frames = walFrames(tenantId);
  if (frames === null) return;

  const limit = options.checkpointFrames ?? Infinity;
  let cycle = cycles.get(tenantId);
  if (cycle === undefined) {
    cycle = { threshold: limit, frames, asked: false, due: false };
    cycles.set(tenantId, cycle);
  }

  if (frames < cycle.frames) cycle.threshold = limit;
  cycle.frames = frames;
  if (cycle.asked || frames < cycle.threshold) return;

  cycle.asked = true;
  if (checkpointer === undefined) cycle.due = true;
  else checkpointer.postMessage({ op: 'checkpoint', tenantId } satisfies CheckpointCall);
}

/** The writer's part of each cycle whose bulk the checkpointer has copied. */
function finishCheckpoints(): void {
  for (const [tenantId, cycle] of cycles) {
    if (!cycle.due) continue;

    cycle.asked = false;
    cycle.due = false;
    // Until the WAL starts over (fewer frames), ask again only after some more.
    cycle.threshold = Math.max(cycle.threshold, cycle.frames + RETRY_FRAMES);
    try {
      open.get(tenantId)?.db.pragma('wal_checkpoint(PASSIVE)');
    } catch (error) {
      // The data is committed either way; the safety net or the next cycle checkpoints it.
      logger.warn('ingest.checkpoint_failed', { tenantId, error });
    }
  }
}

/** SQLite's answer when another connection holds the file's write lock. */
function isBusy(error: unknown): boolean {
  const code = String((error as { code?: unknown }).code ?? '');

  return code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_');
}

/**
 * After a slice of session figures could not be written (another process holds the file's write
 * lock, or worse), the next try waits this long: the figures are safe in memory and in the
 * events, and trying again at once spun the thread and its log for as long as the lock was held.
 */
const SESSIONS_RETRY_MS = 250;

/** When writing a tenant's session figures last failed (cleared once a slice is written). */
const sessionsFailed = new Map<string, number>();

/**
 * Writes a tenant's session figures held in memory, the next slice of them or (`all`) every one;
 * if that fails they wait for the next try, `SESSIONS_RETRY_MS` later.
 */
function writeSessions(tenantId: string, writer: TenantWriter, all: boolean): void {
  try {
    if (all) writer.flushSessions();
    else writer.writeSessionSlice();
    sessionsFailed.delete(tenantId);
  } catch (error) {
    // The events are stored either way, and the next start replays what was never written. A
    // log import holding the file's lock lets go within milliseconds: no warning every 100 ms.
    logger[isBusy(error) ? 'debug' : 'warn']('ingest.sessions_not_written', { tenantId, error });
    sessionsFailed.set(tenantId, Date.now());
  }
}

/** Milliseconds until a tenant's session figures may be tried again after a failure (0: now). */
function sessionsRetryIn(tenantId: string, now: number): number {
  const failed = sessionsFailed.get(tenantId);

  return failed === undefined ? 0 : Math.max(0, failed + SESSIONS_RETRY_MS - now);
}

/** Writes a slice of the session figures held `sessionFlushMs` or longer (see TenantWriter). */
function writeDueSessions(): void {
  const now = Date.now();
  for (const [tenantId, { writer }] of open) {
    if (writer.sessionsDue(now) && sessionsRetryIn(tenantId, now) === 0) {
      writeSessions(tenantId, writer, false);
    }
  }
}

let sessionTimer: NodeJS.Timeout | undefined;

/**
 * While events arrive, a slice of held figures goes out after each group is answered; when they
 * stop, this writes the remaining slices one after another, and what is still held once
 * `sessionFlushMs` has passed.
 */
function scheduleSessions(): void {
  const wait = options.sessionFlushMs ?? 0;
  if (sessionTimer !== undefined || wait === 0) return;

  const now = Date.now();
  let delay: number | undefined;
  for (const [tenantId, { writer }] of open) {
    const next = writer.writingSessions
      ? sessionsRetryIn(tenantId, now)
      : writer.pendingSessions > 0
        ? Math.max(wait, sessionsRetryIn(tenantId, now))
        : undefined;
    if (next !== undefined) delay = Math.min(delay ?? next, next);
  }
  if (delay === undefined) return;

  sessionTimer = setTimeout(() => {
    sessionTimer = undefined;
    writeDueSessions();
    scheduleSessions();
  }, delay);
}

/** Drops the tenant: its connection and what it takes to open it again. */
function forget(tenantId: string): void {
  files.delete(tenantId);
  closeTenant(tenantId);
}

/** Closes the tenant's connection; the next write opens it again. */
function closeTenant(tenantId: string): void {
  const known = open.get(tenantId);
  if (known === undefined) return;
  writeSessions(tenantId, known.writer, true);
  try {
    known.db.pragma('wal_checkpoint(TRUNCATE)');
  } catch {
    // Closing still writes back what it can.
  }

  known.db.close();
  open.delete(tenantId);
  cycles.delete(tenantId);
  sessionsFailed.delete(tenantId);
}

/** The outcome of a group: what goes back to the request thread (see WriterReply). */
interface Outcome {
  stored: number[];
  refused: Refusal[];
}

/**
 * Commits one tenant's share of a group in one transaction; every request's result goes into
 * `outcome`.
 */
function commitTenant(
  tenantId: string,
  writes: Write[],
  outcome: Outcome,
): 'committed' | 'busy' | 'failed' {
  try {
    const events = writes.length === 1 ? writes[0]!.events : writes.flatMap((w) => w.events);
    const filtered = writes.length === 1 ? writes[0]!.filtered : writes.flatMap((w) => w.filtered);
    const { written, counted } = writerFor(tenantId).commit(events, filtered);
    let offset = 0;
    let hitOffset = 0;
    for (const write of writes) {
      let inserted = 0;
      for (let i = 0; i < write.events.length; i++) if (written[offset + i]) inserted++;
      offset += write.events.length;
      let hits = 0;
      for (let i = 0; i < write.filtered.length; i++) if (counted[hitOffset + i]) hits++;
      hitOffset += write.filtered.length;
      outcome.stored.push(write.id, inserted, write.events.length - inserted, hits);
    }

    return 'committed';
  } catch (error) {
    if (isBusy(error)) return 'busy';

    closeTenant(tenantId);
    const code = isCorruption(error)
      ? 'ERR_DB_CORRUPT'
      : ((error as { code?: string }).code ?? 'ERR_STORE_UNAVAILABLE');
    const message = (error as Error).message;
    for (const write of writes) {
      outcome.refused.push({ id: write.id, code: String(code), status: 503, message });
    }

    return 'failed';
  }
}

function forward(level: 'debug' | 'info' | 'warn' | 'error', event: string, fields: object) {
  parentPort?.postMessage({
    op: 'log',
    level,
    event,
    fields: redactValue(fields),
  } satisfies WriterReply);
}

/** Runs a job through the preparer; a job it refuses fails alone. */
function prepared(request: Extract<WriterRequest, { op: 'prepare' }>): Write | Refusal {
  if (prepare === undefined) {
    const message = 'events could not be prepared; retry';

    return { id: request.id, code: 'ERR_STORE_UNAVAILABLE', status: 503, message };
  }

  try {
    const { events, filtered } = prepare(request.job, request.carried);

    return { id: request.id, tenantId: request.tenantId, events, filtered };
  } catch (error) {
    const refused = error instanceof LightTrailError && error.status >= 400 && error.status < 500;
    if (!refused) logger.error('ingest.prepare_failed', { error });

    return {
      id: request.id,
      code: refused ? error.code : 'ERR_INTERNAL',
      status: refused ? error.status : 500,
      message: refused ? error.message : 'internal error',
    };
  }
}

/** Tenants' shares set aside because another process held the file's write lock. */
const deferred = new Map<string, { writes: Write[]; since: number }>();

function flush(): void {
  cancelFlush?.();
  cancelFlush = undefined;
  if (pending.length === 0 && deferred.size === 0) return;
  if (preparing !== undefined) {
    cancelFlush = () => undefined;
    void preparing.finally(() => {
      cancelFlush = undefined;
      flush();
    });
    return;
  }

  const started = performance.now();
  const group = takeGroup();
  const outcome: Outcome = { stored: [], refused: [] };
  const byTenant = new Map<string, Write[]>();
  for (const [tenantId, set] of deferred) {
    if (started - set.since <= BUSY_LIMIT_MS) {
      byTenant.set(tenantId, set.writes);
      continue;
    }

    deferred.delete(tenantId);
    const message = 'the organisation data is locked by another process; retry';
    for (const write of set.writes) {
      outcome.refused.push({ id: write.id, code: 'ERR_STORE_UNAVAILABLE', status: 503, message });
    }
  }

  for (const request of group) {
    const write = request.op === 'write' ? request : prepared(request);
    if (!('tenantId' in write)) {
      outcome.refused.push(write);
      continue;
    }

    const list = byTenant.get(write.tenantId);
    if (list === undefined) byTenant.set(write.tenantId, [write]);
    else list.push(write);
  }

  let committed = 0;
  for (const [tenantId, writes] of byTenant) {
    const status = commitTenant(tenantId, writes, outcome);
    if (status === 'busy') {
      const since = deferred.get(tenantId)?.since;
      if (since === undefined) logger.debug('ingest.tenant_busy', { tenantId });
      deferred.set(tenantId, { writes, since: since ?? started });
      continue;
    }

    deferred.delete(tenantId);
    if (status === 'committed')
      committed += writes.reduce((sum, w) => sum + w.events.length + w.filtered.length, 0);
    noteCommitted(tenantId);
  }

  if (outcome.stored.length > 0 || outcome.refused.length > 0) {
    const seconds = (performance.now() - started) / 1000;
    parentPort?.postMessage({
      op: 'done',
      stored: outcome.stored,
      refused: outcome.refused,
      events: committed,
      seconds,
    } satisfies WriterReply);
  }

  // What arrives meanwhile forms the next group.
  finishCheckpoints();
  // Session figures held long enough go out now that the group is answered.
  writeDueSessions();
  scheduleSessions();

  if (pending.length > 0) schedule();
  else if (deferred.size > 0 && cancelFlush === undefined) {
    const timer = setTimeout(flush, BUSY_RETRY_MS);
    cancelFlush = () => clearTimeout(timer);
  }
}

/** The requests of the next transaction: all waiting, or up to `maxGroup` events and hits. */
function takeGroup(): typeof pending {
  const limit = options.maxGroup ?? Infinity;
  if (pendingSize <= limit) {
    const group = pending;
    pending = [];
    pendingSize = 0;
    return group;
  }

  let taken = 0;
  let size = 0;
  while (taken < pending.length && (taken === 0 || size + sizeOf(pending[taken]!) <= limit)) {
    size += sizeOf(pending[taken]!);
    taken++;
  }

  const group = pending.slice(0, taken);
  pending = pending.slice(taken);
  pendingSize -= size;

  return group;
}

function sizeOf(request: (typeof pending)[number]): number {
  return request.op === 'write' ? request.events.length + request.filtered.length : request.size;
}

function schedule(): void {
  if (pendingSize >= options.eagerSize) {
    flush();
    return;
  }

  if (cancelFlush !== undefined) return;

  if (options.intervalMs === 0) {
    // Runs after every message already received: they all join this group.
    const immediate = setImmediate(flush);
    cancelFlush = () => clearImmediate(immediate);
  } else {
    const timer = setTimeout(flush, options.intervalMs);
    cancelFlush = () => clearTimeout(timer);
  }
}

parentPort?.on('message', (requests: WireRequest[]) => {
  for (const request of requests) receive(parsed(request));
});

/** A request as this thread handles it (see WireRequest). */
function parsed(request: WireRequest): WriterRequest {
  if (typeof request === 'string') return JSON.parse(request) as WriterRequest;
  if ('op' in request) return request;

  const prepare = JSON.parse(request.request) as Extract<WriterRequest, { op: 'prepare' }>;
  prepare.carried = request.carried;

  return prepare;
}

function receive(message: WriterRequest): void {
  switch (message.op) {
    case 'open':
      files.set(message.tenantId, { file: message.file, key: Buffer.from(message.key) });
      return;
    case 'write':
      pending.push(message);
      pendingSize += message.events.length + message.filtered.length;
      schedule();
      return;
    case 'prepare':
      pending.push(message);
      pendingSize += message.size;
      schedule();
      return;
    case 'forget':
      flush();
      forget(message.tenantId);
      break;
    case 'close':
      flush();
      for (const tenantId of [...open.keys()]) forget(tenantId);
      break;
  }

  parentPort?.postMessage({ op: 'ack', id: message.id } satisfies WriterReply);
}
