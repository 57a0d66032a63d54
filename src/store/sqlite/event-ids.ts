import { StoreError } from '../../errors.js';

/**
 * Events are clustered by calendar day through their row id: the events of day `d` (days since
 * 1970-01-01, in the site's time zone, as the `day` column) get ids from `d * 2^32` up. A day's
 * events then sit together in the table's own B-tree, so the statistics read a day range as one
 * row-id range, and no secondary index has to be written at every commit (the (site, day) index
 * this replaces cost a third of the pages each group commit wrote). Ids are exact JavaScript
 * numbers (below 2^53) for days up to the year 7700; days before 1970 get negative ids.
 */
export const DAY_SPAN = 2 ** 32;

const DAY_MS = 86_400_000;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The first id of `day` (YYYY-MM-DD). */
export function firstEventId(day: string): number {
  const first = dayStart(day);
  if (!Number.isSafeInteger(first + DAY_SPAN)) {
    throw new StoreError('ERR_INVALID_ARGUMENT', `no event ids for ${day}`);
  }

  return first;
}

/** The ids of the days `from` to `to`, both included: `low` <= id < `high`. */
export function eventIdRange(from: string, to: string): { low: number; high: number } {
  const clamp = (id: number) =>
    Math.min(Number.MAX_SAFE_INTEGER, Math.max(Number.MIN_SAFE_INTEGER, id));

  return { low: clamp(dayStart(from)), high: clamp(dayStart(to) + DAY_SPAN) };
}

function dayStart(day: string): number {
  const ms = DAY.test(day) ? Date.parse(`${day}T00:00:00Z`) : NaN;
  if (!Number.isFinite(ms)) {
    throw new StoreError('ERR_INVALID_ARGUMENT', `not a calendar day: ${day}`);
  }

  return (ms / DAY_MS) * DAY_SPAN;
}
