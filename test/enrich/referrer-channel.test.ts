import { describe, expect, test } from 'vitest';

import { CHANNEL_RULES, CHANNELS, classifyChannel, siteKind } from '../../src/enrich/channel.js';
import { sanitizeReferrer } from '../../src/enrich/referrer.js';
import { emptyUtm, type Utm } from '../../src/enrich/utm.js';

const PAGE_HOST = 'portal.clinic-a.example';

const utm = (fields: Partial<Utm>): Utm => ({ ...emptyUtm(), ...fields });
const fromReferrer = (url: string) => {
  const referrer = sanitizeReferrer(url, PAGE_HOST);

  return classifyChannel({ referrerHost: referrer?.host, referrerDomain: referrer?.domain });
};

describe('referrer', () => {
  test('an external referrer is reduced to host and registrable domain', () => {
    expect(sanitizeReferrer('https://www.google.co.uk/search?q=knee+pain', PAGE_HOST)).toEqual({
      host: 'www.google.co.uk',
      domain: 'google.co.uk',
    });
    expect(sanitizeReferrer('HTTP://L.Facebook.COM./l.php?u=x', PAGE_HOST)).toEqual({
      host: 'l.facebook.com',
      domain: 'facebook.com',
    });
  });

  test('C16 (h) only http and https are kept', () => {
    const refused = [
      'javascript:alert(1)',
      'data:text/html,hi',
      'android-app://com.google.android.gm/',
      'file:///etc/passwd',
      'ftp://files.example/',
      'about:blank',
      '',
      '   ',
      'not a url',
      'https://',
    ];
    for (const raw of refused) {
      expect(sanitizeReferrer(raw, PAGE_HOST), raw).toBeNull();
    }

    expect(sanitizeReferrer(undefined, PAGE_HOST)).toBeNull();
    expect(sanitizeReferrer(null, PAGE_HOST)).toBeNull();
  });

  test('IP-literal hosts are dropped, in every spelling', () => {
    for (const raw of [
      'http://198.51.100.7/',
      'http://[2001:db8::1]:8080/',
      'http://0x7f.1/',
      'http://3232235777/',
    ]) {
      expect(sanitizeReferrer(raw, PAGE_HOST), raw).toBeNull();
    }
  });

  test('same-site referrers (same registrable domain) are null: no referral from ourselves', () => {
    expect(sanitizeReferrer('https://portal.clinic-a.example/page', PAGE_HOST)).toBeNull();
    expect(sanitizeReferrer('https://www.clinic-a.example/', PAGE_HOST)).toBeNull();
    expect(sanitizeReferrer('https://clinic-a.example.evil.test/', PAGE_HOST)).not.toBeNull();
  });

  test('private suffixes count: another github.io site is external', () => {
    expect(sanitizeReferrer('https://other.github.io/', 'clinic.github.io')).toEqual({
      host: 'other.github.io',
      domain: 'other.github.io',
    });
  });

  test('a host that itself looks like PHI is dropped', () => {
    expect(sanitizeReferrer('https://5551234567.example/', PAGE_HOST)).toBeNull();
  });
});

describe('channel', () => {
  test('the documented table names every channel and ends with Direct', () => {
    expect(new Set(CHANNEL_RULES.map((rule) => rule.channel))).toEqual(new Set(CHANNELS));
    expect(CHANNEL_RULES.at(-1)?.channel).toBe('Direct');
  });

  test('nothing at all is Direct; an unknown external referrer is Referral', () => {
    expect(classifyChannel({})).toBe('Direct');
    expect(fromReferrer('https://blog.partner.example/post')).toBe('Referral');
  });

  test('search engines by referrer, across country domains', () => {
    for (const url of [
      'https://www.google.com/',
      'https://www.google.co.uk/',
      'https://www.bing.com/search?q=x',
      'https://duckduckgo.com/',
      'https://search.yahoo.com/',
      'https://yandex.ru/',
      'https://www.baidu.com/',
      'https://www.ecosia.org/',
      'https://search.brave.com/',
    ]) {
      expect(fromReferrer(url), url).toBe('Organic Search');
    }
  });

  test('AI assistants win over the search brand they live under', () => {
    for (const url of [
      'https://chatgpt.com/',
      'https://chat.openai.com/',
      'https://www.perplexity.ai/',
      'https://claude.ai/',
      'https://gemini.google.com/app',
      'https://copilot.microsoft.com/',
    ]) {
      expect(fromReferrer(url), url).toBe('AI Assistants');
    }

    expect(classifyChannel({ utm: utm({ source: 'chatgpt.com' }) })).toBe('AI Assistants');
  });

  test('social networks, video sites and webmail by referrer', () => {
    expect(fromReferrer('https://l.facebook.com/')).toBe('Organic Social');
    expect(fromReferrer('https://t.co/abc')).toBe('Organic Social');
    expect(fromReferrer('https://www.linkedin.com/feed')).toBe('Organic Social');
    expect(fromReferrer('https://old.reddit.com/')).toBe('Organic Social');
    expect(fromReferrer('https://www.youtube.com/watch?v=x')).toBe('Video');
    expect(fromReferrer('https://mail.google.com/mail/u/0')).toBe('Email');
    expect(fromReferrer('https://outlook.live.com/')).toBe('Email');
    expect(fromReferrer('https://webmail.hospital.example/')).toBe('Email');
  });

  test('utm_medium decides first: paid search, paid social, display, email, affiliate, sms', () => {
    expect(classifyChannel({ utm: utm({ source: 'google', medium: 'cpc' }) })).toBe('Paid Search');
    expect(classifyChannel({ utm: utm({ source: 'bing', medium: 'PPC' }) })).toBe('Paid Search');
    expect(classifyChannel({ utm: utm({ source: 'facebook', medium: 'cpc' }) })).toBe(
      'Paid Social',
    );
    expect(classifyChannel({ utm: utm({ source: 'ig', medium: 'paid' }) })).toBe('Paid Social');
    expect(classifyChannel({ utm: utm({ medium: 'paid_social' }) })).toBe('Paid Social');
    expect(classifyChannel({ utm: utm({ source: 'youtube', medium: 'cpv' }) })).toBe('Video');
    expect(classifyChannel({ utm: utm({ medium: 'banner' }) })).toBe('Display');
    expect(classifyChannel({ utm: utm({ medium: 'E-Mail' }) })).toBe('Email');
    expect(classifyChannel({ utm: utm({ medium: 'newsletter' }) })).toBe('Email');
    expect(classifyChannel({ utm: utm({ medium: 'affiliate' }) })).toBe('Affiliate');
    expect(classifyChannel({ utm: utm({ medium: 'sms' }) })).toBe('SMS');
    expect(classifyChannel({ utm: utm({ medium: 'podcast' }) })).toBe('Audio');
    expect(classifyChannel({ utm: utm({ medium: 'social-network' }) })).toBe('Organic Social');
    expect(classifyChannel({ utm: utm({ medium: 'organic', source: 'google' }) })).toBe(
      'Organic Search',
    );
  });

  test('an explicit medium beats the referrer it arrived with', () => {
    const referrer = { referrerHost: 'www.google.com', referrerDomain: 'google.com' };

    expect(
      classifyChannel({ ...referrer, utm: utm({ source: 'newsletter', medium: 'email' }) }),
    ).toBe('Email');
  });

  test('click ids: search and social ad ids are paid; fbclid alone is organic', () => {
    const click = (type: string) => classifyChannel({ clickId: { type } });

    expect(click('gclid')).toBe('Paid Search');
    expect(click('gbraid')).toBe('Paid Search');
    expect(click('wbraid')).toBe('Paid Search');
    expect(click('msclkid')).toBe('Paid Search');
    expect(click('dclid')).toBe('Display');
    expect(click('ttclid')).toBe('Paid Social');
    expect(click('twclid')).toBe('Paid Social');
    expect(click('li_fat_id')).toBe('Paid Social');
    expect(click('fbclid')).toBe('Organic Social');
    expect(
      classifyChannel({ clickId: { type: 'fbclid' }, utm: utm({ source: 'fb', medium: 'paid' }) }),
    ).toBe('Paid Social');
  });

  test('tagged traffic that matches nothing is Other campaign, not Direct', () => {
    expect(classifyChannel({ utm: utm({ campaign: 'spring' }) })).toBe('Other campaign');
    expect(classifyChannel({ utm: utm({ source: 'flyer', medium: 'qr' }) })).toBe('Other campaign');
  });

  test('siteKind reads bare words, hosts and URLs', () => {
    expect(siteKind('Google')).toBe('search');
    expect(siteKind('https://www.instagram.com/x')).toBe('social');
    expect(siteKind('fb')).toBe('social');
    expect(siteKind('clinic-partner')).toBeNull();
    expect(siteKind('')).toBeNull();
  });
});
