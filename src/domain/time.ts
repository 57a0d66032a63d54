const formatters = new Map<string, Intl.DateTimeFormat>();

/** The calendar day (YYYY-MM-DD) of instant `ts` in `timeZone`. */
export function dayIn(timeZone: string, ts: number): string {
  let format = formatters.get(timeZone);
  if (format === undefined) {
    // en-CA formats dates as YYYY-MM-DD.
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    formatters.set(timeZone, format);
  }

  return format.format(ts);
}

/** The UTC day of `ts`, YYYY-MM-DD. */
export function utcDay(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
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
