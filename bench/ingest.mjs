// Ingestion benchmark: the real product (`node bin/lighttrail.js start`, durable group commit,
// default log level) against a bare node:https server that only parses the same JSON, both on
// loopback, both with the same certificate, TLS policy and keep-alive load generator
// (bench/load.mjs over bench/client.mjs), in the same run. Each server runs as one process and the
// load generator as another.
//
// A third server, bench/baseline-server.mjs given a data file (the bare server plus an fsync'd
// append per group of requests, nothing else), takes its turn in the closed loops 1 and 1b: what
// durability alone costs, next to what the product costs.
//
// Phases, baseline and product taking turns within each:
// 1. single-event requests as the browser tracker sends them, closed loop on 32 connections,
//    from 3000 visitors (documentation addresses forwarded by the load generator, which the
//    product trusts as its reverse proxy; BENCH_VISITORS=0 makes every request a new visitor):
//    two rounds of 1 s warm-up + 5 s measured per server (10 s measured each);
// 1b. the same over 128 connections (as many as phase 4 uses): two rounds of 1 s + 5 s. Each
//    server's throughput is the better of 1 and 1b, as the TechEmpower framework benchmarks take
//    each server's best over several concurrency levels: the bare server does best on 32, while
//    a server that commits in groups needs more requests in flight to use its CPUs (on 32 its
//    answers wait for fsyncs while the CPUs idle);
// 2. the same with 20 events per request: one round of 1 s + 5 s;
// 3. single events offered at a fixed rate (open loop), half of the product's throughput:
//    latency below saturation, 1 s + 4 s;
// 4. the target load: single events offered at half the bare server's throughput (open loop,
//    latency counted from when each request was due, 128 connections), 3 s + 10 s. The target is
//    met when the product's throughput is at least half the bare server's and it keeps up with
//    that rate, answering every request 200, with p99 under 20 ms.
// Throughput is events per second answered 200 in the measured window; latency is per request.
// The closed loop's latency is that of a saturated server: 32 requests always waiting, so by
// Little's law its mean is 32 / throughput; the target's p99 is measured at the target's load.
// Afterwards the product is stopped with SIGTERM (it must exit 0) and the stats CLI must count
// exactly the pageviews the product acknowledged.
//
// Prints a table, the group-commit figures, the CPU each server thread spent per event (the
// product names its threads: lt-writer, lt-checkpoint, lt-stats; `node` is V8's helpers) and the
// share of the time each was runnable but waiting for a CPU, for each server's better closed
// loop and for phase 4, the share of the machine's CPUs each server and its load generator need
// at the target rate, the machine's speed before each server's turns (a fixed loop, timed;
// a warning when the product's turn came in a stretch 20% slower than the bare server's), then
// ONE JSON line:
// {"events_per_s","p50_ms","p99_ms","baseline_events_per_s","ratio", ...}
// where the first five figures are those of each server's better closed loop (1 or 1b).
//
// Usage: npm run bench:ingest   (builds first; about 140 s; nothing leaves 127.0.0.1)
// BENCH_TARGET_RATE=12000 offers phase 4 at that rate instead, to find where the p99 ends.
// BENCH_PRODUCT_NODE_ARGS adds Node flags to the product's process only, for a profile:
//   BENCH_PRODUCT_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' npm run bench:ingest
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'bin', 'lighttrail.js');
const LOAD = path.join(ROOT, 'bench', 'load.mjs');
const BASELINE = path.join(ROOT, 'bench', 'baseline-server.mjs');

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
// Distinct visitors (forwarded address and browser) the requests come from, at most 3840; with
// 0 every request is a new visitor opening a new session, the writer's worst case.
const VISITORS = Math.min(3840, Number(process.env.BENCH_VISITORS ?? 3000));
const PRODUCT_NODE_ARGS = (process.env.BENCH_PRODUCT_NODE_ARGS ?? '').split(' ').filter(Boolean);
// Baseline and product take turns, so a neighbour's burst of CPU on a shared machine lands on
// both rather than on one. Each round is a fresh load process: new connections, own warm-up.
const SINGLE = { batch: 1, warmupMs: 1_000, durationMs: 5_000, rounds: 2, durable: true };
// The same closed loop over as many connections as the target phase's browsers open.
const SATURATED = {
  ...SINGLE,
  concurrency: Number(process.env.BENCH_SATURATED_CONCURRENCY ?? 128),
};
const BATCHED = { batch: 20, warmupMs: 1_000, durationMs: 5_000, rounds: 1 };
// Latency below saturation: single events offered at a fixed rate, half of what the product
// reached in the closed loop, to both servers.
const OPEN = { batch: 1, warmupMs: 1_000, durationMs: 4_000, rounds: 1, share: 0.5 };
// The issue's target: half the bare server's throughput, p99 under 20 ms at that load.
// Offered over more connections than the closed loop's 32: browsers each open their own, and a
// pool of 32 would cap the requests in flight at 32, so that any server slower than 32 / rate
// per request would fall behind the schedule however much CPU it had left.
// Its warm-up is longer: the first second opens all those connections at once (a TLS handshake
// each), and the queue that builds meanwhile must be gone before the measurement starts.
// Measured for 10 s: a p99 over 5 s rested on the worst 300 requests, about one checkpoint's.
const TARGET = {
  batch: 1,
  warmupMs: 3_000,
  durationMs: 10_000,
  rounds: 1,
  share: 0.5,
  concurrency: Number(process.env.BENCH_TARGET_CONCURRENCY ?? 128),
};
const TARGET_P99_MS = 20;
const TARGET_RATE = process.env.BENCH_TARGET_RATE ? Number(process.env.BENCH_TARGET_RATE) : null;
if (TARGET_RATE !== null && !(Number.isInteger(TARGET_RATE) && TARGET_RATE > 0)) {
  console.error('BENCH_TARGET_RATE must be a whole number of events per second above 0');
  process.exit(2);
}
// Answered per second at least this share of the offered rate: the product kept up.
const KEPT_UP = 0.98;
// The product's turn measured on a machine this much slower than the bare server's (speedProbe).
const DRIFT_WARNING = 0.2;
const MAX_REQUESTS = 2_000_000;
const START_TIMEOUT_MS = 15_000;

/** The product's environment: ours only, every LIGHTTRAIL_* of the caller's shell left out. */
function productEnv(dataDir, metricsPort) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('LIGHTTRAIL_')),
  );

  return {
    ...env,
    LIGHTTRAIL_DATA_DIR: dataDir,
    LIGHTTRAIL_HOST: '127.0.0.1',
    LIGHTTRAIL_PORT: '0',
    // One load process is one client address: lift the per-client limit out of the way.
    LIGHTTRAIL_RATE_LIMIT: '1000000',
    LIGHTTRAIL_RATE_BURST: '10000000',
    // The load generator stands in for a reverse proxy that forwards visitor addresses.
    LIGHTTRAIL_TRUSTED_PROXIES: '127.0.0.1',
    // The loopback-only metrics listener: the group-commit figures explain the throughput.
    LIGHTTRAIL_METRICS_PORT: String(metricsPort),
  };
}

function cli(args, env) {
  return execFileSync(process.execPath, [CLI, ...args], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Starts a child and resolves with it once `pattern` appears on its stdout. Its stderr (the
 * product's JSON log, one line per request at the default level) goes to a file: a pipe that
 * this process drained too slowly would stall the server it is measuring.
 */
function startChild(args, env, pattern, name, logFile) {
  const log = openSync(logFile, 'w');
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', log] });
  closeSync(log);

  return new Promise((resolve, reject) => {
    let out = '';
    const fail = (error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${error.message}\n${readFileSync(logFile, 'utf8').slice(-2000)}`));
    };
    const timer = setTimeout(() => fail(new Error(`${name} did not start`)), START_TIMEOUT_MS);
    child.once('exit', (code) => fail(new Error(`${name} exited early with code ${code}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk.toString();
      const match = pattern.exec(out);
      if (match === null) return;

      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.stdout.resume();
      resolve({ child, port: Number(match[1]) });
    });
  });
}

function stopChild(child, timeoutMs = 15_000) {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);

  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal);
    });
    child.kill('SIGTERM');
  });
}

/** Runs one phase in a separate load-generator process; the servers keep this event loop free. */
function runLoad(options) {
  const child = spawn(process.execPath, [LOAD, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const limit = setTimeout(
    () => child.kill('SIGKILL'),
    options.warmupMs + options.durationMs + 30_000,
  );
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk.toString()));

  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      clearTimeout(limit);
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));

      resolve(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

/**
 * fsync latency of the data folder's disk right now (write 4 KiB, fsync, 50 times): every group
 * commit waits for at least one, and the baseline for none, so a slow or shared disk shows here.
 */
function fsyncProbe(dir) {
  const file = path.join(dir, 'fsync-probe');
  const fd = openSync(file, 'w');
  const page = Buffer.alloc(4096, 1);
  const times = [];
  try {
    for (let i = 0; i < 50; i++) {
      writeSync(fd, page);
      const started = performance.now();
      fsyncSync(fd);
      times.push(performance.now() - started);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }

  times.sort((a, b) => a - b);
  const ms = (x) => Math.round(x * 100) / 100;

  return { p50: ms(times[25]), max: ms(times[49]) };
}

/**
 * The machine's speed right now: the best of five runs of a fixed loop, in ms, taken before each
 * server's turn once the last turn's stragglers (a commit, a checkpoint) had time to finish. On
 * a shared virtual machine the same work can take half as long again from one minute to the
 * next; a turn measured in a slower stretch than the other server's is flagged (DRIFT_WARNING).
 */
async function speedProbe() {
  await new Promise((resolve) => setTimeout(resolve, 250));
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    const started = performance.now();
    let x = 0;
    for (let i = 0; i < 20_000_000; i++) x = (x + i * 7) | 0;
    // Uses the result, so the compiler cannot drop the loop.
    if (x === 1) console.log('');
    best = Math.min(best, performance.now() - started);
  }

  return Math.round(best * 10) / 10;
}

/** A port free right now on 127.0.0.1, for the product's metrics listener. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The product's group-commit counters from its loopback metrics listener. */
async function commitFigures(port) {
  const text = await new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
  const value = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);

  return {
    commits: value('lighttrail_ingest_commit_events_count'),
    events: value('lighttrail_ingest_commit_events_sum'),
    seconds: value('lighttrail_ingest_commit_seconds_sum'),
  };
}

function commitDelta(before, after) {
  const commits = after.commits - before.commits;
  const events = after.events - before.events;
  const seconds = after.seconds - before.seconds;

  return {
    count: commits,
    events_per_commit: Math.round((events / commits) * 10) / 10,
    ms_per_commit: Math.round((seconds / commits) * 1000 * 100) / 100,
    us_per_event: Math.round((seconds / events) * 1e6),
  };
}

function countLines(file) {
  return readFileSync(file, 'utf8').split('\n').length - 1;
}

function ticksPerSecond() {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

function today(offsetDays) {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

/** Several rounds of one server and phase as one measurement: counts add, samples merge. */
function merge(rounds, batch) {
  const seconds = rounds.reduce((sum, r) => sum + r.seconds, 0);
  const requests = rounds.reduce((sum, r) => sum + r.ok_requests, 0);
  const latencies = rounds.flatMap((r) => r.latencies_ms).sort((a, b) => a - b);
  const at = (p) =>
    latencies.length === 0
      ? null
      : latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
  const cpu = (field) =>
    rounds.some((r) => r[field] === null)
      ? null
      : Math.round((rounds.reduce((sum, r) => sum + r[field], 0) / seconds) * 100);
  const statuses = {};
  const threads = {};
  const waits = {};
  for (const r of rounds) {
    for (const [name, s] of Object.entries(r.server_threads_wait_s ?? {})) {
      waits[name] = (waits[name] ?? 0) + s;
    }
    for (const [code, n] of Object.entries(r.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
    for (const [name, s] of Object.entries(r.server_threads_cpu_s)) {
      threads[name] = (threads[name] ?? 0) + s;
    }
  }
  const clientCpu = rounds.reduce((sum, r) => sum + (r.client_cpu_s ?? 0), 0);
  const events = requests * batch;
  // Microseconds of CPU per event answered, by server thread, and of the load generator.
  const perEvent = (s) => (events === 0 ? null : Math.round((s / events) * 1e6));
  const cpuPerEvent = Object.fromEntries(
    Object.entries(threads).map(([name, s]) => [name, perEvent(s)]),
  );
  cpuPerEvent['load generator'] = perEvent(clientCpu);

  return {
    events_per_s: Math.round((requests * batch) / seconds),
    requests_per_s: Math.round(requests / seconds),
    p50_ms: at(50),
    p90_ms: at(90),
    p99_ms: at(99),
    max_ms: at(100),
    server_cpu_pct: cpu('server_cpu_s'),
    client_cpu_pct: cpu('client_cpu_s'),
    statuses,
    cpu_us_per_event: cpuPerEvent,
    // Share of the measured time each server thread was runnable but waiting for a CPU (%).
    cpu_wait_pct: Object.fromEntries(
      Object.entries(waits).map(([name, s]) => [name, Math.round((s / seconds) * 100)]),
    ),
    acked_events_total: rounds.reduce((sum, r) => sum + r.acked_events_total, 0),
    // The slowest the machine was before one of this server's turns (speedProbe).
    probe_ms: Math.max(...rounds.map((r) => r.probe_ms)),
  };
}

/** The better of one server's two closed loops (more events per second answered). */
function better(a, b) {
  return b.events_per_s > a.events_per_s ? b : a;
}

function row(label, r) {
  const cells = [
    label.padEnd(40),
    String(r.events_per_s).padStart(8),
    String(r.requests_per_s).padStart(8),
    String(r.p50_ms).padStart(7),
    String(r.p99_ms).padStart(7),
    String(r.server_cpu_pct ?? '-').padStart(6),
    String(r.client_cpu_pct ?? '-').padStart(6),
    JSON.stringify(r.statuses),
  ];

  return cells.join('  ');
}

async function main() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'lighttrail-bench-'));
  const metricsPort = await freePort();
  const env = productEnv(dataDir, metricsPort);
  const productLog = path.join(dataDir, 'server.log');
  const children = [];
  const cleanup = () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => (cleanup(), process.exit(130)));

  try {
    const loadBefore = loadavg()[0];
    const fsyncBefore = fsyncProbe(dataDir);
    const setup = JSON.parse(
      cli(
        [
          'setup',
          '--org',
          'Bench Clinic',
          '--domain',
          'localhost',
          '--email',
          'bench@clinic.example',
          '--json',
        ],
        env,
      ),
    );
    const site = setup.siteId;
    const product = await startChild(
      [...PRODUCT_NODE_ARGS, CLI, 'start'],
      env,
      /running at https:\/\/localhost:(\d+)/,
      'lighttrail start',
      productLog,
    );
    children.push(product.child);
    const tls = path.join(dataDir, 'tls');
    const baseline = await startChild(
      [BASELINE, path.join(tls, 'localhost.crt'), path.join(tls, 'localhost.key')],
      env,
      /port (\d+)/,
      'baseline server',
      path.join(dataDir, 'baseline.log'),
    );
    children.push(baseline.child);
    const durable = await startChild(
      [
        BASELINE,
        path.join(tls, 'localhost.crt'),
        path.join(tls, 'localhost.key'),
        path.join(dataDir, 'durable.jsonl'),
      ],
      env,
      /port (\d+)/,
      'durable reference server',
      path.join(dataDir, 'durable.log'),
    );
    children.push(durable.child);

    const ticks = ticksPerSecond();
    const measure = async (phase) => {
      const runs = { baseline: [], product: [], durable: [] };
      const servers = [
        ['baseline', baseline],
        ['product', product],
        ...(phase.durable ? [['durable', durable]] : []),
      ];
      for (let round = 0; round < phase.rounds; round++) {
        for (const [name, server] of servers) {
          const probeMs = await speedProbe();
          const result = await runLoad({
            ...phase,
            url: `https://127.0.0.1:${server.port}/api/collect`,
            caFile: path.join(tls, 'localhost.crt'),
            site,
            concurrency: phase.concurrency ?? CONCURRENCY,
            maxRequests: MAX_REQUESTS,
            serverPid: server.child.pid,
            ticksPerSecond: ticks,
            visitors: VISITORS,
            raw: true,
          });
          runs[name].push({ ...result, seconds: phase.durationMs / 1000, probe_ms: probeMs });
        }
      }

      const connections = phase.concurrency ?? CONCURRENCY;

      return {
        baseline: { ...merge(runs.baseline, phase.batch), connections },
        product: { ...merge(runs.product, phase.batch), connections },
        ...(phase.durable ? { durable: { ...merge(runs.durable, phase.batch), connections } } : {}),
      };
    };

    const logLinesBefore = countLines(productLog);
    const commits0 = await commitFigures(metricsPort);
    const single = await measure(SINGLE);
    const commitsSingle = await commitFigures(metricsPort);
    const saturated = await measure(SATURATED);
    const commits1 = await commitFigures(metricsPort);
    const batched = await measure(BATCHED);
    const commits2 = await commitFigures(metricsPort);
    // Each server's throughput: its better closed loop, over 32 or over 128 connections.
    const peak = {
      product: better(single.product, saturated.product),
      baseline: better(single.baseline, saturated.baseline),
      durable: better(single.durable, saturated.durable),
    };
    const rate = Math.max(1, Math.round(peak.product.requests_per_s * OPEN.share));
    const open = await measure({ ...OPEN, rate });
    const commits3 = await commitFigures(metricsPort);
    const targetRate =
      TARGET_RATE ?? Math.max(1, Math.round(peak.baseline.events_per_s * TARGET.share));
    const target = await measure({ ...TARGET, rate: targetRate });
    const commits4 = await commitFigures(metricsPort);
    const logLines = countLines(productLog) - logLinesBefore;
    single.product.commits = commitDelta(commits0, commitsSingle);
    saturated.product.commits = commitDelta(commitsSingle, commits1);
    batched.product.commits = commitDelta(commits1, commits2);
    open.product.commits = commitDelta(commits2, commits3);
    target.product.commits = commitDelta(commits3, commits4);
    const loadAfter = loadavg()[0];
    const fsyncAfter = fsyncProbe(dataDir);

    const exitCode = await stopChild(product.child);
    await stopChild(baseline.child);
    await stopChild(durable.child);
    const stats = JSON.parse(
      cli(['stats', '--site', site, '--from', today(-1), '--to', today(1), '--json'], env),
    );
    const acknowledged = [single, saturated, batched, open, target].reduce(
      (sum, phase) => sum + phase.product.acked_events_total,
      0,
    );
    const ratio = peak.product.events_per_s / peak.baseline.events_per_s;
    const durableShare = peak.durable.events_per_s / peak.baseline.events_per_s;
    const ratioToDurable = peak.product.events_per_s / peak.durable.events_per_s;
    const ratioAt32 = single.product.events_per_s / single.baseline.events_per_s;
    const batchedRatio = batched.product.events_per_s / batched.baseline.events_per_s;
    const round3 = (x) => Math.round(x * 1000) / 1000;
    const targetStatuses = Object.keys(target.product.statuses);
    const keptUp =
      target.product.events_per_s >= targetRate * KEPT_UP &&
      targetStatuses.length === 1 &&
      targetStatuses[0] === '200';
    const targetMet = ratio >= 0.5 && keptUp && target.product.p99_ms < TARGET_P99_MS;

    console.log(
      `LightTrail ingest benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ` +
        `node ${process.version}, ${CONCURRENCY} and ${SATURATED.concurrency} keep-alive HTTPS ` +
        `connections on 127.0.0.1, ` +
        `${VISITORS === 0 ? 'a new visitor per request' : `${VISITORS} visitors`}, ` +
        `load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after, ` +
        `fsync p50/max ${fsyncBefore.p50}/${fsyncBefore.max} ms before, ` +
        `${fsyncAfter.p50}/${fsyncAfter.max} ms after`,
    );
    const genBound = peak.baseline.client_cpu_pct >= 90;
    if (genBound) {
      console.log(
        'note: the load generator used a whole CPU against the baseline, so the bare server ' +
          'could do more than measured: the ratio below is an upper bound',
      );
    }

    // The average after the run counts this benchmark's own processes; the one before does not.
    if (loadBefore > cpus().length / 2) {
      console.log(
        'warning: the machine was busy before the run (load average above half the CPU count): ' +
          'other processes take CPU and disk from both servers, the product (several threads, ' +
          'an fsync per commit) the most',
      );
    }

    console.log(
      `${'phase'.padEnd(40)}  ${'events/s'.padStart(8)}  ${'req/s'.padStart(8)}  ` +
        `${'p50 ms'.padStart(7)}  ${'p99 ms'.padStart(7)}  ${'srv %'.padStart(6)}  ` +
        `${'gen %'.padStart(6)}  statuses`,
    );
    console.log(row(`baseline, 1 event/request, ${CONCURRENCY} conn.`, single.baseline));
    console.log(row(`lighttrail, 1 event/request, ${CONCURRENCY} conn.`, single.product));
    console.log(row(`bare + fsync, 1 event/request, ${CONCURRENCY} conn.`, single.durable));
    console.log(
      row(`baseline, 1 event/request, ${SATURATED.concurrency} conn.`, saturated.baseline),
    );
    console.log(
      row(`lighttrail, 1 event/request, ${SATURATED.concurrency} conn.`, saturated.product),
    );
    console.log(
      row(`bare + fsync, 1 event/request, ${SATURATED.concurrency} conn.`, saturated.durable),
    );
    console.log(row(`baseline, ${BATCHED.batch} events/request`, batched.baseline));
    console.log(row(`lighttrail, ${BATCHED.batch} events/request`, batched.product));
    console.log(row(`baseline, open loop ${rate}/s`, open.baseline));
    console.log(row(`lighttrail, open loop ${rate}/s`, open.product));
    console.log(row(`baseline, target ${targetRate}/s`, target.baseline));
    console.log(row(`lighttrail, target ${targetRate}/s`, target.product));
    for (const [label, c] of [
      [`1 event/request, ${CONCURRENCY} connections`, single.product.commits],
      [`1 event/request, ${SATURATED.concurrency} connections`, saturated.product.commits],
      [`${BATCHED.batch} events/request`, batched.product.commits],
      [`open loop ${rate}/s`, open.product.commits],
      [`target ${targetRate}/s`, target.product.commits],
    ]) {
      console.log(
        `group commit, ${label}: ${c.count} commits, ${c.events_per_commit} events each, ` +
          `${c.ms_per_commit} ms each (${c.us_per_event} µs of writer wall time per event)`,
      );
    }

    for (const [label, r] of [
      [`baseline, 1 event/request, ${peak.baseline.connections} connections`, peak.baseline],
      [`lighttrail, 1 event/request, ${peak.product.connections} connections`, peak.product],
      [`baseline, target ${targetRate}/s`, target.baseline],
      [`lighttrail, target ${targetRate}/s`, target.product],
    ]) {
      const parts = Object.entries(r.cpu_us_per_event)
        .filter(([, us]) => us !== null && us > 0)
        .sort((a, b) => b[1] - a[1])
        .map(([name, us]) => `${name} ${us}`);
      const waited = Object.entries(r.cpu_wait_pct)
        .filter(([, pct]) => pct > 0)
        .sort((a, b) => b[1] - a[1])
        .map(([name, pct]) => `${name} ${pct}%`);
      console.log(
        `CPU µs per event, ${label}: ${parts.join(', ')}` +
          (waited.length > 0 ? `; waiting for a CPU: ${waited.join(', ')}` : ''),
      );
    }

    // What the target asks of the machine: each server's CPU per event (every thread, and its
    // load generator's) at the offered rate, as a share of all CPUs. Past about 80% the queues
    // of a burst take long to drain, and no p99 target can be met whatever the code does then.
    const demand = (r) =>
      (Object.values(r.cpu_us_per_event).reduce((sum, us) => sum + (us ?? 0), 0) * targetRate) /
      1e6 /
      cpus().length;
    const targetDemand = { baseline: demand(target.baseline), product: demand(target.product) };
    console.log(
      `CPU needed at the target rate (CPU per event, load generator included, times ` +
        `${targetRate}/s, of ${cpus().length} CPUs): bare server ` +
        `${Math.round(targetDemand.baseline * 100)}%, product ` +
        `${Math.round(targetDemand.product * 100)}%`,
    );

    const turns = [
      [`closed loop ${CONCURRENCY}`, single],
      [`closed loop ${SATURATED.concurrency}`, saturated],
      ['batched', batched],
      ['open loop', open],
      ['target', target],
    ].map(([label, m]) => ({ label, baseline: m.baseline.probe_ms, product: m.product.probe_ms }));
    const drift = (t) => t.product / t.baseline - 1;
    console.log(
      'machine speed (a fixed loop before each turn, ms, bare server / product): ' +
        turns.map((t) => `${t.label} ${t.baseline} / ${t.product}`).join('; '),
    );
    const slowed = turns.filter((t) => drift(t) > DRIFT_WARNING);
    if (slowed.length > 0) {
      console.log(
        `warning: the machine was slower in the product's turn than in the bare server's ` +
          `(${slowed.map((t) => `${t.label} +${Math.round(drift(t) * 100)}%`).join(', ')}): ` +
          'those figures compare unlike conditions; run again',
      );
    }

    console.log(
      `ratio ${ratio.toFixed(2)} (each server's better closed loop: the product's on ` +
        `${peak.product.connections} connections, the bare server's on ` +
        `${peak.baseline.connections}; on ${CONCURRENCY} both ${ratioAt32.toFixed(2)}; batched ` +
        `${batchedRatio.toFixed(2)}); product log lines ` +
        `${logLines}; SIGTERM exit ${exitCode}; pageviews stored ${stats.totals.pageviews}, ` +
        `acknowledged ${acknowledged}`,
    );
    console.log(
      `durable reference (the bare server plus an fsync'd append per group, nothing else): ` +
        `${peak.durable.events_per_s} events/s on ${peak.durable.connections} connections, ` +
        `${durableShare.toFixed(2)} of the bare server's; the product ` +
        `${ratioToDurable.toFixed(2)} of it`,
    );
    console.log(
      `target (half the bare server's rate, ${targetRate}/s, p99 under ${TARGET_P99_MS} ms): ` +
        `${targetMet ? 'met' : 'NOT met'} (ratio ${ratio.toFixed(2)}, answered ` +
        `${target.product.events_per_s}/s, p99 ${target.product.p99_ms} ms)`,
    );

    console.log(
      JSON.stringify({
        events_per_s: peak.product.events_per_s,
        p50_ms: peak.product.p50_ms,
        p99_ms: peak.product.p99_ms,
        baseline_events_per_s: peak.baseline.events_per_s,
        ratio: round3(ratio),
        baseline_p50_ms: peak.baseline.p50_ms,
        baseline_p99_ms: peak.baseline.p99_ms,
        connections: peak.product.connections,
        baseline_connections: peak.baseline.connections,
        events_per_s_32: single.product.events_per_s,
        baseline_events_per_s_32: single.baseline.events_per_s,
        ratio_32: round3(ratioAt32),
        events_per_s_saturated: saturated.product.events_per_s,
        baseline_events_per_s_saturated: saturated.baseline.events_per_s,
        durable_events_per_s: peak.durable.events_per_s,
        durable_connections: peak.durable.connections,
        durable_share_of_baseline: round3(durableShare),
        ratio_to_durable: round3(ratioToDurable),
        batch: BATCHED.batch,
        batched_events_per_s: batched.product.events_per_s,
        batched_p50_ms: batched.product.p50_ms,
        batched_p99_ms: batched.product.p99_ms,
        batched_baseline_events_per_s: batched.baseline.events_per_s,
        batched_ratio: round3(batchedRatio),
        open_rate_per_s: rate,
        open_p50_ms: open.product.p50_ms,
        open_p99_ms: open.product.p99_ms,
        open_baseline_p99_ms: open.baseline.p99_ms,
        target_rate_per_s: targetRate,
        target_events_per_s: target.product.events_per_s,
        target_p50_ms: target.product.p50_ms,
        target_p99_ms: target.product.p99_ms,
        target_baseline_p99_ms: target.baseline.p99_ms,
        target_met: targetMet,
        target_cpu_demand: round3(targetDemand.product),
        target_baseline_cpu_demand: round3(targetDemand.baseline),
        server_cpu_pct: peak.product.server_cpu_pct,
        events_per_commit: peak.product.commits.events_per_commit,
        ms_per_commit: peak.product.commits.ms_per_commit,
        batched_events_per_commit: batched.product.commits.events_per_commit,
        batched_ms_per_commit: batched.product.commits.ms_per_commit,
        baseline_cpu_pct: peak.baseline.server_cpu_pct,
        loadgen_cpu_pct: peak.product.client_cpu_pct,
        cpu_us_per_event: peak.product.cpu_us_per_event,
        concurrency: CONCURRENCY,
        saturated_concurrency: SATURATED.concurrency,
        visitors: VISITORS,
        cpus: cpus().length,
        loadavg_before: round3(loadBefore),
        loadavg_after: round3(loadAfter),
        fsync_p50_ms: fsyncBefore.p50,
        fsync_max_ms: Math.max(fsyncBefore.max, fsyncAfter.max),
        baseline_loadgen_bound: genBound,
        durable_check: stats.totals.pageviews === acknowledged && exitCode === 0,
        probe_ms_target_baseline: target.baseline.probe_ms,
        probe_ms_target_product: target.product.probe_ms,
        speed_drift_max: round3(Math.max(...turns.map(drift))),
      }),
    );
  } finally {
    cleanup();
  }
}

await main();
