import { EVENT_TYPES, type EventType } from '../domain/event.js';
import { scrubWithin } from '../enrich/phi.js';
import { hasLoneSurrogate, stripControl } from '../enrich/text.js';
import { RequestError } from '../errors.js';

/**
 * The collect payload, checked field by field. Every string has a ceiling, unknown fields are
 * refused, and nothing is coerced: a wrong shape is a 400 with ERR_INVALID_EVENT before any
 * enrichment or write happens.
 */
export interface IncomingEvent {
  type: EventType;
  url: string;
  referrer?: string;
  title?: string;
  name?: string;
  href?: string;
  props?: Record<string, string | number | boolean>;
  screen?: number;
  lang?: string;
  engagementMs?: number;
  scrollDepth?: number;
}

export interface IncomingPayload {
  site: string;
  gpc: boolean;
  dnt: boolean;
  events: IncomingEvent[];
}

/** URLs up to this many characters are accepted; the stored form is truncated further. */
export const MAX_URL_CHARS = 8192;

const STRING_LIMITS: Record<string, number> = {
  url: MAX_URL_CHARS,
  referrer: MAX_URL_CHARS,
  href: MAX_URL_CHARS,
  title: 1024,
  name: 256,
  lang: 35,
};

const NUMBER_LIMITS: Record<string, [number, number]> = {
  screen: [0, 100_000],
  engagementMs: [0, 86_400_000],
  scrollDepth: [0, 100],
};

const EVENT_KEYS = new Set([
  'type',
  'url',
  'props',
  ...Object.keys(STRING_LIMITS),
  ...Object.keys(NUMBER_LIMITS),
]);
const TOP_KEYS = new Set(['site', 'events', 'gpc', 'dnt']);
const SITE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const QUOTED_MAX = 40;
// A name is empty when nothing but white space and invisible characters is left once control
// characters are gone: format characters, combining marks on nothing, the Hangul fillers, the
// blank Braille pattern, private-use and unassigned code points (a box at best, QA). It would
// show as a blank row in every report.
const VISIBLE = /[^\s\p{Cf}\p{Mn}\p{Me}\p{Co}\p{Cn}\u115f\u1160\u3164\uffa0\u2800]/u;

// The body is checked as UTF-8, but JSON may still escape half of a surrogate pair alone
// (`"\ud800"`): such text has no UTF-8 form, and storing it turned it into U+FFFD without a word
// to the sender (QA), so it is refused as invalid UTF-8 bytes are.
function notUnicode(at: string): RequestError {
  return invalid(`${at} holds an unpaired surrogate (\\ud800 to \\udfff), which is no text`);
}

function invalid(message: string): RequestError {
  return new RequestError('ERR_INVALID_EVENT', 400, message);
}

/**
 * A client-sent name as an error message may quote it. The message goes back to the sender and
 * into the request log, and a field name can be an e-mail or an address (`{"pat.doe@mail.test":
 * 1}`), so it is scrubbed like a title, whole, and only then cut: cutting first could leave half
 * an address the scrubber no longer recognises.
 */
function quoted(name: string): string {
  return scrubWithin(name, QUOTED_MAX);
}

/** `gpc` and `dnt` are privacy signals: a value that is not a boolean is a sender bug. */
function signalFlag(value: Record<string, unknown>, key: 'gpc' | 'dnt'): boolean {
  const flag = value[key];
  if (flag !== undefined && flag !== null && typeof flag !== 'boolean') {
    throw invalid(`${key} must be true or false`);
  }

  return flag === true;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parsePayload(value: unknown, maxBatch: number): IncomingPayload {
  if (!isObject(value)) throw invalid('payload must be a JSON object');

  const single = !('events' in value);
  for (const key of Object.keys(value)) {
    if (!TOP_KEYS.has(key) && !(single && EVENT_KEYS.has(key))) {
      throw invalid(`unknown field "${quoted(key)}"`);
    }
  }

  if (typeof value.site !== 'string' || !SITE_ID.test(value.site)) {
    throw invalid('site must be a site id');
  }

  const gpc = signalFlag(value, 'gpc');
  const dnt = signalFlag(value, 'dnt');

  const list: unknown[] = single ? [eventFields(value)] : (value.events as unknown[]);
  if (!Array.isArray(list) || list.length === 0) throw invalid('events must be a non-empty list');
  if (list.length > maxBatch) {
    throw new RequestError('ERR_BATCH_TOO_LARGE', 413, `at most ${maxBatch} events per request`);
  }

  return {
    site: value.site,
    gpc,
    dnt,
    events: list.map((item, index) => parseEvent(item, index)),
  };
}

function eventFields(value: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) if (EVENT_KEYS.has(key)) fields[key] = item;

  return fields;
}

function parseEvent(value: unknown, index: number): IncomingEvent {
  const at = `events[${index}]`;
  if (!isObject(value)) throw invalid(`${at} must be an object`);

  for (const key of Object.keys(value)) {
    if (!EVENT_KEYS.has(key)) throw invalid(`${at}: unknown field "${quoted(key)}"`);
  }

  if (!EVENT_TYPES.includes(value.type as EventType)) {
    throw invalid(`${at}.type must be one of ${EVENT_TYPES.join(', ')}`);
  }

  const event: Record<string, unknown> = { type: value.type };
  for (const [key, limit] of Object.entries(STRING_LIMITS)) {
    const item = value[key];
    if (item === undefined || item === null) continue;
    if (typeof item !== 'string') throw invalid(`${at}.${key} must be a string`);
    if (item.length > limit) throw invalid(`${at}.${key} is longer than ${limit} characters`);
    if (hasLoneSurrogate(item)) throw notUnicode(`${at}.${key}`);
    event[key] = item;
  }

  for (const [key, [min, max]] of Object.entries(NUMBER_LIMITS)) {
    const item = value[key];
    if (item === undefined || item === null) continue;
    if (typeof item !== 'number' || !Number.isFinite(item) || item < min || item > max) {
      throw invalid(`${at}.${key} must be a number from ${min} to ${max}`);
    }

    event[key] = Math.round(item);
  }

  if (typeof event.url !== 'string' || !/^https?:\/\//i.test(event.url)) {
    throw invalid(`${at}.url must be an absolute http(s) URL`);
  }

  if (value.type === 'custom' && !isVisibleName(event.name)) {
    throw invalid(`${at}.name is required for custom events`);
  }

  // A link without its target says nothing: an absolute URL, or a scheme such as `mailto:` or
  // `tel:` (kept without the address), as a browser's `a.href` gives it; not a path or a `#`.
  if (value.type === 'outbound' || value.type === 'download') {
    if (!isVisibleName(event.href))
      throw invalid(`${at}.href is required for ${value.type} events`);
    if (!/^\s*[a-z][a-z0-9+.-]*:/i.test(event.href as string)) {
      throw invalid(`${at}.href must be an absolute URL or a scheme such as mailto: or tel:`);
    }
  }

  if (value.props !== undefined && value.props !== null) event.props = parseProps(value.props, at);

  return event as unknown as IncomingEvent;
}

/** A custom event name with something a report can show: `"\u0000\u0001"` or `" "` is none. */
function isVisibleName(name: unknown): boolean {
  return typeof name === 'string' && VISIBLE.test(stripControl(name));
}

function parseProps(value: unknown, at: string): Record<string, string | number | boolean> {
  if (!isObject(value)) throw invalid(`${at}.props must be an object`);

  const entries = Object.entries(value);
  if (entries.length > 30) throw invalid(`${at}.props has more than 30 keys`);

  const props: Record<string, string | number | boolean> = {};
  for (const [key, item] of entries) {
    if (key.length > 64) throw invalid(`${at}.props key longer than 64 characters`);
    if (hasLoneSurrogate(key)) throw notUnicode(`a key of ${at}.props`);
    if (typeof item === 'string' && item.length > 1024) {
      throw invalid(`${at}.props.${quoted(key)} is longer than 1024 characters`);
    }

    if (typeof item === 'string' && hasLoneSurrogate(item)) {
      throw notUnicode(`${at}.props.${quoted(key)}`);
    }

    if (
      typeof item !== 'string' &&
      typeof item !== 'boolean' &&
      !(typeof item === 'number' && Number.isFinite(item))
    ) {
      throw invalid(`${at}.props.${quoted(key)} must be a string, number or boolean`);
    }

    props[key] = item;
  }

  return props;
}
