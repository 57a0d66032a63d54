import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, describe, expect, it } from 'vitest';

import { LocalKeyProvider } from '../../src/crypto/local-provider.js';
import { dayIn } from '../../src/domain/time.js';
import { SqliteControlStore } from '../../src/store/sqlite/control.js';
import { openTenantDb } from '../../src/store/sqlite/tenant.js';
import { driveLoad } from '../collect/durability-load.js';
import { CLI, cliEnv, runCli, startServer, type RunningServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

// Pago Pago is UTC-11 and Kiritimati UTC+14: at any moment their days differ.
const BEFORE = 'Pacific/Pago_Pago';
const AFTER = 'Pacific/Kiritimati';

/**
 * A time zone change while the server stores events (fresh-clone QA: days stayed in the old
 * zone). The server reads the site again only after its cache expires: what it stores meanwhile
 * under the old zone must be moved too, by the command's second pass.
 */
describe('site update --timezone with the server running', () => {
  const { dir, cleanup } = tempDir('lighttrail-timezone-');
  const env = {
    LIGHTTRAIL_DATA_DIR: dir,
    LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex'),
    LIGHTTRAIL_RATE_LIMIT: '1000000',
    LIGHTTRAIL_RATE_BURST: '10000000',
    LIGHTTRAIL_LOG_LEVEL: 'warn',
  };
  let server: RunningServer | undefined;

  afterAll(async () => {
    await server?.stop('SIGKILL');
    cleanup();
  });

  it('leaves every event and session on its day in the new zone', async () => {
    const setup = await runCli(
      ['setup', '--org', 'Clinic T', '--domain', 'localhost', '--email', 't@clinic.example'],
      env,
    );
    expect(setup.code, setup.stderr).toBe(0);
    const site = JSON.parse((await runCli(['site', 'list', '--json'], env)).stdout) as Array<{
      id: string;
      tenantId: string;
    }>;
    const { id: siteId, tenantId } = site[0] as { id: string; tenantId: string };
    expect((await runCli(['site', 'update', siteId, '--timezone', BEFORE], env)).code).toBe(0);

    server = await startServer(env);
    const ca = readFileSync(path.join(dir, 'tls', 'localhost.crt'));
    const load = driveLoad({ port: server.port, ca, siteId, tag: 'zone', clients: 1 });
    while (load.acks.length < 20) await sleep(10);

    // Events keep arriving while the command runs, the server still on the old zone at first.
    const moved = await runCli(['site', 'update', siteId, '--timezone', AFTER, '--json'], env);
    await load.stop();
    expect(moved.code, moved.stderr).toBe(0);
    expect(JSON.parse(moved.stdout).redated.events).toBeGreaterThanOrEqual(20);
    expect(load.acked.size).toBeGreaterThan(20);
    expect(await server.stop('SIGTERM')).toBe(0);

    const control = await SqliteControlStore.open(
      dir,
      LocalKeyProvider.fromKey(env.LIGHTTRAIL_MASTER_KEY),
    );
    try {
      const { events, sessions } = await storedDays(control, tenantId);
      expect(events.length).toBe(load.acked.size);
      expect(misdated([...events, ...sessions], AFTER)).toEqual([]);
    } finally {
      control.close();
    }
  }, 60_000);
});

describe('site update --timezone during an import', () => {
  const { dir, cleanup } = tempDir('lighttrail-timezone-import-');
  const env = { LIGHTTRAIL_DATA_DIR: dir, LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex') };

  afterAll(() => cleanup());

  it('the import moves the rows it stored under the old zone when it ends', async () => {
    const setup = await runCli(
      ['setup', '--org', 'Clinic I', '--domain', 'www.x.example', '--email', 'i@x.example'],
      env,
    );
    expect(setup.code, setup.stderr).toBe(0);
    const [site] = JSON.parse((await runCli(['site', 'list', '--json'], env)).stdout) as Array<{
      id: string;
      tenantId: string;
    }>;
    const { id: siteId, tenantId } = site as { id: string; tenantId: string };
    expect((await runCli(['site', 'update', siteId, '--timezone', BEFORE], env)).code).toBe(0);

    // 60,000 pageviews 1.2 s apart: several seconds of importing.
    const log = path.join(dir, 'access.log');
    writeFileSync(log, accessLog(60_000, Date.UTC(2026, 10, 1)));
    const child = spawn(
      process.execPath,
      [CLI, 'import', '--site', siteId, '--format', 'combined', log, '--json'],
      { env: cliEnv(env), stdio: 'ignore' },
    );
    const exited = new Promise<number | null>((done) => child.on('close', done));

    const control = await SqliteControlStore.open(
      dir,
      LocalKeyProvider.fromKey(env.LIGHTTRAIL_MASTER_KEY),
    );
    const count = async () => {
      const db = await openTenantDb(control, tenantId, { readonly: true });
      try {
        return db.prepare('SELECT count(*) FROM events').pluck().get() as number;
      } finally {
        db.close();
      }
    };
    while ((await count()) === 0) await sleep(50);
    const moved = await runCli(['site', 'update', siteId, '--timezone', AFTER], env);
    expect(moved.code, moved.stderr).toBe(0);
    // The change came while the import was still going.
    expect(child.exitCode).toBeNull();
    expect(await exited).toBe(0);

    try {
      const { events, sessions } = await storedDays(control, tenantId);
      expect(events.length).toBe(60_000);
      expect(misdated([...events, ...sessions], AFTER)).toEqual([]);
    } finally {
      control.close();
    }
  }, 120_000);
});

interface Dated {
  ts: number;
  day: string;
}

/** Every event's time and day, and every session's start and day, in the tenant's file. */
async function storedDays(
  control: SqliteControlStore,
  tenantId: string,
): Promise<{ events: Dated[]; sessions: Dated[] }> {
  const db = await openTenantDb(control, tenantId, { readonly: true });
  try {
    return {
      events: db.prepare('SELECT ts, day FROM events').all() as Dated[],
      sessions: db.prepare('SELECT started_at AS ts, day FROM sessions').all() as Dated[],
    };
  } finally {
    db.close();
  }
}

/** The rows whose day is not the day of their time in `zone`. */
function misdated(rows: readonly Dated[], zone: string): Dated[] {
  return rows.filter((row) => row.day !== dayIn(zone, row.ts)).slice(0, 5);
}

/** Combined-format lines, one pageview every 1.2 s from `start`, from 250 visitors. */
function accessLog(lines: number, start: number): string {
  const ua = 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0';
  const months = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ');
  const two = (n: number) => String(n).padStart(2, '0');
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const at = new Date(start + i * 1_200);
    const time =
      `${two(at.getUTCDate())}/${months[at.getUTCMonth()]}/${at.getUTCFullYear()}:` +
      `${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())} +0000`;
    const page = String.fromCharCode(97 + (i % 26));
    out.push(
      `198.51.100.${i % 250} - - [${time}] "GET /page/${page} HTTP/1.1" 200 512 "-" "${ua}"`,
    );
  }

  return `${out.join('\n')}\n`;
}
