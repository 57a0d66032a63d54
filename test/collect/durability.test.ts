import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LocalKeyProvider } from '../../src/crypto/local-provider.js';
import { SqliteControlStore } from '../../src/store/sqlite/control.js';
import { openTenantDb } from '../../src/store/sqlite/tenant.js';
import { runCli, startServer, type RunningServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { driveLoad, getStatus, health, MARKER, type LoadRun } from './durability-load.js';

const CLIENTS = 6;
// One kill per round, each with another commit interval: the default, then longer windows in
// which an answer given before its commit would be caught out by the kill.
const KILL_ROUNDS = ['4', '50', '20'];

/**
 * A 200 from the collect endpoint promises the events are on disk (the group commit answers only
 * after its transaction committed with synchronous=FULL). These tests hold the real server,
 * started with the built CLI, to that promise when it dies: SIGKILL at random moments under
 * load, three times on the same data folder, and a graceful SIGTERM with events still queued.
 */
describe('collect durability: a 200 survives SIGKILL and SIGTERM', () => {
  const { dir, cleanup } = tempDir('lighttrail-durability-');
  const env = serverEnv(dir);
  let siteId: string;
  let organisationId: string;
  let server: RunningServer | undefined;

  beforeAll(async () => {
    const setup = await runCli(
      [
        'setup',
        '--org',
        'Clinic A',
        '--domain',
        'localhost',
        '--email',
        'a@clinic-a.example',
        '--json',
      ],
      env,
    );
    expect(setup.code, setup.stderr).toBe(0);
    ({ siteId, organisationId } = JSON.parse(setup.stdout) as {
      siteId: string;
      organisationId: string;
    });
  });

  afterAll(async () => {
    if (server !== undefined && isRunning(server)) await server.stop('SIGKILL');
    cleanup();
  });

  async function start(extra: Record<string, string> = {}): Promise<RunningServer> {
    server = await startServer({ ...env, ...extra });

    return server;
  }

  function load(running: RunningServer, tag: string): LoadRun {
    const ca = readFileSync(path.join(dir, 'tls', 'localhost.crt'));

    return driveLoad({ port: running.port, ca, siteId, tag, clients: CLIENTS });
  }

  /** How many times each marker is stored, read with the tenant's key while no server runs. */
  async function storedMarkers(): Promise<Map<string, number>> {
    const control = await SqliteControlStore.open(
      dir,
      LocalKeyProvider.fromKey(env.LIGHTTRAIL_MASTER_KEY),
    );
    const db = await openTenantDb(control, organisationId, { readonly: true });
    try {
      const rows = db
        .prepare('SELECT path, count(*) AS n FROM events GROUP BY path')
        .all() as Array<{ path: string; n: number }>;

      return new Map(rows.map((row) => [row.path, row.n]));
    } finally {
      db.close();
      control.close();
    }
  }

  /** Every acknowledged marker exactly once; nothing stored that was not sent; nothing twice. */
  function expectExactlyOnce(stored: Map<string, number>, runs: LoadRun[]): void {
    const attempted = new Set(runs.flatMap((run) => [...run.attempted]));
    const acked = runs.flatMap((run) => [...run.acked]);

    const missing = acked.filter((marker) => stored.get(marker) !== 1);
    expect(missing, 'acknowledged but not stored exactly once').toEqual([]);
    const twice = [...stored].filter(([, n]) => n !== 1);
    expect(twice, 'stored more than once').toEqual([]);
    const unknown = [...stored.keys()].filter((key) => !MARKER.test(key) || !attempted.has(key));
    expect(unknown, 'stored but never sent (or mangled)').toEqual([]);
  }

  it('every event acknowledged before a SIGKILL is stored exactly once', async () => {
    const runs: LoadRun[] = [];
    let cutShort = 0;

    for (const [round, interval] of KILL_ROUNDS.entries()) {
      const running = await start({ LIGHTTRAIL_COMMIT_INTERVAL_MS: interval });
      const run = load(running, `kill-${'abc'[round]}`);
      runs.push(run);

      // Let the load build up, then kill at a random moment of the next 0.1 to 0.8 s.
      while (run.acks.length < 20 && run.refusals.size === 0) await sleep(10);
      await sleep(100 + Math.random() * 700);
      cutShort += run.inFlight();
      await running.stop('SIGKILL');
      expect(running.child.signalCode).toBe('SIGKILL');
      await run.done;

      // The only way a client may have stopped is the connection dying with the server.
      expect(run.acked.size, `round ${round}`).toBeGreaterThan(20);
      for (const refusal of run.refusals.keys()) expect(refusal).not.toMatch(/^\d{3} /);
    }

    // The kills cut requests mid-flight: some events were sent and never answered.
    expect(cutShort).toBeGreaterThan(0);

    // A clean start on the killed data folder recovers the WAL; a clean stop closes the files.
    const last = await start();
    expect(await health(last.port, readFileSync(path.join(dir, 'tls', 'localhost.crt')))).toBe(200);
    expect(await last.stop('SIGTERM')).toBe(0);

    const stored = await storedMarkers();
    expectExactlyOnce(stored, runs);
    const acked = runs.reduce((sum, run) => sum + run.acked.size, 0);
    const attempted = runs.reduce((sum, run) => sum + run.attempted.size, 0);
    expect(stored.size).toBeGreaterThanOrEqual(acked);
    expect(stored.size).toBeLessThanOrEqual(attempted);
  });

  it('SIGTERM under load commits every queued event, answers it, and exits 0', async () => {
    // A long commit interval keeps events waiting in the queue when the signal arrives.
    const running = await start({ LIGHTTRAIL_COMMIT_INTERVAL_MS: '250' });
    const run = load(running, 'term');
    while (run.acks.length < 10) await sleep(10);

    const queuedAtSignal = run.inFlight();
    const signalledAt = Date.now();
    const code = await running.stop('SIGTERM');
    await run.done;

    expect(code).toBe(0);
    expect(queuedAtSignal).toBeGreaterThan(0);
    // Requests that were waiting for the commit when the signal came were answered 200 after it.
    const ackedAfterSignal = run.acks.filter((ack) => ack.at >= signalledAt);
    expect(ackedAfterSignal.length).toBeGreaterThan(0);
    // Late requests are refused as a shutdown or find the port closed; a request sent on an open
    // keep-alive connection is answered, never reset (fresh-clone QA).
    for (const refusal of run.refusals.keys()) {
      expect(refusal).toMatch(/^(503 ERR_SHUTTING_DOWN|ECONNREFUSED)$/);
    }

    const stored = await storedMarkers();
    const thisRound = new Map(
      [...stored].filter(([marker]) => marker.startsWith('/durable/term/')),
    );
    expectExactlyOnce(thisRound, [run]);
    // A graceful stop loses nothing it accepted: everything acknowledged, and only that, is there.
    expect(thisRound.size).toBe(run.acked.size);
  });
});

/**
 * Statistics read in the server, then another process opening the same file (`migrate` here;
 * `import` and `doctor` do the same): the server must keep its SQLite locks throughout. It lost
 * them once, because reading a file's header ourselves closed a descriptor of it; the other
 * process then took itself for the last connection and deleted the WAL the server was still
 * writing, and a later crash lost what had been acknowledged (QA, fifth session).
 */
describe('another process beside the server takes nothing it acknowledged', () => {
  const { dir, cleanup } = tempDir('lighttrail-locks-');
  const env = serverEnv(dir);
  let server: RunningServer | undefined;

  afterAll(async () => {
    if (server !== undefined && isRunning(server)) await server.stop('SIGKILL');
    cleanup();
  });

  it('stats, then migrate in another process, then a SIGKILL: every 200 is stored', async () => {
    const setup = await runCli(
      ['setup', '--org', 'Clinic A', '--domain', 'localhost', '--email', 'a@a.example', '--json'],
      env,
    );
    const { siteId, organisationId } = JSON.parse(setup.stdout) as Record<string, string>;
    const key = await runCli(['apikey', 'create', '--site', siteId!, '--json'], env);
    const { token } = JSON.parse(key.stdout) as { token: string };
    server = await startServer(env);
    const ca = readFileSync(path.join(dir, 'tls', 'localhost.crt'));
    const runs: LoadRun[] = [];
    const burst = async (tag: string) => {
      const run = driveLoad({ port: server!.port, ca, siteId: siteId!, tag, clients: 2 });
      runs.push(run);
      while (run.acked.size < 20) await sleep(10);
      await run.stop();
      await run.done;
    };

    await burst('before');
    const today = new Date().toISOString().slice(0, 10);
    const stats = `/api/sites/${siteId}/stats?from=${today}&to=${today}`;
    expect(await getStatus(server.port, ca, stats, { Authorization: `Bearer ${token}` })).toBe(200);
    expect((await runCli(['migrate'], env)).code).toBe(0);
    await burst('after');

    const control = await SqliteControlStore.open(
      dir,
      LocalKeyProvider.fromKey(env.LIGHTTRAIL_MASTER_KEY),
    );
    const stored = new Set<string>();
    try {
      // The server's WAL is still there for it to commit into (it was deleted under it).
      expect(existsSync(`${control.tenantFile(organisationId!)}-wal`)).toBe(true);
      await server.stop('SIGKILL');

      const db = await openTenantDb(control, organisationId!, { readonly: true });
      const rows = db.prepare('SELECT path FROM events').all() as Array<{ path: string }>;
      db.close();
      for (const row of rows) stored.add(row.path);
    } finally {
      control.close();
    }
    const missing = runs.flatMap((run) => [...run.acked]).filter((marker) => !stored.has(marker));
    expect(missing).toEqual([]);
  });
});

/** A data folder with its own key; the per-client limit out of the way of the load clients. */
function serverEnv(dir: string) {
  return {
    LIGHTTRAIL_DATA_DIR: dir,
    LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex'),
    LIGHTTRAIL_RATE_LIMIT: '1000000',
    LIGHTTRAIL_RATE_BURST: '10000000',
    LIGHTTRAIL_LOG_LEVEL: 'warn',
  };
}

function isRunning(server: RunningServer): boolean {
  return server.child.exitCode === null && server.child.signalCode === null;
}
