import type { CustomTrackEvent, PropValue } from './types.js';

/**
 * Turns a `lighttrail.track(name, props)` call into an event, or undefined for a call without a
 * usable name. Only string, boolean and finite number props survive: objects, arrays and
 * functions could drag page state (a form model, a user record) into the payload.
 */
export function customEvent(name: unknown, props?: unknown): CustomTrackEvent | undefined {
  if (typeof name !== 'string' || !name) return undefined;

  const kept: Record<string, PropValue> = {};
  if (props && typeof props === 'object') {
    for (const [key, value] of Object.entries(props)) {
      if (isPropValue(value)) kept[key] = value;
    }
  }

  return { type: 'custom', url: location.href, name, props: kept };
}

function isPropValue(value: unknown): value is PropValue {
  return (
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && isFinite(value))
  );
}
