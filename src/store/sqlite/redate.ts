import { dayIn } from '../../domain/time.js';
import type { Redated, RowMark } from '../types.js';
import type { Db } from './open.js';

/** Rows re-dated per transaction: a running server's writer waits at most one batch. */
const BATCH = 2_000;

/**
 * Moves a site's events and sessions to the days of `timeZone` (an event by its time, a session by
 * its start), after the site's time zone changed: a day is counted in the zone the site has now,
 * for its history too, so that one minute is never split over two days. With `after`, only rows
 * added since that mark are looked at: what a running server or import stored under the old zone
 * before it read the new one. Filtered-traffic counters keep their days: they hold no times to
 * move them by.
 *
 * Works in short transactions of `BATCH` rows, so the server's writer goes on meanwhile.
 */
export function redateSite(
  db: Db,
  siteId: string,
  timeZone: string,
  after: RowMark = { events: -1, sessions: -1 },
): Redated {
  const events = redate(db, 'events', 'id', 'ts', siteId, timeZone, after.events);
  const sessions = redate(db, 'sessions', 'rowid', 'started_at', siteId, timeZone, after.sessions);

  return {
    events: events.moved,
    sessions: sessions.moved,
    mark: { events: events.last, sessions: sessions.last },
  };
}

/** The largest keys now: every row added later has a larger one (SQLite's rowid). */
export function rowMark(db: Db): RowMark {
  const last = (sql: string) => (db.prepare(sql).pluck().get() as number | null) ?? -1;

  return {
    events: last('SELECT max(id) FROM events'),
    sessions: last('SELECT max(rowid) FROM sessions'),
  };
}

function redate(
  db: Db,
  table: 'events' | 'sessions',
  key: 'id' | 'rowid',
  time: 'ts' | 'started_at',
  siteId: string,
  timeZone: string,
  from: number,
): { moved: number; last: number } {
  const page = db.prepare(
    `SELECT ${key} AS key, ${time} AS ts, day FROM ${table}
     WHERE ${key} > ? AND site_id = ? ORDER BY ${key} LIMIT ${BATCH}`,
  );
  const move = db.prepare(`UPDATE ${table} SET day = ? WHERE ${key} = ?`);
  let moved = 0;
  for (let last = from; ;) {
    const rows = page.all(last, siteId) as Array<{ key: number; ts: number; day: string }>;
    if (rows.length === 0) return { moved, last };

    db.transaction(() => {
      for (const row of rows) {
        const day = dayIn(timeZone, row.ts);
        if (day === row.day) continue;

        move.run(day, row.key);
        moved++;
      }
    }).immediate();
    last = (rows[rows.length - 1] as { key: number }).key;
  }
}
