import { dayIn } from '../../domain/time.js';
import type { Db } from './open.js';

/** Rows re-dated per transaction: a running server's writer waits at most one batch. */
const BATCH = 2_000;

export interface Redated {
  events: number;
  sessions: number;
}

/**
 * Moves a site's events and sessions to the days of `timeZone` (an event by its time, a session by
 * its start), after the site's time zone changed: a day is counted in the zone the site has now,
 * for its history too, so that one minute is never split over two days. Only rows with `ts` (or
 * `started_at`) from `since` are looked at, for the pass that catches what a running server
 * stored under the old zone while it had not yet read the new one. Filtered-traffic counters
 * keep their days: they hold no times to move them by.
 *
 * Works in short transactions of `BATCH` rows, so the server's writer goes on meanwhile.
 */
export function redateSite(db: Db, siteId: string, timeZone: string, since = 0): Redated {
  return {
    events: redate(db, 'events', 'id', 'ts', siteId, timeZone, since),
    sessions: redate(db, 'sessions', 'rowid', 'started_at', siteId, timeZone, since),
  };
}

function redate(
  db: Db,
  table: 'events' | 'sessions',
  key: 'id' | 'rowid',
  time: 'ts' | 'started_at',
  siteId: string,
  timeZone: string,
  since: number,
): number {
  const page = db.prepare(
    `SELECT ${key} AS key, ${time} AS ts, day FROM ${table}
     WHERE site_id = ? AND ${key} > ? AND ${time} >= ? ORDER BY ${key} LIMIT ${BATCH}`,
  );
  const move = db.prepare(`UPDATE ${table} SET day = ? WHERE ${key} = ?`);
  let moved = 0;
  for (let after = -1; ;) {
    const rows = page.all(siteId, after, since) as Array<{ key: number; ts: number; day: string }>;
    if (rows.length === 0) return moved;

    db.transaction(() => {
      for (const row of rows) {
        const day = dayIn(timeZone, row.ts);
        if (day === row.day) continue;

        move.run(day, row.key);
        moved++;
      }
    }).immediate();
    after = (rows[rows.length - 1] as { key: number }).key;
  }
}
