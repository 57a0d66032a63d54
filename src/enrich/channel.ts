import { getDomainWithoutSuffix } from 'tldts';

import type { ClickId, Utm } from './utm.js';

/**
 * Marketing channels, one per session, decided from the landing page's campaign data and the
 * referrer. The rules run top to bottom and the first that matches wins; `CHANNEL_RULES` is the
 * same table in data form for the README.
 *
 * Decisions worth knowing:
 * - An explicit `utm_medium` beats everything else: whoever tagged the link knows best.
 * - Ad click ids without UTM tags say the click was paid: `gclid`, `gbraid`, `wbraid`, `msclkid`,
 *   `yclid` → Paid Search; `dclid` → Display; `ttclid`, `twclid`, `li_fat_id`, `rdt_cid`,
 *   `sccid`, `epik` → Paid Social; Mailchimp's `mc_cid` → Email.
 * - `fbclid` alone is NOT paid: Facebook and Instagram add it to every outbound link, organic
 *   posts included. It counts as Organic Social (the in-app browser often drops the referrer).
 * - AI assistants are checked before search engines, because `gemini.google.com` and
 *   `copilot.microsoft.com` live under search brands.
 * - YouTube, Vimeo and Twitch are Video, not Social; a paid medium there stays Video.
 * - Shopping is not a channel here: clinics do not sell through shopping feeds, so such traffic
 *   is Referral.
 * - A same-site referrer never reaches this function (referrer.ts drops it), so a session cannot
 *   be credited to the site itself.
 */
export type Channel =
  | 'Direct'
  | 'Organic Search'
  | 'Paid Search'
  | 'Organic Social'
  | 'Paid Social'
  | 'Email'
  | 'SMS'
  | 'Referral'
  | 'Display'
  | 'Affiliate'
  | 'Video'
  | 'Audio'
  | 'AI Assistants'
  | 'Other campaign';

export const CHANNELS: readonly Channel[] = [
  'Direct',
  'Organic Search',
  'Paid Search',
  'Organic Social',
  'Paid Social',
  'Email',
  'SMS',
  'Referral',
  'Display',
  'Affiliate',
  'Video',
  'Audio',
  'AI Assistants',
  'Other campaign',
];

export interface ChannelInput {
  referrerDomain?: string | null;
  referrerHost?: string | null;
  utm?: Utm | null;
  clickId?: ClickId | null;
}

/** The classification table, in the order it is applied. */
export const CHANNEL_RULES: readonly { channel: Channel; when: string }[] = [
  {
    channel: 'Paid Social',
    when: 'utm_medium paid-social (paidsocial, social_paid, ...), or paid medium + social source',
  },
  { channel: 'Video', when: 'a paid medium with a video source' },
  {
    channel: 'Paid Search',
    when: 'utm_medium cpc, ppc, paidsearch, sem; or paid, cpv, cpa with a search or unknown source',
  },
  {
    channel: 'Display',
    when: 'utm_medium display, banner, cpm, expandable, interstitial, programmatic',
  },
  { channel: 'Affiliate', when: 'utm_medium affiliate(s)' },
  { channel: 'Email', when: 'utm_medium email, e-mail, mail, newsletter' },
  { channel: 'SMS', when: 'utm_medium sms, text, mms' },
  { channel: 'Audio', when: 'utm_medium audio, podcast' },
  {
    channel: 'Organic Social',
    when: 'utm_medium social, social-network, social-media, sm, organic-social',
  },
  { channel: 'Video', when: 'utm_medium video, organic-video' },
  { channel: 'Organic Search', when: 'utm_medium organic' },
  { channel: 'Referral', when: 'utm_medium referral, link' },
  {
    channel: 'Paid Search',
    when: 'click id gclid, gbraid, wbraid, msclkid, yclid (no utm_medium)',
  },
  { channel: 'Display', when: 'click id dclid' },
  { channel: 'Paid Social', when: 'click id ttclid, twclid, li_fat_id, rdt_cid, sccid, epik' },
  { channel: 'Email', when: 'click id mc_cid' },
  {
    channel: 'AI Assistants',
    when: 'source or referrer chatgpt.com, perplexity.ai, claude.ai, gemini.google.com, ...',
  },
  {
    channel: 'Email',
    when: 'source or referrer webmail (mail.google.com, outlook.live.com, webmail.*), source email',
  },
  {
    channel: 'Organic Search',
    when: 'source or referrer a search engine (google.*, bing, duckduckgo, yahoo, baidu, ...)',
  },
  { channel: 'Video', when: 'source or referrer youtube, vimeo, twitch, dailymotion, wistia' },
  {
    channel: 'Organic Social',
    when: 'source or referrer a social network (facebook, instagram, linkedin, t.co, x, ...)',
  },
  { channel: 'SMS', when: 'source sms' },
  { channel: 'Organic Social', when: 'click id fbclid (organic shares carry it too)' },
  { channel: 'Other campaign', when: 'any other utm_source / utm_medium / utm_campaign' },
  { channel: 'Referral', when: 'any other external referrer' },
  { channel: 'Direct', when: 'nothing of the above' },
];

type SiteKind = 'search' | 'social' | 'video' | 'email' | 'ai' | 'sms';

/** Exact hosts, matched on the host and each parent of it; checked before brands. */
const HOSTS: Readonly<Record<string, SiteKind>> = {
  'chatgpt.com': 'ai',
  'chat.openai.com': 'ai',
  'openai.com': 'ai',
  'perplexity.ai': 'ai',
  'claude.ai': 'ai',
  'gemini.google.com': 'ai',
  'bard.google.com': 'ai',
  'copilot.microsoft.com': 'ai',
  'copilot.cloud.microsoft': 'ai',
  'meta.ai': 'ai',
  'chat.deepseek.com': 'ai',
  'grok.com': 'ai',
  'chat.mistral.ai': 'ai',
  'poe.com': 'ai',
  'you.com': 'ai',
  'phind.com': 'ai',
  'mail.google.com': 'email',
  'inbox.google.com': 'email',
  'outlook.live.com': 'email',
  'outlook.office.com': 'email',
  'outlook.office365.com': 'email',
  'mail.yahoo.com': 'email',
  'mail.aol.com': 'email',
  'mail.proton.me': 'email',
  'mail.zoho.com': 'email',
  'mail.yandex.ru': 'email',
  'mail.yandex.com': 'email',
  'icloud.com': 'email',
  'fastmail.com': 'email',
  'search.brave.com': 'search',
  'search.yahoo.com': 'search',
  'startpage.com': 'search',
  'kagi.com': 'search',
  'search.aol.com': 'search',
  'ask.com': 'search',
  'so.com': 'search',
  'mojeek.com': 'search',
  'youtu.be': 'video',
  't.co': 'social',
  'x.com': 'social',
  'lnkd.in': 'social',
  'pin.it': 'social',
  't.me': 'social',
  'wa.me': 'social',
  'threads.net': 'social',
  'bsky.app': 'social',
  'mastodon.social': 'social',
  'news.ycombinator.com': 'social',
  'vk.com': 'social',
};

/** Brand names: the registrable domain without its suffix (`google` for `www.google.co.uk`). */
const BRANDS: Readonly<Record<string, SiteKind>> = {
  google: 'search',
  bing: 'search',
  duckduckgo: 'search',
  yahoo: 'search',
  yandex: 'search',
  baidu: 'search',
  ecosia: 'search',
  qwant: 'search',
  naver: 'search',
  seznam: 'search',
  sogou: 'search',
  yandsearch: 'search',
  facebook: 'social',
  instagram: 'social',
  linkedin: 'social',
  twitter: 'social',
  reddit: 'social',
  pinterest: 'social',
  tiktok: 'social',
  snapchat: 'social',
  tumblr: 'social',
  quora: 'social',
  nextdoor: 'social',
  discord: 'social',
  telegram: 'social',
  whatsapp: 'social',
  weibo: 'social',
  youtube: 'video',
  vimeo: 'video',
  twitch: 'video',
  dailymotion: 'video',
  wistia: 'video',
};

/** Bare `utm_source` words that are not domains. */
const SOURCE_WORDS: Readonly<Record<string, SiteKind>> = {
  ...BRANDS,
  fb: 'social',
  ig: 'social',
  x: 'social',
  threads: 'social',
  bluesky: 'social',
  mastodon: 'social',
  chatgpt: 'ai',
  openai: 'ai',
  perplexity: 'ai',
  claude: 'ai',
  gemini: 'ai',
  copilot: 'ai',
  deepseek: 'ai',
  grok: 'ai',
  email: 'email',
  'e-mail': 'email',
  newsletter: 'email',
  gmail: 'email',
  outlook: 'email',
  sms: 'sms',
  text: 'sms',
};

function kindOfHost(host: string): SiteKind | null {
  let name = host;
  while (name.includes('.')) {
    const kind = HOSTS[name];
    if (kind) return kind;

    name = name.slice(name.indexOf('.') + 1);
  }

  if (/^(?:webmail|mail)\./.test(host) || host.includes('.webmail.')) return 'email';

  const brand = getDomainWithoutSuffix(host, { allowPrivateDomains: false });

  return brand ? (BRANDS[brand] ?? null) : null;
}

/** What kind of site a `utm_source` value or referrer host names, if we know it. */
export function siteKind(source: string | null | undefined): SiteKind | null {
  if (!source) return null;

  const name = source
    .trim()
    .toLowerCase()
    .replace(/^https?:\/\//, '')
    .replace(/[/:].*$/, '')
    .replace(/\.$/, '');
  if (name === '') return null;

  return name.includes('.') ? kindOfHost(name) : (SOURCE_WORDS[name] ?? null);
}

function fold(value: string | null | undefined): string {
  return (value ?? '').toLowerCase().replace(/[\s_-]/g, '');
}

const PAID_SOCIAL_MEDIUMS = new Set([
  'paidsocial',
  'socialpaid',
  'socialads',
  'socialad',
  'paidsocialmedia',
]);
const PAID_SEARCH_MEDIUMS = new Set(['cpc', 'ppc', 'paidsearch', 'searchpaid', 'sem', 'searchads']);
const PAID_MEDIUMS = new Set(['paid', 'cpv', 'cpa', 'cpp', 'ads', 'ad', 'paidmedia']);
const DISPLAY_MEDIUMS = new Set([
  'display',
  'banner',
  'cpm',
  'expandable',
  'interstitial',
  'programmatic',
]);
const AFFILIATE_MEDIUMS = new Set(['affiliate', 'affiliates']);
const EMAIL_MEDIUMS = new Set(['email', 'mail', 'newsletter', 'emailmarketing']);
const SMS_MEDIUMS = new Set(['sms', 'text', 'mms', 'textmessage']);
const AUDIO_MEDIUMS = new Set(['audio', 'podcast']);
const SOCIAL_MEDIUMS = new Set(['social', 'socialnetwork', 'socialmedia', 'sm', 'organicsocial']);
const VIDEO_MEDIUMS = new Set(['video', 'organicvideo']);
const REFERRAL_MEDIUMS = new Set(['referral', 'link']);

function byMedium(medium: string, source: SiteKind | null): Channel | null {
  const paidSearch = PAID_SEARCH_MEDIUMS.has(medium);
  const paid = paidSearch || PAID_MEDIUMS.has(medium);
  if (PAID_SOCIAL_MEDIUMS.has(medium) || (paid && source === 'social')) return 'Paid Social';
  if (paid && source === 'video') return 'Video';
  if (paidSearch || (paid && (source === 'search' || source === null))) return 'Paid Search';
  if (DISPLAY_MEDIUMS.has(medium)) return 'Display';
  if (AFFILIATE_MEDIUMS.has(medium)) return 'Affiliate';
  if (EMAIL_MEDIUMS.has(medium)) return 'Email';
  if (SMS_MEDIUMS.has(medium)) return 'SMS';
  if (AUDIO_MEDIUMS.has(medium)) return 'Audio';
  if (SOCIAL_MEDIUMS.has(medium)) return 'Organic Social';
  if (VIDEO_MEDIUMS.has(medium)) return 'Video';
  if (medium === 'organic') return 'Organic Search';
  if (REFERRAL_MEDIUMS.has(medium)) return 'Referral';

  return null;
}

const CLICK_CHANNELS: Readonly<Record<string, Channel>> = {
  gclid: 'Paid Search',
  gbraid: 'Paid Search',
  wbraid: 'Paid Search',
  gclsrc: 'Paid Search',
  msclkid: 'Paid Search',
  yclid: 'Paid Search',
  dclid: 'Display',
  ttclid: 'Paid Social',
  twclid: 'Paid Social',
  li_fat_id: 'Paid Social',
  rdt_cid: 'Paid Social',
  sccid: 'Paid Social',
  epik: 'Paid Social',
  mc_cid: 'Email',
};

const KIND_CHANNELS: Readonly<Record<SiteKind, Channel>> = {
  ai: 'AI Assistants',
  email: 'Email',
  search: 'Organic Search',
  video: 'Video',
  social: 'Organic Social',
  sms: 'SMS',
};

/**
 * Picks a session's channel from its landing page's UTM tags and click id and its referrer.
 *
 * @example
 * classifyChannel({ utm: { ...emptyUtm(), source: 'newsletter', medium: 'email' } }); // 'Email'
 * classifyChannel({ referrerHost: 'www.google.co.uk' }); // 'Organic Search'
 */
export function classifyChannel(input: ChannelInput): Channel {
  const utm = input.utm ?? null;
  const referrer = input.referrerHost ?? input.referrerDomain ?? null;
  const sourceKind = siteKind(utm?.source) ?? siteKind(referrer);
  const medium = fold(utm?.medium);
  const byTag = medium === '' ? null : byMedium(medium, sourceKind);
  if (byTag) return byTag;

  const clickType = input.clickId?.type.toLowerCase();
  const byClick = clickType ? CLICK_CHANNELS[clickType] : undefined;
  if (byClick) return byClick;
  if (sourceKind) return KIND_CHANNELS[sourceKind];
  if (clickType === 'fbclid') return 'Organic Social';

  const tagged =
    utm !== null && (utm.source !== null || utm.medium !== null || utm.campaign !== null);
  if (tagged) return 'Other campaign';
  if (referrer) return 'Referral';

  return 'Direct';
}
