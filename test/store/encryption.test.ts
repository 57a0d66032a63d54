import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import Database from 'better-sqlite3-multiple-ciphers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { LocalKeyProvider } from '../../src/crypto/local-provider.js';
import { DEFAULT_SITE_SETTINGS } from '../../src/domain/site.js';
import { SqliteControlStore } from '../../src/store/sqlite/control.js';
import { openEncrypted } from '../../src/store/sqlite/open.js';
import { openTenantDb } from '../../src/store/sqlite/tenant.js';
import { listFiles, tempDir } from '../helpers/temp.js';

const MARKER = 'PLAINTEXT-MARKER-7f3a9c';
const DIST = path.resolve(import.meta.dirname, '../../dist');

describe('encrypted embedded store', () => {
  let dir: string;
  let cleanup: () => void;
  let provider: LocalKeyProvider;
  let store: SqliteControlStore;

  beforeEach(async () => {
    ({ dir, cleanup } = tempDir());
    provider = LocalKeyProvider.fromKey(randomBytes(32).toString('hex'));
    store = await SqliteControlStore.open(dir, provider);
  });

  afterEach(() => {
    store.close();
    cleanup();
  });

  async function writeMarker(tenantId: string, count = 200): Promise<void> {
    const db = await openTenantDb(store, tenantId);
    const insert = db.prepare(
      `INSERT INTO events (site_id, ts, day, type, hostname, path, channel, visitor_id, session_id)
       VALUES ('s', 1, '2026-01-01', 'pageview', 'h', ?, 'Direct', 'v', 's')`,
    );
    for (let i = 0; i < count; i += 1) insert.run(`/${MARKER}/${i}`);
    db.close();
  }

  it('spills no sort or temporary table to disk, where the cipher would not cover it', async () => {
    // A child process, so that SQLite takes its temporary folder from SQLITE_TMPDIR: a large
    // sort on a connection with a small cache, as a statistics query over a big range makes.
    const watched = path.join(dir, 'sqlite-tmp');
    mkdirSync(watched);
    const created: string[] = [];
    const watcher = watch(watched, (_event, name) => created.push(String(name)));
    const dist = (module: string) => pathToFileURL(path.resolve(DIST, module)).href;
    const script = `
      import { openEncrypted } from '${dist('store/sqlite/open.js')}';
      const db = openEncrypted(process.argv[1], Buffer.alloc(32, 7), { create: true });
      db.exec('CREATE TABLE t (path TEXT)');
      const insert = db.prepare('INSERT INTO t VALUES (?)');
      db.transaction(() => {
        for (let i = 0; i < 100000; i++) insert.run('/${MARKER}/' + ((i * 7919) % 100000));
      })();
      db.pragma('cache_size = -64');
      let rows = 0;
      for (const row of db.prepare('SELECT path FROM t ORDER BY path DESC').iterate()) rows++;
      process.stdout.write(String(rows));
    `;
    const child = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', script, path.join(dir, 'sort.db')],
      { env: { ...process.env, SQLITE_TMPDIR: watched }, encoding: 'utf8' },
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    watcher.close();

    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('100000');
    expect(created).toEqual([]);
  });

  it('leaves no plaintext marker in any file on disk, WAL and journal included', async () => {
    const tenant = await store.createTenant(`Org ${MARKER}`, 'test');
    store.createSite(
      tenant.id,
      `site ${MARKER}`,
      { ...DEFAULT_SITE_SETTINGS, domains: ['a.example'] },
      'test',
    );
    // Keep a connection open so the WAL file still holds the writes when the disk is scanned.
    const db = await openTenantDb(store, tenant.id);
    db.pragma('wal_autocheckpoint = 0');
    const insert = db.prepare(
      `INSERT INTO events (site_id, ts, day, type, hostname, path, channel, visitor_id, session_id)
       VALUES ('s', 1, '2026-01-01', 'pageview', 'h', ?, 'Direct', 'v', 's')`,
    );
    for (let i = 0; i < 100; i += 1) insert.run(`/${MARKER}/${i}`);

    const files = await listFiles(dir);
    expect(files.some((file) => file.endsWith('-wal'))).toBe(true);
    for (const file of files) {
      const bytes = readFileSync(file);
      expect(bytes.includes(Buffer.from(MARKER)), file).toBe(false);
      expect(bytes.includes(Buffer.from('SQLite format 3')), file).toBe(false);
    }

    // Control: the marker really is in there, readable with the key.
    const count = db
      .prepare('SELECT count(*) AS n FROM events WHERE path LIKE ?')
      .get(`%${MARKER}%`) as { n: number };
    expect(count.n).toBe(100);
    db.close();
  });

  it("refuses to open a tenant file without a key or with another tenant's key", async () => {
    const a = await store.createTenant('Clinic A', 'test');
    const b = await store.createTenant('Clinic B', 'test');
    await writeMarker(a.id, 5);

    const plain = new Database(store.tenantFile(a.id));
    expect(() => plain.prepare('SELECT count(*) FROM sqlite_master').get()).toThrow(
      /not a database/,
    );
    plain.close();

    const keyB = (await store.tenantKey(b.id)).key;
    expect(() => openEncrypted(store.tenantFile(a.id), keyB)).toThrowError(
      expect.objectContaining({ code: 'ERR_DB_KEY' }),
    );

    const keyA = (await store.tenantKey(a.id)).key;
    const db = openEncrypted(store.tenantFile(a.id), keyA);
    expect((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n).toBe(5);
    db.close();
  });

  it('binds a wrapped key to its tenant: moved to another, it does not unwrap', async () => {
    const a = await store.createTenant('Clinic A', 'test');
    const b = await store.createTenant('Clinic B', 'test');
    store.close();

    const controlKeyring = JSON.parse(readFileSync(path.join(dir, 'keyring.json'), 'utf8'));
    expect(controlKeyring.control.sealed).toBeTypeOf('string');

    // Reach into the control file as an attacker with the control key would, and swap A's sealed
    // key into B's row.
    const reopened = await SqliteControlStore.open(dir, provider);
    const raw = (reopened as unknown as { db: Database.Database }).db;
    const sealedA = raw.prepare('SELECT sealed FROM tenant_keys WHERE tenant_id = ?').get(a.id) as {
      sealed: Buffer;
    };
    raw.prepare('UPDATE tenant_keys SET sealed = ? WHERE tenant_id = ?').run(sealedA.sealed, b.id);

    await expect(reopened.tenantKey(b.id)).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP' });
    await expect(reopened.tenantKey(a.id)).resolves.toMatchObject({ version: 1 });
    store = reopened;
  });

  it('crypto-shreds a deleted tenant: keys gone, backup unreadable, recorded', async () => {
    const a = await store.createTenant('Clinic A', 'test');
    const b = await store.createTenant('Clinic B', 'test');
    await writeMarker(a.id, 5);
    const backup = path.join(dir, 'backup-of-a.db');
    copyFileSync(store.tenantFile(a.id), backup);
    const keyA = (await store.tenantKey(a.id)).key;
    // Control: the backup opens while the key exists.
    openEncrypted(backup, keyA).close();
    // What a key rotation interrupted at its end leaves beside the file: deleted with it.
    copyFileSync(store.tenantFile(a.id), `${store.tenantFile(a.id)}.rekey`);

    await store.deleteTenant(a.id, 'test');
    expect((await listFiles(dir)).filter((file) => file.includes(a.id))).toEqual([]);

    expect(store.listKeys().map((key) => key.tenantId)).toEqual([b.id]);
    await expect(store.tenantKey(a.id)).rejects.toMatchObject({ code: 'ERR_TENANT_DELETED' });
    for (const key of store.listKeys()) {
      const candidate = (await store.tenantKey(key.tenantId)).key;
      expect(() => openEncrypted(backup, candidate)).toThrowError(
        expect.objectContaining({ code: 'ERR_DB_KEY' }),
      );
    }

    const files = await listFiles(dir);
    expect(files.some((file) => file.includes(a.id))).toBe(false);
    const events = store.listSystemEvents({ type: 'tenant.deleted' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      tenantId: a.id,
      actor: 'test',
      detail: { keysDestroyed: 1 },
    });
    // A fresh process (a restart) cannot get the key back either.
    store.close();
    store = await SqliteControlStore.open(dir, provider);
    await expect(store.tenantKey(a.id)).rejects.toMatchObject({ code: 'ERR_TENANT_DELETED' });
  });

  it('rotates a tenant key: data kept, old key no longer opens the file', async () => {
    const a = await store.createTenant('Clinic A', 'test');
    await writeMarker(a.id, 7);
    const oldKey = (await store.tenantKey(a.id)).key;

    expect(await store.rotateTenantKey(a.id, 'test')).toBe(2);

    expect(() => openEncrypted(store.tenantFile(a.id), oldKey)).toThrowError(
      expect.objectContaining({ code: 'ERR_DB_KEY' }),
    );
    store.close();
    store = await SqliteControlStore.open(dir, provider);
    const db = await openTenantDb(store, a.id);
    expect((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n).toBe(7);
    db.close();
    expect(store.listKeys()).toEqual([
      expect.objectContaining({ tenantId: a.id, version: 2, state: 'active' }),
    ]);
  });

  it('a tenant key rotation killed at any moment leaves every event readable', async () => {
    // Fifteenth session's QA: killed half-way, the in-place rekey left a file neither key read.
    const masterKey = randomBytes(32).toString('hex');
    store.close();
    cleanup();
    ({ dir, cleanup } = tempDir());
    provider = LocalKeyProvider.fromKey(masterKey);
    store = await SqliteControlStore.open(dir, provider);
    const a = await store.createTenant('Clinic A', 'test');
    const rows = 60_000;
    const db = await openTenantDb(store, a.id);
    const insert = db.prepare(
      `INSERT INTO events (site_id, ts, day, type, hostname, path, channel, visitor_id, session_id)
       VALUES ('s', 1, '2026-01-01', 'pageview', 'h', ?, 'Direct', 'v', 's')`,
    );
    db.transaction(() => {
      for (let i = 0; i < rows; i++) insert.run(`/${randomBytes(80).toString('hex')}`);
    })();
    db.close();
    store.close();

    const dist = (module: string) => pathToFileURL(path.resolve(DIST, module)).href;
    const script = `
      import { LocalKeyProvider } from '${dist('crypto/local-provider.js')}';
      import { SqliteControlStore } from '${dist('store/sqlite/control.js')}';
      const [dir, key, tenant] = process.argv.slice(1);
      const store = await SqliteControlStore.open(dir, LocalKeyProvider.fromKey(key));
      process.stdout.write('rotating\\n');
      await store.rotateTenantKey(tenant, 'test');
      process.stdout.write('rotated\\n');
    `;
    // One rotation run through first: the kills then fall at fractions of its length.
    const rotate = () =>
      spawn(process.execPath, ['--input-type=module', '-e', script, dir, masterKey, a.id], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
    const started = Date.now();
    await new Promise((resolve) => rotate().once('exit', resolve));
    const fullMs = Date.now() - started;
    const outcomes = new Set<string>();
    for (const share of [0.2, 0.4, 0.55, 0.7, 0.8, 0.9, 1.2]) {
      const delayMs = Math.round(fullMs * share);
      const child = rotate();
      let out = '';
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await new Promise<void>((resolve) =>
        child.stdout.on('data', (chunk) => {
          out += chunk;
          if (out.includes('rotating')) resolve();
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      child.kill('SIGKILL');
      await exited;
      outcomes.add(out.includes('rotated') ? 'finished' : 'killed');

      // The next open finishes or undoes the rotation: every event is there, under one key.
      store = await SqliteControlStore.open(dir, provider);
      const reopened = await openTenantDb(store, a.id);
      const count = reopened.prepare('SELECT count(*) AS n FROM events').get() as { n: number };
      expect(count.n, `killed after ${delayMs} ms`).toBe(rows);
      expect(reopened.pragma('quick_check(1)', { simple: true })).toBe('ok');
      reopened.close();
      expect(store.listKeys().filter((key) => key.tenantId === a.id)).toEqual([
        expect.objectContaining({ state: 'active' }),
      ]);
      store.close();
      expect((await listFiles(dir)).filter((file) => file.includes('.rekey'))).toEqual([]);
    }
    // The delays reached into the rotation, not only before or after it.
    expect(outcomes.has('killed')).toBe(true);
    store = await SqliteControlStore.open(dir, provider);
  }, 120_000);

  it('rotates the master key: all re-wrapped, the old key opens nothing', async () => {
    const file = path.join(dir, 'ring.key');
    store.close();
    cleanup();
    ({ dir, cleanup } = tempDir());
    provider = LocalKeyProvider.generateFile(path.join(dir, 'ring.key'));
    store = await SqliteControlStore.open(dir, provider);
    const a = await store.createTenant('Clinic A', 'test');
    await writeMarker(a.id, 3);
    await store.daySalt('2026-12-04', true);
    const oldRing = readFileSync(path.join(dir, 'ring.key'), 'utf8');

    const next = await store.rotateMasterKey('test');

    expect(next).not.toBe(JSON.parse(oldRing).current);
    store.close();
    const fresh = LocalKeyProvider.fromFile(path.join(dir, 'ring.key'));
    expect(fresh.currentVersion()).toBe(next);
    store = await SqliteControlStore.open(dir, fresh);
    const db = await openTenantDb(store, a.id);
    expect((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n).toBe(3);
    db.close();
    expect(await store.daySalt('2026-12-04', false)).toBeInstanceOf(Buffer);

    // The retired master key alone no longer opens the data folder.
    writeFileSync(path.join(dir, 'old.key'), oldRing);
    await expect(
      SqliteControlStore.open(dir, LocalKeyProvider.fromFile(path.join(dir, 'old.key'))),
    ).rejects.toMatchObject({
      code: 'ERR_MASTER_KEY_WRONG',
    });
    expect(file).toContain('ring.key');
  });

  it('refuses a wrong master key and a damaged control file with stable codes', async () => {
    await store.createTenant('Clinic A', 'test');
    store.close();

    const wrong = LocalKeyProvider.fromKey(randomBytes(32).toString('hex'));
    await expect(SqliteControlStore.open(dir, wrong)).rejects.toMatchObject({
      code: 'ERR_MASTER_KEY_WRONG',
    });

    const controlFile = path.join(dir, 'control.db');
    const bytes = readFileSync(controlFile);
    randomBytes(4096).copy(bytes, 0);
    writeFileSync(controlFile, bytes);
    for (const suffix of ['-wal', '-shm']) writeFileSync(`${controlFile}${suffix}`, '');
    await expect(SqliteControlStore.open(dir, provider)).rejects.toMatchObject({
      code: 'ERR_DB_CORRUPT',
    });
    // A fresh folder for afterEach to close and remove, in place of the damaged one.
    cleanup();
    ({ dir, cleanup } = tempDir());
    store = await SqliteControlStore.open(dir, provider);
  });
});
