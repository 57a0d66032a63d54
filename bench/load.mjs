// Load generator for bench/ingest.mjs, run as its own process so its CPU is not the server's.
//
// Closed loop: `concurrency` keep-alive HTTPS connections (bench/client.mjs), each sending its
// next request as soon as the previous answer is read; or open loop at a fixed `rate` of requests
// per second over the same connections. Requests answered during the warm-up are not counted;
// the measured window is fixed in time and the whole run is capped in requests. It connects to
// loopback only and verifies the server's certificate against the CA file it is given.
//
// Usage: node bench/load.mjs '<json options>'   (prints one JSON line of results)
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { Connection, postBytes } from './client.mjs';
import { pageview, USER_AGENTS, visitor } from './traffic.mjs';

const LOOPBACK = new Set(['127.0.0.1', '[::1]']);

/** A small pool of distinct bodies built once, so building bodies costs the client nothing. */
function bodies(site, host, batch) {
  const pool = [];
  for (let n = 0; n < 64; n++) {
    const events = Array.from({ length: batch }, (_, k) => pageview(host, n * batch + k));
    pool.push(Buffer.from(JSON.stringify({ site, events })));
  }

  return pool;
}

/** Nearest-rank percentile of a sorted sample, in milliseconds. */
function percentile(sorted, p) {
  if (sorted.length === 0) return null;

  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));

  return Math.round(sorted[rank] * 1000) / 1000;
}

/** CPU seconds a process used so far (all its threads), from /proc; null off Linux. */
function processCpuSeconds(pid, ticksPerSecond) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');

    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return null;
  }
}

/**
 * CPU seconds per thread of a process so far, summed by thread name (the product names its
 * writer, checkpointer and statistics threads; the main thread is the request thread, V8's
 * helpers are all `node`). Empty off Linux.
 */
function threadCpuSeconds(pid, ticksPerSecond) {
  const byName = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const name = tid === String(pid) ? 'request thread' : comm;
      byName[name] =
        (byName[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
    }
  } catch {
    // Not Linux, or the process is gone.
  }

  return byName;
}

/**
 * Seconds each server thread spent runnable but waiting for a CPU so far, summed by thread name
 * as above (the kernel's schedstat). A request thread that waits while the machine has CPUs
 * idle on average is losing them to the other threads' bursts. Empty off Linux or without
 * schedstat.
 */
function threadWaitSeconds(pid) {
  const byName = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const waitNs = Number(
        readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1],
      );
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const name = tid === String(pid) ? 'request thread' : comm;
      byName[name] = (byName[name] ?? 0) + waitNs / 1e9;
    }
  } catch {
    // Not Linux, no schedstat, or the process is gone.
  }

  return byName;
}

/** Who sends request `i`: a visitor of the pool, or with none a browser on loopback alone. */
function whoFor(i, worker, visitors) {
  return visitors
    ? visitor((i * 7919) % visitors)
    : { userAgent: USER_AGENTS[(i + worker) % USER_AGENTS.length] };
}

async function main() {
  const options = JSON.parse(process.argv[2] ?? '{}');
  const target = new URL(options.url);
  if (!LOOPBACK.has(target.hostname)) throw new Error('the load generator only targets loopback');

  const ca = readFileSync(options.caFile);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const connections = Array.from(
    { length: options.concurrency },
    () => new Connection({ host, port: Number(target.port), ca, servername: 'localhost' }),
  );
  const pool = bodies(options.site, 'localhost', options.batch);
  const latencies = new Float64Array(options.maxRequests);
  const statuses = {};
  let measured = 0;
  let sent = 0;
  let okTotal = 0;

  // Every connection is opened before the schedule starts, as a server in service has its
  // visitors' connections open already; opened by the first requests, they would all shake hands
  // at once and put a queue of handshakes at the start of the measurement. Eight at a time.
  for (let first = 0; first < connections.length; first += 8) {
    await Promise.all(connections.slice(first, first + 8).map((connection) => connection.open()));
  }

  const begin = performance.now();
  const windowStart = begin + options.warmupMs;
  const windowEnd = windowStart + options.durationMs;
  let cpuAtStart = null;
  let clientAtStart = null;
  let threadsAtStart = {};
  let waitsAtStart = {};
  const sampleStart = setTimeout(() => {
    cpuAtStart = processCpuSeconds(options.serverPid, options.ticksPerSecond);
    threadsAtStart = threadCpuSeconds(options.serverPid, options.ticksPerSecond);
    waitsAtStart = threadWaitSeconds(options.serverPid);
    clientAtStart = process.cpuUsage();
  }, options.warmupMs);

  // Open loop when `rate` is set: request n is due at begin + n / rate whatever the answers, and
  // its latency counts from when it was due, so a slow answer that delays the next send is not
  // hidden (coordinated omission). Closed loop otherwise: each connection sends on each answer.
  let due = 0;
  const nextStart = async () => {
    if (!options.rate) return performance.now();

    const at = begin + (due++ * 1000) / options.rate;
    const wait = at - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));

    // A timer may fire a little early: then the clock starts at the real send.
    return Math.min(at, performance.now());
  };

  async function loop(worker) {
    let i = worker;
    while (performance.now() < windowEnd && sent < options.maxRequests) {
      const startedAt = await nextStart();
      if (startedAt >= windowEnd) break;

      sent++;
      const body = pool[i % pool.length];
      const bytes = postBytes(target, body, whoFor(i, worker, options.visitors));
      const status = await connections[worker].send(bytes);
      const endedAt = performance.now();
      i += options.concurrency;
      if (status === 200) okTotal++;
      if (startedAt < windowStart || endedAt > windowEnd) continue;

      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 200) latencies[measured++] = endedAt - startedAt;
    }
  }

  const workers = Array.from({ length: options.concurrency }, (_, w) => loop(w));
  await new Promise((resolve) => setTimeout(resolve, options.warmupMs + options.durationMs));
  const serverCpu = processCpuSeconds(options.serverPid, options.ticksPerSecond);
  const threadsAtEnd = threadCpuSeconds(options.serverPid, options.ticksPerSecond);
  const waits = {};
  for (const [name, seconds] of Object.entries(threadWaitSeconds(options.serverPid))) {
    waits[name] = seconds - (waitsAtStart[name] ?? 0);
  }
  const threads = {};
  for (const [name, seconds] of Object.entries(threadsAtEnd)) {
    threads[name] = seconds - (threadsAtStart[name] ?? 0);
  }
  const clientCpu = clientAtStart === null ? null : process.cpuUsage(clientAtStart);
  await Promise.all(workers);
  clearTimeout(sampleStart);
  for (const connection of connections) connection.close();

  const seconds = options.durationMs / 1000;
  const sorted = latencies.slice(0, measured).sort();
  const result = {
    requests_per_s: Math.round(measured / seconds),
    events_per_s: Math.round((measured * options.batch) / seconds),
    p50_ms: percentile(sorted, 50),
    p90_ms: percentile(sorted, 90),
    p99_ms: percentile(sorted, 99),
    max_ms: percentile(sorted, 100),
    ok_requests: measured,
    statuses,
    server_cpu_s: serverCpu === null || cpuAtStart === null ? null : serverCpu - cpuAtStart,
    // The server's CPU seconds in the window by thread name (Linux only).
    server_threads_cpu_s: threads,
    // The server's seconds in the window runnable but waiting for a CPU, by thread name.
    server_threads_wait_s: waits,
    client_cpu_s: clientCpu === null ? null : (clientCpu.user + clientCpu.system) / 1e6,
    server_cpu_pct:
      serverCpu === null || cpuAtStart === null
        ? null
        : Math.round(((serverCpu - cpuAtStart) / seconds) * 100),
    client_cpu_pct:
      clientCpu === null
        ? null
        : Math.round(((clientCpu.user + clientCpu.system) / 1e6 / seconds) * 100),
    sent_total: sent,
    // Raw per-request latencies (ms), for a caller that merges several rounds.
    ...(options.raw
      ? { latencies_ms: Array.from(sorted, (ms) => Math.round(ms * 1000) / 1000) }
      : {}),
    // Every 200 of the run, warm-up included: what the server acknowledged as stored.
    acked_events_total: okTotal * options.batch,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
