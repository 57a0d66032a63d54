import { addDays, dayIn, isDay } from '../domain/time.js';
import { LightTrailError, RequestError } from '../errors.js';
import type { Stats } from '../domain/stats.js';
import type { Logger } from '../log/logger.js';
import type { ControlStore, TenantStatsSource, TenantStore } from '../store/types.js';

const UNREADABLE: ReadonlySet<string> = new Set(['ERR_DB_KEY', 'ERR_DB_CORRUPT', 'ERR_KEY_UNWRAP']);

/** Longest range one request may ask for. */
export const MAX_RANGE_DAYS = 731;

/**
 * Answers statistics questions from each tenant's own file, keeping one read connection per
 * tenant. Reads run alongside the writer thread thanks to WAL. The server passes a `source`
 * that runs them on a thread of their own; a command runs them in place.
 */
export class StatsReader {
  private readonly connections = new Map<string, TenantStore>();

  /**
   * `unavailable`: tenants whose file was found damaged at start, answered 503 without reading
   * it. `logger` hears why a tenant's figures could not be read (the caller only sees the 503).
   */
  constructor(
    private readonly control: ControlStore,
    private readonly source?: TenantStatsSource,
    private readonly unavailable: ReadonlySet<string> = new Set(),
    private readonly logger?: Logger,
  ) {}

  async stats(
    siteId: string,
    range: { from?: string; to?: string; limit?: string },
  ): Promise<Stats> {
    const site = this.control.getSite(siteId);
    if (site === undefined) throw new RequestError('ERR_NOT_FOUND', 404, 'not found');

    const { from, to } = resolveRange(range, site.settings.timeZone);
    const limit = resolveLimit(range.limit);
    if (this.unavailable.has(site.tenantId)) {
      throw new RequestError('ERR_STORE_UNAVAILABLE', 503, 'statistics are unavailable');
    }

    try {
      if (this.source !== undefined)
        return await this.source.stats(site.tenantId, { siteId, from, to, limit });

      const store = await this.connection(site.tenantId);

      return store.stats({ siteId, from, to, limit });
    } catch (error) {
      if (!(error instanceof LightTrailError) || !UNREADABLE.has(error.code)) throw error;

      // The figures exist but cannot be read now: a retryable 503, never a 500 with detail.
      this.logger?.error('stats.tenant_unreadable', {
        tenantId: site.tenantId,
        code: error.code,
        message: error.message,
      });
      this.forget(site.tenantId);
      throw new RequestError('ERR_STORE_UNAVAILABLE', 503, 'statistics are unavailable', error, {
        'Retry-After': '5',
      });
    }
  }

  forget(tenantId: string): void {
    this.source?.forget(tenantId);
    this.connections.get(tenantId)?.close();
    this.connections.delete(tenantId);
  }

  close(): void {
    this.source?.close();
    for (const store of this.connections.values()) store.close();
    this.connections.clear();
  }

  private async connection(tenantId: string): Promise<TenantStore> {
    const known = this.connections.get(tenantId);
    if (known !== undefined) return known;

    // Reading only: closing never copies the WAL into the file of a server that is stopped.
    const store = await this.control.openTenant(tenantId, { readonly: true });
    this.connections.set(tenantId, store);

    return store;
  }
}

/** Rows per top list: 10 unless asked, at most this many. */
export const MAX_LIMIT = 1000;

/** The `limit` of a request (text, as a query string or a flag gives it): 1 to MAX_LIMIT. */
export function resolveLimit(limit: string | undefined): number {
  if (limit === undefined) return 10;
  if (!/^[0-9]{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_LIMIT) {
    throw new RequestError(
      'ERR_INVALID_ARGUMENT',
      400,
      `limit must be a whole number from 1 to ${MAX_LIMIT}`,
    );
  }

  return Number(limit);
}

/** The first day a range may name: the Unix epoch's. */
const FIRST_DAY = '1970-01-01';

function maxDay(a: string, b: string): string {
  return a > b ? a : b;
}

/** Defaults to the last 30 days (today included) in the site's time zone. */
export function resolveRange(
  range: { from?: string; to?: string },
  timeZone: string,
  now = Date.now(),
): { from: string; to: string } {
  for (const [name, value] of [
    ['from', range.from],
    ['to', range.to],
  ] as const) {
    if (value !== undefined && !isDay(value)) {
      throw new RequestError('ERR_INVALID_ARGUMENT', 400, `${name} must be a date YYYY-MM-DD`);
    }

    // Nothing was counted before then, and a year below 0000 has no YYYY-MM-DD (QA: `to=
    // 0000-01-10` answered from `-000001-12`).
    if (value !== undefined && value < FIRST_DAY) {
      throw new RequestError('ERR_INVALID_ARGUMENT', 400, `${name} must be ${FIRST_DAY} or later`);
    }
  }

  const to = range.to ?? dayIn(timeZone, now);
  const from = range.from ?? maxDay(addDays(to, -29), FIRST_DAY);
  if (from > to) throw new RequestError('ERR_INVALID_ARGUMENT', 400, 'from must not be after to');
  // Both ends count, as in the default 30 days: 2020-01-01 to 2022-01-01 is 732 days (QA).
  const days = (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1;
  if (days > MAX_RANGE_DAYS) {
    const open = range.to === undefined ? ` (without to, from ${from} runs to today, ${to})` : '';
    throw new RequestError(
      'ERR_INVALID_ARGUMENT',
      400,
      `a range spans at most ${MAX_RANGE_DAYS} days, both ends included${open}`,
    );
  }

  return { from, to };
}
