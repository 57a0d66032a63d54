import type { TrackerEvent } from './types.js';

/**
 * The collect schema's bounds on text fields, in UTF-16 units as the server counts them. A field
 * over its bound makes the server refuse the whole request, and a beacon cannot see the refusal:
 * a long page title (stored or not) lost the pageview, and the pageview of the next SPA route
 * with it (QA). So every event leaves within them; `lang` too, as a browser's own can be longer
 * (`de-DE-u-co-phonebk-...`, QA).
 */
const BOUNDS: Readonly<Record<string, number>> = { title: 1024, name: 256, lang: 35 };
/** Every other text field is an address: `url`, `referrer`, `href`. */
const URL_BOUND = 8192;

/** Cuts each text field of `event`, one the tracker made, to its bound and makes it well-formed. */
export function fitEvent(event: TrackerEvent): TrackerEvent {
  const fields = event as unknown as Record<string, unknown>;
  for (const key in fields) {
    const value = fields[key];
    if (typeof value === 'string') fields[key] = fitText(value, BOUNDS[key] || URL_BOUND);
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
