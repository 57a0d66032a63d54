import type { TrackerEvent } from './types.js';

/**
 * The collect schema's bounds on text fields, in UTF-16 units as the server counts them. A field
 * over its bound makes the server refuse the whole request, and a beacon cannot see the refusal:
 * a long page title (stored or not) lost the pageview, and the pageview of the next SPA route
 * with it (QA). So every event leaves within them (`lang`, the browser's own, always is).
 */
const BOUNDS: Readonly<Record<string, number>> = {
  url: 8192,
  referrer: 8192,
  href: 8192,
  title: 1024,
  name: 256,
};

/** Cuts each text field of `event`, one the tracker made, to its bound and makes it well-formed. */
export function fitEvent(event: TrackerEvent): TrackerEvent {
  const fields = event as unknown as Record<string, unknown>;
  for (const key in BOUNDS) {
    const value = fields[key];
    if (typeof value === 'string') fields[key] = fitText(value, BOUNDS[key] as number);
  }

  return event;
}

/**
 * `text` at most `max` units long, with no half of a surrogate pair: the server refuses text that
 * is not Unicode, so a lone one (an emoji cut by a page's own `slice`, or by this cut) becomes
 * U+FFFD. Browsers from 2023 on have `toWellFormed`; in older ones such text stays as it is.
 */
export function fitText(text: string, max: number): string {
  const cut = text.slice(0, max) as string & { toWellFormed?: () => string };

  return cut.toWellFormed ? cut.toWellFormed() : cut;
}
