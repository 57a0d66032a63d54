import { createHmac } from 'node:crypto';

import { SESSION_TIMEOUT_MS } from '../domain/event.js';
import { addDays, utcDay } from '../domain/time.js';

const DAY_MS = 86_400_000;
import type { ControlStore } from '../store/types.js';

export interface VisitorSalts {
  /** The salt of `ts`'s UTC day, and near midnight also the previous day's (session rule). */
  forTime(ts: number): Promise<{ salt: Buffer; previous: Buffer | null }>;
}

/**
 * Live salts: one random salt per UTC day, stored sealed under the master key, destroyed once
 * the day is two days old. After that no one, LightTrail included, can recompute a visitor id.
 */
export class DailySalts implements VisitorSalts {
  private readonly cache = new Map<string, Buffer>();
  private last: { period: number; pair: { salt: Buffer; previous: Buffer | null } } | undefined;

  constructor(private readonly control: ControlStore) {}

  async forTime(ts: number): Promise<{ salt: Buffer; previous: Buffer | null }> {
    // Every request asks, nearly always for the current day: the answer is kept per UTC day,
    // and per side of the session timeout after midnight.
    const period = Math.floor(ts / DAY_MS) * 2 + (ts % DAY_MS <= SESSION_TIMEOUT_MS ? 0 : 1);
    if (this.last !== undefined && this.last.period === period) return this.last.pair;

    const day = utcDay(ts);
    const salt = await this.get(day, true);
    const previous = period % 2 === 0 ? ((await this.get(addDays(day, -1), false)) ?? null) : null;
    const pair = { salt: salt as Buffer, previous };
    this.last = { period, pair };

    return pair;
  }

  /** Destroys every salt older than yesterday. Returns how many were destroyed. */
  rotate(now = Date.now()): number {
    this.last = undefined;
    const keepFrom = addDays(utcDay(now), -1);
    for (const day of this.cache.keys()) if (day < keepFrom) this.cache.delete(day);

    return this.control.destroySaltsBefore(keepFrom);
  }

  private async get(day: string, create: boolean): Promise<Buffer | undefined> {
    const cached = this.cache.get(day);
    if (cached !== undefined) return cached;

    const found = await this.control.daySalt(day, create);
    if (found === undefined) return undefined;

    // A copy in its own memory: a small Buffer may be a view into a shared 8 KB pool, and each
    // request hands the salt to the writer thread, which would copy the whole pool every time.
    const salt = Buffer.alloc(found.length);
    found.copy(salt);
    this.cache.set(day, salt);

    return salt;
  }
}

/**
 * Salts for a log import: derived per day of the log from a secret of the site's imports. The
 * secret is stored sealed beside the day salts, under the day it was made, and destroyed with
 * them two days later (`DailySalts.rotate`), so imported visitor ids cannot be recomputed after
 * that. Imports within that time share it: an import resumed after Ctrl+C, or a log rotated
 * mid-day and imported as two files, counts a visitor once (QA: each run had its own secret,
 * and 979 visitors showed where one run counted 974).
 */
export class ImportSalts implements VisitorSalts {
  private constructor(private readonly secret: Buffer) {}

  /**
   * The secret made yesterday if it is still kept, else today's, made now when missing. Salts past
   * their two days go first, as the server destroys them hourly: with no server running, an
   * import's secret would otherwise outlive them.
   */
  static async forSite(
    control: ControlStore,
    siteId: string,
    now = Date.now(),
  ): Promise<ImportSalts> {
    const today = utcDay(now);
    control.destroySaltsBefore(addDays(today, -1));
    const kept = await control.daySalt(importSecretKey(addDays(today, -1), siteId), false);
    const secret = kept ?? (await control.daySalt(importSecretKey(today, siteId), true));

    return new ImportSalts(secret as Buffer);
  }

  async forTime(ts: number): Promise<{ salt: Buffer; previous: Buffer | null }> {
    const day = utcDay(ts);
    const sinceMidnight = ts - Date.parse(`${day}T00:00:00Z`);

    return {
      salt: this.derive(day),
      previous: sinceMidnight <= SESSION_TIMEOUT_MS ? this.derive(addDays(day, -1)) : null,
    };
  }

  private derive(day: string): Buffer {
    return createHmac('sha256', this.secret).update(day).digest();
  }
}

/**
 * Where a site's import secret made on `day` is kept among the day salts: after the day, so
 * that destroying the salts before a day destroys it with that day's salt.
 */
export function importSecretKey(day: string, siteId: string): string {
  return `${day}/import/${siteId}`;
}
