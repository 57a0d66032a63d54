import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, describe, expect, it } from 'vitest';

import { LocalKeyProvider } from '../../src/crypto/local-provider.js';
import { dayIn } from '../../src/domain/time.js';
import { SqliteControlStore } from '../../src/store/sqlite/control.js';
import { openTenantDb } from '../../src/store/sqlite/tenant.js';
import { driveLoad } from '../collect/durability-load.js';
import { runCli, startServer, type RunningServer } from '../helpers/cli.js';
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
    const db = await openTenantDb(control, tenantId, { readonly: true });
    try {
      const events = db.prepare('SELECT ts, day FROM events').all() as Array<{
        ts: number;
        day: string;
      }>;
      const sessions = db.prepare('SELECT started_at AS ts, day FROM sessions').all() as Array<{
        ts: number;
        day: string;
      }>;
      expect(events.length).toBe(load.acked.size);
      for (const row of [...events, ...sessions]) expect(row.day).toBe(dayIn(AFTER, row.ts));
    } finally {
      db.close();
      control.close();
    }
  }, 60_000);
});
