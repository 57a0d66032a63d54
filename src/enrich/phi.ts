import { domainToUnicode } from 'node:url';

import { parse } from 'tldts';

import { isBuiltInSensitive } from '../domain/sensitive-names.js';
import type { SiteSettings } from '../domain/site.js';
import { findCareDates, monthDay, validDay } from './care-dates.js';
import { findJsonRecords } from './json-records.js';
import { parseIp } from './ip.js';
import {
  safeDecode,
  stripControl,
  truncateCodePoints,
  unescapeMarkup,
  unescapeScript,
} from './text.js';

/**
 * The PHI firewall's detectors. HHS lists e-mail addresses, phone numbers, SSNs, medical record
 * numbers, account numbers and IP addresses among the identifiers a tracker must not disclose
 * (45 CFR 164.514(b)(2)(i)); they end up in URLs through forms that submit with GET,
 * password-reset links, portal routes and support tools. Anything that looks like one is replaced
 * by `[redacted]` before an event goes further.
 *
 * What is caught: e-mail addresses (Unicode too, IP-literal domains too), IPv4 and IPv6 literals
 * (compressed, mixed, IPv4-mapped, bracketed, upper or lower case), payment card numbers written
 * in groups separated by single spaces or dashes, US phone numbers in the usual layouts, `+`
 * international numbers of 8+ digits, SSNs with separators, and any run of 6 or more digits
 * (MRNs, account and card numbers, bare SSNs, phone numbers without separators). Detection also
 * runs on a folded form of the text (NFKC, invisible characters dropped, other scripts' dashes,
 * full stops and digits made ASCII), so full-width `＠`, `４１１１`, an en dash or a zero-width
 * space inside an address are caught like the plain text. What is not: names, street addresses
 * and dates, which no pattern can tell from ordinary words; those are kept out by the parameter
 * allowlist, `pathRules` and `countOnly` sections instead. Nor are `inet_aton` shorthands such
 * as `127.1` or `10.0.1`: they read like version numbers, and redacting every version would make
 * reports useless.
 *
 * Every pattern is bounded so the cost stays linear on a 10 KB hostile string.
 */
export const REDACTED = '[redacted]';

// An address is found from its `@`: the domain is matched forwards (sticky, bounded labels), the
// local part widened backwards, so the cost stays linear however many `@` or letters there are.
const EMAIL_DOMAIN =
  /[\p{L}\p{N}-]{1,63}(?:\.[\p{L}\p{N}-]{1,63}){1,8}|\[[\p{N}A-Fa-f:.]{2,45}\]/uy;
// A quoted local part (`"pat.doe"@mail.test`) is widened over its quotes too, and every
// character RFC 5322 allows unquoted is part of it (`jane!doe@`, QA) but `/`, which in a path
// or a link parts a segment from the next.
const EMAIL_LOCAL = /[\p{L}\p{N}._%+'"!#$&*=?^`{|}~-]/u;
// Between the groups of a number: one to six of `-._+/,|;~*\\` (`617--555--0123`, `4111..1111`,
// QA), with up to three spaces either side (`123 - 45 - 6789`, `555+234+5678` as a query writes
// spaces), or one to eight spaces alone (QA). Not `:`, which joins times and ports
// (`203.0.113.50:8080`).
const JOIN = '(?: {0,3}[-._+/,|;~*\\\\]{1,6} {0,3}| {1,8})';
const SSN = new RegExp(`(?<!\\d)\\d{3}${JOIN}\\d{2}${JOIN}\\d{4}(?!\\d)`, 'g');
// By colons too in an SSN's own layout, three, two and four, which no time and no address has
// (`/x/123:45:6789`, QA); not inside a longer run of colons and figures (an IPv6 address).
const SSN_COLONS = /(?<![\d:.])\d{3}:\d{2}:\d{4}(?![\d:])/g;
// A unit after the last figure makes a run of figures a dose or a measure (`500/750/1000 mg`,
// `400, 800, 1000 IU`, `Doses 250 500 1000 mg`, `Hz`), never a phone number (QA).
const UNIT_NAMES = 'mg|mcg|µg|ml|iu|g|kg|lbs?|mm|cm|km|mi|kcal|cal|%|hz|khz|db|mmhg';
const UNIT = ` ?(?:${UNIT_NAMES})(?![\\p{L}\\p{N}])`;
// US numbers in their usual layouts: groups joined by nothing or one of ` ._-`, the area code
// in parentheses or not.
const TIGHT = '[ ._-]?';
const US_PHONE = new RegExp(
  `(?<![\\d+])(?:\\+?1${TIGHT})?(?:\\(\\d{3}\\)|\\d{3}\\)?)${TIGHT}\\d{3}${TIGHT}\\d{4}` +
    `(?!\\d|${UNIT})`,
  'giu',
);
// Looser joins (`555/234/5678`, `555, 234, 5678`, spaced or repeated separators) also join lists
// of figures (`100/250/1000 mg`): there only a number whose area code and exchange can exist
// (NANP: neither starts with 0 or 1) counts. Every real number qualifies.
const NANP_GROUP = '[2-9]\\d{2}';
const US_PHONE_LOOSE = new RegExp(
  `(?<![\\d+])(?:\\+?1${JOIN})?(?:\\(${NANP_GROUP}\\)|${NANP_GROUP})` +
    `${JOIN}${NANP_GROUP}${JOIN}\\d{4}(?!\\d|${UNIT})`,
  'giu',
);
// A group follows a separator, or directly a `)`: `+44 (0)20 7946 0958`, `+44/20/7946/0958`.
// The plus may stand apart from the country code, and groups may be joined as loosely as a US
// number's (`+ 44 20 7946 0958`, `+44 - 20 - 7946 - 0958`, QA).
const INTL_JOIN = '(?: {0,3}[.+/,_;-]{1,3} {0,3}| {1,3}|(?<=\\)))';
const INTL_PHONE = new RegExp(
  `\\+ ?\\d{1,3}\\)?(?:${INTL_JOIN}\\(?\\d{1,5}\\)?){1,6}(?!\\d)|\\+\\d{7,15}(?!\\d)`,
  'g',
);
const DIGIT_RUN = /\d{6,}/g;
// A US number digit by digit, as screen-reader labels and forms dodging scrapers write it
// (`6 1 7 5 5 5 0 1 2 3`, `(6 1 7) 5 5 5 - 0 1 2 3`, QA): single digits apart,
// area code and exchange as NANP has them. A countdown or a count (`9 8 7 6 5 4 3 2 1 0`) is not
// one (see `isSpelledPhone`), nor a list of figures with commas (`Scores 3, 5, 2, 8, ...`, QA).
const SPELL = '[\\s.()-]{1,4}';
const SPELLED_PHONE = new RegExp(
  `(?<![\\d.-])(?:\\(\\s?)?(?:1${SPELL})?[2-9](?:${SPELL}\\d){2}${SPELL}[2-9](?:${SPELL}\\d){6}` +
    '(?![\\s.-]{0,2}\\d)',
  'g',
);
// An address with its `@` or dots written otherwise to dodge scrapers (`pat.doe(at)mail.test`,
// `pat.doe [at] mail [dot] test`, `pat.doe[@]gmail[.]com`, QA), or in words (`pat.doe at gmail
// dot com`: with a dot spelt out too, and a local part that is no plain word, so `shots at cvs
// dot com` stays). Either way the domain must end in a country's suffix, a generic one that
// addresses use (`.com`, `.org`, `.gov`...) or a reserved one (`.test`), so `Flu shots (at)
// St.Lukes.Clinic` and `spring(at)home.2024` stay (see `isWordedDomain`). Dashed forms (`-at-`)
// are left out: slugs are written so, and reading them cost a hostile text seconds (QA).
const OPEN = '[(\\[{<\\uff08\\uff3b\\u3010]';
const CLOSE = '[)\\]}>\\uff09\\uff3d\\u3011]';
const WORD_AT = `\\s{0,3}(?:${OPEN}\\s{0,2}(?:at|@)\\s{0,2}${CLOSE}|@)\\s{0,3}`;
const WRITTEN_DOT = `${OPEN}\\s{0,2}(?:dot|\\.)\\s{0,2}${CLOSE}`;
// A dot spelt out after a real `@` too (`pat.doe@gmail dot com`, QA).
const WORD_DOT = `(?:\\s{0,2}\\.\\s{0,2}|\\s{0,2}${WRITTEN_DOT}\\s{0,2}| dot )`;
const LABEL = '[\\p{L}\\p{N}-]{1,63}';
// Found from the `@` or `at` written otherwise, the local part widened backwards and the domain
// matched forwards (sticky), as for plain addresses: an unanchored pattern tried a local part at
// every position, 64 characters each (QA: hundreds of ms on 8 KB).
const WORDED_AT = new RegExp(WORD_AT, 'giu');
const WORDED_DOMAIN = new RegExp(`${LABEL}(?:${WORD_DOT}${LABEL}){1,8}`, 'iuy');
const SPOKEN_AT = / at /gi;
const SPOKEN_DOMAIN = new RegExp(`${LABEL}(?: dot ${LABEL}){1,8}`, 'iuy');
const LOCAL_PART = /[\p{L}\p{N}._%+-]/u;
// A local part that is a plain word (`shots at cvs dot com`) makes a spoken form prose.
const PLAIN_WORD = /^\p{L}+$/u;
// Spaces around a dot of the domain alone count too (`pat.doe@gmail . com`, QA).
const MAYBE_WORDED = new RegExp(
  '(?:at|dot)\\s{0,2}[)\\]}>\\uff09\\uff3d\\u3011]|\\s@|@\\s|[@.]\\s{0,2}[)\\]]| dot |' +
    '@[\\w-]{1,63}(?:\\s{1,2}\\.|\\.\\s)',
  'i',
);
// Generic suffixes addresses are written with; a country's two letters count too. The newer
// ones are ordinary words (`.clinic`, `.hospital`, `.center`) that event titles use (QA).
const ADDRESS_SUFFIXES: ReadonlySet<string> = new Set(
  'com org net edu gov mil int info biz name pro mobi io me co health'.split(' '),
);
// Suffixes kept for documentation and tests (RFC 2606): no registry lists them.
const RESERVED_SUFFIXES: ReadonlySet<string> = new Set(['test', 'example', 'invalid', 'localhost']);
// A lab's labels, among the labels of numbers (NUMBER_LABELS) and of care (CARE_LABELS) alike.
// A requisition only as a lab's: careers pages number their job openings so (`Requisition ID
// 48213`, QA).
const LAB_LABELS = [
  'accession',
  'specimen',
  'lab requisition',
  'lab-requisition',
  'lab_requisition',
  'lab order',
  'lab-order',
  'lab_order',
  'laborder',
];
// Social Security spelt out, as forms and slugs join it; a label of numbers and of records.
const SOCIAL_SECURITY = ['social security', 'social-security', 'social_security', 'socialsecurity'];
// A number in groups after the label that says what it is (`MRN 1234-5678`, `Meeting ID: 812
// 3456 7890`, `Policy ABC 123 456 789`, QA): six digits or more, whatever the layout, the label
// joined to it as slugs and form fields join them (`MRN-1234-5678`, `member_id=1234 5678`,
// `policy_num=`, `MedicalRecordNumber-...`). Matched forwards from the label with every gap
// bounded: a look-behind with open-ended gaps was tried at each position of the text and took
// seconds on a run of spaces or escapes (QA). A list of years, a month of a year, and an
// event's date (`meeting-2025-06-14-minutes`, see `isEventDate`) are not numbers of that kind.
const NUMBER_LABELS = [
  'mrn',
  'record',
  'chart',
  'acct',
  'account',
  'policy',
  'member',
  'subscriber',
  'patient',
  'meeting',
  'webinar',
  'case',
  'claim',
  'encounter',
  'visit',
  'fin',
  'pid',
  'pt',
  'ehr',
  'emr',
  'medrec',
  'insurance',
  'group',
  'invoice',
  'bill',
  'guarantor',
  'rx',
  'prescription',
  ...LAB_LABELS,
  'ssn',
  ...SOCIAL_SECURITY,
  'socialSecurity',
  'dob',
  'birth',
  'birthday',
  'birthdate',
];
const capitalised = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);
const titleCased = (word: string): string =>
  word.replace(/(^|[ _-])([a-z])/g, (_, gap: string, letter: string) => gap + letter.toUpperCase());
const isTwoWords = (word: string): boolean => /[ _-]/.test(word);
// Two-word labels in title case (`Social Security`, `Social-Security-Number`), as forms write them.
const TITLE_CASE = NUMBER_LABELS.filter(isTwoWords).map(titleCased);
const LABEL_WORD = [
  ...NUMBER_LABELS,
  ...NUMBER_LABELS.map(capitalised),
  ...NUMBER_LABELS.map((word) => word.toUpperCase()),
  ...TITLE_CASE,
].join('|');
const GAP = '[\\s_.-]{0,3}';
// A label and its number quoted apart, as JSON and forms write them (`{"mrn":"48213"}`,
// `MRN <48213>`, fifteenth session's QA): a quote that closes the label, one that opens the number.
const CLOSER = `["'\u2019\u201d]?`;
const OPENER = `[(\\[{<"'\u2018\u201c]?`;
const LABELLED_NUMBER = new RegExp(
  // A label starts a word, or a capitalised one follows a lower-case letter (camel case).
  `(?:(?<![A-Za-z])(?:${LABEL_WORD})|(?<=[a-z])(?:${NUMBER_LABELS.map(capitalised).join('|')}))` +
    // ...and ends it, or runs on into an id word (`memberid`): `Final`, `Financial` and
    // `Visitation` are no `fin` or `visit` label (QA).
    '(?:s|S)?(?:(?![a-z])|(?=id|no|num|nbr))' +
    `(?:${GAP}(?:id|Id|ID|no|No|NO|num|Num|NUM|number|Number|NUMBER|nbr|#)\\.?)?` +
    `${CLOSER}${GAP}[:#=|~]?${GAP}${OPENER}(?:[A-Za-z]{2,8}[\\s_.-]{1,3})?` +
    '(\\d(?:[\\s._/,;-]{0,3}\\d){5,})(?!\\d)',
  'gd',
);
// Four or five digits are a person's record number too where nothing else can be meant (QA):
// after a label that names only such a record (`MRN 48213`, `mrn-48213`, `Encounter 48213`,
// `medical record 48213`), or after a label of a person's record with an id word (`Patient
// #48213`, `member no. 4821`, `MR# 48213`, `Patient n° 48213`), letters before the digits
// included (`MRN A48213`, `patient id: PT48213`). Labels of documents and events (`Bill No.
// 1234`, `Policy #4021`, `Webinar #1234`, `Case No. 1234`) and system names (`EMR 10000 users`)
// keep theirs, and so does a year (`MRN 2025`). An SSN's last four goes too, named
// (`ssn_last4=6789`, `SSN ending in 4821`, LAST_FOUR) or masked (`***-**-4821`, MASKED_SSN).
const RECORD_ONLY = [
  'mrn',
  'm\\.r\\.n\\.?',
  'medrec',
  'medRec',
  'med rec',
  'med-rec',
  'med_rec',
  'med\\. rec\\.',
  'med\\.rec\\.?',
  'med\\.Rec\\.?',
  // An enterprise master patient index's number (QA).
  'empi',
  'e\\.m\\.p\\.i\\.?',
  'ssn',
  'encounter',
  'medical record',
  'medical-record',
  'medical_record',
  'medicalrecord',
  // As JSON keys and form fields name it (`{"medicalRecordNumber":"48213"}`).
  'medicalRecord',
  // A health or patient record's number, in a slug too (`/t/health-record-48213`, QA).
  ...['health', 'patient'].flatMap((word) => [
    `${word} record`,
    `${word}-record`,
    `${word}_record`,
    `${word}record`,
    `${word}Record`,
  ]),
  ...SOCIAL_SECURITY,
];
const PERSON_LABELS = [
  'patient',
  // `Hospital number 48213`, as British and Irish hospitals name a patient's number, and the
  // enterprise id of a master patient index (QA).
  'hospital',
  'enterprise',
  'pt',
  'pid',
  'member',
  'subscriber',
  'guarantor',
  'acct',
  'account',
  'chart',
  'record',
  'mr',
  'fin',
];
// A visit's, a claim's, a lab specimen's or order's and a prescription's numbers identify a
// person as an account number does (45 CFR 164.514(b)(2)(i)), so four or five digits go after
// these labels too, but only behind an id word (`Visit ID 48213`, `Claim #48213`, `Accession No.
// A48213`, `Rx# 48213`): each label also heads words about no one (`Visit us at 1234 Main St`,
// `Claim your free screening 2025`, `Rx 30/60/90`). A lab alone is a room or a team (`Lab 1234`)
// and an order alone a shop's, so neither is one.
const CARE_LABELS = ['visit', 'claim', ...LAB_LABELS, 'rx', 'prescription'];
// The labels of a person's record that need no id word (`patient-48213`, `Account 48213` in a
// path, fresh-clone QA): four or five digits right after one singular label, in one run, are the
// person's number (BARE_LABELLED_NUMBER). Plurals and other words keep theirs (`Patients 1500`,
// `patients-1500`, `Patient Stories 2024`), and so do figures joined by a separator (`Chart 1,000
// steps`, `Patient 18-65`, `Account 20/20`), a measure (`patient 1000 ml`), years and a count
// with a year. Not `pt`: physical therapy writes its codes after it (`PT 97110`, QA). A claim's
// number is an account's (`claim-48213` in a slug, `Claim 48213 status`); its label's other
// uses carry a year, a form or a round figure (`Claim your 2025 benefits`, `claim-2500-bonus`).
const BARE_PERSON_LABELS = [
  'patient',
  'pid',
  'chart',
  'acct',
  'account',
  'guarantor',
  'subscriber',
  'claim',
];
// Every label as forms write it: lower case, capitalised, upper case, and two words in title
// case (`Medical Record 48213`, `Lab Order #4821`).
const anyCase = (words: readonly string[]): string =>
  [
    ...new Set([
      ...words,
      ...words.map(capitalised),
      ...words.filter(isTwoWords).map(titleCased),
      ...words.map((word) => word.toUpperCase()),
    ]),
  ].join('|');
const ID_WORD =
  '(?:id|Id|ID|no|No|NO|num|Num|NUM|number|Number|NUMBER|nbr|Nbr|NBR|nr|Nr|NR|ref|Ref|REF|' +
  'identifier|Identifier|n°|N°|nº|Nº|#)';
// A label starts a word. Not a camelCase hump: names such as `MyChart` (Epic's patient portal),
// `GoodRx` and `TeamMember` are followed by counts and prices (QA).
const labelStart = (words: readonly string[]): string => `(?<![A-Za-z])(?:${anyCase(words)})`;
// Between a label and its number: a quote that closes the label, spaces and the marks forms and
// slugs put there, up to two of `:#=|~>` (`patient: # 48213`, `MRN|48213`, `"mrn"=>"48213"`),
// and then (OPENER) a bracket or quote that opens the number (`Patient # (48213)`, `claim no.
// "48213"`, QA).
const LABEL_GAP = `${CLOSER}${GAP}[:#=|~>]?${GAP}(?:[:#=|~>]${GAP})?`;
// How forms name a number's last four (`SSN ending in 4821`, `ssnLast4`, `SSN (last four
// digits): 4821`, `Account ending 4821`).
const LAST_FOUR =
  '\\(?(?:[Ll]ast[\\s_-]?(?:4|four)(?:[\\s_-]digits)?|ending(?:[\\s_-](?:in|with))?|' +
  'ends[\\s_-](?:in|with))\\)?';
// The last four of an SSN behind a mask of letters x, hashes, stars or the dots and shapes that
// password fields and statements draw (`***-**-4821`, `xxx-xx-4821`, `•••-••-4821`, `●●●-●●-4821`,
// QA: bullets, circles, middle and operator dots, stars, squares). The groups are apart, by up
// to three spaces or a mark, or one run right before the digits, so a rating's run of stars
// before a count is none (`***** 4500 reviews`); after an SSN's label the mask needs no layout
// (`SSN ••••4821`, SHORT_LABELLED_NUMBER).
// Every group has a fixed length, so a long run of mask characters costs one short try at each.
const MASK =
  '[*\u2022\u25cf\u00b7\u2217\uff0a\u2219\u22c5\u204e\u2731\u2732\u26ab\u25e6\u25cb' +
  '\u25c9\u25a0\u25aa\u2027\u30fb\uff65\u2981\u2b24\u00d7\u2605\u2606\u2733\u2736' +
  '\u25ef\u25a1\u25fc\u25ab\u25fe\u2715\u2716\u22c6\u25c6\u2666]';
const MASK_JOIN = '(?: {1,3}|\\s{0,2}[-/_.|,;:]\\s{0,2})';
// In its layout, or as one run of exactly five right before the digits (`•••••4821`: an SSN's
// hidden five; cards and bank accounts show four or six and more, `Visa ••••••4242`, QA).
const MASKED_SSN = new RegExp(
  `(?:(?:${MASK}{3}|[xX]{3}|#{3})${MASK_JOIN}(?:${MASK}{2}|[xX]{2}|#{2})${MASK_JOIN}|` +
    `(?<!${MASK})${MASK}{5})(\\d{4})(?!\\d)`,
  'g',
);
// A template of a date or a volume in letters x (`xxx / xx / 2025`, `Vol. xxx. xx. 2024`).
const X_DATE = /^[xX]{3}\s{0,2}[/.]/;
// Epic's contact serial number and hospital account record, in capitals: `har` and `csn` are
// words in other languages (Norwegian `har 2000`). As the quoted key of JSON or a form they name
// nothing else in any case, nor does Cerner's financial number (`{"csn":48213}`, `{"fin":...}`).
const RECORD_ACRONYMS =
  '(?<![A-Za-z])(?:CSN|HAR)|["\'](?:csn|har|fin|Csn|Har|Fin|FIN)(?=["\']\\s{0,2}[:=])';
// A key and the key inside it, as nested JSON writes a label and its id word (`{"patient":{"id":
// 48213}}` says `patient id: 48213`).
const NESTED_KEY = `["']\\s{0,2}:\\s{0,2}\\{\\s{0,2}["']`;
// The labels that say a number is a person's record: a record's own (`MRN`, `EMPI`, `CSN`), or a
// person's, a visit's or a claim's with an id word (`Patient ID`, `member no.`, `Claim #`).
const RECORD_LABEL =
  `(?:(?:${labelStart(RECORD_ONLY)}|${RECORD_ACRONYMS})(?:${GAP}${ID_WORD}\\.?)?` +
  `(?:${GAP}${LAST_FOUR})?|` +
  `${labelStart([...PERSON_LABELS, ...CARE_LABELS])}(?:s|S)?(?:${GAP}|${NESTED_KEY})` +
  `${ID_WORD}\\.?(?:${GAP}${ID_WORD}\\.?)?)` +
  `(?:\\s{1,2}(?:is|was))?`;
const SHORT_LABELLED_NUMBER = new RegExp(
  // Letters before the digits, joined or a capital's prefix apart (`MRN A48213`, `MRN AB
  // 48213`, QA).
  `${RECORD_LABEL}${LABEL_GAP}${OPENER}` +
    `((?:[A-Za-z]{1,3}-?|[A-Z]{1,3}\\s|(?:${MASK}|[xX#]){2,9}[\\s.-]{0,2})?` +
    `\\d(?:[\\s._/,;-]{0,3}\\d){3,4})(?![\\d])`,
  'gd',
);
// An id of letters and digits after the same labels (`MRN: X7Y8Z9`, `Patient ID: PT-00A1B2`,
// `/records/mrn-x7y8z9`, fifteenth session's QA), and after Cerner's financial number in capitals
// (`FIN AB-48213`): letters with the digits make it no year, count or course number, which is
// what keeps four or five digits after a bare `FIN`. Letters and digits in pieces joined by
// dashes, up to a word's end; `alphanumericId` says how much of it is the id.
const LABELLED_ID = new RegExp(
  `(?:${RECORD_LABEL}|(?<![A-Za-z])FIN)${LABEL_GAP}${OPENER}` +
    '(?<![A-Za-z0-9])([A-Za-z0-9]{1,32}(?:-[A-Za-z0-9]{1,32}){0,5})(?![A-Za-z0-9])',
  'gd',
);
// Not before a separator and more figures (`Patient 18-65`, `Account 20/20`, image sizes such as
// `patient-1024x683.jpg`, `patient-2400w.jpg`, `1080p`), nor a unit (`patient 1000 IU`,
// `patient-1000-ml`: checked in any case) or a street (`Patient 1234 Main St`).
// A round hundred is a count, not a person's number (`Chart 1000 steps challenge`, `Account 2500
// points`, QA): one number in a hundred that does end so goes unseen without an id word.
const BARE_LABELLED_NUMBER = new RegExp(
  `${labelStart(BARE_PERSON_LABELS)}(?![A-Za-z])(?:${GAP}${LAST_FOUR})?${LABEL_GAP}${OPENER}` +
    `((?:[A-Za-z]{1,3}-?)?\\d{4,5})(?![\\d]|[.,/-]\\d|[xX\u00d7]\\d|[wWpP](?![A-Za-z]))`,
  'gd',
);
// Five digits joined to `record` or its short form `rec` (`/record-48213`, `rec48213`, QA): no
// year, form or placeholder has five, and six or more go as any run does. `rec` only joined by
// `-`, `_` or nothing, since it starts words (`Rec 12345` may be a centre's programme code);
// `record` by any gap (`Record 48213`). Counts stay as after a bare label (`record 10000 steps`,
// a round hundred).
const RECORD_JOINED = new RegExp(
  `(?:${labelStart(['record'])}(?:s|S)?${LABEL_GAP}${OPENER}|` +
    '(?<![A-Za-z])(?:rec|Rec|REC)[-_]?)(\\d{5})(?!\\d)',
  'gd',
);
// A count of a reward or a programme is no one's number either (`Claim 1750 points`, `claim
// 2750 bonus points`, `Account 4821 miles`, QA): marketing writes `claim` as a verb.
const BARE_UNIT = new RegExp(
  `^[\\s_-]?(?:${UNIT_NAMES}|px|units?|calories?|points?|pts|miles|steps|rewards?|bonus)` +
    '(?![\\p{L}\\p{N}])',
  'iu',
);
// Not `Dr`: a doctor's title follows clinical text (`Patient 48213 Saw Dr. Lee`, QA).
const STREET_TYPES =
  'St|Street|Ave|Avenue|Rd|Road|Blvd|Drive|Ln|Lane|Way|Pkwy|Parkway|Ct|Court|Pl|Hwy';
const BARE_STREET = new RegExp(
  `^[\\s,-]+(?:[NSEW]\\.?\\s+)?(?:[A-Z][a-z]+\\s+){1,2}(?:${STREET_TYPES})\\b`,
);
const ROUND_HUNDRED = /00$/;
// The tax and claim forms a billing page names after a label (`Claim No. 1500 form`, `Claim ID:
// CMS-1500`, `Guarantor 1099 form`), and the placeholders of examples (`Sample Claim #12345`,
// `Rx # 00000`): no person's numbers.
const FORM_NUMBER = /^(?:1040|1095|1098|1099|1450|1500)$/;
const PLACEHOLDER = /^(?:1234|12345|(\d)\1{3,4})$/;
const RECORD_FIRST = new RegExp(`^(?:${anyCase(RECORD_ONLY)})`);

// A date after a label (`Visit 6/14/2025 12pm`, QA) must have a month and day a calendar has,
// and nothing but a second date (a range) or the hour of a time may follow it, so a record
// number laid out like a date (`MRN 12-34-2025`), a claim number that begins with one
// (`2025-06-14-0042`) or a phone number after a date still goes.
const SEP = '[\\s._/,-]{1,3}';
const YEAR = '((?:19|20)\\d\\d)';
const PAIR = '(\\d{1,2})';
const DATES: ReadonlyArray<[RegExp, (parts: string[]) => [number, number]]> = [
  // Year first: 2025-06-14, and year and month alone: 2025-06.
  [new RegExp(`^${YEAR}${SEP}${PAIR}(?:${SEP}${PAIR})?`), (p) => [num(p[2]), num(p[3] ?? '1')]],
  // Year last: 6/14/2025 (month first) or 14/06/2025 (day first), whichever can be.
  [new RegExp(`^${PAIR}${SEP}${PAIR}${SEP}${YEAR}`), (p) => monthDay(num(p[1]), num(p[2]))],
];
// A day and a year after the month's name (`June 14, 2025`).
const DAY_YEAR = new RegExp(`^${PAIR}${SEP}${YEAR}`);
const MONTH_NAME = '(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\\.?';
const MONTH_BEFORE = new RegExp(`${MONTH_NAME}[\\s_.-]*$`, 'i');
// The hour of a time at the end of a date (`18` of `18:00`, `6` of `- 6pm`): only when the text
// after it says it is one, by a `:` and minutes or by am/pm. `2025-06-14-07` is a case number.
const HOUR = /^(?:\s{1,3}|,\s?|T|\s?-\s?)(?:[01]?\d|2[0-3])$/;
const TIME_AFTER = /^(?::[0-5]\d|\s?[ap]\.?m\b)/i;
// The labels a date may follow as an event's or a document's, not a person's.
const EVENT_LABEL = /^(?:meeting|webinar|visit|group|policy)s?$/i;
// Words after a label that tie the date to a person still: the record labels themselves, the
// words for an id, and words of care.
const TIES_TO_PERSON = new RegExp(
  `^(?:(?:${NUMBER_LABELS.join('|')})s?|id|no|num|number|nbr|holder|status|service|` +
    'admit\\w*|admission|discharg\\w*|deceased|death|died|dos)$',
  'i',
);
// The words that say a date is a birth date, in the spellings seen (QA).
const BIRTH_WORDS =
  'dob|d\\.o\\.b\\.?|bday|birth(?:[\\s_-]?(?:day|date))?|date[\\s_-]of[\\s_-]birth|born';
// A birth word before a date makes it PHI whatever the label (`Patient Birthday 03/12/1961`).
const BIRTH = new RegExp(`\\b(?:${BIRTH_WORDS})`, 'i');
const BIRTH_WORD = new RegExp(`^(?:${BIRTH_WORDS})$`, 'i');

/** A path segment that is a birth word alone (`/dob/1980-02-01`): the next segment is a date. */
export function isBirthWord(segment: string): boolean {
  return BIRTH_WORD.test(segment);
}
// A month of a year is no record number after any label (`Invoice 2025-06`).
const YEAR_MONTH = /^(?:19|20)\d\d[-./](?:0?[1-9]|1[0-2])$/;
// A small count and a year (`Webinar #12 2025`, `Visit #3 2024 recap`, QA).
const COUNT_AND_YEAR = /^\d{1,2}[\s,]{1,2}(?:19|20)\d\d$/;
// Day supplies right after a prescription's label (`Rx 30/60/90`, `Rx 7/14/30/90`): small figures
// joined by slashes, which no prescription number is written as. Three that a calendar can read
// as a date, short year included (`Rx 12/14/30`), are a date of care still, and so is anything
// after an id word (`Rx #30/60/90`).
const SUPPLIES = /^\d{1,2}(?:(?: ?[/,-] ?| )\d{1,2}){2,3}$/;
const SUPPLY_LABEL = /^(?:rx|prescription)s?[\s_:-]{0,3}$/i;

const num = (text: string | undefined): number => Number(text ?? 'NaN');

/** Whether `number` after `before` (the label and the gap) is a list of day supplies. */
function isSupplyList(number: string, before: string): boolean {
  if (!SUPPLIES.test(number) || !SUPPLY_LABEL.test(before)) return false;

  const figures = number.split(/\D+/).map(num);
  if (figures.length > 3) return true;

  return !validDay(...monthDay(figures[0] ?? 0, figures[1] ?? 0));
}

/** The length of the date `number` starts with, or 0 when it starts with none. */
function dateLength(number: string, monthNamed: boolean): number {
  for (const [pattern, read] of DATES) {
    const match = pattern.exec(number);
    if (match === null) continue;

    if (validDay(...read(match as unknown as string[]))) return match[0].length;
  }

  const dayYear = monthNamed ? DAY_YEAR.exec(number) : null;
  if (dayYear !== null && num(dayYear[1]) >= 1 && num(dayYear[1]) <= 31) return dayYear[0].length;

  return 0;
}

/**
 * A date or a range of two and nothing else, but the hour of a time when the text after says it
 * is one (`after`).
 */
function isDateText(number: string, monthNamed: boolean, after: string): boolean {
  const first = dateLength(number, monthNamed);
  if (first === 0) return false;

  let rest = number.slice(first);
  const joint = /^\s?-{1,2}\s?|^\s{1,3}/.exec(rest)?.[0];
  const second = joint === undefined ? 0 : dateLength(rest.slice(joint.length), monthNamed);
  if (second > 0) rest = rest.slice((joint as string).length + second);

  return rest === '' || (HOUR.test(rest) && TIME_AFTER.test(after));
}

// A year's quarter or half, either way round (`Q3-2025`, `2025-Q1`, `H2 2025`): a report's, no
// one's id (`FIN Q3-2025 earnings`, `Account # Q4-2025 report`, QA).
const QUARTER_PART = '(?:q[1-4]|h[12])';
const QUARTER = new RegExp(
  `^(?:${QUARTER_PART}[\\s._-]?(?:19|20)\\d\\d|(?:19|20)\\d\\d[\\s._-]?${QUARTER_PART})$`,
  'i',
);

/**
 * A year keeps its figures behind a few letters too (`Patient No-2025`, `MRN v2025`), and so do
 * the numbers of forms and the placeholders of examples (`Claim ID: CMS-1500`, QA), and a quarter
 * (QUARTER).
 */
function keptFigures(number: string): boolean {
  const digits = number.replace(/^[A-Za-z]{1,3}-?/, '');

  return (
    YEARS.test(digits) ||
    FORM_NUMBER.test(digits) ||
    PLACEHOLDER.test(digits) ||
    QUARTER.test(number)
  );
}

// An ordinal, a measure and a word with a small figure are no one's id (`Patient ID 100th`, `Rx #
// 500mg`, `Member ID COVID19`), nor is a quarter (`Claim # 2025-Q1`, QUARTER, in keptFigures);
// nor is anything shorter than five letters and digits.
const NOT_AN_ID = new RegExp(
  `^(?:\\d{1,4}(?:st|nd|rd|th)|\\d{1,6}(?:${UNIT_NAMES}|px)|[A-Za-z]{3,}\\d{1,2})$`,
  'i',
);
const ID_MIN = 5;

/**
 * How much of `token` (pieces of letters and digits joined by dashes, after a record's label) is
 * an id of letters and digits, or 0 when none is: a prefix of up to three letters (`AB-48213`,
 * `PT-00A1B2`), then the pieces that hold a digit. A piece of letters alone ends it, as the rest
 * of a slug does (`mrn-x7y8z9-view`), and words joined to a year are no id (`mrn-lookup-2024`,
 * `patient-id-bands-2025`). Numbers without letters are the numeric rules' to judge.
 */
function alphanumericId(token: string): number {
  const pieces = token.split('-');
  const prefixed = /^[A-Za-z]{1,3}$/.test(pieces[0] as string) ? 1 : 0;
  let end = prefixed;
  while (end < pieces.length && /\d/.test(pieces[end] as string)) end++;
  if (end === prefixed) return 0;

  const id = pieces.slice(0, end).join('-');
  if (!/[A-Za-z]/.test(id) || id.replace(/-/g, '').length < ID_MIN) return 0;
  if (NOT_AN_ID.test(id) || keptFigures(id)) return 0;

  return id.length;
}

/** A number after a bare label that is a count, a measure or a street's (`after` follows it). */
function isCount(number: string, after: string): boolean {
  return ROUND_HUNDRED.test(number) || BARE_UNIT.test(after) || BARE_STREET.test(after);
}

function findLabelledNumbers(text: string, spans: Span[]): void {
  for (const pattern of [SHORT_LABELLED_NUMBER, BARE_LABELLED_NUMBER]) {
    pattern.lastIndex = 0;
    for (let match; (match = pattern.exec(text)) !== null;) {
      const number = match[1] as string;
      const span = match.indices?.[1] as [number, number];
      const counted = COUNT_AND_YEAR.test(number) && !RECORD_FIRST.test(match[0]);
      const after = pattern === BARE_LABELLED_NUMBER ? text.slice(span[1]) : '';
      const measured = pattern === BARE_LABELLED_NUMBER && isCount(number, after);
      if (!keptFigures(number) && !counted && !measured) spans.push(span);
    }
  }

  RECORD_JOINED.lastIndex = 0;
  for (let match; (match = RECORD_JOINED.exec(text)) !== null;) {
    const number = match[1] as string;
    const span = match.indices?.[1] as Span;
    if (!keptFigures(number) && !isCount(number, text.slice(span[1]))) spans.push(span);
  }

  LABELLED_ID.lastIndex = 0;
  for (let match; (match = LABELLED_ID.exec(text)) !== null;) {
    const [start] = match.indices?.[1] as Span;
    const length = alphanumericId(match[1] as string);
    if (length > 0) spans.push([start, start + length]);
  }

  MASKED_SSN.lastIndex = 0;
  for (let match; (match = MASKED_SSN.exec(text)) !== null;) {
    if (X_DATE.test(match[0]) && YEARS.test(match[1] as string)) continue;
    spans.push([match.index, match.index + match[0].length]);
  }

  LABELLED_NUMBER.lastIndex = 0;
  for (let match = LABELLED_NUMBER.exec(text); match !== null; match = LABELLED_NUMBER.exec(text)) {
    const number = match[1] as string;
    const [start, end] = match.indices?.[1] as [number, number];
    const before = text.slice(match.index, start);
    const date =
      !BIRTH.test(before) &&
      isDateText(number, MONTH_BEFORE.test(before), text.slice(end, end + 4));
    const kept =
      YEARS.test(number) ||
      YEAR_MONTH.test(number) ||
      (COUNT_AND_YEAR.test(number) && !RECORD_FIRST.test(before)) ||
      (date && isEventDate(before)) ||
      isSupplyList(number, before);
    if (!kept) spans.push([start, end]);
  }
}

/** Whether the label rules find a record number in `phrase` from `valueStart` on. */
function isRecordPhrase(phrase: string, valueStart: number): boolean {
  const spans: Span[] = [];
  findLabelledNumbers(phrase, spans);

  return spans.some(([start]) => start >= valueStart);
}

/**
 * Whether a date after `before` (the label and what follows it) is an event's or a document's:
 * after an event's label (`Board Meeting - June 14, 2025`), or after a record's with a plain word
 * between (`Medical Records Updated 2025-06-14`). Right after a record's label (`Patient
 * 2025-03-14`), or with another label, an id word or a word of care between (`Patient Record
 * 2019-03-12`, `Claim Number 2025-06-14`, QA), it is a date of a person's care: PHI under Safe
 * Harbor.
 */
function isEventDate(before: string): boolean {
  const [first = '', ...rest] = before.match(/[A-Za-z]+/g) ?? [];
  if (rest.some((word) => TIES_TO_PERSON.test(word))) return false;

  return EVENT_LABEL.test(first) || (rest.at(-1) ?? '').length > 4;
}

// A date after a birth word, in any layout, short years too (`DOB: 3/12/61`, `Birthdate
// 1961-03-12`, `D.O.B. 03/12/1961`, `/dob/1980-02-01`, QA).
const BIRTH_DATE = new RegExp(
  `\\b(?:${BIRTH_WORDS})(?:\\s+(?:is|on))?[\\s_.:#=/;("'\u2018\u2019\u201c\u201d-]{0,4}` +
    `(\\d{1,4}[./-]\\d{1,2}[./-]\\d{2,4}|\\d{1,2}[\\s-]${MONTH_NAME}[\\s,-]{1,2}\\d{2,4}|` +
    `${MONTH_NAME}\\s\\d{1,2},?\\s\\d{2,4})(?!\\d)`,
  'dgi',
);

function findBirthDates(text: string, spans: Span[]): void {
  BIRTH_DATE.lastIndex = 0;
  for (let match = BIRTH_DATE.exec(text); match !== null; match = BIRTH_DATE.exec(text)) {
    const date = match.indices?.[1] as [number, number];
    // Over path segments (joined by `;`, see url.ts) the word goes too: the span must reach
    // both segments for the path to know the date is a birth date.
    spans.push(match[0].includes(';') ? [match.index, date[1]] : date);
  }
}

// A meeting id in its own layout (`812-3456-7890`, `812 3456 7890`): three, four and four digits.
// Joined by dashes, dots or spaces only: `150, 1000, 1500` is a list of sizes.
const MEETING_JOIN = '(?: {0,3}[-._]{1,3} {0,3}| {1,3})';
const MEETING_ID = new RegExp(
  `(?<![\\d+])\\d{3}${MEETING_JOIN}\\d{4}${MEETING_JOIN}\\d{4}(?!\\d|${UNIT})`,
  'giu',
);
const MIN_INTL_DIGITS = 8;
// A Medicare Beneficiary Identifier (CMS): eleven places of set kinds, parts after the fourth
// and the seventh; its letters leave out S, L, O, I, B and Z.
const MBI_LETTER = '[AC-HJKMNP-RT-Y]';
const MBI_PLACE = '[AC-HJKMNP-RT-Y0-9]';
// Written with dashes, spaces, dots or underscores between its parts, or none (QA).
const MBI_GAP = '[\\s._-]{0,2}';
const MBI = new RegExp(
  `(?<![\\p{L}\\p{N}])[1-9]${MBI_LETTER}${MBI_PLACE}\\d${MBI_GAP}${MBI_LETTER}${MBI_PLACE}\\d` +
    MBI_GAP +
    `${MBI_LETTER}{2}\\d{2}(?![\\p{L}\\p{N}])`,
  'giu',
);

// Exactly four parts of 0-255 (leading zeros allowed, as some logs pad them): with a fifth part or
// a digit next to it the text is a version or an OID, and `1.2.3` or `12.10.2025` never match.
const V4_PART = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|0?\\d?\\d)';
const IPV4 = new RegExp(`(?<!\\d|\\d\\.)${V4_PART}(?:\\.${V4_PART}){3}(?!\\d|\\.\\d)`, 'g');

// IPv6 candidates are maximal runs of hex digits, `:` and `.` (the dotted tail of a mapped
// address); each run is checked by the strict parser in ip.ts, so `std::vector`, `10:30:00` and
// MAC addresses stay as they are. Longer runs than an address can be are not addresses.
const HEX_RUN = /[\dA-Fa-f:.]+/g;
const IPV6_RUN_MAX = 48;
const WORD_CHAR = /[\p{L}\p{N}_]/u;

// 13 to 19 digits in groups of 3-6 (a 13-digit Visa may end in a group of one or two) separated
// like the groups of an SSN: 4-4-4-4, Amex 4-6-5, Diners 4-6-4, 4-4-4-4-3. A plain run is
// already caught by DIGIT_RUN. No card check (Luhn) for the usual layouts: an order number
// written so is redacted too, as the same number without separators would be, and a long number
// goes whole rather than in phone-number pieces.
const CARD = new RegExp(`(?<!\\d)\\d{3,6}(?:${JOIN}\\d{3,6}){1,5}(?:${JOIN}\\d{1,2})?(?!\\d)`, 'g');

// `Archive 2021 2022 2023 2024` is a list of years, not a card number.
const YEARS = /^(?:(?:19|20)\d\d[ .-]?)+$/;
const CARD_MIN_DIGITS = 13;
// With looser joins than a single space, dash or dot, a list of figures (`100, 250, 500, 1000,
// 2500`) would pass for a card number: there the digits must pass the card check, as every real
// card number does.
const TIGHT_CARD = /^\d+(?:[ .-]\d+)*$/;

const MAYBE_PHI = /[\d@:]/;
// eslint-disable-next-line no-control-regex -- ASCII text is its own NFKC form.
const NON_ASCII = /[^\u0000-\u007f]/;

/** A PHI span as `[start, end)` offsets into the text the detectors looked at. */
type Span = [number, number];

function findEmails(text: string, spans: Span[]): void {
  let last = 0;
  let at = text.indexOf('@');
  while (at !== -1) {
    // A space or two either side of the `@` is how addresses are written to dodge scrapers (QA).
    const after = at + 1 + spacesAt(text, at + 1, 1);
    EMAIL_DOMAIN.lastIndex = after;
    const domain = EMAIL_DOMAIN.exec(text);
    const before = at - spacesAt(text, at - 1, -1);
    let start = before;
    if (domain) {
      // A quoted local part may hold spaces (`"pat doe"@mail.test`): it goes whole.
      const open = text.charAt(before - 1) === '"' ? text.lastIndexOf('"', before - 2) : -1;
      if (open >= last && before - open <= 66) start = open;
      while (start > last && EMAIL_LOCAL.test(text.charAt(start - 1))) start--;
    }

    // `hero@2x.png`: an image for a screen of twice the density, not an address (QA).
    if (!domain || start === before || DENSITY.test(domain[0])) {
      at = text.indexOf('@', at + 1);
      continue;
    }

    last = after + domain[0].length;
    spans.push([start, last]);
    at = text.indexOf('@', last);
  }
}

const DENSITY = /^\d(?:\.\d+)?x\.[a-z]{3,4}$/i;

/** How many spaces, at most two, stand at `from` going in `step`'s direction. */
function spacesAt(text: string, from: number, step: 1 | -1): number {
  let count = 0;
  while (count < 2 && text.charAt(from + count * step) === ' ') count++;

  return count;
}

/** True when `text.slice(start, end)` is an IPv6 address standing on its own, not in a word. */
function isIpv6At(text: string, start: number, end: number): boolean {
  const candidate = text.slice(start, end);
  if (candidate.indexOf(':') === candidate.lastIndexOf(':')) return false;
  // parseIp reports `::ffff:203.0.113.50` as family 4: it is an address either way.
  if (!/[\dA-Fa-f]/.test(candidate) || parseIp(candidate) === null) return false;

  return !WORD_CHAR.test(text.charAt(start - 1)) && !WORD_CHAR.test(text.charAt(end));
}

/**
 * The run `text.slice(start, end)` without its leading full stops and its trailing full stops
 * and colons, however many (`2001:db8::1......`, QA). Trimmed by hand: `/[.:]+$/` tries every
 * start in a run of `.:` that ends in a digit (QA: 46 ms for 8 KB).
 */
function trimRun(text: string, start: number, end: number): Span {
  let first = start;
  let stop = end;
  while (
    stop > start &&
    (text.charCodeAt(stop - 1) === 0x2e || text.charCodeAt(stop - 1) === 0x3a)
  ) {
    stop--;
  }
  while (first < stop && text.charCodeAt(first) === 0x2e) first++;

  return [first, stop];
}

/**
 * The IPv6 address in the run `text.slice(start, end)`, or `null`; `first` and `stop` bound it
 * without its punctuation (`trimRun`). The run may carry the text's punctuation:
 * `ip:2001:db8::1`, `id:2001:db8::1` (a label before the first colon), and `2001:db8::1.` or
 * `2001:db8::1:` at the end of a sentence.
 */
function ipv6In(text: string, end: number, [first, stop]: Span): Span | null {
  const colon = text.indexOf(':', first);
  const starts = [first];
  if (colon !== -1 && colon < stop && text.charAt(colon + 1) !== ':') starts.push(colon + 1);
  // An address may end in `::` (`2001:db8::`) or in one `:` of a sentence's punctuation.
  const ends = [end, stop];
  if (text.startsWith('::', stop)) ends.push(stop + 2);

  for (const from of starts) {
    for (const to of ends) if (to > from && isIpv6At(text, from, to)) return [from, to];
  }

  return null;
}

/** IPv6 literals, with their brackets when they have them (`[2001:db8::1]:443`). */
function findIpv6(text: string, spans: Span[]): void {
  if (!text.includes(':')) return;

  HEX_RUN.lastIndex = 0;
  for (let run = HEX_RUN.exec(text); run !== null; run = HEX_RUN.exec(text)) {
    // Measured without the punctuation around it, which can be as long as it likes.
    const end = run.index + run[0].length;
    const trimmed = trimRun(text, run.index, end);
    if (trimmed[1] - trimmed[0] > IPV6_RUN_MAX) continue;

    const span = ipv6In(text, end, trimmed);
    if (span === null) continue;

    const bracketed = text.charAt(span[0] - 1) === '[' && text.charAt(span[1]) === ']';
    spans.push(bracketed ? [span[0] - 1, span[1] + 1] : span);
  }
}

/** Every match of the global `pattern` that `keep` accepts (all of them without `keep`). */
// A US number with digits written as words, alone or among figures (`six-one-seven-555-0123`,
// `six one seven five five five zero one two three`, final QA): a run of words and figures
// whose digits make ten (eleven after a 1) in a US number's layout, with two words or more.
const DIGIT_WORDS: Readonly<Record<string, string>> = {
  zero: '0',
  oh: '0',
  one: '1',
  two: '2',
  three: '3',
  four: '4',
  five: '5',
  six: '6',
  seven: '7',
  eight: '8',
  nine: '9',
};
const DIGIT_WORD = Object.keys(DIGIT_WORDS).join('|');
const WORDED_NUMBER = new RegExp(
  `(?<![\\p{L}\\p{N}])(?:${DIGIT_WORD}|\\d{1,4})(?:[\\s.-]{1,3}(?:${DIGIT_WORD}|\\d{1,4})){2,13}` +
    '(?![\\p{L}\\p{N}])',
  'giu',
);
// `oh` is no sign of one alone: prose says it.
const MAYBE_DIGIT_WORD = new RegExp(`(?:${DIGIT_WORD.replace('oh|', '')})[\\s.-]`, 'i');
const WORDED_DIGIT = new RegExp(`\\b(?:${DIGIT_WORD})\\b`, 'gi');

/** A run of digit words and figures that reads as a US number (see WORDED_NUMBER). */
function isWordedPhone(match: string): boolean {
  if ((match.match(WORDED_DIGIT)?.length ?? 0) < 2) return false;

  const digits = match
    .toLowerCase()
    .replace(WORDED_DIGIT, (word) => DIGIT_WORDS[word] as string)
    .replace(/\D/g, '');
  const national = digits.length === 11 && digits.startsWith('1') ? digits.slice(1) : digits;

  return /^[2-9]\d{2}[2-9]\d{6}$/.test(national) && isSpelledPhone(national);
}

// Characters one space apart, an address spelt out to dodge scrapers (`p a t . d o e @ m a i l .
// t e s t`, final QA); bounded, so a hostile run of them stays linear.
const LETTER_SPACED = /(?<!\S)(?:\S ){5,120}\S(?!\S)/g;

/** A letter-spaced run that, its spaces gone, holds an address. */
function isLetterSpacedAddress(match: string): boolean {
  const joined = match.replace(/ /g, '');
  const spans: Span[] = [];
  findEmails(joined, spans);

  return spans.length > 0;
}

function findAll(
  pattern: RegExp,
  text: string,
  spans: Span[],
  keep: (match: string) => boolean = () => true,
): void {
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    if (keep(match[0])) spans.push([match.index, match.index + match[0].length]);
  }
}

const digitCount = (match: string): number => match.replace(/\D/g, '').length;

// The dots written otherwise in an address so written.
const DOT_WRITTEN = new RegExp(`\\s{0,2}${WRITTEN_DOT}\\s{0,2}| dot `, 'giu');

/**
 * Addresses whose `@` is written otherwise: each `at` token found by `at`, its local part (up to
 * 64 characters) read backwards from it, its domain matched by the sticky `domain` after it.
 */
function findWrittenAddresses(
  text: string,
  spans: Span[],
  at: RegExp,
  domain: RegExp,
  keep: (local: string, domain: string) => boolean,
): void {
  at.lastIndex = 0;
  for (let token = at.exec(text); token !== null; token = at.exec(text)) {
    let start = token.index;
    while (start > 0 && token.index - start < 64 && LOCAL_PART.test(text.charAt(start - 1))) {
      start--;
    }
    if (start === token.index) continue;

    domain.lastIndex = token.index + token[0].length;
    const found = domain.exec(text);
    if (found === null) continue;

    const end = domain.lastIndex;
    if (keep(text.slice(start, token.index), found[0])) spans.push([start, end]);
  }
}

/** The domain of an address written otherwise ends in a suffix that exists (see WORDED_AT). */
function isWordedDomain(written: string): boolean {
  const domain = written.replace(DOT_WRITTEN, '.').replace(/\s/g, '').toLowerCase();
  const suffix = domain.slice(domain.lastIndexOf('.') + 1);
  if (RESERVED_SUFFIXES.has(suffix)) return parse(domain).domain !== null;

  return (
    (/^[a-z]{2}$/.test(suffix) || ADDRESS_SUFFIXES.has(suffix)) && parse(domain).isIcann === true
  );
}

/** Ten digits that count up or down by one are a countdown or a count, not a number. */
function isSpelledPhone(match: string): boolean {
  const digits = match.replace(/\D/g, '').slice(-10);
  let up = true;
  let down = true;
  for (let i = 1; i < digits.length; i++) {
    const step = Number(digits[i]) - Number(digits[i - 1]);
    if (step !== 1 && step !== -9) up = false;
    if (step !== -1 && step !== 9) down = false;
  }

  return !up && !down;
}

function isCardNumber(match: string): boolean {
  if (digitCount(match) < CARD_MIN_DIGITS || YEARS.test(match)) return false;

  return TIGHT_CARD.test(match) || passesLuhn(match.replace(/\D/g, ''));
}

/** The check digit every payment card number carries (ISO/IEC 7812). */
function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits.charAt(digits.length - 1 - i));
    if (i % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }

  return sum % 10 === 0;
}

/** `text` with the union of `spans` replaced: overlapping and touching spans become one. */
function replaceSpans(text: string, spans: Span[]): string {
  if (spans.length === 0) return text;

  spans.sort((a, b) => a[0] - b[0]);
  let out = '';
  let last = -1;
  for (const [start, end] of spans) {
    if (start <= last) {
      last = Math.max(last, end);
      continue;
    }

    out += text.slice(Math.max(last, 0), start) + REDACTED;
    last = end;
  }

  return out + text.slice(last);
}

// Base64 of an address or a number (`cGF0LmRvZUBtYWlsLnRlc3Q=` is pat.doe@mail.test), as mailing
// tools put it in links, and Django's reset links an account number (`MTIzNDU2`, QA): a run of
// its alphabet whose decoded text holds PHI. The decoded bytes are read as UTF-8 (`José Pérez
// <jose.perez@...>`), each printable stretch of six characters or more on its own (`echo`
// adds a line break, a prefix decodes to noise), in its decoded forms (`email=pat.doe%40...`)
// and as base64 once more (QA).
const BASE64_RUN = /[A-Za-z0-9+/_-]{8,}={0,2}/g;
// eslint-disable-next-line no-control-regex -- control characters end a printable stretch.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\ufffd]+/u;
const BASE64_ONLY = /^[A-Za-z0-9+/_-]{8,}={0,2}$/;
const STRETCH_MIN = 6;
// Base64 inside base64 is read; a third layer is not looked for.
const BASE64_DEPTH = 2;
let base64Depth = 0;

/**
 * Each run of `pattern` in `text` whose decoded form holds PHI becomes a span. Decoding reads
 * text with these same patterns again, so where this loop was is put back after each run.
 */
function findEncoded(
  text: string,
  spans: Span[],
  pattern: RegExp,
  holds: (run: string) => boolean,
): void {
  if (base64Depth >= BASE64_DEPTH) return;

  pattern.lastIndex = 0;
  for (let run = pattern.exec(text); run !== null; run = pattern.exec(text)) {
    const end = pattern.lastIndex;
    if (holds(run[0])) spans.push([run.index, end]);
    pattern.lastIndex = end;
  }
}

// Hex of text (`7061742e646f65406d61696c2e74657374` is pat.doe@mail.test, QA): an even run of
// twelve hex digits or more, its decoded stretches read as base64's are.
const HEX_TEXT = /(?<![0-9a-f])(?:[0-9a-f]{2}){6,}(?![0-9a-f])/gi;

function hexHasPhi(run: string): boolean {
  return stretchesHavePhi(Buffer.from(run, 'hex'), run.length > BASE64_SHIFT_MAX);
}

// A run this long is read from its start only, and its decoded text is not searched for base64
// again: the cost stays linear on hostile input.
const BASE64_SHIFT_MAX = 256;

/**
 * The run decoded from its start and, when a `-` or `_` in it ends a prefix that is part of the
 * alphabet (`id_`, `ref-`, `campaign2025newsletter-`), from the alignment after it (QA).
 */
function base64HasPhi(run: string): boolean {
  // Lower-case words and slugs (`cardiology`, `main-street`) are not read: base64 of text that
  // holds digits or an address has capitals or digits in all but a vanishing share of cases
  // (a digit or `@` starting a three-byte group is `M` to `Q`).
  if (!/[A-Z0-9]/.test(run)) return false;

  const long = run.length > BASE64_SHIFT_MAX;
  let shifts = 1;
  if (!long) {
    for (let i = 0; i < run.length; i++) {
      const code = run.charCodeAt(i);
      if (code === 0x2d || code === 0x5f) shifts |= 1 << ((i + 1) % 4);
    }
  }

  for (let shift = 0; shift < 4; shift++) {
    if ((shifts & (1 << shift)) === 0 || run.length - shift < 8) continue;

    const bytes = Buffer.from(shift === 0 ? run : run.slice(shift), 'base64');
    if (stretchesHavePhi(bytes, long)) return true;
    // Text in UTF-16, as Windows tools encode it: a zero after every ASCII character (QA).
    if (bytes.length >= 12 && bytes[1] === 0 && bytes[3] === 0 && bytes[5] === 0) {
      if (decodedHasPhi(bytes.toString('utf16le'), long)) return true;
    }
  }

  return false;
}

/** Reads each stretch of printable bytes (UTF-8 sequences included) of six or more. */
function stretchesHavePhi(bytes: Buffer, long: boolean): boolean {
  let from = 0;
  for (let at = 0; at <= bytes.length; at++) {
    const byte = at < bytes.length ? (bytes[at] as number) : 0;
    if (byte >= 0x20 && byte !== 0x7f) continue;

    if (at - from >= STRETCH_MIN && decodedHasPhi(bytes.toString('utf8', from, at), long)) {
      return true;
    }
    from = at + 1;
  }

  return false;
}

function decodedHasPhi(decoded: string, long = false): boolean {
  for (const stretch of decoded.split(UNPRINTABLE)) {
    if (stretch.length < STRETCH_MIN) continue;
    if (!MAYBE_PHI.test(stretch) && !stretch.includes('%') && !BASE64_ONLY.test(stretch)) {
      continue;
    }

    base64Depth += long ? BASE64_DEPTH : 1;
    try {
      if (componentHasPhi(stretch, false)) return true;
    } finally {
      base64Depth -= long ? BASE64_DEPTH : 1;
    }
  }

  return false;
}

/**
 * Every detector over `text`. Each one looks at the same text and the union of what they find is
 * redacted, so a card number that also reads as a phone number, or two phone numbers that also
 * read as one card number, go whole rather than in pieces.
 */
function findSpans(text: string): Span[] {
  const spans: Span[] = [];
  findEncoded(text, spans, BASE64_RUN, base64HasPhi);
  findEncoded(text, spans, HEX_TEXT, hexHasPhi);
  findAll(MBI, text, spans);
  if (MAYBE_WORDED.test(text)) {
    findWrittenAddresses(text, spans, WORDED_AT, WORDED_DOMAIN, (_, domain) =>
      isWordedDomain(domain),
    );
    findWrittenAddresses(
      text,
      spans,
      SPOKEN_AT,
      SPOKEN_DOMAIN,
      (local, domain) => !PLAIN_WORD.test(local) && isWordedDomain(domain),
    );
  }
  // Before the test for digits: a number all in words has none.
  if (MAYBE_DIGIT_WORD.test(text)) findAll(WORDED_NUMBER, text, spans, isWordedPhone);
  if (!MAYBE_PHI.test(text)) return spans;

  if (text.includes(' @ ')) findAll(LETTER_SPACED, text, spans, isLetterSpacedAddress);
  findEmails(text, spans);
  findIpv6(text, spans);
  findAll(IPV4, text, spans);
  findAll(CARD, text, spans, isCardNumber);
  findAll(SSN, text, spans);
  findAll(SSN_COLONS, text, spans);
  findAll(US_PHONE, text, spans);
  findAll(US_PHONE_LOOSE, text, spans);
  if (text.includes('+')) {
    findAll(INTL_PHONE, text, spans, (match) => digitCount(match) >= MIN_INTL_DIGITS);
  }

  findAll(DIGIT_RUN, text, spans);
  findAll(SPELLED_PHONE, text, spans, isSpelledPhone);
  findLabelledNumbers(text, spans);
  findJsonRecords(text, spans, isRecordPhrase);
  findBirthDates(text, spans);
  findCareDates(text, spans);
  if (text.includes('-')) findAll(DASHED_V6, text, spans, isDashedIpv6);
  findAll(MEETING_ID, text, spans);

  return spans;
}

// A percent escape, valid or not. The detectors read the text three ways, each escape standing
// for three characters so that spans keep their offsets: as a blank (its hex digits must not
// join the digits around it: `%202024` is a space and a year, not six digits), as part of a word
// (`jos%E9@mail.test`, a Latin-1 `é` that no UTF-8 decoding reads, QA) and as a separator
// (`123%FF45%FF6789`). Decoded forms are checked by the callers.
const ESCAPE = /%[0-9A-Fa-f]{2}/g;
const ESCAPE_READINGS = ['\u0000\u0000\u0000', 'x-x', ' - '];

function escapeReadings(text: string): string[] {
  if (!text.includes('%')) return [text];

  const blank = text.replace(ESCAPE, ESCAPE_READINGS[0] as string);
  if (blank === text) return [text];

  return [blank, ...ESCAPE_READINGS.slice(1).map((reading) => text.replace(ESCAPE, reading))];
}

// Characters that render as nothing or next to nothing: format characters (zero-width space and
// joiners, word joiner, soft hyphen, byte order mark), combining and enclosing marks (a keycap),
// the Hangul fillers and the blank Braille pattern. Dropped from the folded text, so
// `pat.doe@mail\u200b.test` reads as the address it shows.
const INVISIBLE = /^[\p{Cf}\p{Mn}\p{Me}\u115f\u1160\u3164\uffa0\u2800]$/u;
// Dashes, minus signs and look-alikes that autocorrect and other scripts write for `-`.
const DASH = /^[\p{Pd}\u2212\u02d7\u2043\u30fc\u2796]$/u;
// Full stops, middle dots and bullets of other scripts. Read as `.` only between ASCII letters
// or digits (`mail。test`, `555·123·4567`): between Chinese words `。` ends a sentence, and an
// @mention before it is not an e-mail address.
const DOT = new RegExp(
  '^[\\u3002\\uff61\\ufe52\\u06d4\\u00b7\\u2027\\u30fb\\u16eb' +
    '\\u2022\\u2219\\u22c5\\u25cf\\u25e6\\u2e31\\u2981]$',
  'u',
);
// Slashes and commas of other scripts and look-alikes (fraction slash, division slash, Arabic and
// ideographic commas): read as `/` and `,`, the separators numbers are written with (QA).
const SLASH = /^[\u2215\u2044\u29f8\u2571]$/u;
const COMMA = /^[\u060c\u3001\u201a]$/u;
// Spaces that NFKC leaves as they are (the Ogham space mark): read as a space.
const SPACE = /^[\p{Zs}\u2028\u2029]$/u;
const ASCII_ALNUM = /^[A-Za-z0-9]$/;
const DIGIT = /^\p{Nd}$/u;

/** The ASCII digit a decimal digit of another script stands for (digits come in runs of ten). */
function asciiDigit(code: number): string {
  let zero = code;
  while (code - zero < 9 && DIGIT.test(String.fromCodePoint(zero - 1))) zero--;

  return String(code - zero);
}

// Stands for a full stop of another script until its folded neighbours are known.
const DOT_MARK = '\u0001';

const ENCLOSED_DIGITS = /^(?:\(\d+\)|\d+[.,])$/;

/** One character as the detectors read it (a full stop as `DOT_MARK`). */
function foldChar(char: string): string {
  // Compatibility forms first: full-width `＠` and `５`, `ﬁ`, superscripts, mathematical digits
  // (which NFKC makes ASCII; counting them from their neighbours would not), `･` and `·`.
  const normal = char.normalize('NFKC');
  // Digits in parentheses or with a full stop or comma (`⑹`, `⒍`, `🄇`) read as the digits (QA).
  if (ENCLOSED_DIGITS.test(normal)) return normal.replace(/\D/g, '');
  if (normal !== char) {
    let out = '';
    for (const part of normal) out += part.charCodeAt(0) < 0x80 ? part : foldPlain(part);

    return out;
  }

  return foldPlain(char);
}

// Circled digits that NFKC leaves as they are (`❶`, `➀`, `➊`, `⓵`, QA): each run of ten starts at
// one and ends at ten; `⓿` and `🄋` `🄌` are zero.
const DINGBAT_RUNS = [0x2776, 0x2780, 0x278a, 0x24f5];
const DINGBAT_ZEROS: ReadonlySet<number> = new Set([0x24ff, 0x1f10b, 0x1f10c]);

function dingbatDigit(code: number): string | null {
  if (DINGBAT_ZEROS.has(code)) return '0';
  for (const first of DINGBAT_RUNS) {
    if (code >= first && code < first + 10) return String(code - first + 1);
  }

  return null;
}

function foldPlain(char: string): string {
  if (INVISIBLE.test(char)) return '';
  const dingbat = dingbatDigit(char.codePointAt(0) as number);
  if (dingbat !== null) return dingbat;
  if (DASH.test(char)) return '-';
  if (DOT.test(char)) return DOT_MARK;
  if (SPACE.test(char)) return ' ';
  if (SLASH.test(char)) return '/';
  if (COMMA.test(char)) return ',';
  if (DIGIT.test(char)) return asciiDigit(char.codePointAt(0) as number);

  return char;
}

/**
 * The text as the detectors read it once folded, with, for each of its UTF-16 units, where in
 * `text` the character it came from starts and ends; null when folding changes nothing (ASCII).
 * The span of a character that folds to nothing (a variation selector after a digit) is added
 * to the character before it, so a redaction takes it along.
 */
function foldedView(text: string): { text: string; from: number[]; to: number[] } | null {
  if (!NON_ASCII.test(text)) return null;

  let out = '';
  const from: number[] = [];
  const to: number[] = [];
  for (let at = 0; at < text.length;) {
    const width = (text.codePointAt(at) as number) > 0xffff ? 2 : 1;
    const char = text.slice(at, at + width);
    const folded = char.charCodeAt(0) < 0x80 ? char : foldChar(char);
    if (folded === '' && to.length > 0) to[to.length - 1] = at + width;
    for (let k = 0; k < folded.length; k++) {
      from.push(at);
      to.push(at + width);
    }

    out += folded;
    at += width;
  }

  // A full stop reads as `.` only between ASCII letters or digits, once folded (`ｍａｉｌ。ｔｅｓｔ`).
  if (out.includes(DOT_MARK)) {
    let dotted = '';
    for (let i = 0; i < out.length; i++) {
      const unit = out.charAt(i);
      if (unit !== DOT_MARK) {
        dotted += unit;
        continue;
      }

      const between = ASCII_ALNUM.test(out.charAt(i - 1)) && ASCII_ALNUM.test(out.charAt(i + 1));
      dotted += between ? '.' : text.charAt(from[i] as number);
    }
    out = dotted;
  }

  return { text: out, from, to };
}

/**
 * Replaces every PHI-looking span in `text` with `[redacted]`, and nothing else. The detectors
 * read the text as given (no decoding) and a folded form of it, where look-alikes and hidden
 * characters (`pat.doe＠mail.test`, `555–123–4567` with en dashes, an address split by a
 * zero-width space, digits of other scripts) read as the ASCII the patterns know; what the folded
 * form finds is redacted in the text as given, so the rest keeps its exact characters. Both
 * readings count (`123-45-6789²` folds to `123-45-67892`, which is no longer an SSN). URL parts go
 * through `componentHasPhi`, which also looks at decoded forms.
 */
export function redactPhi(text: string): string {
  return replaceSpans(text, phiSpans(text));
}

/**
 * `text` with every decoding layer taken off (percent escapes, then script escapes), up to
 * `MAX_DECODES`, and control characters removed from each.
 */
export function decodedFully(text: string): string {
  let form = stripControl(text);
  for (let round = 0; round < MAX_DECODES; round++) {
    const next = stripControl(decodeOnce(form));
    if (next === form) break;
    form = next;
  }

  return form;
}

/** Where `text` holds PHI, as `[start, end)` spans of it, in any of its readings. */
export function phiSpans(text: string): Span[] {
  const spans = text.includes('%') ? escapeReadings(text).flatMap(findSpans) : findSpans(text);
  const view = foldedView(text);
  if (view !== null) {
    for (const reading of escapeReadings(view.text)) {
      for (const [start, end] of findSpans(reading)) {
        spans.push([view.from[start] as number, view.to[end - 1] as number]);
      }
    }
  }

  return spans;
}

/**
 * True when a host name holds PHI, read as ASCII and, for an international name, as the Unicode
 * it stands for: `xn--31b3c6b0b4ighifaaeno` is a name and a phone number in Devanagari digits.
 */
export function hostHasPhi(host: string): boolean {
  if (hasPhi(host)) return true;
  if (host.split('.').some(isAddressLabel)) return true;

  return host.includes('xn--') && hasPhi(domainToUnicode(host));
}

/**
 * A label that is an address in the forms wildcard DNS services and cloud host names use (QA):
 * IPv4 with dashes for dots (`10-0-0-1`, `ip-10-0-0-1`, `ec2-54-210-1-2`), IPv6 with dashes for
 * colons (`2001-db8-85a3--8a2e-370-7334`, `fe80--1`, `--ffff-5102-45a0`), after such a prefix
 * too, and IPv4 as eight hex digits (`c0a80101` is 192.168.1.1).
 */
function isAddressLabel(label: string): boolean {
  if (/^[0-9a-f]{8}$/i.test(label)) return true;
  if (!label.includes('-')) return false;

  const unprefixed = label.replace(/^[a-z][a-z0-9]*-(?=[0-9a-f]*-)/i, '');
  if (parseIp(unprefixed.replace(/-/g, '.'))?.family === 4) return true;
  for (const form of new Set([label, unprefixed])) {
    const groups = form.split('-').filter((group) => group !== '').length;
    // Two groups only with a `::` (`fe80--1`): `ab-cd` is a name.
    if (groups < 3 && !form.includes('--')) continue;
    if (parseIp(form.replace(/-/g, ':')) !== null) return true;
  }

  return false;
}

// Candidates for an IPv6 address written with dashes (`2001-db8-85a3--8a2e-370-7334`), standing
// apart from words; `isDashedIpv6` decides. (Starting one after any `-` made every `1--` of a
// hostile run a candidate: 25 times the cost, QA.)
const DASHED_V6 =
  /(?<![\p{L}\p{N}_-])-{0,2}[0-9a-f]{1,4}(?:-{1,2}[0-9a-f]{0,4}){2,8}(?![\p{L}\p{N}_-])/giu;

/**
 * Text that is an IPv6 address with dashes for colons (`2001-db8-85a3--8a2e-370-7334`,
 * `2001-1200-1500--25`, `--ffff-808-808`, QA): three groups or more and a digit that parse as an
 * address, unless a `--` parts two sides that each read as a date, a time or a small figure
 * (`2025-01-15--2025-02-15`, `Dec-24--26`, `0900--1700-1800`, `100-250--500`).
 */
export function isDashedIpv6(segment: string): boolean {
  if (!segment.includes('-') || !/\d/.test(segment)) return false;
  if (segment.split('-').filter((group) => group !== '').length < 3) return false;

  const sides = segment.split('--');
  if (sides.length === 2 && sides.every((side) => RANGE_END.test(side))) return false;

  return parseIp(segment.replace(/-/g, ':')) !== null;
}

// One end of a date, time or figure range: a year, a year and month, a date in either order,
// perhaps with its time; up to three figures of up to three digits; a month's name and a day,
// perhaps with its year; a time or two.
const HHMM = '(?:[01]\\d|2[0-3])[0-5]\\d';
const RANGE_END = new RegExp(
  `^(?:(?:19|20)\\d\\d(?:-\\d{1,2}){0,2}(?:-${HHMM})?|\\d{1,2}-\\d{1,2}-(?:19|20)\\d\\d|` +
    `\\d{1,3}(?:-\\d{1,3}){0,2}|[a-z]{3}-\\d{1,2}(?:-(?:19|20)\\d\\d)?|${HHMM}(?:-${HHMM})?)$`,
  'i',
);

export function hasPhi(text: string): boolean {
  return redactPhi(text) !== text;
}

/**
 * One layer off: percent-escapes, or when there are none to decode, a script's (`\u0040`), or
 * else markup's (`&#64;`).
 */
function decodeOnce(text: string): string {
  // A full-width `％` reads as `%` (`pat.doe％40mail.test`, QA).
  if (text.includes('\uff05')) return text.replace(/\uff05/g, '%');

  const decoded = text.includes('%') ? safeDecode(text) : text;
  if (decoded !== text) return decoded;

  const script = unescapeScript(text);

  return script === text ? unescapeMarkup(text) : script;
}

/**
 * Percent-decodings the detectors follow. A redirect chain may encode `@` as `%40`, then `%2540`,
 * then `%252540`; text still changing after this many is refused as PHI rather than read further.
 */
const MAX_DECODES = 6;

/**
 * True when a raw URL component holds PHI as sent or in any of its decoded forms: a form that
 * encodes `@` as `%40` and a redirect that encodes it again as `%2540` (C13), or again (QA), are
 * all caught. `inQuery` reads `+` as a space, as a query means it (a form sends `+44 20 ...` as
 * `%2B44+20+...`). Control characters are removed from every form first, so a `%00` inside an
 * address cannot split it out of sight.
 */
export function componentHasPhi(raw: string, inQuery: boolean): boolean {
  // A plus before a digit that does not follow a letter or digit is also read as typed: a browser
  // leaves a hand-written `+` as it is and encodes only the spaces (`q=+44%2020%207946%200958`,
  // `q=call%20+44...`, `tel:+44...`, QA), while `covid+19` stays a space.
  if (inQuery && raw.includes('+')) {
    const typed = raw.replace(TYPED_PLUS, '$1%2B');
    if (typed !== raw && layersHavePhi(typed, true)) return true;
  }

  return layersHavePhi(raw, inQuery);
}

// A `+` before a digit at the start, after an encoded space or tab, or after punctuation.
const TYPED_PLUS = /(^|%20|%09|[^A-Za-z0-9+%])\+(?=\d)/gi;

function layersHavePhi(raw: string, inQuery: boolean): boolean {
  // In a query `+` is a space (a plus is `%2B`): `q=covid+19+2025+2026` is no phone number (QA).
  let form = stripControl(inQuery && raw.includes('+') ? raw.replace(/\+/g, ' ') : raw);
  if (hasPhi(form)) return true;

  for (let round = 0; round <= MAX_DECODES; round++) {
    const next = stripControl(decodeOnce(form));
    if (next === form) return false;
    if (round === MAX_DECODES || hasPhi(next)) return true;
    form = next;
  }

  return true;
}

/**
 * Scrubs free text (a title, an event property): control characters removed, PHI spans replaced.
 * When the text hides PHI behind one or two layers of percent-encoding, the decoded text is
 * scrubbed and returned instead; behind more (no browser or form writes that), the whole text is
 * `[redacted]`, and so is text still decoding to something else after `MAX_DECODES`. Every layer
 * is read from the text as given, the deepest first: on the way, escapes such as `%25252540` read
 * as digits, and redacting those would hide the address behind them from the next layer (QA).
 *
 * @example
 * scrubText('Results for pat.doe@mail.test'); // 'Results for [redacted]'
 */
export function scrubText(text: string): string {
  const forms = [stripControl(text)];
  for (let form = forms[0] as string; ;) {
    const decoded = stripControl(decodeOnce(form));
    if (decoded === form) break;
    if (forms.length > MAX_DECODES) return REDACTED;

    forms.push(decoded);
    form = decoded;
  }

  // The most decoded form that holds PHI says how to scrub: a third layer (or deeper) is no
  // browser's or form's doing, and its escapes can read as digits on the way (`%25252540`).
  for (let level = forms.length - 1; level >= 0; level--) {
    const form = forms[level] as string;
    const scrubbed = redactPhi(form);
    if (scrubbed === form) continue;
    if (level > 2) return REDACTED;

    // What only a shallower layer shows must not survive in this one: decoding `%30` after
    // `617-555-0123` made `617-555-01230`, no longer a phone number (QA).
    // Each piece once: a long text repeating one escape found it thousands of times, and looking
    // for each in the whole text was quadratic (QA: 1.6 s at 64 KB).
    const pieces = new Set<string>();
    for (const shallower of forms.slice(0, level)) {
      for (const [start, end] of phiSpans(shallower)) pieces.add(shallower.slice(start, end));
    }
    for (const piece of pieces) if (scrubbed.includes(piece)) return REDACTED;

    return scrubbed;
  }

  return forms[0] as string;
}

/**
 * `text` scrubbed, cut to `max` code points and read again. A cut can make PHI of what no
 * detector matched whole (`123-45-67890` is no SSN; cut after its ninth digit it is one, QA), so
 * the cut text is scrubbed again, until cutting changes nothing. Scrubbing first replaces a whole
 * address before a cut could leave a piece of it that no detector knows.
 */
export function scrubWithin(text: string, max: number): string {
  let out = scrubText(text);
  for (let round = 0; round < 4; round++) {
    const cut = cutOutsideMarkers(out, max);
    if (cut === out) return out;

    out = scrubText(cut);
    if (out === cut) return out;
  }

  return truncateCodePoints(REDACTED, max);
}

/**
 * Cuts to `max` as truncateCodePoints does, but never through a `[redacted]` marker: a marker
 * the cut would split is kept whole at the end (fifteenth session's QA: `... [red` was stored,
 * and the firewall report, which counts markers, missed the redaction).
 */
function cutOutsideMarkers(text: string, max: number): string {
  const cut = truncateCodePoints(text, max);
  if (cut === text || max < REDACTED.length) return cut;

  const split = text.lastIndexOf(REDACTED, cut.length - 1);
  if (split === -1 || split + REDACTED.length <= cut.length) return cut;

  return truncateCodePoints(text.slice(0, split), max - REDACTED.length) + REDACTED;
}

export const PROPS_MAX_KEYS = 20;
export const PROP_KEY_MAX = 64;
export const PROP_VALUE_MAX = 256;
export const TITLE_MAX = 256;

export type PropValue = string | number | boolean;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

// Digits a double prints only when it is not the number written (0.1 + 0.2 is 0.30000000000000004).
const WRITTEN_DIGITS = 15;

/**
 * A number as the detectors read it: as written (`617.5550123` is a phone number with a dot,
 * QA), or, where its digits are a double's rounding noise or it prints with an exponent, its
 * whole part only.
 */
function numberText(value: number): string {
  const text = String(value);

  const written = !text.includes('e') && text.replace(/\D/g, '').length <= WRITTEN_DIGITS;

  return written ? text : String(Math.trunc(value));
}

function scrubPropValue(key: string, value: unknown): PropValue | undefined {
  if (typeof value === 'boolean') return value;

  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    if (isBuiltInSensitive(key) || hasPhi(numberText(value))) return REDACTED;

    return value;
  }

  if (typeof value !== 'string') return undefined;
  if (isBuiltInSensitive(key)) return REDACTED;

  return scrubWithin(value, PROP_VALUE_MAX);
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

  const clean = scrubWithin(title, TITLE_MAX).trim();

  return clean === '' ? null : clean;
}
