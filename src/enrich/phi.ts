import type { SiteSettings } from '../domain/site.js';
import { decodeQueryComponent, safeDecode, stripControl, truncateCodePoints } from './text.js';

/**
 * The PHI firewall's detectors. HHS lists e-mail addresses, phone numbers, SSNs and medical record
 * numbers among the identifiers a tracker must not disclose (45 CFR 164.514(b)(2)(i)); they end up
 * in URLs through forms that submit with GET, password-reset links and portal routes. Anything
 * that looks like one is replaced by `[redacted]` before an event goes further.
 *
 * What is caught: e-mail addresses (Unicode too), US phone numbers in the usual layouts, `+`
 * international numbers of 8+ digits, SSNs with separators, and any run of 6 or more digits
 * (MRNs, account and card numbers, bare SSNs, phone numbers without separators). What is not:
 * names, street addresses and dates, which no pattern can tell from ordinary words; those are kept
 * out by the parameter allowlist, `pathRules` and `countOnly` sections instead.
 *
 * Every pattern is bounded so the cost stays linear on a 10 KB hostile string.
 */
export const REDACTED = '[redacted]';

// An address is found from its `@`: the domain is matched forwards (sticky, bounded labels), the
// local part widened backwards, so the cost stays linear however many `@` or letters there are.
const EMAIL_DOMAIN = /[\p{L}\p{N}-]{1,63}(?:\.[\p{L}\p{N}-]{1,63}){1,8}/uy;
const EMAIL_LOCAL = /[\p{L}\p{N}._%+'-]/u;
const SSN = /(?<!\d)\d{3}([- .])\d{2}\1\d{4}(?!\d)/g;
const US_PHONE = /(?<![\d+])(?:\+?1[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}(?!\d)/g;
const INTL_PHONE = /\+\d{1,3}(?:[ .+-]\(?\d{1,5}\)?){1,6}(?!\d)|\+\d{7,15}(?!\d)/g;
const DIGIT_RUN = /\d{6,}/g;
const MIN_INTL_DIGITS = 8;

const MAYBE_PHI = /[\d@]/;

function redactEmails(text: string): string {
  let out = '';
  let last = 0;
  let at = text.indexOf('@');
  while (at !== -1) {
    EMAIL_DOMAIN.lastIndex = at + 1;
    const domain = EMAIL_DOMAIN.exec(text);
    let start = at;
    if (domain) {
      while (start > last && EMAIL_LOCAL.test(text.charAt(start - 1))) start--;
    }

    if (!domain || start === at) {
      at = text.indexOf('@', at + 1);
      continue;
    }

    out += text.slice(last, start) + REDACTED;
    last = at + 1 + domain[0].length;
    at = text.indexOf('@', last);
  }

  return last === 0 ? text : out + text.slice(last);
}

function redactIntlPhones(text: string): string {
  if (!text.includes('+')) return text;

  return text.replace(INTL_PHONE, (match) =>
    match.replace(/\D/g, '').length >= MIN_INTL_DIGITS ? REDACTED : match,
  );
}

/**
 * Replaces every PHI-looking span in `text` with `[redacted]`, looking at the text as given (no
 * decoding). URL parts go through `componentHasPhi`, which also looks at decoded forms.
 */
export function redactPhi(text: string): string {
  if (!MAYBE_PHI.test(text)) return text;

  const noEmail = redactEmails(text);
  const noSsn = noEmail.replace(SSN, REDACTED).replace(US_PHONE, REDACTED);

  return redactIntlPhones(noSsn).replace(DIGIT_RUN, REDACTED);
}

export function hasPhi(text: string): boolean {
  return redactPhi(text) !== text;
}

/**
 * True when a raw URL component holds PHI as sent, once decoded or twice decoded: a form that
 * encodes `@` as `%40` and a redirect that encodes it again as `%2540` are both caught (C13).
 * `inQuery` turns `+` into a space for the decoded forms (the raw form keeps it, so `+44+20...`
 * still reads as a phone number). Control characters are removed from every form first, so a
 * `%00` inside an address cannot split it out of sight.
 */
export function componentHasPhi(raw: string, inQuery: boolean): boolean {
  const clean = stripControl(raw);
  if (hasPhi(clean)) return true;
  if (!clean.includes('%') && !(inQuery && clean.includes('+'))) return false;

  const once = stripControl(inQuery ? decodeQueryComponent(clean) : safeDecode(clean));
  if (once !== clean && hasPhi(once)) return true;
  if (!once.includes('%')) return false;

  const twice = stripControl(safeDecode(once));

  return twice !== once && hasPhi(twice);
}

/**
 * Scrubs free text (a title, an event property): control characters removed, PHI spans replaced.
 * When the text hides PHI behind one or two layers of percent-encoding, the decoded text is
 * scrubbed and returned instead.
 *
 * @example
 * scrubText('Results for pat.doe@mail.test'); // 'Results for [redacted]'
 */
export function scrubText(text: string): string {
  let out = redactPhi(stripControl(text));
  let form = out;
  for (let round = 0; round < 2 && form.includes('%'); round++) {
    const decoded = stripControl(safeDecode(form));
    if (decoded === form) break;

    const scrubbed = redactPhi(decoded);
    form = scrubbed;
    if (scrubbed !== decoded) out = scrubbed;
  }

  return out;
}

/**
 * Names whose value is personal or a credential whatever a site's allowlist says. Compared after
 * lower-casing and dropping everything but letters and digits, so `E-Mail`, `e_mail` and `email`
 * are one name. Vendor ids that identify a person (Mailchimp `mc_eid`, Marketo `mkt_tok`, HubSpot
 * `_hsenc`) are here too.
 */
export const BUILT_IN_SENSITIVE_NAMES: ReadonlySet<string> = new Set([
  'email',
  'emailaddress',
  'mail',
  'phone',
  'phonenumber',
  'tel',
  'telephone',
  'mobile',
  'cell',
  'fax',
  'ssn',
  'socialsecurity',
  'mrn',
  'medicalrecord',
  'medicalrecordnumber',
  'patient',
  'patientid',
  'patientname',
  'dob',
  'dateofbirth',
  'birthdate',
  'birthday',
  'name',
  'firstname',
  'lastname',
  'fullname',
  'surname',
  'address',
  'street',
  'zip',
  'zipcode',
  'postcode',
  'postalcode',
  'password',
  'passwd',
  'pwd',
  'secret',
  'token',
  'accesstoken',
  'idtoken',
  'refreshtoken',
  'authtoken',
  'auth',
  'authorization',
  'apikey',
  'session',
  'sessionid',
  'sid',
  'mceid',
  'mkttok',
  'hsenc',
  'hsmi',
  'veroid',
  'olyencid',
]);

/** Folds a parameter or property name for comparison with the sensitive and allow lists. */
export function foldName(name: string): string {
  return name.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
}

export function isBuiltInSensitive(name: string): boolean {
  return BUILT_IN_SENSITIVE_NAMES.has(foldName(name));
}

export const PROPS_MAX_KEYS = 20;
export const PROP_KEY_MAX = 64;
export const PROP_VALUE_MAX = 256;
export const TITLE_MAX = 256;

export type PropValue = string | number | boolean;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function scrubPropValue(key: string, value: unknown): PropValue | undefined {
  if (typeof value === 'boolean') return value;

  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    if (isBuiltInSensitive(key) || hasPhi(String(value))) return REDACTED;

    return value;
  }

  if (typeof value !== 'string') return undefined;
  if (isBuiltInSensitive(key)) return REDACTED;

  return truncateCodePoints(scrubText(value), PROP_VALUE_MAX);
}

/**
 * Bounds and scrubs custom event properties: at most 20 keys (first ones kept), keys up to 64
 * characters, strings up to 256. Only strings, finite numbers and booleans survive; objects,
 * arrays and null are dropped. A key that itself holds PHI is dropped; a key on the built-in
 * sensitive list keeps its name but its value is `[redacted]`; a number whose digits look like an
 * identifier (6+ in a row) becomes `[redacted]` too.
 *
 * @example
 * scrubProps({ plan: 'gold', email: 'a@b.test', n: {} }); // { plan: 'gold', email: '[redacted]' }
 */
export function scrubProps(props: Record<string, unknown>): Record<string, PropValue> {
  const out = new Map<string, PropValue>();
  for (const [rawKey, value] of Object.entries(props)) {
    if (out.size >= PROPS_MAX_KEYS) break;

    const key = truncateCodePoints(stripControl(rawKey).trim(), PROP_KEY_MAX);
    if (key === '' || FORBIDDEN_KEYS.has(key) || componentHasPhi(key, false)) continue;

    const clean = scrubPropValue(key, value);
    if (clean !== undefined) out.set(key, clean);
  }

  return Object.fromEntries(out);
}

/**
 * The page title to store: `null` unless the site enabled titles (they often carry a patient's
 * or a doctor's name, so they are off by default) or the page is in a count-only section;
 * otherwise scrubbed and cut to 256 characters.
 */
export function sanitizeTitle(
  title: string | null | undefined,
  settings: Pick<SiteSettings, 'pageTitles'>,
  opts: { countOnly?: boolean } = {},
): string | null {
  if (!settings.pageTitles || opts.countOnly || typeof title !== 'string') return null;

  const clean = truncateCodePoints(scrubText(title).trim(), TITLE_MAX);

  return clean === '' ? null : clean;
}
