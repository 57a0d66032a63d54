import type { Logger } from '../log/logger.js';
import type { EnrichedEvent, FilteredHit } from '../domain/event.js';
import type { Site, SiteSettings } from '../domain/site.js';
import type { Stats, StatsQuery } from '../domain/stats.js';

export type Role = 'owner' | 'admin' | 'analyst' | 'viewer';

export interface Tenant {
  id: string;
  name: string;
  createdAt: number;
  deletedAt: number | null;
}

export interface User {
  id: string;
  email: string;
  createdAt: number;
}

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  siteId: string;
  scope: string;
  secretHash: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface SystemEvent {
  seq: number;
  ts: number;
  type: string;
  tenantId: string | null;
  actor: string;
  detail: Record<string, unknown>;
}

export interface KeyInfo {
  tenantId: string;
  version: number;
  masterVersion: string;
  state: 'active' | 'pending';
  createdAt: number;
}

/**
 * The control plane's storage: tenants, people, sites, keys and the system event trail. Tenant
 * visitor data never passes through it. A PostgreSQL backend implements the same interface.
 */
export interface ControlStore {
  /** `within` runs in the same transaction: if it throws, nothing of the tenant remains. */
  createTenant(name: string, actor: string, within?: (tenant: Tenant) => void): Promise<Tenant>;
  getTenant(id: string): Tenant | undefined;
  listTenants(): Tenant[];
  /** Destroys the tenant's keys (crypto-shredding) and files; records the deletion. */
  deleteTenant(id: string, actor: string): Promise<void>;

  createUser(email: string, passwordHash: string): User;
  addMembership(userId: string, tenantId: string, role: Role): void;

  createSite(tenantId: string, name: string, settings: SiteSettings, actor: string): Site;
  getSite(id: string): Site | undefined;
  listSites(tenantId?: string): Site[];
  /** Records the change as a system event; settings equal to the current ones change nothing. */
  updateSiteSettings(id: string, settings: SiteSettings, actor: string): Site;
  /** A site's new name (checked as at creation), recorded as a system event unless unchanged. */
  renameSite(id: string, name: string, actor: string): Site;

  createApiKey(record: Omit<ApiKeyRecord, 'createdAt' | 'revokedAt'>, actor: string): ApiKeyRecord;
  getApiKey(id: string): ApiKeyRecord | undefined;
  listApiKeys(siteId?: string): ApiKeyRecord[];
  /** Revokes a key for good; false when there is no such live key. */
  revokeApiKey(id: string, actor: string): boolean;

  recordSystemEvent(event: Omit<SystemEvent, 'seq' | 'ts'>): void;
  /** Oldest first; `siteId` keeps the events about that site (its detail names it). */
  listSystemEvents(filter?: { tenantId?: string; type?: string; siteId?: string }): SystemEvent[];

  /** The tenant's current data key, unwrapped. */
  tenantKey(tenantId: string): Promise<{ version: number; key: Buffer }>;
  listKeys(): KeyInfo[];
  rotateTenantKey(tenantId: string, actor: string): Promise<number>;
  rotateMasterKey(actor: string, newKey?: string): Promise<string>;

  /** The visitor-hash salt of a UTC day, created on first use; undefined once destroyed. */
  daySalt(day: string, create: boolean): Promise<Buffer | undefined>;
  /** Destroys salts of days before `keepFromDay`; returns how many were destroyed. */
  destroySaltsBefore(keepFromDay: string): number;

  /** Verifies the control data's integrity; throws ERR_DB_CORRUPT. */
  check(): void;
  /**
   * Opens the tenant's own store (migrating it); the caller closes it. `readonly`: for reading
   * only, on a connection that never writes into the file (nor copies its WAL in on close); a
   * file of an older schema is still migrated first.
   */
  openTenant(tenantId: string, options?: { readonly?: boolean }): Promise<TenantStore>;
  tenantFile(tenantId: string): string;
  close(): void;
}

/**
 * Where a server's statistics questions go: a thread of their own, so a long query does not
 * hold up the request thread (see src/store/sqlite/stats-thread.ts).
 */
export interface TenantStatsSource {
  stats(tenantId: string, query: StatsQuery): Promise<Stats>;
  /** Drops the tenant's connection (after a rekey or when its file could not be read). */
  forget(tenantId: string): void;
  close(): void;
}

/** One tenant's data, read side. Each backend keeps a tenant's rows apart by its own means. */
/** Where a tenant's events and sessions end: rows added later have larger keys. */
export interface RowMark {
  events: number;
  sessions: number;
}

/** Rows moved to other days, and where the rows looked at ended. */
export interface Redated {
  events: number;
  sessions: number;
  mark: RowMark;
}

export interface TenantStore {
  stats(query: StatsQuery): Stats;
  /**
   * Moves a site's events and sessions to their days in `timeZone`, after the site's zone
   * changed; with `after`, only rows added since that mark.
   */
  redate(siteId: string, timeZone: string, after?: RowMark): Redated;
  /** Where the rows end now. */
  mark(): RowMark;
  /** The secret behind import deduplication keys, created on first use, kept in this store. */
  importKey(): Buffer;
  /** Verifies the tenant data's integrity; throws ERR_DB_CORRUPT. */
  check(): void;
  close(): void;
}

export interface QueueObserver {
  depth(events: number): void;
  commit(events: number, seconds: number): void;
}

export interface CommitCounts {
  inserted: number;
  duplicates: number;
  /** Filtered hits counted (a hit whose dedupe key was counted before is not). */
  filtered: number;
}

/**
 * A stage the writer thread runs on submitted jobs to turn them into events just before it
 * commits them: `module` (a file URL) exports a `PreparerFactory` named `createPreparer`.
 */
export interface PreparerSpec {
  module: string;
  /** Structured-cloneable: it crosses to the writer thread. */
  options: unknown;
}

export type PreparerFactory = (
  options: never,
  logger: Logger,
) => Promise<(job: never, carried: never) => { events: EnrichedEvent[]; filtered: FilteredHit[] }>;

/**
 * Where events go. `enqueue` and `submit` resolve only once the events are durably committed and
 * refuse at once (503) when too much waits.
 */
export interface EventSink {
  readonly depth: number;
  enqueue(
    tenantId: string,
    events: EnrichedEvent[],
    filtered?: FilteredHit[],
  ): Promise<CommitCounts>;
  /**
   * Hands a job of `size` events to the preparer on the writer thread, which turns it into events
   * that commit like `enqueue`d ones: `json` is the job as JSON text, parsed there, and `carried`
   * (structured-cloneable, rarely needed) what JSON cannot carry, such as binary keys. A job the
   * preparer refuses rejects with its error; `filtered` counts the hits it filtered out.
   */
  submit(tenantId: string, json: string, size: number, carried?: object): Promise<CommitCounts>;
  drain(): Promise<void>;
  /** Drops any open handle on a tenant's data (after a rekey or a deletion). */
  forget(tenantId: string): Promise<void>;
  close(): Promise<void>;
}
