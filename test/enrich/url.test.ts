import { describe, expect, test } from 'vitest';

import { validateSiteSettings } from '../../src/domain/site.js';
import { isLightTrailError } from '../../src/errors.js';
import { safeDecode, stripControl } from '../../src/enrich/text.js';
import {
  FRAGMENT_MAX,
  pageHostname,
  PATH_MAX,
  QUERY_MAX,
  sanitizePage,
} from '../../src/enrich/url.js';

const HOST = 'https://www.clinic-a.example';
const base = validateSiteSettings({ domains: ['www.clinic-a.example'] });

function refusal(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return isLightTrailError(error) ? error.code : 'not a LightTrailError';
  }

  return undefined;
}

describe('hostname', () => {
  test('lower-cased, port, credentials and trailing dot removed; IDN as punycode', () => {
    const page = sanitizePage('HTTPS://pat:Secret1@WWW.Clinic-A.example.:8443/x', base);

    expect(page.hostname).toBe('www.clinic-a.example');
    expect(page.flags).toContain('redacted');
    expect(JSON.stringify(page)).not.toMatch(/secret1|pat:/i);
    expect(sanitizePage('https://bücher.example/', base).hostname).toBe('xn--bcher-kva.example');
  });

  test('non-http(s) URLs are refused with ERR_INVALID_EVENT', () => {
    for (const url of [
      'javascript:alert(1)',
      'ftp://a.example/',
      'data:text/html,x',
      '',
      'x',
      '//a.example/',
    ]) {
      expect(
        refusal(() => sanitizePage(url, base)),
        url,
      ).toBe('ERR_INVALID_EVENT');
    }

    expect(refusal(() => sanitizePage('https:///nohost', base))).toBe('ERR_INVALID_EVENT');
    expect(refusal(() => sanitizePage('/relative/without/host', base))).toBe('ERR_INVALID_EVENT');
  });

  test('pageHostname gives the stored hostname, for the allowed-domains check', () => {
    expect(pageHostname('https://WWW.Clinic-A.example:443/x?y')).toBe('www.clinic-a.example');
    expect(pageHostname('https://u:p@www.clinic-a.example./')).toBe('www.clinic-a.example');
    expect(pageHostname('javascript:alert(1)')).toBeNull();
    // A port is digits up to 65535, or the URL names no host (RFC 3986 3.2.3).
    expect(pageHostname('https://www.clinic-a.example:65535/')).toBe('www.clinic-a.example');
    expect(pageHostname('https://[2001:db8::1]:8443/')).toBe('[2001:db8::1]');
    expect(pageHostname('https://www.clinic-a.example:65536/')).toBeNull();
    expect(pageHostname('https://www.clinic-a.example:80a/')).toBeNull();
    expect(pageHostname('https://[2001:db8::1]:99999/')).toBeNull();
    expect(pageHostname('https://www.clinic-a.example:000080/')).toBe('www.clinic-a.example');
    // As a browser reads them: a backslash ends the host like a slash.
    expect(pageHostname('https://evil.example\\@www.clinic-a.example/')).toBe('evil.example');
    expect(pageHostname('https://www.clinic-a.example\\@evil.example/')).toBe(
      'www.clinic-a.example',
    );
    expect(pageHostname('/relative')).toBeNull();
    expect(pageHostname('https:///x')).toBeNull();
  });

  test('an origin-relative path takes the host from the options (log import)', () => {
    const page = sanitizePage('/blog/post?x=1', base, { hostname: 'WWW.clinic-a.example' });

    expect(page).toMatchObject({
      hostname: 'www.clinic-a.example',
      path: '/blog/post',
      query: 'x=[redacted]',
    });
  });
});

describe('path', () => {
  test('C16 (b) Unicode paths are stored decoded and byte-exact', () => {
    const raw = '/blog/💥-launch-✝️';
    const encoded = sanitizePage(`${HOST}${encodeURI(raw)}`, base);
    const literal = sanitizePage(`${HOST}${raw}`, base);

    expect(encoded.path).toBe(raw);
    expect(literal.path).toBe(raw);
    expect(Buffer.from(encoded.path, 'utf8')).toEqual(Buffer.from(raw, 'utf8'));
  });

  test('C16 (g) %00 and other control characters are removed, and flagged', () => {
    const page = sanitizePage(
      `${HOST}/a%00b/c%1Fd%7F?k=v%00`,
      validateSiteSettings({ queryAllowlist: ['k'] }),
    );

    expect(page.path).toBe('/ab/cd');
    expect(page.query).toBe('k=v');
    expect(page.flags).toContain('control_removed');
    expect(stripControl('a\u0000b\u0085c\ud800d')).toBe('abc\ufffdd');
  });

  test('broken escapes in the path are kept literally and never throw', () => {
    expect(sanitizePage(`${HOST}/100%/x%zz/%E0%A4%A`, base).path).toBe('/100%/x%zz/%E0%A4%A');
    expect(safeDecode('%F0%9F%92%A5%ED%A0%80')).toBe('💥%ED%A0%80');
  });

  test('SSNs and phone numbers in path segments are redacted, plain or encoded', () => {
    const off = validateSiteSettings({ collapseIds: false });
    const cases = [
      '/records/123-45-6789/view',
      '/records/123%2D45%2D6789/view',
      '/records/%2B1%20(555)%20123-4567/view',
      '/records/555.123.4567/view',
      '/records/0048213/view',
    ];
    for (const path of cases) {
      expect(sanitizePage(`${HOST}${path}`, off).path, path).toBe('/records/[redacted]/view');
    }
  });

  test('a segment with PHI is redacted whole, not just the matched span', () => {
    const page = sanitizePage(`${HOST}/patients/jane-roe-555-123-4567/chart`, base);

    expect(page.path).toBe('/patients/[redacted]/chart');
  });

  test('collapseIds turns numeric, UUID, hex, ULID and token segments into :id', () => {
    const ids = [
      '42',
      '550e8400-e29b-41d4-a716-446655440000',
      '507f1f77bcf86cd799439011',
      '01ARZ3NDEKTSV4RRFFQ69G5FAV',
      'Zx81kqPq2aB7cD9eFgH0',
    ];
    for (const id of ids) {
      expect(sanitizePage(`${HOST}/orders/${id}/receipt`, base).path, id).toBe(
        '/orders/:id/receipt',
      );
    }

    expect(sanitizePage(`${HOST}/covid-19-vaccine-information-2024`, base).path).toBe(
      '/covid-19-vaccine-information-2024',
    );
  });

  test('slugs of capitalised words, acronyms and model numbers are not tokens (QA)', () => {
    const slugs = [
      'COVID19-Vaccine-FAQ-2025',
      'NYC-Marathon-2025-Run4Health',
      'Q1-2025-Flu-Shot-CTA-v2',
      'iPhone15-Pro-Max-256GB',
      'MRI-CT-PET-Scans-2024',
      'Dr-Smith-Cardiology-NYC',
      'mRNA-vaccine-facts-2025',
      'flu-shot-clinic-9am-5pm',
      'h1n1-flu-information-page',
      'VaccineInformationForParents',
      // QA round 4: capitalised words whose vowel is the capital, name prefixes, CamelCase.
      'Heart-And-Vascular-Institute',
      'Patient-Portal-MyChart-Login',
      'Dr-Jane-McAllister-MD',
      'SummerSafetyTipsForKidsAndTeens',
      'DeAngelo-Pediatrics-Group',
      'Jane-Smith-PhD-Cardiology',
      'Ask-A-Nurse-24x7-Hotline',
      // Final QA: abbreviations with their own capitals.
      'HIV-PrEP-Services',
      'DTaP-vaccine-schedule',
      'HbA1c-and-eGFR-tests',
      'MRSA-VRE-CDiff-IPaC',
      'pH-balance-tests',
      'HowToPrepareForYourColonoscopy',
    ];
    for (const slug of slugs) {
      expect(sanitizePage(`${HOST}/campaigns/${slug}`, base).path).toBe(`/campaigns/${slug}`);
    }

    // Random tokens stay ids: with dashes, underscores or dots, grouped, with few digits or
    // none, JWTs, Django's reset tokens (QA round 3).
    const tokens = [
      'Xk3_9fQzLm-Pa7sRt2vW8y',
      'aZ3kP9xQ2mLr8T-bN4vC6',
      'q7R_kP2xZ9mWt4LsB8nY',
      'Hq7Kx-Lm2Pz-Rt9Wb-Ny4Vc',
      'aB3-dE5-fG7-hJ9-kL2-mN4',
      'Xk9_pQ2_mN7_rT4_wZ8_bV6',
      '9HxzAl_-WKGvwNQ6-a9RNA',
      'AbCdEfGhIjKlMnOpQrSt',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
      'c4x1kz-8f3b9a2e1d7c6b5a4f3e',
      'JSESSIONID-A1B2C3D4E5F6G7H8',
    ];
    for (const token of tokens) {
      expect(sanitizePage(`${HOST}/reset/${token}`, base).path, token).toBe('/reset/:id');
    }
  });

  test('nearly every random 16-byte base64url token is an id (a fixed sample)', () => {
    // xorshift32 from a fixed seed: the same 2,000 tokens every run.
    let state = 2463534242;
    const byte = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) & 0xff;
    };
    let kept = 0;
    for (let i = 0; i < 2000; i++) {
      const token = Buffer.from(Array.from({ length: 16 }, byte)).toString('base64url');
      if (sanitizePage(`${HOST}/reset/${token}`, base).path !== '/reset/:id') kept++;
    }

    expect(kept).toBeLessThan(30);
  });

  test('pathRules collapse the segments their * matches, case-insensitively', () => {
    const site = validateSiteSettings({
      pathRules: ['/patients/*/**', '/doctors/*'],
      collapseIds: false,
    });

    expect(sanitizePage(`${HOST}/patients/jdoe/results`, site).path).toBe('/patients/:id/results');
    expect(sanitizePage(`${HOST}/Patients/JDoe/`, site).path).toBe('/Patients/:id/');
    expect(sanitizePage(`${HOST}/doctors/smith`, site).path).toBe('/doctors/:id');
    expect(sanitizePage(`${HOST}/doctors/smith/bio`, site).path).toBe('/doctors/smith/bio');
  });

  test('dot segments and doubled slashes cannot dodge a rule', () => {
    const site = validateSiteSettings({ pathRules: ['/patients/*'], collapseIds: false });

    expect(sanitizePage(`${HOST}/x/../patients//jdoe`, site).path).toBe('/patients/:id');
    expect(sanitizePage(`${HOST}/x/%2E%2E/patients/./jdoe`, site).path).toBe('/patients/:id');
  });

  test('count-only sections store only the pattern: no query, fragment, or detail', () => {
    const site = validateSiteSettings({
      countOnly: ['/portal/**', '/billing/*'],
      keepFragments: true,
    });
    const portal = sanitizePage(
      `${HOST}/portal/messages/42?thread=9&utm_source=sms&utm_term=jane+doe+oncology&gclid=x#top`,
      site,
    );

    expect(portal).toMatchObject({ path: '/portal/*', query: '', fragment: '', countOnly: true });
    // Campaign values are query text too: a free-text term can name a patient (QA).
    expect(portal.utm).toEqual({
      source: null,
      medium: null,
      campaign: null,
      term: null,
      content: null,
    });
    expect(portal.clickId).toBeNull();
    expect(sanitizePage(`${HOST}/PORTAL`, site).path).toBe('/portal/*');
    expect(sanitizePage(`${HOST}/billing/jdoe`, site).path).toBe('/billing/*');
    expect(sanitizePage(`${HOST}/billing/jdoe/x`, site).countOnly).toBe(false);
  });

  test('patterns are kept in the form they match: empty segments and a final slash dropped', () => {
    const site = validateSiteSettings({
      countOnly: ['//portal//**/', '/billing/*/', '/portal/**'],
      pathRules: ['/patients//*/'],
    });

    // The same pattern twice is kept once.
    expect(site.countOnly).toEqual(['/portal/**', '/billing/*']);
    expect(site.pathRules).toEqual(['/patients/*']);
    expect(sanitizePage(`${HOST}/portal/messages/42`, site).path).toBe('/portal/*');
    expect(sanitizePage(`${HOST}/billing/jdoe/`, site).path).toBe('/billing/*');
  });

  test('an encoded slash or backslash cannot hide a segment from a rule', () => {
    const site = validateSiteSettings({ countOnly: ['/portal/**'], pathRules: ['/patients/*'] });

    expect(sanitizePage(`${HOST}/portal%2Fmessages/42`, site).path).toBe('/portal/*');
    expect(sanitizePage(`${HOST}/portal%5Cmessages`, site).path).toBe('/portal/*');
    expect(sanitizePage(`${HOST}/patients%2Fjdoe`, site).path).toBe('/patients/:id');
    expect(sanitizePage(`${HOST}/x/a%2Fpat.doe%2540mail.test`, site).path).toBe('/x/a/[redacted]');
  });

  test('an encoded slash or backslash inside an id cannot lift it out of a rule (QA)', () => {
    const site = validateSiteSettings({
      countOnly: ['/billing/*'],
      pathRules: ['/patients/*', '/patients/*/results'],
    });
    const path = (rest: string) => sanitizePage(`${HOST}${rest}`, site).path;

    // Read as the site's server may read it, `jane%2Fdoe` is one segment: the rule's id.
    for (const id of ['jane%2Fdoe', 'jane%2fdoe', 'jane%5Cdoe', 'jane\\doe', 'a%2Fb%2Fc']) {
      expect(path(`/patients/${id}`)).toBe('/patients/:id');
      expect(path(`/patients/${id}/results`)).toBe('/patients/:id/results');
      expect(path(`/billing/${id}`)).toBe('/billing/*');
    }

    // Without an encoded separator nothing changes.
    expect(path('/patients/jane/doe')).toBe('/patients/jane/doe');
    expect(path('/patients/jane-doe')).toBe('/patients/:id');
  });

  test('a subdomain holding PHI is redacted; configured domains are kept (QA)', () => {
    const site = validateSiteSettings({ domains: ['*.clinic-b.example', 'clinic123456.example'] });
    const host = (url: string) => sanitizePage(url, site);

    for (const sub of ['pat-doe-555-123-4567', '0048213', 'pat.doe.555.123.4567', '123-45-6789']) {
      const page = host(`https://${sub}.clinic-b.example/results`);
      expect(page.hostname, sub).toBe('[redacted].clinic-b.example');
      expect(page.flags).toContain('phi_detected');
    }

    // An international name is read as the Unicode it stands for: a phone in Devanagari digits.
    const devanagari =
      '\u0930\u094b\u0917\u0940\u096b\u096b\u096b\u0967\u0968\u0969\u096a\u096b\u096c\u096d';
    const arabic =
      '\u0645\u0631\u064a\u0636\u0665\u0665\u0665\u0661\u0662\u0663\u0664\u0665\u0666\u0667';
    for (const sub of [devanagari, arabic]) {
      expect(host(`https://${sub}.clinic-b.example/`).hostname).toBe('[redacted].clinic-b.example');
    }

    expect(host('https://www.clinic-b.example/').hostname).toBe('www.clinic-b.example');
    expect(host('https://portal2.eu.clinic-b.example/').hostname).toBe(
      'portal2.eu.clinic-b.example',
    );
    // A configured domain that happens to hold six digits is the site itself, not PHI.
    expect(host('https://clinic123456.example/').hostname).toBe('clinic123456.example');
  });

  test('with fragments kept, a hash route obeys count-only sections and path rules (QA)', () => {
    const site = validateSiteSettings({
      keepFragments: true,
      countOnly: ['/portal/**'],
      pathRules: ['/patients/*/results'],
    });
    const page = (rest: string) => sanitizePage(`${HOST}${rest}`, site);

    for (const rest of ['/#/portal/messages/john-smith', '/app#!/portal/messages/john-smith']) {
      expect(page(rest)).toMatchObject({ path: '/portal/*', fragment: '', countOnly: true });
    }
    expect(page('/#/patients/john-smith/results').fragment).toBe('/patients/:id/results');
    expect(page('/#/about/team')).toMatchObject({ path: '/', fragment: '/about/team' });
  });

  test('a .. made by decoding cannot lift an id out of a rule or a section (QA)', () => {
    const site = validateSiteSettings({
      keepFragments: true,
      countOnly: ['/billing/*'],
      pathRules: ['/patients/*'],
    });
    const page = (rest: string) => sanitizePage(`${HOST}${rest}`, site);

    for (const id of ['..%2Fjane-doe', '%2E%2E%2Fjane-doe', 'jane%2F..%2F..%2Fjane-doe-2']) {
      expect(page(`/billing/${id}`), id).toMatchObject({ path: '/billing/*', countOnly: true });
      expect(page(`/patients/${id}`).path, id).toBe('/patients/:id');
    }
    expect(page('/#/billing/..%2Fjane-doe')).toMatchObject({ path: '/billing/*', countOnly: true });
    // A whole `..` segment still goes up a level, as URL parsing does.
    expect(page('/x/../billing/jane').path).toBe('/billing/*');
    expect(page('/billing/%2e%2e/about').path).toBe('/about');
  });

  test('every way a router writes a hash route obeys count-only sections (QA)', () => {
    const site = validateSiteSettings({ keepFragments: true, countOnly: ['/portal/**'] });

    for (const fragment of [
      '%2Fportal/messages/jane-doe',
      '!%2Fportal/messages/jane-doe',
      'portal/messages/jane-doe',
      '!portal/messages/jane-doe',
      '%2F%2Fportal/x',
      '\\portal\\jane-doe',
    ]) {
      const page = sanitizePage(`${HOST}/#${fragment}`, site);
      expect(page, fragment).toMatchObject({ path: '/portal/*', fragment: '', countOnly: true });
    }
    expect(sanitizePage(`${HOST}/about#team`, site)).toMatchObject({
      path: '/about',
      fragment: 'team',
    });
  });

  test('a path rule applies to a fragment route however the router writes it (QA)', () => {
    const site = validateSiteSettings({ keepFragments: true, pathRules: ['/records/*'] });
    const fragment = (f: string) => sanitizePage(`${HOST}/#${f}`, site).fragment;

    expect(fragment('records/jane-doe')).toBe('/records/:id');
    expect(fragment('%2Frecords%2Fjane-doe')).toBe('/records/:id');
    expect(fragment('!records/jane-doe')).toBe('!/records/:id');
    expect(fragment('/records/jane-doe')).toBe('/records/:id');
    expect(fragment('top')).toBe('top');
  });

  test('path parameters (;jsessionid=...) are dropped', () => {
    const page = sanitizePage(`${HOST}/portal;jsessionid=ABC123DEF/inbox;x=1`, base);
    const encoded = sanitizePage(`${HOST}/inbox%3Bjsessionid%3DABC`, base);

    expect(page.path).toBe('/portal/inbox');
    expect(encoded.path).toBe('/inbox');
    expect(JSON.stringify([page, encoded])).not.toContain('ABC');
  });

  test('root, empty and trailing-slash paths', () => {
    expect(sanitizePage('https://www.clinic-a.example', base).path).toBe('/');
    expect(sanitizePage('https://www.clinic-a.example?x', base).path).toBe('/');
    expect(sanitizePage(`${HOST}/about/`, base).path).toBe('/about/');
  });
});

describe('limits', () => {
  test('C16 (a) a 6,000-character URL: path and query cut at their limits and flagged', () => {
    const names = Array.from({ length: 300 }, (_, i) => `k${i}`);
    const long = `${HOST}/${'seg/'.repeat(500)}?${names.join('&')}`;
    const page = sanitizePage(long, base);

    expect(long.length).toBeGreaterThan(3_000);
    expect(page.path.length).toBeLessThanOrEqual(PATH_MAX);
    expect(page.query.length).toBeLessThanOrEqual(QUERY_MAX);
    expect(page.flags).toContain('url_truncated');
  });

  test('truncation lands on a code-point boundary', () => {
    const page = sanitizePage(`${HOST}/${'a'.repeat(PATH_MAX - 2)}💥💥`, base);

    expect(page.path.length).toBeLessThanOrEqual(PATH_MAX);
    expect(page.path.endsWith('a')).toBe(true);
    expect(Buffer.from(page.path, 'utf8').toString('utf8')).toBe(page.path);
  });

  test('the query is cut between parameters, never inside one', () => {
    const site = validateSiteSettings({ queryAllowlist: ['q'] });
    const page = sanitizePage(`${HOST}/s?${'q=abc&'.repeat(400)}`, site);

    expect(page.query.split('&').every((pair) => pair === 'q=abc')).toBe(true);
    expect(page.flags).toContain('url_truncated');
  });

  test('a kept fragment is bounded and scrubbed like a route', () => {
    const site = validateSiteSettings({ keepFragments: true });
    const page = sanitizePage(
      `${HOST}/app#/patients/12345678/chart?tab=labs&email=a%40b.test`,
      site,
    );
    const long = sanitizePage(`${HOST}/app#${'o'.repeat(1000)}`, site);

    expect(page.fragment).toBe('/patients/:id/chart?tab=[redacted]&email=[redacted]');
    expect(long.fragment.length).toBe(FRAGMENT_MAX);
  });
});

describe('query', () => {
  test('unknown names keep their name, values become [redacted]; bare flags stay bare', () => {
    const page = sanitizePage(`${HOST}/s?ref=abc&flag&empty=&lang=en`, base);

    expect(page.query).toBe('ref=[redacted]&flag&empty=&lang=[redacted]');
  });

  test('allowlisted values are decoded once and re-encoded only where ambiguous', () => {
    const site = validateSiteSettings({ queryAllowlist: ['q', 'topic'] });
    const page = sanitizePage(`${HOST}/s?q=knee+pain%26swelling&topic=%E5%BF%83%E8%84%8F`, site);

    expect(page.query).toBe('q=knee%20pain%26swelling&topic=心脏');
  });

  test('a parameter name holding PHI is redacted too', () => {
    const page = sanitizePage(`${HOST}/s?pat.doe%40mail.test=1&555-123-4567`, base);

    expect(page.query).toBe('[redacted]=[redacted]&[redacted]');
  });

  test('a time zone is stored as the time zone database spells it (QA)', () => {
    expect(validateSiteSettings({ timeZone: 'america/new_york' }).timeZone).toBe(
      'America/New_York',
    );
    expect(validateSiteSettings({ timeZone: 'utc' }).timeZone).toBe('UTC');
  });

  test('a pattern that is refused says what a pattern is (QA)', () => {
    let message = '';
    try {
      validateSiteSettings({ countOnly: ['/portal /**'] });
    } catch (error) {
      message = (error as Error).message;
    }

    expect(message).toContain('no white space');
  });

  test('built-in sensitive names cannot be allowlisted, and stay redacted if they were', () => {
    for (const name of [
      'email',
      'mc_eid',
      'first_name',
      'EMAIL',
      'patient_first_name',
      'claimNumber',
    ]) {
      expect(
        refusal(() => validateSiteSettings({ queryAllowlist: ['q', name] })),
        name,
      ).toBe('ERR_INVALID_ARGUMENT');
    }

    // Settings saved before the refusal keep working: the value is still never kept.
    const site = { ...base, queryAllowlist: ['email', 'mc_eid', 'first_name', 'claim_no'] };
    const page = sanitizePage(`${HOST}/s?email=x&mc_eid=y&first_name=Pat&claim_no=48213`, site);

    expect(page.query).toBe(
      'email=[redacted]&mc_eid=[redacted]&first_name=[redacted]&claim_no=[redacted]',
    );
  });
});
