import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { request } from 'node:https';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { CLI, runCli, spawnCommand, startServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

function get(
  port: number,
  ca: Buffer,
  pathname: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const options = {
      host: '127.0.0.1',
      port,
      path: pathname,
      ca,
      servername: 'localhost',
      headers,
    };
    request(options, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

function post(
  port: number,
  ca: Buffer,
  pathname: string,
  body: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: pathname,
        method: 'POST',
        ca,
        servername: 'localhost',
        headers: {
          'Content-Type': 'text/plain',
          'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** One clear line with a stable code: no stack trace, no half-started server. */
function expectOneLine(stderr: string, code: string): void {
  const lines = stderr
    .trim()
    .split('\n')
    .filter((line) => !line.startsWith('{'));
  expect(lines).toEqual([expect.stringMatching(new RegExp(`^lighttrail: ${code}: `))]);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('lighttrail start', () => {
  const dirs: Array<() => void> = [];
  afterEach(() => dirs.splice(0).forEach((cleanup) => cleanup()));

  const fresh = () => {
    const { dir, cleanup } = tempDir('lighttrail-cli-');
    dirs.push(cleanup);

    return dir;
  };

  /** A fresh data folder with organisation A (site on a.example), and its file's path. */
  const organisationA = async () => {
    const dir = fresh();
    const env = {
      LIGHTTRAIL_DATA_DIR: dir,
      LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex'),
      LIGHTTRAIL_PORT: '0',
    };
    const setup = await runCli(
      ['setup', '--org', 'A', '--domain', 'a.example', '--email', 'it@a.example', '--json'],
      env,
    );
    const { organisationId, siteId } = JSON.parse(setup.stdout) as {
      organisationId: string;
      siteId: string;
    };

    return { dir, env, siteId, file: path.join(dir, 'tenants', `${organisationId}.db`) };
  };

  /**
   * Organisation A after twelve acknowledged beacons, one commit each, and a SIGKILL: all twelve
   * only in the WAL, beside the index the killed server left. `beacon` posts one more page.
   */
  const crashedWithBeacons = async () => {
    const organisation = await organisationA();
    const { dir, env, siteId, file } = organisation;
    const beacon = (port: number, page: string) =>
      post(port, readFileSync(path.join(dir, 'tls', 'localhost.crt')), '/api/collect', {
        site: siteId,
        type: 'pageview',
        url: `https://a.example/${page}`,
      });
    const first = await startServer(env);
    for (let i = 0; i < 12; i++) expect((await beacon(first.port, `p${i}`)).status).toBe(200);
    await first.stop('SIGKILL');
    const [db, wal, shm] = ['', '-wal', '-shm'].map((suffix) => readFileSync(`${file}${suffix}`));

    return {
      ...organisation,
      beacon,
      db: db!,
      wal: wal!,
      shm: shm!,
      frame: 24 + wal!.readUInt32BE(8),
    };
  };

  it('starts on a fresh folder with generated key and certificate, drains on SIGTERM', async () => {
    const dir = fresh();
    const server = await startServer({ LIGHTTRAIL_DATA_DIR: dir });
    const { stdout, stderr } = server.output();

    expect(stdout).toMatch(/SHA-256 {10}([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    // Typed as shown in another terminal, the command finds this server's data folder.
    expect(stdout).toContain(
      `LIGHTTRAIL_DATA_DIR=${dir} LIGHTTRAIL_PORT=${server.port} npx lighttrail setup`,
    );
    expect(stdout).toContain('same LIGHTTRAIL_* settings');
    expect(stderr).toContain('keys.dev_master_key_generated');
    expect(statSync(path.join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    const ca = readFileSync(path.join(dir, 'tls', 'localhost.crt'));
    expect(await get(server.port, ca, '/healthz')).toEqual({
      status: 200,
      body: '{"status":"ok"}',
    });
    expect((await get(server.port, ca, '/readyz')).status).toBe(200);

    expect(await server.stop('SIGTERM')).toBe(0);
    expect(await portOpen(server.port)).toBe(false);
    expect(server.output().stderr).toContain('server.stopped');
  });

  it('drains once when the stop signal comes twice, as Ctrl+C under npm start does', async () => {
    const dir = fresh();
    const server = await startServer({ LIGHTTRAIL_DATA_DIR: dir });
    const ca = readFileSync(path.join(dir, 'tls', 'localhost.crt'));
    expect((await get(server.port, ca, '/healthz')).status).toBe(200);

    // The terminal's copy and npm's forwarded one, a moment apart, then a SIGTERM for luck.
    server.child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 5));
    server.child.kill('SIGINT');
    server.child.kill('SIGTERM');

    expect(await server.stop('SIGINT')).toBe(0);
    const { stderr } = server.output();
    expect(stderr.match(/"server\.stopping"/g)).toHaveLength(1);
    expect(stderr).toContain('server.stop_pending');
    expect(stderr).toContain('server.stopped');
  });

  it('key rotation refuses under a running server, pid file or not, and not after', async () => {
    const dir = fresh();
    const env = {
      LIGHTTRAIL_DATA_DIR: dir,
      LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex'),
    };
    const setup = await runCli(
      ['setup', '--org', 'A', '--domain', 'a.example', '--email', 'a@a.example', '--json'],
      env,
    );
    const { organisationId } = JSON.parse(setup.stdout) as { organisationId: string };
    const server = await startServer(env);

    rmSync(path.join(dir, 'server.pid'));
    const refused = await runCli(['keys', 'rotate', '--tenant', organisationId], env);
    expect(refused.code).toBe(1);
    expectOneLine(refused.stderr, 'ERR_SERVER_RUNNING');
    const second = await runCli(['start'], { ...env, LIGHTTRAIL_PORT: '0' });
    expectOneLine(second.stderr, 'ERR_SERVER_RUNNING');

    expect(await server.stop('SIGTERM')).toBe(0);
    // A pid file left behind naming some live process does not block anything.
    writeFileSync(path.join(dir, 'server.pid'), `${process.pid}\n`);
    const rotated = await runCli(['keys', 'rotate', '--tenant', organisationId], env);
    expect(rotated.code).toBe(0);
  });

  it('refuses a bad setting with one line and an exit code, and listens nowhere', async () => {
    const dir = fresh();
    const result = await runCli(['start'], { LIGHTTRAIL_DATA_DIR: dir, LIGHTTRAIL_PORT: 'eighty' });

    expect(result.code).toBe(2);
    expectOneLine(result.stderr, 'ERR_CONFIG_INVALID');
    expect(result.stderr).toContain('LIGHTTRAIL_PORT');
    expect(result.stdout).toBe('');
  });

  it('says a data folder that is a file is one, in one line', async () => {
    const file = path.join(fresh(), 'data');
    writeFileSync(file, 'not a folder');
    const env = { LIGHTTRAIL_DATA_DIR: file, LIGHTTRAIL_PORT: '0' };
    for (const args of [['start'], ['stats', '--site', 'x']]) {
      const result = await runCli(args, env);

      expect(result.code, args[0]).toBe(2);
      expectOneLine(result.stderr, 'ERR_CONFIG_INVALID');
      expect(result.stderr).toContain(`LIGHTTRAIL_DATA_DIR: ${file} is a file, not a folder`);
    }
    // A path through the file, or a link to nothing: said so, not a raw ENOTDIR (final QA).
    const dangling = path.join(fresh(), 'data');
    symlinkSync(path.join(path.dirname(dangling), 'missing'), dangling);
    for (const dataDir of [path.join(file, 'sub'), dangling]) {
      const setup = await runCli(
        ['setup', '--org', 'A', '--domain', 'a.example', '--email', 'a@a.example'],
        { LIGHTTRAIL_DATA_DIR: dataDir },
      );
      expect(setup.code, dataDir).toBe(2);
      expectOneLine(setup.stderr, 'ERR_CONFIG_INVALID');
      expect(setup.stderr).toContain('a part of its path is a file or a broken link');
    }

    // It had called the file a writable data folder.
    const doctor = await runCli(['doctor'], env);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(
      /FAIL +data folder: ERR_CONFIG_INVALID: .* is a file, not a folder/,
    );
  });

  // Another user: only root can make one here (setpriv), as CI on this machine runs.
  const asNobody = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');
  it.runIf(asNobody)(
    'says a folder or file this user may not write is one, not damage',
    async () => {
      const { dir, env } = await organisationA();
      chmodSync(path.dirname(dir), 0o755);
      const setpriv = ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI];
      const run = (args: string[]) =>
        spawnCommand('/usr/bin/setpriv', [...setpriv, ...args], env, 20_000).result;

      // The folder still root's alone (0700).
      const folder = await run(['start']);
      expect(folder.code).toBe(1);
      expectOneLine(folder.stderr, 'ERR_DATA_ACCESS');
      expect(folder.stderr).toContain('check its owner and mode');

      // The folder the user's, an organisation's file not: not "damaged", not set aside.
      const tenants = path.join(dir, 'tenants');
      for (const name of [dir, tenants, ...readdirSync(dir).map((f) => path.join(dir, f))]) {
        chownSync(name, 65534, 65534);
      }
      for (const name of readdirSync(tenants)) chownSync(path.join(tenants, name), 65534, 65534);
      const file = readdirSync(tenants).find((name) => name.endsWith('.db')) as string;
      chownSync(path.join(tenants, file), 0, 0);
      chmodSync(path.join(tenants, file), 0o644);
      const tenantFile = await run(['start']);
      expect(tenantFile.code).toBe(1);
      expectOneLine(tenantFile.stderr, 'ERR_DATA_ACCESS');
      expect(tenantFile.stderr).toContain(file);
      expect(tenantFile.stderr).not.toContain('damaged');
    },
  );

  it('blames the host, not the port, for an address this machine does not have (QA)', async () => {
    for (const port of ['0', '18443']) {
      const result = await runCli(['start'], {
        LIGHTTRAIL_DATA_DIR: fresh(),
        LIGHTTRAIL_HOST: '192.0.2.1',
        LIGHTTRAIL_PORT: port,
      });

      expect(result.code).toBe(2);
      expectOneLine(result.stderr, 'ERR_CONFIG_INVALID');
      expect(result.stderr).toContain(
        'LIGHTTRAIL_HOST: 192.0.2.1 is not an address of this machine',
      );
    }
  });

  it('says so when another server holds the port: exit 1 and one line', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      // A data folder that does not exist yet, and an empty one: the refused start makes nothing.
      const missing = path.join(fresh(), 'data');
      const empty = fresh();
      for (const dataDir of [missing, empty]) {
        const result = await runCli(['start'], {
          LIGHTTRAIL_DATA_DIR: dataDir,
          LIGHTTRAIL_HOST: '127.0.0.1',
          LIGHTTRAIL_PORT: String(port),
        });

        expect(result.code).toBe(1);
        expectOneLine(result.stderr, 'ERR_PORT_IN_USE');
        expect(result.stderr).toContain('LIGHTTRAIL_PORT');
      }
      expect(existsSync(missing)).toBe(false);
      expect(readdirSync(empty)).toEqual([]);

      // A set-up data folder: the server is built before the port is tried, and its close must
      // not log a `server.closed` for a server that never listened (fresh-clone QA). Its first
      // start makes the TLS certificate, and says so: that record is the only other line.
      const { env } = await organisationA();
      const taken = await runCli(['start'], { ...env, LIGHTTRAIL_PORT: String(port) });
      expect(taken.code).toBe(1);
      expectOneLine(taken.stderr, 'ERR_PORT_IN_USE');
      const records = taken.stderr.split('\n').filter((line) => line.startsWith('{'));
      expect(records.map((line) => (JSON.parse(line) as { event: string }).event)).toEqual([
        'tls.certificate_generated',
      ]);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('refuses a build without its tracker, stops the threads it started and exits', async () => {
    // An installation whose build stopped half-way: everything but the tracker script. The
    // refusal came after the writer thread had started, which kept the process up for ever.
    const install = fresh();
    const root = path.resolve(import.meta.dirname, '../..');
    for (const part of ['bin', 'dist', 'package.json']) {
      cpSync(path.join(root, part), path.join(install, part), { recursive: true });
    }
    symlinkSync(path.join(root, 'node_modules'), path.join(install, 'node_modules'));
    rmSync(path.join(install, 'dist', 'tracker', 'lt.js'));
    const { env } = await organisationA();

    const started = Date.now();
    const bin = path.join(install, 'bin', 'lighttrail.js');
    const result = await spawnCommand(process.execPath, [bin, 'start'], env, 20_000).result;

    expect(result.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expectOneLine(result.stderr, 'ERR_NOT_BUILT');
    expect(result.stderr).toContain('npm run build');
  });

  it('makes nothing when refused for its certificate, port taken or not', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      for (const setting of ['0', String(port)]) {
        const dataDir = fresh();
        const result = await runCli(['start'], {
          LIGHTTRAIL_DATA_DIR: dataDir,
          LIGHTTRAIL_ENV: 'production',
          LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex'),
          LIGHTTRAIL_HOST: '127.0.0.1',
          LIGHTTRAIL_PORT: setting,
        });

        expect(result.code).toBe(1);
        expectOneLine(result.stderr, 'ERR_TLS_CONFIG');
        expect(readdirSync(dataDir)).toEqual([]);
      }
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('refuses to start in production without a master key, even with its port taken', async () => {
    // The key is the mistake to report: the port held here (another server, `npm start` while
    // the tests run) must not hide it.
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const dataDir = fresh();
      const result = await runCli(['start'], {
        LIGHTTRAIL_DATA_DIR: dataDir,
        LIGHTTRAIL_ENV: 'production',
        LIGHTTRAIL_HOST: '127.0.0.1',
        LIGHTTRAIL_PORT: String(port),
      });

      expect(result.code).toBe(1);
      expectOneLine(result.stderr, 'ERR_MASTER_KEY_MISSING');
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('refuses a malformed and a wrong master key without starting', async () => {
    const dir = fresh();
    const key = randomBytes(32).toString('hex');
    const setup = await runCli(
      ['setup', '--org', 'A', '--domain', 'a.example', '--email', 'a@a.example', '--json'],
      {
        LIGHTTRAIL_DATA_DIR: dir,
        LIGHTTRAIL_MASTER_KEY: key,
      },
    );
    expect(setup.code).toBe(0);

    const malformed = await runCli(['start'], {
      LIGHTTRAIL_DATA_DIR: dir,
      LIGHTTRAIL_MASTER_KEY: 'short',
    });
    // A wrong setting: exit 2, and the line names it.
    expect(malformed.code).toBe(2);
    expectOneLine(malformed.stderr, 'ERR_MASTER_KEY_INVALID');
    expect(malformed.stderr).toContain('LIGHTTRAIL_MASTER_KEY: master key must be 32 bytes');
    expect(malformed.stderr).not.toContain('short');

    const wrong = await runCli(['start'], {
      LIGHTTRAIL_DATA_DIR: dir,
      LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex'),
    });
    expect(wrong.code).toBe(1);
    expectOneLine(wrong.stderr, 'ERR_MASTER_KEY_WRONG');
    expect(wrong.stdout).not.toContain('running at');
    // No pid file of a server that never ran (QA).
    expect(existsSync(path.join(dir, 'server.pid'))).toBe(false);

    // No key at all: a development key generated now could never open the data sealed before.
    const setupB = ['setup', '--org', 'B', '--domain', 'b.example', '--email', 'b@b.example'];
    for (const command of [['start'], setupB]) {
      const missing = await runCli(command, { LIGHTTRAIL_DATA_DIR: dir });
      expect(missing.code).toBe(1);
      expectOneLine(missing.stderr, 'ERR_MASTER_KEY_MISSING');
      expect(existsSync(path.join(dir, 'master.key'))).toBe(false);
    }
  });

  it('refuses a corrupt control database', async () => {
    const dir = fresh();
    const env = {
      LIGHTTRAIL_DATA_DIR: dir,
      LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex'),
    };
    await runCli(['setup', '--org', 'A', '--domain', 'a.example', '--email', 'a@a.example'], env);

    writeFileSync(path.join(dir, 'control.db'), randomBytes(8192));
    const control = await runCli(['start'], { ...env, LIGHTTRAIL_PORT: '0' });
    expect(control.code).toBe(1);
    expectOneLine(control.stderr, 'ERR_DB_CORRUPT');
    expect(control.stdout).not.toContain('running at');
  });

  it('sets a damaged organisation file aside and serves the other organisations', async () => {
    const dir = fresh();
    const env = {
      LIGHTTRAIL_DATA_DIR: dir,
      LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex'),
      LIGHTTRAIL_PORT: '0',
    };
    const org = async (name: string, domain: string) => {
      const setup = await runCli(
        ['setup', '--org', name, '--domain', domain, '--email', `it@${domain}`, '--json'],
        env,
      );
      const ids = JSON.parse(setup.stdout) as { organisationId: string; siteId: string };
      const key = await runCli(['apikey', 'create', '--site', ids.siteId, '--json'], env);
      const { token } = JSON.parse(key.stdout) as { token: string };

      return { ...ids, domain, token, file: path.join(dir, 'tenants', `${ids.organisationId}.db`) };
    };
    const damagedOrg = await org('A', 'a.example');
    const healthyOrg = await org('B', 'b.example');
    const original = readFileSync(damagedOrg.file);

    // Damage in the middle of the file (only a full read finds it), a file its key does not
    // open, an emptied file.
    const middle = Buffer.from(original);
    randomBytes(4096).copy(middle, Math.floor(middle.length / 2 / 4096) * 4096);
    const damages = [middle, randomBytes(original.length), Buffer.alloc(0)];
    for (const [round, damage] of damages.entries()) {
      writeFileSync(damagedOrg.file, damage);
      const server = await startServer(env);
      const ca = readFileSync(path.join(dir, 'tls', 'localhost.crt'));
      const beacon = (o: typeof damagedOrg) =>
        post(server.port, ca, '/api/collect', {
          site: o.siteId,
          type: 'pageview',
          url: `https://${o.domain}/clinic`,
        });
      const stats = (o: typeof damagedOrg) =>
        get(server.port, ca, `/api/sites/${o.siteId}/stats`, {
          Authorization: `Bearer ${o.token}`,
        });
      try {
        const refused = await beacon(damagedOrg);
        expect(refused.status).toBe(503);
        expect(JSON.parse(refused.body)).toMatchObject({
          error: { code: 'ERR_STORE_UNAVAILABLE' },
        });
        const unreadable = await stats(damagedOrg);
        expect(unreadable.status).toBe(503);
        expect(JSON.parse(unreadable.body)).toMatchObject({
          error: { code: 'ERR_STORE_UNAVAILABLE' },
        });

        expect((await beacon(healthyOrg)).status).toBe(200);
        const served = await stats(healthyOrg);
        expect(served.status).toBe(200);
        // One beacon per round.
        expect(JSON.parse(served.body)).toMatchObject({ totals: { pageviews: round + 1 } });
      } finally {
        expect(await server.stop()).toBe(0);
      }

      // The operator is told which organisation and why; nothing was written into its file.
      const told = server
        .output()
        .stderr.split('\n')
        .filter((line) => line.includes('"store.tenant_damaged"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(told).toEqual([
        expect.objectContaining({
          tenantId: damagedOrg.organisationId,
          organisation: 'A',
          code: 'ERR_DB_CORRUPT',
        }),
      ]);
      expect(readFileSync(damagedOrg.file).equals(damage)).toBe(true);
    }

    // doctor and migrate name the organisation too, and leave the file as found.
    const doctor = await runCli(['doctor'], env);
    expect(doctor.stdout).toContain(`organisation "A" (${damagedOrg.organisationId})`);
    writeFileSync(damagedOrg.file, middle);
    const migrated = await runCli(['migrate'], env);
    expect(migrated.code).toBe(1);
    expect(migrated.stdout).toBe(
      'control database and 1 tenant database(s) are at the current schema; 1 damaged, ' +
        'left as found\n',
    );
    expectOneLine(migrated.stderr, 'ERR_DB_CORRUPT');
    expect(migrated.stderr).toContain(`organisation "A" (${damagedOrg.organisationId})`);
    expect(readFileSync(damagedOrg.file).equals(middle)).toBe(true);
  });

  it('leaves a damaged file and the WAL beside it as found; import refuses it', async () => {
    const { dir, env, siteId, file } = await organisationA();
    // Enough events that the middle of the file holds them, not the schema.
    const log = path.join(dir, 'access.log');
    const ua = 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0';
    const lines = Array.from(
      { length: 3000 },
      (_, i) =>
        `203.0.113.${i % 250} - - [04/Dec/2026:10:${String(i % 60).padStart(2, '0')}:00 +0000] ` +
        `"GET /services/page-${i} HTTP/1.1" 200 512 "-" "${ua}"`,
    );
    writeFileSync(log, `${lines.join('\n')}\n`);
    expect(
      (await runCli(['import', '--site', siteId, '--format', 'combined', log], env)).code,
    ).toBe(0);

    // A beacon committed to the WAL, then a crash: the WAL stays beside the file.
    const first = await startServer(env);
    const ca = readFileSync(path.join(dir, 'tls', 'localhost.crt'));
    const beacon = () =>
      post(first.port, ca, '/api/collect', {
        site: siteId,
        type: 'pageview',
        url: 'https://a.example/after-import',
      });
    expect((await beacon()).status).toBe(200);
    await first.stop('SIGKILL');
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);

    const damaged = readFileSync(file);
    randomBytes(4096).copy(damaged, Math.floor(damaged.length / 2 / 4096) * 4096);
    writeFileSync(file, damaged);
    const wal = readFileSync(`${file}-wal`);

    const second = await startServer(env);
    try {
      const refused = await post(second.port, ca, '/api/collect', {
        site: siteId,
        type: 'pageview',
        url: 'https://a.example/while-damaged',
      });
      expect(refused.status).toBe(503);
    } finally {
      expect(await second.stop()).toBe(0);
    }
    expect(second.output().stderr).toContain('"store.tenant_damaged"');

    const imported = await runCli(['import', '--site', siteId, '--format', 'combined', log], env);
    expect(imported.code).toBe(1);
    expectOneLine(imported.stderr, 'ERR_DB_CORRUPT');

    // Neither the start's check nor the import wrote into the file or its WAL.
    expect(readFileSync(file).equals(damaged)).toBe(true);
    expect(readFileSync(`${file}-wal`).equals(wal)).toBe(true);
  });

  it('sets aside a file whose WAL is damaged mid-way, not one with a torn last write', async () => {
    const { env, siteId, file, beacon, db, wal, frame } = await crashedWithBeacons();
    const frames = Math.floor((wal.length - 32) / frame);
    const startWith = async (damagedWal: Buffer) => {
      writeFileSync(file, db);
      writeFileSync(`${file}-wal`, damagedWal);
      rmSync(`${file}-shm`, { force: true });
      const server = await startServer(env);
      try {
        return { status: (await beacon(server.port, 'later')).status, server };
      } finally {
        expect(await server.stop()).toBe(0);
      }
    };
    const flipped = (index: number) => {
      const copy = Buffer.from(wal);
      const at = 32 + index * frame + 24 + 100;
      for (let i = at; i < at + 16; i++) copy[i] = (copy[i] as number) ^ 0xff;

      return copy;
    };

    // The last frame damaged, as a crash in the middle of writing it can leave it: served.
    const torn = await startWith(flipped(frames - 1));
    expect(torn.status).toBe(200);
    expect(torn.server.output().stderr).not.toContain('store.tenant_damaged');

    // The second frame damaged: eleven acknowledged commits behind it. Set aside, left as found.
    const damagedWal = flipped(1);
    const damaged = await startWith(damagedWal);
    expect(damaged.status).toBe(503);
    const told = damaged.server.output().stderr;
    expect(told).toContain('"store.tenant_damaged"');
    expect(told).toMatch(/its WAL holds \d+ committed transactions that SQLite cannot read/);
    // The command line's figures would be short by those transactions: it refuses them too.
    const stats = await runCli(['stats', '--site', siteId, '--json'], env);
    expect(stats.code).toBe(1);
    expect(stats.stderr).toContain('lighttrail: ERR_STORE_UNAVAILABLE');
    expect(stats.stderr).toContain('committed transactions that SQLite cannot read');
    expect(readFileSync(file).equals(db)).toBe(true);
    expect(readFileSync(`${file}-wal`).equals(damagedWal)).toBe(true);
  });

  it('sets aside a file whose WAL a crash left cut short or with a damaged header', async () => {
    const { env, siteId, file, beacon, db, wal, shm, frame } = await crashedWithBeacons();
    const startWith = async (damagedWal: Buffer) => {
      writeFileSync(file, db);
      writeFileSync(`${file}-wal`, damagedWal);
      writeFileSync(`${file}-shm`, shm);
      const server = await startServer(env);
      try {
        return { status: (await beacon(server.port, 'later')).status, told: server.output() };
      } finally {
        expect(await server.stop()).toBe(0);
      }
    };

    // As the crash left it: recovered and served.
    const intact = await startWith(wal);
    expect(intact.status).toBe(200);
    expect(intact.told.stderr).not.toContain('store.tenant_damaged');

    // Its last four frames gone (a copy or a disk that lost the end): set aside, left as found.
    const cut = wal.subarray(0, wal.length - 4 * frame);
    const shortened = await startWith(cut);
    expect(shortened.status).toBe(503);
    expect(shortened.told.stderr).toMatch(/its WAL was cut short: \d+ frames committed/);
    const stats = await runCli(['stats', '--site', siteId, '--json'], env);
    expect(stats.code).toBe(1);
    expect(stats.stderr).toContain('its WAL was cut short');
    expect(readFileSync(`${file}-wal`).equals(cut)).toBe(true);
    expect(readFileSync(file).equals(db)).toBe(true);

    // A damaged salt in the WAL header: SQLite would read the WAL as empty.
    const salted = Buffer.from(wal);
    salted[17] = (salted[17] as number) ^ 0xff;
    const header = await startWith(salted);
    expect(header.status).toBe(503);
    expect(header.told.stderr).toContain('its WAL header is missing or damaged');
    expect(readFileSync(`${file}-wal`).equals(salted)).toBe(true);
  });

  it("stats on the command line reads a crashed server's WAL and writes nothing", async () => {
    const { dir, env, siteId, file } = await organisationA();
    const server = await startServer(env);
    const ca = readFileSync(path.join(dir, 'tls', 'localhost.crt'));
    const url = 'https://a.example/in-the-wal';
    const sent = await post(server.port, ca, '/api/collect', {
      site: siteId,
      type: 'pageview',
      url,
    });
    expect(sent.status).toBe(200);
    await server.stop('SIGKILL');
    const db = readFileSync(file);
    const wal = readFileSync(`${file}-wal`);

    const stats = await runCli(['stats', '--site', siteId, '--json'], env);

    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({ totals: { pageviews: 1 } });
    // A read-write connection, the last to close, would have copied the WAL in and deleted it.
    expect(readFileSync(file).equals(db)).toBe(true);
    expect(readFileSync(`${file}-wal`).equals(wal)).toBe(true);
  });

  it('refuses a missing or empty control file', async () => {
    const dir = fresh();
    const env = {
      LIGHTTRAIL_DATA_DIR: dir,
      LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex'),
      LIGHTTRAIL_PORT: '0',
    };
    await runCli(['setup', '--org', 'A', '--domain', 'a.example', '--email', 'a@a.example'], env);
    const controlFile = path.join(dir, 'control.db');
    const control = readFileSync(controlFile);

    writeFileSync(controlFile, '');
    const emptied = await runCli(['tenant', 'list'], env);
    expect(emptied.code).toBe(1);
    expectOneLine(emptied.stderr, 'ERR_DB_CORRUPT');
    expect(statSync(controlFile).size).toBe(0);

    rmSync(controlFile);
    const removed = await runCli(['start'], env);
    expect(removed.code).toBe(1);
    expectOneLine(removed.stderr, 'ERR_DB_CORRUPT');
    expect(existsSync(controlFile)).toBe(false);

    rmSync(path.join(dir, 'keyring.json'));
    const noKeyring = await runCli(['start'], env);
    expect(noKeyring.code).toBe(1);
    expectOneLine(noKeyring.stderr, 'ERR_DB_CORRUPT');
    writeFileSync(controlFile, control);
  });

  it('doctor masks secrets and --help explains each command', async () => {
    const key = randomBytes(32).toString('hex');
    const doctor = await runCli(['doctor'], {
      LIGHTTRAIL_DATA_DIR: fresh(),
      LIGHTTRAIL_MASTER_KEY: key,
      LIGHTTRAIL_METRICS_TOKEN: 'tok-secret-123-0123456789abcdef-0123456789',
    });

    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toMatch(/LIGHTTRAIL_MASTER_KEY\s+\*+ \(set\)/);
    expect(doctor.stdout).not.toContain(key);
    expect(doctor.stdout).not.toContain('tok-secret-123-0123456789abcdef-0123456789');

    // Without a key setting, the development key file in the data folder is the one in use.
    const dir = fresh();
    const fallback = await runCli(['doctor'], { LIGHTTRAIL_DATA_DIR: dir });
    const keyLine = (text: string) => /^ *LIGHTTRAIL_MASTER_KEY_FILE +(.*)$/m.exec(text)?.[1];
    const keyFile = path.join(dir, 'master.key');
    expect(keyLine(fallback.stdout)).toBe(`(unset: the development default ${keyFile})`);
    expect(keyLine(doctor.stdout)).toBe('(unset)');

    for (const command of [
      'start',
      'setup',
      'migrate',
      'keys',
      'tenant',
      'site',
      'apikey',
      'import',
      'stats',
      'doctor',
    ]) {
      const help = await runCli([command, '--help'], {});
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toContain(`Usage: lighttrail ${command}`);
    }
  });
});

describe('output to a reader that stops early', () => {
  it('drops the rest without a stack trace and keeps the exit code', async () => {
    const child = spawn(process.execPath, [CLI, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // The reader is gone before the first byte: every write meets a closed pipe (EPIPE).
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));

    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
