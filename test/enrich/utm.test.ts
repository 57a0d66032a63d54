import { describe, expect, test } from 'vitest';

import { validateSiteSettings } from '../../src/domain/site.js';
import { sanitizePage } from '../../src/enrich/url.js';
import { parseUtm, utmGroupKey, UTM_VALUE_MAX } from '../../src/enrich/utm.js';

const settings = validateSiteSettings({ domains: ['www.clinic-a.example'] });
const at = (query: string, path = '/landing'): string =>
  `https://www.clinic-a.example${path}${query}`;
const page = (query: string, path?: string) => sanitizePage(at(query, path), settings);

describe('C14 UTM parameter parsing', () => {
  test('C14 a control character in a UTM key does not lose the campaign (QA)', () => {
    const campaign = parseUtm(
      'https://a.example/?utm_source%00=nul&UTM_MEDIUM%01=email&utm_campaign%E2%80%8B=spring',
    );

    expect(campaign.utm.source).toBe('nul');
    expect(campaign.utm.medium).toBe('email');
    expect(campaign.utm.campaign).toBe('spring');
  });

  test('C14.1 %20 decodes to a space', () => {
    expect(page('?utm_source=Android%20App').utm.source).toBe('Android App');
  });

  test('C14.2 + is a space in the query', () => {
    expect(page('?utm_campaign=Spring+Sale+2025').utm.campaign).toBe('Spring Sale 2025');
  });

  test('C14.3 %2B is a literal plus', () => {
    expect(page('?utm_source=partner%2Bco').utm.source).toBe('partner+co');
  });

  test('C14.4 multi-byte UTF-8 escapes decode to the Unicode text', () => {
    const { utm } = page('?utm_campaign=Li%C5%A1%C3%A1ck%C3%A9%20p%C5%99edplatn%C3%A9');

    expect(utm.campaign).toBe('Lišácké předplatné');
  });

  test('C14.5 values are decoded exactly once', () => {
    expect(page('?utm_source=no%2520code').utm.source).toBe('no%20code');
  });

  test('C14.6 order of parameters does not matter', () => {
    const a = page('?utm_medium=cpc&utm_source=bing').utm;
    const b = page('?utm_source=bing&utm_medium=cpc').utm;

    expect(a.source).toBe('bing');
    expect(a).toEqual(b);
  });

  test('C14.7 the first occurrence wins (first non-empty one, documented in utm.ts)', () => {
    expect(page('?utm_source=a&utm_source=a&utm_source=b').utm.source).toBe('a');
    expect(page('?utm_source=&utm_source=b').utm.source).toBe('b');
  });

  test('C14.8 names are case-insensitive, values keep their case', () => {
    expect(page('?UTM_Source=Newsletter').utm.source).toBe('Newsletter');
    expect(page('?UTM_Source=Newsletter').query).toBe('');
  });

  test('C14.9 LinkedIn and linkedin are stored as sent and grouped as one source', () => {
    const upper = page('?utm_source=LinkedIn').utm.source as string;
    const lower = page('?utm_source=linkedin').utm.source as string;

    expect(upper).toBe('LinkedIn');
    expect(lower).toBe('linkedin');
    expect(utmGroupKey(upper)).toBe(utmGroupKey(lower));
  });

  test('C14.10 a broken escape is kept literally and nothing throws', () => {
    expect(() => page('?utm_source=%E0%A4%A')).not.toThrow();
    expect(page('?utm_source=%E0%A4%A').utm.source).toBe('%E0%A4%A');
    expect(page('?utm_source=%zz%').utm.source).toBe('%zz%');
    expect(page('?utm_source=%C3%28ok').utm.source).toBe('%C3(ok');
  });

  test('C14.11 UTMs in the fragment are ignored by default; the path is counted once', () => {
    const result = sanitizePage('https://www.clinic-a.example/pricing#utm_source=x', settings);

    expect(result.utm.source).toBeNull();
    expect(result.path).toBe('/pricing');
    expect(result.fragment).toBe('');
  });

  test('C14.11 with keepFragments a fragment UTM is read, and the query still wins', () => {
    const keep = validateSiteSettings({ keepFragments: true });
    const fromFragment = sanitizePage('https://www.clinic-a.example/pricing#utm_source=x', keep);
    const both = sanitizePage('https://www.clinic-a.example/p?utm_source=q#utm_source=f', keep);

    expect(fromFragment.utm.source).toBe('x');
    expect(fromFragment.fragment).toBe('');
    expect(both.utm.source).toBe('q');
  });

  test('C14.12 an empty value is null, not ""', () => {
    expect(page('?utm_source=').utm.source).toBeNull();
    expect(page('?utm_source').utm.source).toBeNull();
    expect(page('?utm_source=+++').utm.source).toBeNull();
  });

  test('C14.12 a 600-character utm_campaign is cut at 256 and flagged', () => {
    const result = page(`?utm_campaign=${'c'.repeat(600)}`);

    expect(UTM_VALUE_MAX).toBe(256);
    expect(result.utm.campaign).toBe('c'.repeat(256));
    expect(result.flags).toContain('utm_truncated');
  });

  test('C14.12 truncation never splits a surrogate pair', () => {
    const result = page(`?utm_campaign=${'a'.repeat(255)}${encodeURIComponent('💥')}`);

    expect(result.utm.campaign).toBe('a'.repeat(255));
  });

  test('C14.13 + in the path stays a plus; UTMs are removed from the stored path and query', () => {
    const result = sanitizePage('https://www.clinic-a.example/c++/guide?utm_source=x', settings);

    expect(result.path).toBe('/c++/guide');
    expect(result.query).toBe('');
    expect(result.utm.source).toBe('x');
  });

  test('C14.13 /landing?utm_... variants group under /landing', () => {
    const variants = [
      '?utm_source=a',
      '?utm_source=b&utm_medium=c&utm_campaign=d&utm_term=e&utm_content=f',
      '?utm_id=7&utm_source_platform=x&gclid=abc',
      '',
    ].map((query) => page(query));

    expect(new Set(variants.map((v) => `${v.path}?${v.query}`))).toEqual(new Set(['/landing?']));
  });
});

describe('campaign edge cases', () => {
  test('a percent-encoded CJK campaign inside a 6,000-character URL is read in full', () => {
    const campaign = '春季健康检查';
    const url = at(
      `?gclid=${'x'.repeat(3_500)}&pad=${'p'.repeat(2_000)}` +
        `&utm_campaign=${encodeURIComponent(campaign)}`,
    );
    const result = sanitizePage(url, settings);

    expect(url.length).toBeGreaterThan(5_500);
    expect(result.utm.campaign).toBe(campaign);
    expect(result.clickId).toEqual({ type: 'gclid' });
    expect(JSON.stringify(result)).not.toContain('xxxx');
  });

  test('click ids are recognised case-insensitively, their value never kept', () => {
    const result = page('?ScCid=secret123&fbclid=IwAR0abc');

    expect(result.clickId).toEqual({ type: 'sccid' });
    expect(result.query).toBe('');
    expect(JSON.stringify(result)).not.toMatch(/secret123|IwAR0abc/);
  });

  test('a UTM value holding PHI is redacted', () => {
    const result = page('?utm_content=pat.doe%40mail.test&utm_term=555-123-4567');

    expect(result.utm.content).toBe('[redacted]');
    expect(result.utm.term).toBe('[redacted]');
  });

  test('parseUtm reads a raw URL directly and ignores non-URLs', () => {
    expect(parseUtm(at('?utm_medium=email')).utm.medium).toBe('email');
    expect(parseUtm('not a url').utm.medium).toBeNull();
  });
});
