/**
 * Dates of a person's care. Safe Harbor counts every date element but the year of an
 * admission, a discharge or a visit as an identifier (45 CFR 164.514(b)(2)(i)(C)), and the OCR
 * tracking bulletin names appointment dates in URLs among them. A full date (year, month and
 * day) right after a word that names one, in text or in the path segment after it, is that
 * person's: `Admission 2025-06-14`, `/discharge-date/2025-06-14`, `/appointments/2025-06-14`,
 * and after a patient's or a person's segment, `/patient/2019-03-12`.
 *
 * What stays: a year or a month alone, which is a calendar's view (`/appointments/2025`,
 * `/admissions/2025-06`: a school's admissions pages are written so too), and a date after any
 * other word, an event's or a post's (`/events/2025-06-14`, `/board-meeting/2025-06-14`,
 * `Admissions Open House 2025-06-14`), and a date that starts an event's slug after a care word
 * (`/appointments/2025-06-14-open-house`) unless its words name a person or care, or are a
 * person's name (`/appointments/2025-06-14-jane-doe`, person-names.ts).
 */

import { isPersonName, PERSON_WORDS } from './person-names.js';

const SEP = '[-./_]';
const YEAR = '(?:19|20)\\d\\d';
const MONTH_NAME = '(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\\.?';
const ORDINAL = '(?:st|nd|rd|th)?';
// Year first (`2025-06-14`), year last (`06/14/2025`, `14.06.2025`), or with the month's name
// (`June 14, 2025`, `14-jun-2025`); `isCalendarDate` checks the month and the day.
const FULL_DATE =
  `${YEAR}${SEP}\\d{1,2}${SEP}\\d{1,2}|\\d{1,2}${SEP}\\d{1,2}${SEP}${YEAR}|` +
  `${MONTH_NAME}[\\s_-]{1,2}\\d{1,2}${ORDINAL},?[\\s_-]{1,2}${YEAR}|` +
  `\\d{1,2}${ORDINAL}[\\s_-]{1,2}${MONTH_NAME}[\\s_,-]{1,2}${YEAR}`;
// After a care word, a full date with a two-digit year counts too (`/appointments/06-14-25`, QA);
// elsewhere it reads as a version or a code (`1.10.12`), so `isDatedText` does not look for it.
const CARE_FULL_DATE = `${FULL_DATE}|\\d{1,2}${SEP}\\d{1,2}${SEP}\\d\\d`;
// The words that name a date of care. `appt` as schedulers shorten it, `dos` for a date of
// service as claims write it. Not `visit` alone: `Visit: May 12, 2025` invites to an event.
const CARE_WORDS =
  'admissions?|admit(?:ted)?|discharge[sd]?(?:[\\s_-]summar(?:y|ies))?|appointments?|appts?|dos|' +
  '(?:visit|service|surgery|surgical|procedure|operation)[\\s_-]?dates?|' +
  'dates?[\\s_-]?of[\\s_-]?(?:service|visit|surgery|procedure|admission|discharge)';
// A care word, a trailing `date` or `on` perhaps, up to three marks, then the date. Every gap is
// bounded, so the cost stays linear on hostile text.
const CARE_DATE = new RegExp(
  `(?<![\\p{L}\\p{N}])(?:${CARE_WORDS})(?:[\\s_-]?dates?)?(?:\\s(?:on|is|was))?` +
    `[\\s_.:#=,-]{0,3}(${CARE_FULL_DATE})(?!\\d)`,
  'giud',
);
// A path segment whose last word names a date of care or a person (`discharge-date`,
// `my-appointments`, `patients`).
const CARE_SEGMENT = new RegExp(
  `(?:^|[\\s_.-])(?:${CARE_WORDS}|${PERSON_WORDS})(?:[\\s_-]dates?)?$`,
  'i',
);
const DATE_START = new RegExp(`^(?:${CARE_FULL_DATE})(?!\\d)`, 'i');
const DATE_ONLY = new RegExp(`^(?:${CARE_FULL_DATE})$`, 'i');

/** Whether `date` (a match of FULL_DATE) has a month and a day that a calendar has. */
export function isCalendarDate(date: string): boolean {
  const [first = 0, second = 0, third = 0] = (date.match(/\d+/g) ?? []).map(Number);
  // The month by its name (an ordinal's letters are two): the first figure is the day.
  if (/[a-z]{3}/i.test(date)) return validDay(1, first);

  if (first > 31) return validDay(second, third);

  // Year last: month first when it can be (`06/14/2025`), else day first (`14/06/2025`).
  return validDay(...monthDay(first, second));
}

/** Month and day of a date written with both first, month first when it can be. */
export function monthDay(first: number, second: number): [number, number] {
  return first <= 12 ? [first, second] : [second, first];
}

/** Whether a calendar has this month and this day (of some month: 31 at most). */
export function validDay(month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/** Pushes the span of each date of care in `text` (`Admission 2025-06-14`) onto `spans`. */
export function findCareDates(text: string, spans: Array<[number, number]>): void {
  CARE_DATE.lastIndex = 0;
  for (let match = CARE_DATE.exec(text); match !== null; match = CARE_DATE.exec(text)) {
    const span = match.indices?.[1] as [number, number];
    if (isCalendarDate(match[1] as string)) spans.push(span);
  }
}

// The words after a date that make its slug a person's or their care's (`2025-06-14-patient`,
// `2025-06-14-follow-up-visit`): the care words, a person's, and the kinds of visit.
const PERSON_OR_CARE = new RegExp(
  `(?:^|[\\s_.-])(?:${CARE_WORDS}|${PERSON_WORDS}|members?|mrs?|ms|dr|visits?|` +
    'follow[\\s_-]?ups?|check[\\s_-]?ups?|consult\\w*|exams?|surgery|procedures?|treatments?|' +
    'therapy|screenings?|tele\\w*|virtual|in[\\s_-]person)(?:$|[\\s_.-])',
  'i',
);
const SLUG_WORD = /\p{L}{2,}/u;

/**
 * Whether what follows a date in its segment makes the segment an event's slug: words, no
 * figures and none that names a person or care (`2025-06-14-open-house`, QA), nor a person's
 * name (`2025-06-14-jane-doe`). A time or a number after the date (`2025-06-14-0900`) is an
 * appointment's, and so is a date alone.
 */
function isEventSlug(rest: string): boolean {
  if (!/^[\s_.-]/.test(rest) || /\d/.test(rest) || !SLUG_WORD.test(rest)) return false;

  return !PERSON_OR_CARE.test(rest) && !isPersonName(rest);
}

/**
 * The indexes of path segments that hold a date of care: a segment starting with a full date
 * right after one that names care or a person (`/admission/2025-06-14`,
 * `/patients/jane-doe/appointments/2025-06-14-0900`), or a date in three segments there
 * (`/appointments/2025/06/14`). The segments after a care word are read as `read` gives them
 * (fully decoded, say), the others as they are.
 */
export function careDateSegments(
  segments: readonly string[],
  read: (segment: string) => string = (segment) => segment,
): number[] {
  const found: number[] = [];
  for (let i = 0; i + 1 < segments.length; i++) {
    if (!CARE_SEGMENT.test(segments[i] as string)) continue;

    const segment = read(segments[i + 1] as string);
    const next = DATE_START.exec(segment);
    if (next !== null && isCalendarDate(next[0])) {
      if (!isEventSlug(segment.slice(next[0].length))) found.push(i + 1);
      continue;
    }

    const three = segments
      .slice(i + 1, i + 4)
      .map(read)
      .join('-');
    if (i + 3 < segments.length && DATE_ONLY.test(three) && isCalendarDate(three)) {
      found.push(i + 1, i + 2, i + 3);
    }
  }

  return found;
}

// A date in free text standing apart from other figures and words, in a full layout or with a
// short year after slashes (`3/12/61`), as a birth date is typed into a search box.
const DATE_IN_TEXT = new RegExp(
  `(?<![\\p{L}\\p{N}])(?:${FULL_DATE}|\\d{1,2}/\\d{1,2}/\\d{2})(?![\\p{L}\\p{N}])`,
  'giu',
);
const WORD = /\p{L}{2,}/u;

/**
 * Free text that holds a full date and words beside it (`Jane Doe 03/12/1961`), as a site's
 * search can be sent a person's name and date of birth. Nothing tells that from an event's
 * date searched for (`flu clinic 2025-06-14`), so both go; a date alone (`2025-06-14`, a date
 * picker's value) stays.
 */
export function isDatedText(text: string): boolean {
  let dated = false;
  const rest = text.replace(DATE_IN_TEXT, (date) => {
    dated ||= isCalendarDate(date);

    return ' ';
  });

  return dated && WORD.test(rest);
}
