/**
 * String helpers for the PHI firewall: percent-decoding that never throws, control-character
 * removal and truncation on a code-point boundary. Every function here is linear in its input,
 * because it runs on attacker-controlled text for every event.
 */

const ESCAPE_RUN = /(?:%[0-9A-Fa-f]{2})+/g;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Length of the UTF-8 sequence a lead byte announces, or 0 when it cannot start one. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;

  return 0;
}

function continuationsAt(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const byte = bytes[i] as number;
    if (byte < 0x80 || byte > 0xbf) return false;
  }

  return true;
}

/** Decodes a run of `%XX` escapes; bytes that are not valid UTF-8 stay as their literal `%XX`. */
function decodeRun(run: string): string {
  try {
    return decodeURIComponent(run);
  } catch {
    // Fall through to the byte-by-byte path below.
  }

  const bytes = Uint8Array.from({ length: run.length / 3 }, (_, i) =>
    parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16),
  );
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const length = sequenceLength(bytes[i] as number);
    const end = i + length;
    if (length > 0 && end <= bytes.length && continuationsAt(bytes, i + 1, end)) {
      try {
        out += utf8.decode(bytes.subarray(i, end));
        i = end;
        continue;
      } catch {
        // Not a valid sequence (overlong, surrogate, bad continuation): keep the byte literally.
      }
    }

    out += run.slice(i * 3, i * 3 + 3);
    i++;
  }

  return out;
}

/**
 * Percent-decodes once. Invalid escapes (`%E0%A4%A`, `%zz`, a lone `%`) are kept literally
 * instead of throwing, so a broken link is still counted (C14.10). `+` is left alone.
 */
export function safeDecode(text: string): string {
  if (!text.includes('%')) return text;

  return text.replace(ESCAPE_RUN, decodeRun);
}

// JavaScript and old `escape()` forms: `\u0040`, `\u{40}`, `%u0040`, `\x40`; C's octal `\100`;
// an escaped backslash, `\\`, so that an escape written inside a string inside another
// (`\\u0040`, JSON in JSON) decodes a layer later (final QA); and an escaped quote, so that JSON
// inside a JSON string (`{\"mrn\":\"48213\"}`) reads as the JSON it holds.
const JS_ESCAPE = new RegExp(
  '\\\\u\\{([0-9a-f]{1,6})\\}|\\\\u([0-9a-f]{4})|%u([0-9a-f]{4})|\\\\x([0-9a-f]{2})|' +
    '\\\\([0-3][0-7]{2})|\\\\([\\\\"\'])',
  'gi',
);

/**
 * Decodes the escapes a script writes (`pat.doe\u0040mail.test`, `%u0040`), which percent-decoding
 * leaves as they are; a code point that is not a character stays escaped.
 */
export function unescapeScript(text: string): string {
  if (!text.includes('\\') && !/%u/i.test(text)) return text;

  return text.replace(JS_ESCAPE, (escape, braced, u, percentU, x, octal, escaped) => {
    if (escaped !== undefined) return escaped;

    const code =
      octal === undefined ? parseInt(braced ?? u ?? percentU ?? x, 16) : parseInt(octal, 8);

    return code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)
      ? String.fromCodePoint(code)
      : escape;
  });
}

// HTML character references: decimal and hexadecimal with any number of leading zeros, and
// named ones for the characters addresses and numbers are written with, spaces and invisible
// characters included; the `;` optional, as browsers read them (`&nbsp555`, QA). A name is
// matched longest first, so `&lbrack;` is not read as `&lbr` and the rest.
const NAMED_REFERENCES: ReadonlyMap<string, string> = new Map([
  ['commat', '@'],
  ['period', '.'],
  ['fullstop', '.'],
  ['hyphen', '-'],
  ['dash', '-'],
  ['minus', '-'],
  ['ndash', '-'],
  ['mdash', '-'],
  ['plus', '+'],
  ['lpar', '('],
  ['rpar', ')'],
  ['lsqb', '['],
  ['rsqb', ']'],
  ['lbrack', '['],
  ['rbrack', ']'],
  ['lcub', '{'],
  ['rcub', '}'],
  ['lbrace', '{'],
  ['rbrace', '}'],
  ['lt', '<'],
  ['gt', '>'],
  ['sol', '/'],
  ['bsol', '\\'],
  ['colon', ':'],
  ['num', '#'],
  ['lowbar', '_'],
  ['comma', ','],
  ['nbsp', ' '],
  ['NonBreakingSpace', ' '],
  ['Tab', ' '],
  ['NewLine', ' '],
  ['ensp', ' '],
  ['emsp', ' '],
  ['thinsp', ' '],
  ['shy', ''],
  ['ZeroWidthSpace', ''],
  ['zwj', ''],
  ['zwnj', ''],
  ['NoBreak', ''],
  ['amp', '&'],
  // The dots and stars a mask is drawn with (`&bull;&bull;&bull;-&bull;&bull;-4821`, QA).
  ['bull', '\u2022'],
  ['bullet', '\u2022'],
  ['middot', '\u00b7'],
  ['centerdot', '\u00b7'],
  ['sdot', '\u22c5'],
  ['ast', '*'],
  ['lowast', '\u2217'],
  ['midast', '*'],
  ['CenterDot', '\u00b7'],
  ['times', '\u00d7'],
]);
const MARKUP_REFERENCE = new RegExp(
  '&#(?:[xX]0*([0-9a-fA-F]{1,6})(?![0-9a-fA-F])|0*(\\d{1,7})(?!\\d));?|' +
    `&(${[...NAMED_REFERENCES.keys()].sort((a, b) => b.length - a.length).join('|')});?`,
  'g',
);

/**
 * Decodes HTML character references (`pat.doe&#64;mail.test`, `&#x36;17`, `&commat;`), which
 * a page's markup or a copied title can hold and no percent-decoding reads (QA); one that is
 * not a character stays as written.
 */
export function unescapeMarkup(text: string): string {
  if (!text.includes('&')) return text;

  return text.replace(MARKUP_REFERENCE, (reference, hex, decimal, named) => {
    if (named !== undefined) return NAMED_REFERENCES.get(named) ?? reference;

    const code = hex !== undefined ? parseInt(hex, 16) : parseInt(decimal, 10);

    return code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)
      ? String.fromCodePoint(code)
      : reference;
  });
}

/** Decodes a query key or value: `+` is a space in a query (and only there), then one decode. */
export function decodeQueryComponent(text: string): string {
  return safeDecode(text.includes('+') ? text.replace(/\+/g, ' ') : text);
}

// C0 controls, DEL, C1 controls, and the bidi overrides that can disguise text in a dashboard.
// eslint-disable-next-line no-control-regex -- removing control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex -- the characters stripControl looks for.
const SUSPECT = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ud800-\udfff]/;
// Half of a UTF-16 surrogate pair standing alone: text that has no UTF-8 form.
const LONE = '[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]';
const LONE_SURROGATE = new RegExp(LONE, 'g');
const HAS_LONE_SURROGATE = new RegExp(LONE);

/** Whether `text` holds half of a surrogate pair standing alone (no UTF-8 form). */
export function hasLoneSurrogate(text: string): boolean {
  return HAS_LONE_SURROGATE.test(text);
}

/**
 * Removes NUL and other control characters and replaces lone surrogates with U+FFFD, so a stored
 * string is valid UTF-8 and an insert never fails on it (C16 (g)). ZWJ and variation selectors are
 * kept: they are part of emoji such as `👩🏽‍⚕️`.
 */
export function stripControl(text: string): string {
  // Nearly every text has neither: one scan instead of two replacements.
  if (!SUSPECT.test(text)) return text;

  return text.replace(CONTROL, '').replace(LONE_SURROGATE, '\ufffd');
}

// Characters that show as nothing: format characters (zero-width space, direction marks, word
// joiner, byte order mark, soft hyphen), Hangul fillers, the blank Braille pattern, the combining
// grapheme joiner, Khmer's invisible vowels. Zero-width joiner and non-joiner stay: emoji and
// Persian need them.
const HIDDEN = /(?![\u200c\u200d])\p{Cf}|[\u115f\u1160\u3164\uffa0\u2800]|\u034f|\u17b4|\u17b5/gu;

/**
 * `stripControl`, and the invisible format characters a label does not need: `spring`,
 * `\u200bspring` and `spring\u200f` are one campaign, not three rows that look alike (QA).
 */
export function stripHidden(text: string): string {
  return stripControl(text).replace(HIDDEN, '');
}

// Every character that shows as nothing, the joiners included.
const INVISIBLE = /\p{Cf}|[\u115f\u1160\u3164\uffa0\u2800]|\u034f|\u17b4|\u17b5/gu;
const NOT_ASCII = /[\u0080-\uffff]/;

/**
 * The text without any character that shows as nothing: what a name is compared by, so that
 * `portal\u200b` is the `portal` a rule names (fifteenth session's QA).
 */
export function withoutInvisible(text: string): string {
  return NOT_ASCII.test(text) ? text.replace(INVISIBLE, '') : text;
}

/** Cuts to at most `max` UTF-16 units without splitting a surrogate pair. */
export function truncateCodePoints(text: string, max: number): string {
  if (text.length <= max) return text;

  const last = text.charCodeAt(max - 1);
  const end = last >= 0xd800 && last <= 0xdbff ? max - 1 : max;

  return text.slice(0, end);
}
