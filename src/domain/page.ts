/** The five campaign parameters a page address carries, as stored beside it. */
export interface CampaignParams {
  source: string | null;
  medium: string | null;
  campaign: string | null;
  term: string | null;
  content: string | null;
}

const CAMPAIGN_FIELDS = ['source', 'medium', 'campaign', 'term', 'content'] as const;

/**
 * Re-encodes what would make a stored `name=value` pair ambiguous: `%`, `&`, `=`, `#`, `+` and
 * white space.
 */
export function encodeQueryPart(text: string): string {
  return text.replace(/[%&=#+\s]/g, encodeURIComponent);
}

// What would hide in a displayed address, or pass for its punctuation: format characters
// (zero-width, direction marks), line and paragraph separators, blank letters (Hangul fillers,
// the blank Braille pattern, the combining grapheme joiner, Khmer's invisible vowels) and
// full-width `？`, `＃`, `％` (QA). Shown as their escapes.
const UNSEEN =
  /[\p{Cf}\u2028\u2029\u115f\u1160\u3164\uffa0\u2800\uff1f\uff03\uff05]|\u034f|\u17b4|\u17b5/gu;

/**
 * A page's path with its sanitised query and then its campaign parameters, as reports show it:
 * `/account/welcome?email=[redacted]&utm_source=newsletter&utm_medium=email`. Campaign values
 * are stored apart from the query (so `/landing?utm_...` variants group under `/landing`) and
 * put back here in their usual order. The path is stored decoded: its `%`, `?` and `#` are shown
 * escaped, so `/promo%3Futm_source%3Dx` cannot pass for `/promo?utm_source=x` (QA), and so are
 * invisible characters anywhere.
 */
export function pageWithQuery(path: string, query: string, utm: CampaignParams): string {
  const campaign = CAMPAIGN_FIELDS.filter((field) => utm[field] !== null).map(
    (field) => `utm_${field}=${encodeQueryPart(utm[field] as string)}`,
  );
  const all = [query, ...campaign].filter((part) => part !== '').join('&');
  const shown = path.replace(/[%?#]/g, encodeURIComponent);
  const address = all === '' ? shown : `${shown}?${all}`;

  return address.replace(UNSEEN, encodeURIComponent);
}
