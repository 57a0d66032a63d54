/**
 * Record numbers inside JSON, judged by where they sit rather than by the text around them. A
 * label written as nested keys reads as text only when the id key comes first (`{"patient":{"id":
 * 48213}}`); in any other order, in an array or in FHIR's shapes the label and the number are
 * apart (`{"patient":{"name":"x","id":48213}}`, `{"resourceType":"Patient","id":"48213"}`,
 * `{"identifier":[{"system":"urn:mrn","value":"48213"}]}`, QA). So text that parses as JSON is
 * walked, and each scalar is read as the label its key path says (`patient id 48213`) by the
 * same rules as text; what they find is redacted where the value is written.
 */

type Span = [number, number];

/** Whether `phrase` (`patient id 48213`) holds a record number in its `value` part. */
export type PhraseJudge = (phrase: string, valueStart: number) => boolean;

// Only text that could be JSON is parsed, and only up to this size: a page's state or a search
// is far smaller, and a parse runs on every decoded layer of attacker-controlled text.
const JSON_MAX = 4096;
const DEPTH_MAX = 32;

// Keys whose object is a person's record, and the label each reads as (`member` is a person's,
// `encounter` a visit's record). Plurals and case do not matter (`Patients`, `PATIENT`).
const RECORD_KEYS: ReadonlyMap<string, string> = new Map([
  ['patient', 'patient'],
  ['person', 'patient'],
  ['subject', 'patient'],
  ['member', 'member'],
  ['subscriber', 'subscriber'],
  ['guarantor', 'guarantor'],
  ['beneficiary', 'patient'],
  ['beneficiarie', 'patient'],
  ['enrollee', 'patient'],
  ['insured', 'patient'],
  ['relatedperson', 'patient'],
  ['encounter', 'encounter'],
  ['mrn', 'mrn'],
  ['account', 'account'],
  ['chart', 'chart'],
  ['claim', 'claim'],
  ['visit', 'visit'],
]);
// FHIR resources that are a person or a record of their care; their `id` is the record's.
const FHIR_RECORDS: ReadonlyMap<string, string> = new Map([
  ['Patient', 'patient'],
  ['Person', 'patient'],
  ['RelatedPerson', 'patient'],
  ['Encounter', 'encounter'],
  ['EpisodeOfCare', 'encounter'],
  ['Coverage', 'member'],
  ['Account', 'account'],
  ['Claim', 'claim'],
  ['ExplanationOfBenefit', 'claim'],
]);
const IDENTIFIER = /^identifiers?$/i;

function recordLabel(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;

  const word = key.toLowerCase();

  return RECORD_KEYS.get(word) ?? RECORD_KEYS.get(word.replace(/s$/, ''));
}

/**
 * The label a scalar under `key` reads with (`patient id`), or '' when its object names no
 * record. An identifier's or a record's `value` is its identifier (`{"identifier":{"system":
 * "urn:mrn","value":"48213"}}`, `{"mrn":{"value":"48213"}}`), whoever's it is.
 */
function labelOf(key: string, owner: string | undefined): string {
  if (owner === undefined) return '';

  return `${owner} ${key === 'value' ? 'identifier' : key}`;
}

interface Walk {
  found: Array<string | number>;
  judge: PhraseJudge;
}

function walk(
  node: unknown,
  owner: string | undefined,
  parentKey: string | undefined,
  depth: number,
  state: Walk,
): void {
  if (depth > DEPTH_MAX || node === null || typeof node !== 'object') return;

  if (Array.isArray(node)) {
    for (const item of node) walk(item, owner, parentKey, depth + 1, state);

    return;
  }

  const record = node as Record<string, unknown>;
  const type = record['resourceType'];
  const self =
    (typeof type === 'string' ? FHIR_RECORDS.get(type) : undefined) ?? recordLabel(parentKey);
  const identifier = parentKey !== undefined && IDENTIFIER.test(parentKey);
  const here = self ?? (identifier ? (owner ?? 'record') : undefined);
  for (const [key, value] of Object.entries(record)) {
    if (key === 'reference' && typeof value === 'string' && isRecordReference(value)) {
      state.found.push(value);
      continue;
    }

    if (typeof value === 'string' || typeof value === 'number') {
      const label = labelOf(key, here);
      const text = String(value);
      if (label !== '' && state.judge(`${label} ${text}`, label.length + 1)) {
        state.found.push(value);
      }
      continue;
    }

    walk(value, here, key, depth + 1, state);
  }
}

/**
 * A FHIR reference to a person or a record of their care, `Patient/48213` (a version after it,
 * `/_history/2`, or a server's address before it): the id is in the text itself, whatever
 * holds it (`{"subject":{"reference":"Patient/48213"}}`).
 */
function isRecordReference(value: string): boolean {
  const match = /(?:^|\/)([A-Za-z]+)\/[A-Za-z0-9.-]{1,64}(?:\/_history\/[^/]+)?$/.exec(value);

  return match !== null && FHIR_RECORDS.has(match[1] as string);
}

/** Where `value` is written in `text`: its digits, or a string's characters inside its quotes. */
function valueSpans(text: string, value: string | number): Span[] {
  const written = typeof value === 'string' ? JSON.stringify(value).slice(1, -1) : String(value);
  const quote = typeof value === 'string' ? '"' : '';
  const spans: Span[] = [];
  for (let at = text.indexOf(written); at !== -1; at = text.indexOf(written, at + 1)) {
    const end = at + written.length;
    const before = text.charAt(at - 1);
    const after = text.charAt(end);
    const whole = quote === '' ? !/[\d.]/.test(before) && !/[\d.eE]/.test(after) : true;
    if (whole && (quote === '' || (before === quote && after === quote))) spans.push([at, end]);
  }

  return spans;
}

/**
 * Pushes onto `spans` where `text`, when it is JSON, writes a record number that its key path
 * names (`{"patient":{"name":"x","id":48213}}`, `{"resourceType":"Patient","id":"48213"}`); the
 * whole text when the number is written in a way not found again (`4.8213e4`).
 */
export function findJsonRecords(text: string, spans: Span[], judge: PhraseJudge): void {
  if (text.length > JSON_MAX) return;

  const trimmed = text.trim();
  const first = trimmed.charAt(0);
  if ((first !== '{' && first !== '[') || trimmed.length < 8) return;

  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return;
  }

  const state: Walk = { found: [], judge };
  walk(parsed, undefined, undefined, 0, state);
  for (const value of state.found) {
    const at = valueSpans(text, value);
    if (at.length === 0) {
      spans.push([0, text.length]);

      return;
    }

    spans.push(...at);
  }
}
