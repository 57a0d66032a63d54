import { fitText } from './fit.js';
import type { CustomTrackEvent, PropValue } from './types.js';

// The collect schema's bounds on props: more keys, a longer key or value refuse the request.
const MAX_PROPS = 30;
const MAX_KEY = 64;
// The endpoint takes values of 1,024, but 30 of them in CJK characters or escaped control
// characters came to 92 KB or more, past the 64 KB a beacon and the endpoint take (QA): at 256,
// 30 values stay under 46 KB however they are written.
const MAX_VALUE = 256;

/**
 * Turns a `lighttrail.track(name, props)` call into an event, or undefined for a call without a
 * usable name. Only string, boolean and finite number props survive: objects, arrays and
 * functions could drag page state (a form model, a user record) into the payload. Props past the
 * server's bounds are left out (keys) or cut (values), so one prop never loses the event.
 */
export function customEvent(name: unknown, props?: unknown): CustomTrackEvent | undefined {
  // Trimmed before the cut to 256: spaces before a name left it blank there, and refused (QA).
  const trimmed = typeof name === 'string' && name.trim();
  if (!trimmed) return undefined;

  const kept: Record<string, PropValue> = {};
  let count = 0;
  if (props instanceof Object && !Array.isArray(props)) {
    for (const key of Object.keys(props)) {
      const value: unknown = (props as Record<string, unknown>)[key];
      if (count === MAX_PROPS || key.length > MAX_KEY || !isPropValue(value)) continue;

      kept[fitText(key, MAX_KEY)] = typeof value === 'string' ? fitText(value, MAX_VALUE) : value;
      count++;
    }
  }

  return { type: 'custom', url: location.href, name: trimmed, props: kept };
}

function isPropValue(value: unknown): value is PropValue {
  return typeof value === 'string' || typeof value === 'boolean' || Number.isFinite(value);
}
