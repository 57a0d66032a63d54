/**
 * Redaction that every log line passes through. In our field a URL, a header or an error message
 * can carry PHI (HHS tracking guidance: an IP address next to a clinic page is PHI), so the logger
 * does not trust its callers: sensitive keys are dropped by name and free text is scrubbed of
 * addresses, e-mail addresses and query strings.
 */
const SENSITIVE_KEY = new RegExp(
  [
    'pass(word)?',
    'secret',
    'token',
    'api[-_]?key',
    'authorization',
    'cookie',
    'session',
    '^key$',
    'master',
    'salt',
    '^ip$',
    'address',
    'query',
    'body',
    'email',
    'phone',
    'referr?er',
    'user[-_]?agent',
  ].join('|'),
  'i',
);

const IPV4 = /\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b/g;
// IPv6 in full (exactly eight groups) or compressed (`::`) form. Runs of colon-separated pairs
// that are neither, such as times (10:05:03) or certificate fingerprints, are left alone.
const IPV6_FULL = /(?<![\w:])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![\w:])/gi;
/** One to seven colon-separated hex groups: either side of a `::`. */
const GROUPS = String.raw`[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6}`;
const IPV6_SHORT = new RegExp(
  String.raw`(?<![\w:])(?:${GROUPS})?::(?:${GROUPS})?(?::(?:\d{1,3}\.){3}\d{1,3})?(?![\w:.])`,
  'gi',
);
const EMAIL = /[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+/gi;
const QUERY = /\?[^\s"']*/g;
const BEARER = /\b(bearer|basic)\s+[\w.~+/=-]+/gi;

export const REDACTED = '[redacted]';

/** Every pattern below needs one of these characters; text without any is returned as is. */
const MAY_MATCH = /[?@%:.\s]/;

export function redactText(text: string): string {
  if (!MAY_MATCH.test(text)) return text;

  return text
    .replace(BEARER, `$1 ${REDACTED}`)
    .replace(QUERY, `?${REDACTED}`)
    .replace(EMAIL, REDACTED)
    .replace(IPV6_FULL, REDACTED)
    .replace(IPV6_SHORT, (match) => (match === '::' ? match : REDACTED))
    .replace(IPV4, REDACTED);
}

const keyVerdicts = new Map<string, boolean>();

export function isSensitiveKey(key: string): boolean {
  let sensitive = keyVerdicts.get(key);
  if (sensitive === undefined) {
    sensitive = SENSITIVE_KEY.test(key);
    // Field names come from code, a few dozen of them; the bound only guards against misuse.
    if (keyVerdicts.size < 1000) keyVerdicts.set(key, sensitive);
  }

  return sensitive;
}

/** Returns a copy of `value` safe to serialise into a log line. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[depth]';
  if (typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Error) return redactError(value);
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => redactValue(item, depth + 1));

  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = isSensitiveKey(key) ? REDACTED : redactValue(item, depth + 1);
  }

  return out;
}

function redactError(error: Error): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;

  return {
    name: error.name,
    message: redactText(error.message),
    ...(typeof code === 'string' ? { code } : {}),
  };
}
