import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

import { validateName, type Site, type SiteSettings } from '../../domain/site.js';
import { newDataKey, type KeyContext } from '../../crypto/envelope.js';
import type { KeyProvider, WrappedKey } from '../../crypto/provider.js';
import { KeyError, LightTrailError, StoreError } from '../../errors.js';
import type {
  ApiKeyRecord,
  ControlStore,
  KeyInfo,
  Role,
  SystemEvent,
  Tenant,
  TenantStore,
  User,
} from '../types.js';
import { migrate } from './migrate.js';
import { integrityCheck, openEncrypted, rekeyFile, removeRekeyCopy, type Db } from './open.js';
import { CONTROL_MIGRATIONS, TENANT_MIGRATIONS } from './schema.js';
import { openTenantStore } from './tenant.js';

interface KeyringFile {
  format: 1;
  control: { version: number; masterVersion: string; sealed: string };
}

interface SiteRow {
  id: string;
  tenant_id: string;
  name: string;
  settings: string;
  created_at: number;
}

export const CONTROL_FILE = 'control.db';
const KEYRING_FILE = 'keyring.json';

/**
 * The embedded control store: `<dataDir>/control.db`, encrypted with a control data key that is
 * itself sealed by the master key in `<dataDir>/keyring.json`. Tenant files live in
 * `<dataDir>/tenants/<id>.db`, each under its own data key.
 */
export class SqliteControlStore implements ControlStore {
  private readonly tenantKeys = new Map<string, { version: number; key: Buffer }>();

  private constructor(
    readonly dataDir: string,
    private readonly db: Db,
    private readonly provider: KeyProvider,
    private controlKeyVersion: number,
  ) {}

  /** Opens the control store, creating the data folder, key and schema on first use. */
  static async open(dataDir: string, provider: KeyProvider): Promise<SqliteControlStore> {
    mkdirSync(path.join(dataDir, 'tenants'), { recursive: true, mode: 0o700 });
    const keyringPath = path.join(dataDir, KEYRING_FILE);
    const dbPath = path.join(dataDir, CONTROL_FILE);

    let key: Buffer;
    let version = 1;
    if (existsSync(keyringPath)) {
      const ring = readKeyring(keyringPath);
      version = ring.control.version;
      key = await unwrapMaster(
        provider,
        {
          masterVersion: ring.control.masterVersion,
          sealed: Buffer.from(ring.control.sealed, 'base64'),
        },
        { purpose: 'control', owner: 'control', version },
      );
      // A keyring means this folder held data: a missing or empty control file is damage, never
      // a reason to start afresh (which would orphan every tenant's key).
      if (!existsSync(dbPath) || statSync(dbPath).size === 0) {
        throw new StoreError('ERR_DB_CORRUPT', `control database ${dbPath} is missing or empty`);
      }
    } else {
      const tenants = readdirSync(path.join(dataDir, 'tenants')).filter((f) => f.endsWith('.db'));
      if (existsSync(dbPath) || tenants.length > 0) {
        throw new StoreError(
          'ERR_DB_CORRUPT',
          `${keyringPath} is missing, but ${dataDir} holds LightTrail databases`,
        );
      }

      key = newDataKey();
      const wrapped = await provider.wrap(key, { purpose: 'control', owner: 'control', version });
      writeKeyring(keyringPath, version, wrapped);
    }

    let db: Db;
    try {
      db = openEncrypted(dbPath, key, { create: true });
    } catch (error) {
      // The key unwrapped, so a refusal here means the file itself is damaged.
      throw new StoreError('ERR_DB_CORRUPT', `control database ${dbPath} is unreadable`, error);
    }

    try {
      migrate(db, CONTROL_MIGRATIONS);
    } catch (error) {
      db.close();
      throw error;
    }

    return new SqliteControlStore(dataDir, db, provider, version);
  }

  /**
   * Creates a tenant with its own data key and database file. `within` runs inside the same
   * transaction (setup creates the first site and owner there), so a failure leaves nothing:
   * no tenant row, no key, no file.
   */
  async createTenant(
    name: string,
    actor: string,
    within?: (tenant: Tenant) => void,
  ): Promise<Tenant> {
    const tenant: Tenant = {
      id: randomUUID(),
      name: validateName('organisation name', name),
      createdAt: Date.now(),
      deletedAt: null,
    };
    const key = newDataKey();
    const wrapped = await this.provider.wrap(key, tenantContext(tenant.id, 1));
    const file = this.tenantFile(tenant.id);
    const tenantDb = openEncrypted(file, key, { create: true });
    try {
      migrate(tenantDb, TENANT_MIGRATIONS);
    } finally {
      tenantDb.close();
    }

    try {
      this.insertTenant(tenant, wrapped, actor, within);
    } catch (error) {
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
      throw error;
    }

    this.tenantKeys.set(tenant.id, { version: 1, key });

    return tenant;
  }

  private insertTenant(
    tenant: Tenant,
    wrapped: WrappedKey,
    actor: string,
    within?: (tenant: Tenant) => void,
  ): void {
    const name = tenant.name;
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)')
        .run(tenant.id, name, tenant.createdAt);
      this.db
        .prepare(
          `INSERT INTO tenant_keys (tenant_id, version, master_version, sealed, state, created_at)
           VALUES (?, 1, ?, ?, 'active', ?)`,
        )
        .run(tenant.id, wrapped.masterVersion, wrapped.sealed, tenant.createdAt);
      this.insertEvent({ type: 'tenant.created', tenantId: tenant.id, actor, detail: { name } });
      within?.(tenant);
    })();
  }

  getTenant(id: string): Tenant | undefined {
    const row = this.db.prepare('SELECT * FROM tenants WHERE id = ?').get(id) as
      { id: string; name: string; created_at: number; deleted_at: number | null } | undefined;

    return (
      row && { id: row.id, name: row.name, createdAt: row.created_at, deletedAt: row.deleted_at }
    );
  }

  listTenants(): Tenant[] {
    const rows = this.db.prepare('SELECT id FROM tenants ORDER BY created_at').all() as Array<{
      id: string;
    }>;

    return rows.map((row) => this.getTenant(row.id) as Tenant);
  }

  async deleteTenant(id: string, actor: string): Promise<void> {
    const tenant = this.getTenant(id);
    if (tenant === undefined) throw new StoreError('ERR_TENANT_NOT_FOUND', `no organisation ${id}`);
    if (tenant.deletedAt !== null)
      throw new StoreError('ERR_TENANT_DELETED', `tenant ${id} is already deleted`);

    const now = Date.now();
    this.db.transaction(() => {
      const keys = this.db.prepare('DELETE FROM tenant_keys WHERE tenant_id = ?').run(id).changes;
      this.db.prepare('UPDATE tenants SET deleted_at = ? WHERE id = ?').run(now, id);
      this.db.prepare('DELETE FROM memberships WHERE tenant_id = ?').run(id);
      // People who belonged to no other organisation go with it: their e-mail is personal data.
      const users = this.db
        .prepare('DELETE FROM users WHERE id NOT IN (SELECT user_id FROM memberships)')
        .run().changes;
      this.db.prepare('UPDATE sites SET deleted_at = ? WHERE tenant_id = ?').run(now, id);
      this.db
        .prepare('UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND revoked_at IS NULL')
        .run(now, id);
      this.insertEvent({
        type: 'tenant.deleted',
        tenantId: id,
        actor,
        detail: {
          name: tenant.name,
          keysDestroyed: keys,
          usersRemoved: users,
          method: 'crypto-shredding',
        },
      });
    })();
    // Push the deleted key rows out of the WAL; secure_delete already zeroed the pages.
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.tenantKeys.delete(id);

    const file = this.tenantFile(id);
    for (const suffix of ['', '-wal', '-shm', '-journal'])
      rmSync(`${file}${suffix}`, { force: true });
    // A key rotation's copy, left by one interrupted before the next open (final QA).
    removeRekeyCopy(file);
  }

  createUser(email: string, passwordHash: string): User {
    const user: User = { id: randomUUID(), email, createdAt: Date.now() };
    if (this.db.prepare('SELECT 1 FROM users WHERE email = ?').get(email) !== undefined) {
      throw new LightTrailError('ERR_USER_EXISTS', 'an account with this e-mail address exists', {
        status: 409,
      });
    }

    this.db
      .prepare('INSERT INTO users (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)')
      .run(user.id, email, passwordHash, user.createdAt);

    return user;
  }

  addMembership(userId: string, tenantId: string, role: Role): void {
    this.db
      .prepare('INSERT INTO memberships (user_id, tenant_id, role, created_at) VALUES (?, ?, ?, ?)')
      .run(userId, tenantId, role, Date.now());
  }

  createSite(tenantId: string, name: string, settings: SiteSettings, actor: string): Site {
    const tenant = this.getTenant(tenantId);
    if (tenant === undefined || tenant.deletedAt !== null) {
      throw new StoreError('ERR_TENANT_NOT_FOUND', `no organisation ${tenantId}`);
    }

    const site: Site = {
      id: randomUUID(),
      tenantId,
      name: validateName('site name', name),
      settings,
      createdAt: Date.now(),
    };
    this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT INTO sites (id, tenant_id, name, settings, created_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(site.id, tenantId, site.name, JSON.stringify(settings), site.createdAt);
      this.insertEvent({
        type: 'site.created',
        tenantId,
        actor,
        detail: { siteId: site.id, name: site.name, settings },
      });
    })();

    return site;
  }

  getSite(id: string): Site | undefined {
    const row = this.db
      .prepare('SELECT * FROM sites WHERE id = ? AND deleted_at IS NULL')
      .get(id) as SiteRow | undefined;

    return row && toSite(row);
  }

  listSites(tenantId?: string): Site[] {
    const rows = (
      tenantId === undefined
        ? this.db.prepare('SELECT * FROM sites WHERE deleted_at IS NULL ORDER BY created_at').all()
        : this.db
            .prepare(
              'SELECT * FROM sites WHERE tenant_id = ? AND deleted_at IS NULL ORDER BY created_at',
            )
            .all(tenantId)
    ) as SiteRow[];

    return rows.map(toSite);
  }

  updateSiteSettings(id: string, settings: SiteSettings, actor: string): Site {
    const before = this.getSite(id);
    if (before === undefined) throw new StoreError('ERR_SITE_NOT_FOUND', `no site ${id}`);

    // Nothing to record: the trail lists changes, and an empty one would read as a change.
    const changed = changedKeys(before.settings, settings);
    if (changed.length === 0) return before;

    this.db.transaction(() => {
      this.db
        .prepare('UPDATE sites SET settings = ? WHERE id = ?')
        .run(JSON.stringify(settings), id);
      this.insertEvent({
        type: 'site.settings_changed',
        tenantId: before.tenantId,
        actor,
        detail: { siteId: id, changed, settings },
      });
    })();

    return { ...before, settings };
  }

  renameSite(id: string, name: string, actor: string): Site {
    const before = this.getSite(id);
    if (before === undefined) throw new StoreError('ERR_SITE_NOT_FOUND', `no site ${id}`);

    const renamed = validateName('site name', name);
    if (renamed === before.name) return before;

    this.db.transaction(() => {
      this.db.prepare('UPDATE sites SET name = ? WHERE id = ?').run(renamed, id);
      this.insertEvent({
        type: 'site.renamed',
        tenantId: before.tenantId,
        actor,
        detail: { siteId: id, from: before.name, to: renamed },
      });
    })();

    return { ...before, name: renamed };
  }

  createApiKey(record: Omit<ApiKeyRecord, 'createdAt' | 'revokedAt'>, actor: string): ApiKeyRecord {
    const full: ApiKeyRecord = { ...record, createdAt: Date.now(), revokedAt: null };
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO api_keys (id, tenant_id, site_id, scope, secret_hash, created_at)
           VALUES (?, ?, ?, ?, ?, ?)`,
        )
        .run(full.id, full.tenantId, full.siteId, full.scope, full.secretHash, full.createdAt);
      this.insertEvent({
        type: 'apikey.created',
        tenantId: full.tenantId,
        actor,
        detail: { keyId: full.id, siteId: full.siteId, scope: full.scope },
      });
    })();

    return full;
  }

  getApiKey(id: string): ApiKeyRecord | undefined {
    const row = this.db.prepare('SELECT * FROM api_keys WHERE id = ?').get(id) as
      Record<string, unknown> | undefined;

    return row && toApiKey(row);
  }

  listApiKeys(siteId?: string): ApiKeyRecord[] {
    const rows = this.db
      .prepare(
        'SELECT * FROM api_keys WHERE @siteId IS NULL OR site_id = @siteId ORDER BY created_at',
      )
      .all({ siteId: siteId ?? null }) as Array<Record<string, unknown>>;

    return rows.map(toApiKey);
  }

  revokeApiKey(id: string, actor: string): boolean {
    const key = this.getApiKey(id);
    if (key === undefined || key.revokedAt !== null) return false;

    this.db.transaction(() => {
      this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ?').run(Date.now(), id);
      this.insertEvent({
        type: 'apikey.revoked',
        tenantId: key.tenantId,
        actor,
        detail: { keyId: id, siteId: key.siteId },
      });
    })();

    return true;
  }

  recordSystemEvent(event: Omit<SystemEvent, 'seq' | 'ts'>): void {
    this.insertEvent(event);
  }

  listSystemEvents(
    filter: { tenantId?: string; type?: string; siteId?: string } = {},
  ): SystemEvent[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM system_events
         WHERE (@tenantId IS NULL OR tenant_id = @tenantId) AND (@type IS NULL OR type = @type)
           AND (@siteId IS NULL OR json_extract(detail, '$.siteId') = @siteId)
         ORDER BY seq`,
      )
      .all({
        tenantId: filter.tenantId ?? null,
        type: filter.type ?? null,
        siteId: filter.siteId ?? null,
      }) as Array<Record<string, unknown>>;

    return rows.map((row) => ({
      seq: row.seq as number,
      ts: row.ts as number,
      type: row.type as string,
      tenantId: row.tenant_id as string | null,
      actor: row.actor as string,
      detail: JSON.parse(row.detail as string) as Record<string, unknown>,
    }));
  }

  async tenantKey(tenantId: string): Promise<{ version: number; key: Buffer }> {
    const cached = this.tenantKeys.get(tenantId);
    if (cached !== undefined) return cached;

    const rows = this.db
      .prepare('SELECT * FROM tenant_keys WHERE tenant_id = ? ORDER BY version')
      .all(tenantId) as Array<{
      version: number;
      master_version: string;
      sealed: Buffer;
      state: string;
    }>;
    const active = rows.find((row) => row.state === 'active');
    if (active === undefined) {
      const tenant = this.getTenant(tenantId);
      if (tenant?.deletedAt)
        throw new KeyError('ERR_TENANT_DELETED', `tenant ${tenantId} was deleted`);
      throw new KeyError('ERR_KEY_NOT_FOUND', `no data key for tenant ${tenantId}`);
    }

    const key = await unwrapMaster(
      this.provider,
      { masterVersion: active.master_version, sealed: active.sealed },
      tenantContext(tenantId, active.version),
    );
    const pending = rows.find((row) => row.state === 'pending');
    const resolved = pending
      ? await this.finishInterruptedRekey(tenantId, { version: active.version, key }, pending)
      : { version: active.version, key };
    this.tenantKeys.set(tenantId, resolved);

    return resolved;
  }

  listKeys(): KeyInfo[] {
    const rows = this.db
      .prepare('SELECT tenant_id, version, master_version, state, created_at FROM tenant_keys')
      .all() as Array<Record<string, unknown>>;

    return rows.map((row) => ({
      tenantId: row.tenant_id as string,
      version: row.version as number,
      masterVersion: row.master_version as string,
      state: row.state as 'active' | 'pending',
      createdAt: row.created_at as number,
    }));
  }

  /**
   * Re-encrypts the tenant's file under a new data key. The new key is recorded as pending before
   * the file changes, so a crash in between is finished on the next open (see tenantKey).
   */
  async rotateTenantKey(tenantId: string, actor: string): Promise<number> {
    const tenant = this.getTenant(tenantId);
    if (tenant === undefined) {
      throw new StoreError('ERR_TENANT_NOT_FOUND', `no organisation ${tenantId}`);
    }
    if (tenant.deletedAt !== null) {
      throw new StoreError('ERR_TENANT_DELETED', `organisation ${tenantId} is deleted`);
    }

    const current = await this.tenantKey(tenantId);
    const version = current.version + 1;
    const key = newDataKey();
    const wrapped = await this.provider.wrap(key, tenantContext(tenantId, version));
    this.db
      .prepare(
        `INSERT INTO tenant_keys (tenant_id, version, master_version, sealed, state, created_at)
         VALUES (?, ?, ?, ?, 'pending', ?)`,
      )
      .run(tenantId, version, wrapped.masterVersion, wrapped.sealed, Date.now());

    rekeyFile(this.tenantFile(tenantId), current.key, key);

    this.promoteKey(tenantId, version, wrapped, actor, 'tenant.key_rotated');
    this.tenantKeys.set(tenantId, { version, key });

    return version;
  }

  /**
   * Makes a new master key version current and re-wraps every wrapped key under it. Data files
   * are untouched: only the small sealed keys change. The old master version is then retired.
   */
  async rotateMasterKey(actor: string, newKey?: string): Promise<string> {
    const previous = this.provider.currentVersion();
    const adopt = (this.provider as { adopt?: (key: string) => string }).adopt;
    const next =
      newKey !== undefined && adopt
        ? adopt.call(this.provider, newKey)
        : await this.provider.rotate();

    const controlKey = await this.controlKey();
    const controlWrapped = await this.provider.wrap(controlKey, {
      purpose: 'control',
      owner: 'control',
      version: this.controlKeyVersion,
    });

    const rows = this.db.prepare('SELECT * FROM tenant_keys').all() as Array<{
      tenant_id: string;
      version: number;
      master_version: string;
      sealed: Buffer;
    }>;
    const salts = this.db.prepare('SELECT * FROM salts').all() as Array<{
      day: string;
      master_version: string;
      sealed: Buffer;
    }>;

    const rewrapped: Array<{ tenant: string; version: number; wrapped: WrappedKey }> = [];
    for (const row of rows) {
      const context = tenantContext(row.tenant_id, row.version);
      const key = await unwrapMaster(
        this.provider,
        { masterVersion: row.master_version, sealed: row.sealed },
        context,
      );
      rewrapped.push({
        tenant: row.tenant_id,
        version: row.version,
        wrapped: await this.provider.wrap(key, context),
      });
    }

    const rewrappedSalts: Array<{ day: string; wrapped: WrappedKey }> = [];
    for (const row of salts) {
      const context = saltContext(row.day);
      const salt = await unwrapMaster(
        this.provider,
        { masterVersion: row.master_version, sealed: row.sealed },
        context,
      );
      rewrappedSalts.push({ day: row.day, wrapped: await this.provider.wrap(salt, context) });
    }

    this.db.transaction(() => {
      const updateKey = this.db.prepare(
        'UPDATE tenant_keys SET master_version = ?, sealed = ? WHERE tenant_id = ? AND version = ?',
      );
      for (const item of rewrapped) {
        updateKey.run(item.wrapped.masterVersion, item.wrapped.sealed, item.tenant, item.version);
      }

      const updateSalt = this.db.prepare(
        'UPDATE salts SET master_version = ?, sealed = ? WHERE day = ?',
      );
      for (const item of rewrappedSalts)
        updateSalt.run(item.wrapped.masterVersion, item.wrapped.sealed, item.day);
      this.insertEvent({
        type: 'keys.master_rotated',
        tenantId: null,
        actor,
        detail: {
          from: previous,
          to: next,
          rewrapped: rewrapped.length + rewrappedSalts.length + 1,
        },
      });
    })();
    writeKeyring(path.join(this.dataDir, KEYRING_FILE), this.controlKeyVersion, controlWrapped);
    await this.provider.retire(previous);

    return next;
  }

  async daySalt(day: string, create: boolean): Promise<Buffer | undefined> {
    const row = this.db.prepare('SELECT * FROM salts WHERE day = ?').get(day) as
      { master_version: string; sealed: Buffer } | undefined;
    if (row !== undefined) {
      return unwrapMaster(
        this.provider,
        { masterVersion: row.master_version, sealed: row.sealed },
        saltContext(day),
      );
    }

    if (!create) return undefined;

    const salt = newDataKey();
    const wrapped = await this.provider.wrap(salt, saltContext(day));
    // Another process may have created it meanwhile: keep whichever landed first.
    this.db
      .prepare(
        'INSERT OR IGNORE INTO salts (day, master_version, sealed, created_at) VALUES (?, ?, ?, ?)',
      )
      .run(day, wrapped.masterVersion, wrapped.sealed, Date.now());

    return this.daySalt(day, false);
  }

  destroySaltsBefore(keepFromDay: string): number {
    const destroyed = this.db.prepare('DELETE FROM salts WHERE day < ?').run(keepFromDay).changes;
    if (destroyed > 0) {
      this.insertEvent({
        type: 'salts.destroyed',
        tenantId: null,
        actor: 'system',
        detail: { count: destroyed, before: keepFromDay },
      });
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    }

    return destroyed;
  }

  check(): void {
    integrityCheck(this.db, 'control database');
  }

  async openTenant(tenantId: string, options: { readonly?: boolean } = {}): Promise<TenantStore> {
    const { key } = await this.tenantKey(tenantId);
    const what = `database of tenant ${tenantId}`;

    return openTenantStore(this.tenantFile(tenantId), key, what, options);
  }

  tenantFile(tenantId: string): string {
    if (!/^[0-9a-f-]{36}$/.test(tenantId))
      throw new StoreError('ERR_TENANT_NOT_FOUND', 'bad tenant id');

    return path.join(this.dataDir, 'tenants', `${tenantId}.db`);
  }

  close(): void {
    this.tenantKeys.clear();
    if (this.db.open) this.db.close();
  }

  private async controlKey(): Promise<Buffer> {
    const ring = readKeyring(path.join(this.dataDir, KEYRING_FILE));

    return unwrapMaster(
      this.provider,
      {
        masterVersion: ring.control.masterVersion,
        sealed: Buffer.from(ring.control.sealed, 'base64'),
      },
      { purpose: 'control', owner: 'control', version: ring.control.version },
    );
  }

  private async finishInterruptedRekey(
    tenantId: string,
    active: { version: number; key: Buffer },
    pending: { version: number; master_version: string; sealed: Buffer },
  ): Promise<{ version: number; key: Buffer }> {
    const pendingKey = await unwrapMaster(
      this.provider,
      { masterVersion: pending.master_version, sealed: pending.sealed },
      tenantContext(tenantId, pending.version),
    );

    // The file is whole under one of the two keys (see rekeyFile); a copy half made is dropped.
    removeRekeyCopy(this.tenantFile(tenantId));
    try {
      openEncrypted(this.tenantFile(tenantId), active.key).close();
      // The file was never rekeyed: drop the pending key.
      this.db
        .prepare('DELETE FROM tenant_keys WHERE tenant_id = ? AND version = ?')
        .run(tenantId, pending.version);

      return active;
    } catch {
      openEncrypted(this.tenantFile(tenantId), pendingKey).close();
      const sealed = { masterVersion: pending.master_version, sealed: pending.sealed };
      this.promoteKey(tenantId, pending.version, sealed, 'system', 'tenant.key_rotation_recovered');

      return { version: pending.version, key: pendingKey };
    }
  }

  /**
   * Records `version` as the tenant's active key, the file being encrypted under it now, and
   * destroys the older ones. The row is written from the sealed key in hand, not only switched
   * from pending: were the pending row gone (another process taking the rotation for an
   * interrupted one), switching would change nothing, and the file would be left under a key
   * no row holds.
   */
  private promoteKey(
    tenantId: string,
    version: number,
    sealed: { masterVersion: string; sealed: Buffer },
    actor: string,
    type: string,
  ): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO tenant_keys (tenant_id, version, master_version, sealed, state, created_at)
           VALUES (?, ?, ?, ?, 'active', ?)
           ON CONFLICT (tenant_id, version) DO UPDATE SET state = 'active'`,
        )
        .run(tenantId, version, sealed.masterVersion, sealed.sealed, Date.now());
      this.db
        .prepare('DELETE FROM tenant_keys WHERE tenant_id = ? AND version < ?')
        .run(tenantId, version);
      this.insertEvent({ type, tenantId, actor, detail: { version } });
    })();
  }

  private insertEvent(event: Omit<SystemEvent, 'seq' | 'ts'>): void {
    this.db
      .prepare(
        'INSERT INTO system_events (ts, type, tenant_id, actor, detail) VALUES (?, ?, ?, ?, ?)',
      )
      .run(Date.now(), event.type, event.tenantId, event.actor, JSON.stringify(event.detail));
  }
}

function tenantContext(tenantId: string, version: number): KeyContext {
  return { purpose: 'tenant', owner: tenantId, version };
}

function saltContext(day: string): KeyContext {
  return { purpose: 'salt', owner: day, version: 1 };
}

async function unwrapMaster(
  provider: KeyProvider,
  wrapped: WrappedKey,
  context: KeyContext,
): Promise<Buffer> {
  try {
    return await provider.unwrap(wrapped, context);
  } catch (error) {
    if (
      error instanceof KeyError &&
      error.code === 'ERR_KEY_UNWRAP' &&
      context.purpose === 'control'
    ) {
      throw new KeyError(
        'ERR_MASTER_KEY_WRONG',
        'the master key does not unwrap this data folder: wrong LIGHTTRAIL_MASTER_KEY or key file',
        error,
      );
    }

    throw error;
  }
}

function readKeyring(file: string): KeyringFile {
  try {
    const ring = JSON.parse(readFileSync(file, 'utf8')) as KeyringFile;
    if (ring.format !== 1 || typeof ring.control?.sealed !== 'string') throw new Error('shape');

    return ring;
  } catch (cause) {
    throw new StoreError('ERR_DB_CORRUPT', `${file} is damaged`, cause);
  }
}

function writeKeyring(file: string, version: number, wrapped: WrappedKey): void {
  const ring: KeyringFile = {
    format: 1,
    control: {
      version,
      masterVersion: wrapped.masterVersion,
      sealed: wrapped.sealed.toString('base64'),
    },
  };
  const temp = `${file}.tmp-${process.pid}`;
  writeFileSync(temp, `${JSON.stringify(ring, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, file);
}

function toApiKey(row: Record<string, unknown>): ApiKeyRecord {
  return {
    id: row.id as string,
    tenantId: row.tenant_id as string,
    siteId: row.site_id as string,
    scope: row.scope as string,
    secretHash: row.secret_hash as string,
    createdAt: row.created_at as number,
    revokedAt: row.revoked_at as number | null,
  };
}

function toSite(row: SiteRow): Site {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    settings: Object.freeze(JSON.parse(row.settings)) as SiteSettings,
    createdAt: row.created_at,
  };
}

function changedKeys(before: SiteSettings, after: SiteSettings): string[] {
  return (Object.keys(after) as Array<keyof SiteSettings>).filter(
    (key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]),
  );
}
