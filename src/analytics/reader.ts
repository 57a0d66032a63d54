import { addDays, dayIn, isDay } from '../domain/time.js';
import { RequestError } from '../errors.js';
import type { Db } from '../store/sqlite/open.js';
import { openTenantDb } from '../store/sqlite/tenant.js';
import type { ControlStore } from '../store/types.js';
import { queryStats, type Stats } from './stats.js';

/** Longest range one request may ask for. */
export const MAX_RANGE_DAYS = 731;

/**
 * Answers statistics questions from each tenant's own file, keeping one read connection per
 * tenant. Reads run alongside the writer thread thanks to WAL.
 */
export class StatsReader {
  private readonly connections = new Map<string, Db>();

  constructor(private readonly control: ControlStore) {}

  async stats(siteId: string, range: { from?: string; to?: string }): Promise<Stats> {
    const site = this.control.getSite(siteId);
    if (site === undefined) throw new RequestError('ERR_NOT_FOUND', 404, 'not found');

    const { from, to } = resolveRange(range, site.settings.timeZone);
    const db = await this.connection(site.tenantId);

    return queryStats(db, { siteId, from, to });
  }

  forget(tenantId: string): void {
    this.connections.get(tenantId)?.close();
    this.connections.delete(tenantId);
  }

  close(): void {
    for (const db of this.connections.values()) db.close();
    this.connections.clear();
  }

  private async connection(tenantId: string): Promise<Db> {
    const known = this.connections.get(tenantId);
    if (known !== undefined) return known;

    const db = await openTenantDb(this.control, tenantId);
    this.connections.set(tenantId, db);

    return db;
  }
}

/** Defaults to the last 30 days (today included) in the site's time zone. */
export function resolveRange(
  range: { from?: string; to?: string },
  timeZone: string,
  now = Date.now(),
): { from: string; to: string } {
  const to = range.to ?? dayIn(timeZone, now);
  const from = range.from ?? addDays(to, -29);
  for (const [name, value] of [
    ['from', from],
    ['to', to],
  ] as const) {
    if (!isDay(value))
      throw new RequestError('ERR_INVALID_ARGUMENT', 400, `${name} must be a date YYYY-MM-DD`);
  }

  if (from > to) throw new RequestError('ERR_INVALID_ARGUMENT', 400, 'from must not be after to');
  if (Date.parse(to) - Date.parse(from) > MAX_RANGE_DAYS * 86_400_000) {
    throw new RequestError(
      'ERR_INVALID_ARGUMENT',
      400,
      `a range spans at most ${MAX_RANGE_DAYS} days`,
    );
  }

  return { from, to };
}
