import { componentHasPhi, REDACTED } from './phi.js';
import { decodeQueryComponent, stripHidden, truncateCodePoints } from './text.js';
import { splitQuery, splitUrl, type RawParam } from './url-parts.js';

/**
 * Campaign parameters (case C14). The rules, each pinned by a `C14.n` test:
 *
 * - read from the full URL as sent, before the stored URL is truncated;
 * - names are case-insensitive (`UTM_Source`), values keep their case;
 * - `+` is a space (query only), then exactly one percent-decode (`no%2520code` → `no%20code`);
 * - the first non-empty occurrence of a parameter wins; an empty value is `null`, never `""`;
 * - a broken escape is kept literally (`%E0%A4%A`), never an error;
 * - values longer than 256 characters are cut and flagged `utm_truncated`;
 * - a value holding PHI becomes `[redacted]`;
 * - the fragment is ignored unless the site keeps fragments, and then the query still wins.
 */
export interface Utm {
  source: string | null;
  medium: string | null;
  campaign: string | null;
  term: string | null;
  content: string | null;
}

/** Which ad click id was present. The value is an identifier of one click and is never kept. */
export interface ClickId {
  type: string;
}

export interface Campaign {
  utm: Utm;
  clickId: ClickId | null;
  flags: string[];
}

export const UTM_VALUE_MAX = 256;

const UTM_FIELDS: ReadonlyMap<string, keyof Utm> = new Map([
  ['utm_source', 'source'],
  ['utm_medium', 'medium'],
  ['utm_campaign', 'campaign'],
  ['utm_term', 'term'],
  ['utm_content', 'content'],
]);

/**
 * Ad-platform click ids, by lower-cased parameter name. Their presence says "this visit came
 * from a click on that platform"; channel.ts decides what that means. `mc_cid` is Mailchimp's
 * campaign id (not a person: the person is `mc_eid`, which is on the sensitive list).
 */
export const CLICK_ID_PARAMS: ReadonlySet<string> = new Set([
  'gclid',
  'gbraid',
  'wbraid',
  'dclid',
  'gclsrc',
  'fbclid',
  'msclkid',
  'ttclid',
  'twclid',
  'li_fat_id',
  'yclid',
  'epik',
  'rdt_cid',
  'sccid',
  'mc_cid',
]);

export function emptyUtm(): Utm {
  return { source: null, medium: null, campaign: null, term: null, content: null };
}

/** True for names removed from the stored query because they are campaign data. */
export function isCampaignParam(name: string): boolean {
  return name.startsWith('utm_') || CLICK_ID_PARAMS.has(name);
}

/**
 * The key under which reports group a UTM value: `LinkedIn` and `linkedin` are stored as sent
 * and counted as one source (C14.9).
 */
export function utmGroupKey(value: string): string {
  return value.trim().toLowerCase();
}

function utmValue(raw: string, flags: string[]): string | null {
  const decoded = decodeQueryComponent(raw);
  const value = stripHidden(decoded).trim();
  if (value === '') return null;

  // Read as sent, and as stored when stripping dropped something that could have hidden PHI
  // from the detectors (QA: a blank Braille pattern inside a phone number).
  if (componentHasPhi(raw, true) || (value !== decoded.trim() && componentHasPhi(value, false))) {
    flags.push('redacted', 'phi_detected');

    return REDACTED;
  }

  if (value.length <= UTM_VALUE_MAX) return value;

  flags.push('utm_truncated');
  // The cut may have made PHI of what was none whole (QA).
  const cut = truncateCodePoints(value, UTM_VALUE_MAX);
  if (!componentHasPhi(cut, false)) return cut;

  flags.push('redacted', 'phi_detected');

  return REDACTED;
}

/** Fills `campaign` from `params` where it is still empty (first non-empty occurrence wins). */
export function readCampaign(params: readonly RawParam[], campaign: Campaign): void {
  for (const param of params) {
    if (param.rawValue === null || param.rawValue === '') continue;

    const field = UTM_FIELDS.get(param.name);
    if (field !== undefined && campaign.utm[field] === null) {
      campaign.utm[field] = utmValue(param.rawValue, campaign.flags);
      continue;
    }

    if (campaign.clickId === null && CLICK_ID_PARAMS.has(param.name)) {
      campaign.clickId = { type: param.name };
    }
  }
}

/**
 * Reads UTM parameters and the click-id type from a raw page URL.
 *
 * @example
 * parseUtm('https://a.example/?utm_campaign=Spring+Sale+2025').utm.campaign; // 'Spring Sale 2025'
 */
export function parseUtm(rawUrl: string, opts: { keepFragments?: boolean } = {}): Campaign {
  const campaign: Campaign = { utm: emptyUtm(), clickId: null, flags: [] };
  const parts = splitUrl(rawUrl);
  if (!parts) return campaign;

  if (parts.query !== null) readCampaign(splitQuery(parts.query), campaign);
  if (opts.keepFragments && parts.fragment !== null) {
    const mark = parts.fragment.indexOf('?');
    const fragmentQuery = mark === -1 ? parts.fragment : parts.fragment.slice(mark + 1);
    readCampaign(splitQuery(fragmentQuery), campaign);
  }

  campaign.flags = [...new Set(campaign.flags)];

  return campaign;
}
