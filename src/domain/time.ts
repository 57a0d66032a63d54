interface ZoneDays {
  format: Intl.DateTimeFormat;
  /** The last answer: every event of a request, and most of a busy second, share it. */
  second: number;
  day: string;
}

const zones = new Map<string, ZoneDays>();

/** The calendar day (YYYY-MM-DD) of instant `ts` in `timeZone`. */
export function dayIn(timeZone: string, ts: number): string {
  let zone = zones.get(timeZone);
  if (zone === undefined) {
    // en-CA formats dates as YYYY-MM-DD.
    const format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    zone = { format, second: Number.NaN, day: '' };
    zones.set(timeZone, zone);
  }

  // Zone offsets are whole seconds, so a day never changes within one.
  const second = Math.floor(ts / 1000);
  if (zone.second !== second) {
    zone.day = zone.format.format(ts);
    zone.second = second;
  }

  return zone.day;
}

let lastUtc = { dayNumber: Number.NaN, day: '' };

/** The UTC day of `ts`, YYYY-MM-DD. */
export function utcDay(ts: number): string {
  const dayNumber = Math.floor(ts / 86_400_000);
  if (dayNumber !== lastUtc.dayNumber) {
    lastUtc = { dayNumber, day: new Date(ts).toISOString().slice(0, 10) };
  }

  return lastUtc.day;
}

/** `day` shifted by `delta` days. */
export function addDays(day: string, delta: number): string {
  const ts = Date.parse(`${day}T00:00:00Z`) + delta * 86_400_000;

  return utcDay(ts);
}

export function isDay(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;

  const ts = Date.parse(`${value}T00:00:00Z`);

  return !Number.isNaN(ts) && utcDay(ts) === value;
}
