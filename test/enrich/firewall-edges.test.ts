import { randomBytes } from 'node:crypto';

import { describe, expect, test } from 'vitest';

import { createPreparer } from '../../src/collect/prepare.js';
import { parsePayload } from '../../src/collect/schema.js';
import { pageWithQuery } from '../../src/domain/page.js';
import { isBuiltInSensitive } from '../../src/domain/sensitive-names.js';
import { validateSiteSettings, type Site } from '../../src/domain/site.js';
import { hostHasPhi, sanitizeTitle, scrubProps, scrubText } from '../../src/enrich/phi.js';
import { sanitizeReferrer } from '../../src/enrich/referrer.js';
import { sanitizePage } from '../../src/enrich/url.js';
import { createLogger } from '../../src/log/logger.js';

// The seventh session's QA round on the PHI firewall: each test is a kind of input that got
// PHI through (or made reports ambiguous) before it.
const HOST = 'https://www.clinic-a.example';
const site = validateSiteSettings({
  domains: ['www.clinic-a.example', '*.clinic-w.example'],
  queryAllowlist: ['q'],
  keepFragments: true,
  pageTitles: true,
  countOnly: ['/portal/**'],
});
// Twelve digits: no detector matches it whole, but its first nine read as an SSN.
const TAIL = '123-45-67890';
const CUT_SSN = '123-45-6789';

function stored(value: unknown): string {
  return JSON.stringify(value);
}

const clinic: Site = { id: 's', tenantId: 't', name: 'C', settings: site, createdAt: 0 };
const salts = { salt: randomBytes(32), previous: null };
let preparer: ReturnType<typeof createPreparer> | undefined;

/** One event through the writer thread's preparer, as the collect endpoint hands it over. */
async function enrichOne(event: Record<string, unknown>) {
  preparer ??= createPreparer(
    { geoipDb: undefined, spamFile: '/nonexistent/spam.txt' },
    createLogger({ level: 'silent' }),
  );
  const prepare = await preparer;
  const job = {
    siteId: 's',
    saltsId: 1,
    events: [{ type: 'custom', url: `${HOST}/`, name: 'signup', ...event }],
    client: {
      ip: '198.51.100.7',
      requestNonce: '',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
      secChUa: null,
      platformHint: null,
      mobileHint: null,
      now: Date.now(),
    },
  };
  const { events } = prepare(
    JSON.parse(JSON.stringify(job)) as never,
    { site: clinic, salts } as never,
  );

  return events[0];
}

describe('a cut to a length limit is read again (QA: the cut made an SSN of what was none)', () => {
  test('UTM values, 256', () => {
    const page = sanitizePage(`${HOST}/?utm_campaign=${'a'.repeat(245)}${TAIL}`, site);

    expect(page.utm.campaign).toBe('[redacted]');
    expect(page.flags).toEqual(expect.arrayContaining(['utm_truncated', 'phi_detected']));
  });

  test('paths, 1024: the cut segment is left out', () => {
    const long = `/${'o'.repeat(200)}`.repeat(4);
    const page = sanitizePage(`${HOST}${long}/${'y'.repeat(207)}/${TAIL}`, site);

    expect(page.path.length).toBeLessThanOrEqual(1024);
    expect(page.path).not.toContain(CUT_SSN);
    expect(page.path.startsWith(`${long}/${'y'.repeat(207)}/`)).toBe(true);
    expect(page.flags).toContain('url_truncated');
  });

  test('query names, 64', () => {
    const page = sanitizePage(`${HOST}/?${'n'.repeat(53)}${TAIL}=1`, site);

    expect(page.query).toBe('[redacted]=[redacted]');
  });

  test('fragments, 256, as anchors and as routes', () => {
    const anchor = sanitizePage(`${HOST}/#${'c'.repeat(245)}${TAIL}`, site);
    const route = sanitizePage(`${HOST}/#/${'o'.repeat(243)}/${TAIL}`, site);
    const routeQuery = sanitizePage(`${HOST}/#/r?q=${'q'.repeat(240)}${TAIL}`, site);

    for (const page of [anchor, route, routeQuery]) {
      expect(page.fragment.length).toBeLessThanOrEqual(256);
      expect(page.fragment).not.toContain(CUT_SSN);
    }
  });

  test('titles and property values, 256', () => {
    const title = sanitizeTitle(`${'T'.repeat(245)}${TAIL}`, site);
    const props = scrubProps({ note: `${'x'.repeat(245)}${TAIL}` });

    expect(title).not.toContain(CUT_SSN);
    expect(title?.endsWith('[redacted]')).toBe(true);
    expect(props.note).not.toContain(CUT_SSN);
  });

  test('custom event names, 128, and field names quoted in an error, 40', async () => {
    const event = await enrichOne({ name: `${'n'.repeat(117)}${TAIL}` });
    expect(event?.name).not.toContain(CUT_SSN);
    // Counted in the site's firewall report like PHI found in the address.
    expect(event?.flags.split(',')).toContain('phi_detected');

    let message = '';
    try {
      parsePayload(
        { site: 's', type: 'pageview', url: `${HOST}/`, [`${'n'.repeat(29)}${TAIL}`]: 1 },
        50,
      );
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^unknown field "/);
    expect(message).not.toContain(CUT_SSN);
  });
});

describe('escapes that do not decode (QA round 3)', () => {
  test('a Latin-1 or broken escape inside an address does not hide it', () => {
    expect(scrubText('Message from pat.doe%C0@mail.test')).not.toContain('pat.doe');
    const page = sanitizePage(
      `${HOST}/contact/jos%E9%40mail.test?q=jos%E9%40mail.test&utm_term=jos%E9%40mail.test`,
      site,
    );
    expect(page.path).toBe('/contact/[redacted]');
    expect(page.query).toBe('q=[redacted]');
    expect(page.utm.term).toBe('[redacted]');
    expect(scrubProps({ 'jos%E9@mail.test': 'v', note: 'pat.doe%C0@mail.test' })).toEqual({
      note: '[redacted]',
    });
  });

  test.each(['123%FF45%FF6789', '555%C0234%C05678', '4111%FF1111%FF1111%FF1111'])(
    'nor inside a number: %s',
    (number) => {
      expect(scrubText(`ref ${number} end`)).toBe('ref [redacted] end');
    },
  );

  test('escapes of ordinary text stay as they were', () => {
    for (const text of ['Annual%20Report%202024.pdf', 'Spring%20Sale%202025', '100%25%20natural']) {
      expect(scrubText(text)).not.toContain('[redacted]');
    }
  });
});

describe('the read after a cut covers what the escapes left decode to (QA round 3)', () => {
  const hidden = '123%252D45%252D67890';

  test('paths, UTM values, anchors, hash routes and link targets', () => {
    const path = sanitizePage(`${HOST}/${'a'.repeat(1008)}${hidden}`, site);
    const utm = sanitizePage(`${HOST}/?utm_campaign=${'a'.repeat(241)}${hidden}`, site);
    const anchor = sanitizePage(`${HOST}/#${'a'.repeat(241)}${hidden}`, site);
    const route = sanitizePage(`${HOST}/#/${'a'.repeat(240)}${hidden}`, site);

    for (const text of [path.path, utm.utm.campaign, anchor.fragment, route.fragment]) {
      expect(text).not.toMatch(/123%2D45%2D6789|123-45-6789/);
    }
  });
});

describe('numbers in more layouts (QA)', () => {
  // Loose joins take numbers that can exist (a NANP area code and exchange start with 2 to 9):
  // real ones do, and `555-123-4567`, a test number, is caught only in the usual layouts.
  const layouts = [
    '555+234+5678',
    '123+45+6789',
    '123/45/6789',
    '555/234/5678',
    '555,234,5678',
    '555  234  5678',
    '555    234    5678',
    '(555)  234-5678',
    '123 - 45 - 6789',
    '4111  1111  1111  1111',
    '4111 - 1111 - 1111 - 1111',
    '4111/1111/1111/1111',
    '3782/822463/10005',
    '555\u1680123\u16804567',
    '555•123•4567',
    '555●234●5678',
    '555\u2044234\u20445678',
    '123\u221545\u22156789',
    '555\u3001234\u30015678',
  ];

  test.each(layouts)('%s is redacted in free text, UTM values and path segments', (number) => {
    expect(scrubText(`Call ${number} today`)).toBe('Call [redacted] today');
    const utm = sanitizePage(`${HOST}/?utm_term=${encodeURIComponent(number)}`, site);
    expect(utm.utm.term).toBe('[redacted]');
    // An encoded `/` is a separator in a path: those segments are ids then.
    const path = sanitizePage(`${HOST}/search/${encodeURIComponent(number)}/`, site);
    const ids = number
      .split('/')
      .map(() => ':id')
      .join('/');
    expect(path.path).toBe(number.includes('/') ? `/search/${ids}/` : '/search/[redacted]/');
  });

  test('a number split over path segments (QA round 4)', () => {
    const off = validateSiteSettings({ domains: ['www.clinic-a.example'], collapseIds: false });
    expect(sanitizePage(`${HOST}/call/(617)/555-0123`, site).path).toBe(
      '/call/[redacted]/[redacted]',
    );
    expect(sanitizePage(`${HOST}/contact/+1-617/555-0123`, site).path).toBe(
      '/contact/[redacted]/[redacted]',
    );
    expect(sanitizePage(`${HOST}/ssn/123/45/6789`, off).path).toBe(
      '/ssn/[redacted]/[redacted]/[redacted]',
    );
    expect(sanitizePage(`${HOST}/r/555%2F234%2F5678`, off).path).toBe(
      '/r/[redacted]/[redacted]/[redacted]',
    );
    // Dates and versions in segments stay.
    expect(sanitizePage(`${HOST}/blog/2025/03/14/flu-season`, off).path).toBe(
      '/blog/2025/03/14/flu-season',
    );
    expect(sanitizePage(`${HOST}/docs/v2/1.4/setup`, off).path).toBe('/docs/v2/1.4/setup');
  });

  test('a query writes spaces as +: 555+234+5678 in a path is still a phone number', () => {
    expect(sanitizePage(`${HOST}/search/555+234+5678/`, site).path).toBe('/search/[redacted]/');
  });

  test('more joins and blanks (QA round 4)', () => {
    const numbers = [
      '617|555|0123',
      '123|45|6789',
      '617;555;0123',
      '617~555~0123',
      '617*555*0123',
      '617\\555\\0123',
      '617)555-0123',
      '617\u2028555\u20280123',
      '617\u2800555\u28000123',
      '617\u2796555\u27960123',
      '617\u2571555\u25710123',
      '617\uff5c555\uff5c0123',
      '617\u16eb555\u16eb0123',
      '617\u2981555\u29810123',
    ];
    for (const number of numbers) {
      expect(scrubText(`Call ${number} now`), number).toBe('Call [redacted] now');
    }
  });

  test('a campaign value cannot hide PHI behind a character it loses when stored', () => {
    const hidden = '617%E2%A0%80555%E2%A0%800123';
    const page = sanitizePage(
      `${HOST}/u1?utm_campaign=${hidden}&utm_term=pat.doe%E2%A0%80%40mail.test` +
        `&utm_source=192%E2%A0%80.168.1.1`,
      site,
    );

    expect(page.utm).toMatchObject({
      campaign: '[redacted]',
      term: '[redacted]',
      source: '[redacted]',
    });
  });

  test('doses and measures are not phone numbers; + in a query is a space', () => {
    for (const text of ['Vitamin D 400, 800, 1000 IU', 'Metformin ER 500/750/1000 mg']) {
      expect(scrubText(text), text).toBe(text);
    }
    const search = sanitizePage(
      `${HOST}/s?q=covid+19+2025+2026&utm_campaign=heart+month+02+2025+01`,
      site,
    );
    expect(search.query).toBe('q=covid%2019%202025%202026');
    expect(search.utm.campaign).toBe('heart month 02 2025 01');
    // A plus sent as %2B is one.
    expect(sanitizePage(`${HOST}/s?q=%2B44+20+7946+0958`, site).query).toBe('q=[redacted]');
  });

  test('international numbers with loose joins', () => {
    for (const number of ['+44/20/7946/0958', '+44,20,7946,0958', '+44_20_7946_0958']) {
      expect(scrubText(`Call ${number}`), number).toBe('Call [redacted]');
    }
  });

  test('ordinary figures stay: years, prices, dates, ranges, lists of amounts (QA)', () => {
    const ordinary = [
      '2024/2025',
      '$1,299',
      '12/25/2024',
      'pages 10-20',
      '1,000,000',
      'Dosage 100 / 250 / 1000 mg',
      'Tiers 100,250,1000',
      'Save 100, 200, 5000 points',
      'Top 100 + 200 + 1000',
      'Sizes 100, 150, 1000, 1500',
    ];
    for (const text of ordinary) expect(scrubText(text), text).toBe(text);
  });
});

describe('encodings, however deep (QA: a third encoding was stored as the second)', () => {
  const address = 'pat.doe@mail.test';
  const thrice = encodeURIComponent(encodeURIComponent(encodeURIComponent(address)));
  const deeper = encodeURIComponent(encodeURIComponent(thrice));

  test('PHI that only a shallower layer shows is not lost by reading a deeper one (QA)', () => {
    for (const text of [
      'pat.doe%40mail.test 617-555-0123%30',
      'Results for pat.doe%40mail.test, SSN 123-45-6789%31',
    ]) {
      const scrubbed = scrubText(text);
      expect(scrubbed, text).not.toMatch(/617-555-0123|123-45-6789|pat\.doe/);
    }
    // Text with an address and an ordinary escape keeps the rest.
    expect(scrubText('Results for pat.doe@mail.test (100%25)')).toBe(
      'Results for [redacted] (100%)',
    );
  });

  test.each([thrice, deeper])('path, UTM value, allowed value, name and title: %s', (hidden) => {
    const page = sanitizePage(
      `${HOST}/u/${hidden}?utm_source=${hidden}&q=${hidden}&${hidden}=1#${hidden}`,
      site,
    );

    expect(stored(page)).not.toMatch(/pat\.doe|mail\.test/);
    expect(page.path).toBe('/u/[redacted]');
    expect(page.utm.source).toBe('[redacted]');
    expect(page.query).toBe('q=[redacted]&[redacted]=[redacted]');
    expect(sanitizeTitle(`Inbox ${hidden}`, site)).not.toContain('pat.doe');
  });
});

describe('addresses in more forms (QA)', () => {
  test('IPv6 written with dashes in a host name', () => {
    const host = '2001-db8-85a3--8a2e-370-7334';
    expect(hostHasPhi(`${host}.sslip.io`)).toBe(true);
    expect(sanitizeReferrer(`https://${host}.sslip.io/`, 'www.clinic-a.example')).toBeNull();
    expect(sanitizePage(`https://${host}.clinic-w.example/w`, site).hostname).toBe(
      '[redacted].clinic-w.example',
    );
    // Host names with dashes that are not addresses stay.
    for (const name of ['ab-cd.example', 'xn--bcher-kva.example', 'front-end-01.example']) {
      expect(hostHasPhi(name)).toBe(false);
    }
  });

  test('more address forms in host names (QA round 3)', () => {
    const hosts = [
      '--ffff-5102-45a0.sslip.io',
      '2a01--2.sslip.io',
      'fe80--1.sslip.io',
      'ip-2a00-1450-4001--200e.example',
      'c0a80101.nip.io',
    ];
    for (const host of hosts) {
      expect(hostHasPhi(host), host).toBe(true);
      expect(sanitizeReferrer(`https://${host}/inbox`, 'www.clinic-a.example'), host).toBeNull();
    }
    for (const name of [
      'my--site.netlify.app',
      'deploy-preview-42--site.netlify.app',
      'cdn-a1b2.example',
    ]) {
      expect(hostHasPhi(name), name).toBe(false);
    }
  });

  test('a referrer host longer than DNS allows is dropped (QA: it stalled the writer)', () => {
    expect(sanitizeReferrer(`https://${'a.'.repeat(4085)}com/`, 'www.clinic-a.example')).toBeNull();
    expect(
      sanitizeReferrer(`https://${'a'.repeat(60)}.example/`, 'www.clinic-a.example'),
    ).not.toBeNull();
  });

  test('an IPv6 address followed or preceded by a long run of punctuation', () => {
    expect(scrubText(`2001:db8:0:0:0:0:0:1${'.'.repeat(30)}`)).toBe(`[redacted]${'.'.repeat(30)}`);
    expect(scrubText(`from 2001:db8::1${':'.repeat(30)} on`)).not.toContain('2001:db8');
    expect(scrubText(`${'.'.repeat(30)}2001:db8::1`)).toBe(`${'.'.repeat(30)}[redacted]`);
  });

  test('addresses written with script escapes or spaces around the @ (QA round 4)', () => {
    for (const text of [
      'Welcome pat.doe\\u0040mail.test',
      'Welcome pat.doe%u0040mail.test',
      'Welcome pat.doe\\x40mail.test',
      'Welcome pat.doe\\u{40}mail.test',
      'Welcome pat.doe @ mail.test',
    ]) {
      expect(scrubText(text), text).toBe('Welcome [redacted]');
    }
    expect(sanitizePage(`${HOST}/p/pat.doe%u0040mail.test`, site).path).toBe('/p/[redacted]');
    expect(sanitizePage(`${HOST}/s?q=pat.doe%25u0040mail.test`, site).query).toBe('q=[redacted]');
    // Ordinary text with a backslash or an @ stays.
    for (const text of ['C:\\Users\\Public', 'Meet @ noon', 'Save 20% @ checkout']) {
      expect(scrubText(text), text).toBe(text);
    }
  });

  test('an address or a number in base64 (QA round 4)', () => {
    const base64 = Buffer.from('pat.doe@mail.test').toString('base64');
    expect(scrubText(`ref ${base64}`)).toBe('ref [redacted]');
    expect(
      scrubProps({ token: 'x', ref: Buffer.from('617-555-0123').toString('base64url') }),
    ).toEqual({
      token: '[redacted]',
      ref: '[redacted]',
    });
    expect(sanitizePage(`${HOST}/s?q=${base64}`, site).query).toBe('q=[redacted]');
    // Long words and base64 of ordinary text stay.
    for (const text of [
      'cardiologists-and-neurosurgeons',
      Buffer.from('hello world').toString('base64'),
    ]) {
      expect(scrubText(text)).toBe(text);
    }
  });

  test('an e-mail address with a quoted local part', () => {
    expect(scrubText('write to "pat.doe"@mail.test')).toBe('write to [redacted]');
  });
});

describe('count-only sections (QA)', () => {
  test.each([
    '/portal./messages',
    '/portal%20/messages',
    '/portal%2e/messages',
    '/Portal. /x',
    '/portal::$DATA/inbox',
    '/portal:$i30:$INDEX_ALLOCATION/inbox',
    // Invisible characters, which the firewall's reading of PHI folds away too (fifteenth QA).
    '/portal%E2%80%8B/messages',
    '/portal%E2%80%8D/messages',
    '/%E2%80%8Eportal/messages',
    '/por%C2%ADtal/messages',
  ])('%s is in /portal/** as Windows servers read it', (path) => {
    const page = sanitizePage(`${HOST}${path}/jane-doe?q=x&utm_term=jane+doe`, site);

    expect(page).toMatchObject({ path: '/portal/*', query: '', countOnly: true });
    expect(page.utm.term).toBeNull();
  });

  test('entering a section by a decoded .., a short name or a final NBSP (QA round 4)', () => {
    const sections = validateSiteSettings({
      domains: ['www.clinic-a.example'],
      countOnly: ['/portal/**', '/patientportal/**'],
    });
    for (const path of [
      '/x/..%2Fportal/messages/jane-doe-diabetes?q=jane',
      '/x/..%5Cportal/messages/jane-doe',
      // A literal backslash, as URL parsing and Windows servers read it (QA, twelfth session).
      '/x/..\\portal/qa4b-jane-doe',
      '/a/b/..\\..\\portal/inbox',
      '/PATIEN~1/inbox?q=x',
      '/portal%C2%A0/inbox',
    ]) {
      const page = sanitizePage(`${HOST}${path}`, sections);
      expect([path, page.countOnly, page.query]).toEqual([path, true, '']);
    }
    // Leaving one the same way is not possible: the stored path never goes up a decoded `..`.
    expect(sanitizePage(`${HOST}/portal/x/..%2F..%2Fpublic`, sections).countOnly).toBe(true);
    expect(sanitizePage(`${HOST}/x/..%2Fpublic/page`, sections).countOnly).toBe(false);
  });

  test('path rules hide what they match as a decoding server resolves the path', () => {
    const rules = validateSiteSettings({
      domains: ['www.clinic-a.example'],
      pathRules: ['/patients/*'],
      collapseIds: false,
    });

    expect(sanitizePage(`${HOST}/x/..%2Fpatients/jane-doe`, rules).path).toBe('/x/patients/:id');
    expect(sanitizePage(`${HOST}/x/..\\patients/qa4e-jane-doe`, rules).path).toBe(
      '/x/patients/:id',
    );
    expect(sanitizePage(`${HOST}/x/jane-doe`, rules).path).toBe('/x/jane-doe');
  });

  test('a section or rule written in full-width letters in the page is the same (QA)', () => {
    const settings = validateSiteSettings({
      domains: ['www.clinic-a.example'],
      countOnly: ['/portal/**'],
      pathRules: ['/patients/*'],
      collapseIds: false,
    });
    const portal = sanitizePage(`${HOST}/%EF%BD%90ortal/inbox?q=TOKENB`, settings);
    expect(portal).toMatchObject({ countOnly: true, path: '/portal/*', query: '' });
    const patients = sanitizePage(`${HOST}/%EF%BD%90atients/qa18-token`, settings);
    expect(patients.path).toBe('/ｐatients/:id');
  });

  test('a hash route enters a section or meets a rule by a decoded .. as a path does (QA)', () => {
    const settings = validateSiteSettings({
      domains: ['www.clinic-a.example'],
      countOnly: ['/portal/**'],
      pathRules: ['/patients/*'],
      keepFragments: true,
      collapseIds: false,
    });
    for (const fragment of ['#/x/..%2Fportal/inbox?q=T3', '#!/x/..%5Cportal/inbox?q=T3']) {
      const page = sanitizePage(`${HOST}/app${fragment}`, settings);
      expect([fragment, page.countOnly, page.path, page.fragment]).toEqual([
        fragment,
        true,
        '/portal/*',
        '',
      ]);
    }

    const hidden = sanitizePage(`${HOST}/app#/x/..%2Fpatients/qa18-jane-doe?tab=1`, settings);
    expect(hidden.fragment).toBe('/x/patients/:id?tab=[redacted]');
    expect(sanitizePage(`${HOST}/app#/x/qa18-public`, settings).fragment).toBe('/x/qa18-public');
  });

  test('a section or rule with an accented letter matches it in either Unicode form (QA)', () => {
    // `ö` as one code point (NFC, as keyboards type it) or as `o` and a combining diaeresis
    // (NFD, as macOS file names are): the same page on a server that normalises names.
    const nfc = 'p\u00f6rtal';
    const nfd = 'po\u0308rtal';
    for (const [pattern, path] of [
      [nfc, '/po%CC%88rtal/inbox?q=x'],
      [nfd, '/p%C3%B6rtal/inbox?q=x'],
      [nfc, '/PO%CC%88RTAL/inbox?q=x'],
    ] as const) {
      const sections = validateSiteSettings({
        domains: ['www.clinic-a.example'],
        countOnly: [`/${pattern}/**`],
        pathRules: [`/${pattern.replace('rtal', 'tients')}/*/**`],
      });

      expect(sanitizePage(`${HOST}${path}`, sections)).toMatchObject({
        countOnly: true,
        query: '',
      });
      const rulePath = path.replace(/rtal/i, 'tients').replace('/inbox?q=x', '/x7/results');
      expect(sanitizePage(`${HOST}${rulePath}`, sections).path).toMatch(/\/:id\/results$/);
    }
  });

  test('a pattern written with percent escapes is refused: it would match nothing', () => {
    expect(() => validateSiteSettings({ countOnly: ['/portal/%2A'] })).toThrow(
      /without percent escapes/,
    );
  });
});

describe('sensitive property names by their words (QA)', () => {
  test('names that hold a sensitive word or combination lose their value', () => {
    const props = scrubProps({
      patient_first_name: 'Jane',
      patientLastName: 'Doe',
      cell_phone: '555 123-45-67',
      contact_email_local: 'jane.doe',
      dob_date: '1980-02-01',
      'date-of-birth': '1980-02-01',
      userId: 'u-1234',
      member_id: 'M-77',
      insurance_id: 'XYZ-1',
    });

    for (const value of Object.values(props)) expect(value).toBe('[redacted]');
  });

  test('names glued together or numbered (QA round 3)', () => {
    const names = [
      'patientdob',
      'dob1',
      'fname',
      'lname',
      'address1',
      'email2',
      'phone2',
      'cellphone',
      'homephone',
      'useremail',
      'mobileNo',
      'birth_dt',
      'zip5',
      'pt_name',
      'patient_first',
      'guardian_name',
      'member_no',
      'MemberNumber',
      'lat',
      'lng',
      'geo_latitude',
    ];
    for (const name of names) expect([name, isBuiltInSensitive(name)]).toEqual([name, true]);
    expect(() => validateSiteSettings({ queryAllowlist: ['q', 'address1'] })).toThrow(
      /sensitive name/,
    );
  });

  test('names that only contain a broad word keep it', () => {
    for (const name of [
      'event_name',
      'patient_type',
      'mobile_menu',
      'file_name',
      'session_count',
      'adobe_campaign',
      'page2',
      'plan',
    ]) {
      expect([name, isBuiltInSensitive(name)]).toEqual([name, false]);
    }
  });
});

describe('pageUrls keys (QA: different addresses looked the same)', () => {
  const none = { source: null, medium: null, campaign: null, term: null, content: null };

  test('a `?`, `#` or `%` that belongs to the path is shown escaped', () => {
    expect(pageWithQuery('/a?b', '', none)).toBe('/a%3Fb');
    expect(pageWithQuery('/a?b', 'b=[redacted]', none)).toBe('/a%3Fb?b=[redacted]');
    expect(pageWithQuery('/x/a#b', '', none)).toBe('/x/a%23b');
    expect(pageWithQuery('/100%', '', none)).toBe('/100%25');
  });

  test('invisible characters are shown as escapes, and UTM values lose them', () => {
    expect(pageWithQuery('/a\u200b', '', { ...none, campaign: 'spring\u2028' })).toBe(
      '/a%E2%80%8B?utm_campaign=spring%E2%80%A8',
    );
    for (const form of ['spring', '%E2%80%8Bspring', 'spring%E2%80%8F', 'spr%C2%ADing']) {
      expect(sanitizePage(`${HOST}/?utm_campaign=${form}`, site).utm.campaign).toBe('spring');
    }
  });
});

describe('what reports show cannot hide or pass for punctuation (QA round 3)', () => {
  const none = { source: null, medium: null, campaign: null, term: null, content: null };

  test('blank letters and full-width ?, # and % are shown escaped', () => {
    expect(pageWithQuery('/promo\u3164utm_source=x', '', none)).toBe('/promo%E3%85%A4utm_source=x');
    expect(pageWithQuery('/promo\uff1futm_source=x', '', none)).toBe('/promo%EF%BC%9Futm_source=x');
    expect(sanitizePage(`${HOST}/?utm_source=news%E2%A0%80letter`, site).utm.source).toBe(
      'newsletter',
    );
  });
});

describe('custom event names that show as nothing are refused (QA)', () => {
  test.each(['\u3164', '\u0301', '\u2800', ' \u200b ', '\ue000', '\uffff', '\ufdd0', '\u0378'])(
    '%j',
    (name) => {
      expect(() => parsePayload({ site: 's', type: 'custom', url: `${HOST}/`, name }, 50)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_EVENT' }),
      );
    },
  );
});

describe("the site's firewall report counts what free text lost", () => {
  test('PHI in a title, a property or its name flags the event; other losses do not', async () => {
    const flagsOf = async (event: Record<string, unknown>): Promise<string[]> =>
      ((await enrichOne(event))?.flags ?? '').split(',');

    expect(await flagsOf({ title: 'Inbox of pat.doe@mail.test' })).toContain('phi_detected');
    expect(await flagsOf({ props: { phone: '555 123 4567' } })).toContain('phi_detected');
    expect(await flagsOf({ props: { cell_phone: '617 555 0123' } })).toContain('phi_detected');
    // Taken for its name alone: nothing personal was in it.
    expect(await flagsOf({ props: { phone: 'north' } })).not.toContain('phi_detected');
    // A query value that goes anyway (not allowlisted) still says it held PHI (fresh-clone QA).
    const welcome = { url: `${HOST}/account/welcome?email=jane.doe@example.com&ph=2125550187` };
    expect(await flagsOf(welcome)).toContain('phi_detected');
    expect(await flagsOf({ url: `${HOST}/search?lang=en` })).not.toContain('phi_detected');
    expect(await flagsOf({ props: { 'pat.doe@mail.test': 1 } })).toContain('phi_detected');
    const fromAddress = { type: 'pageview', referrer: 'https://10-0-0-1.nip.io/inbox' };
    expect(await flagsOf(fromAddress)).toContain('phi_detected');
    // Links, and text that already said [redacted] before real PHI was taken out (QA round 4).
    const download = 'https://cdn.example.net/results/pat.doe@mail.test/report.pdf';
    expect(await flagsOf({ type: 'download', href: download })).toContain('phi_detected');
    const toAddress = { type: 'outbound', href: 'https://203.0.113.9/x' };
    expect(await flagsOf(toAddress)).toContain('phi_detected');
    const both = { title: '[redacted] for pat.doe@mail.test' };
    expect(await flagsOf(both)).toContain('phi_detected');
    // Final QA: a mailto: link, and numbers collapse-ids hid as ids, count too.
    const mailto = { type: 'outbound', href: 'mailto:jane.doe@gmail.com' };
    expect(await flagsOf(mailto)).toContain('phi_detected');
    expect(await flagsOf({ url: `${HOST}/gallery/617/555/0123` })).toContain('phi_detected');
    expect(await flagsOf({ url: `${HOST}/lookup/ssn/123456789` })).toContain('phi_detected');
    expect(await flagsOf({ url: `${HOST}/blog/2025/03/14/flu` })).not.toContain('phi_detected');
    // Values dropped for their type, a title already saying [redacted]: nothing found.
    expect(await flagsOf({ props: { nested: { a: 1 }, list: [1], none: null } })).not.toContain(
      'phi_detected',
    );
    expect(await flagsOf({ title: 'Your [redacted] page', props: { plan: 'gold' } })).not.toContain(
      'phi_detected',
    );
    expect(await flagsOf({ type: 'pageview', referrer: 'https://www.google.com/' })).not.toContain(
      'phi_detected',
    );
  });
});

describe('QA round 5', () => {
  test('one-time codes in paths and anchors are ids; ordinary abbreviations stay', () => {
    for (const path of [
      '/MyChart/activate/9SB6R-FENIK-R0DCX',
      '/account/verify/JBSWY3DPEHPK3PXP',
      '/invite/K7DM-QP3X-9RTZ-W2HB',
      '/redeem/ABCD-EFGH-JKLM-NPQR',
    ]) {
      expect(sanitizePage(`${HOST}${path}`, site).path, path).toMatch(/\/:id$/);
    }
    for (const slug of [
      'H1N1-Flu-Information-Page',
      'Vitamin-B12-Deficiency-Guide',
      'vitamin-d3-5000iu-120ct',
      'HIV-AIDS-INFO-2025',
      '2024-2025-2026-2027',
    ]) {
      expect(sanitizePage(`${HOST}/p/${slug}`, site).path).toBe(`/p/${slug}`);
    }
    expect(sanitizePage(`${HOST}/login#Xk9fQ2mZpL7vRt4wYb8c`, site).fragment).toBe(':id');
    expect(sanitizePage(`${HOST}/app#reset/Xk9fQ2mZpL7vRt4wYb8c`, site).fragment).toBe('reset/:id');
    expect(sanitizePage(`${HOST}/faq#visiting-hours`, site).fragment).toBe('visiting-hours');
  });

  test('a short account number in base64 (Django reset links)', () => {
    expect(
      sanitizePage(`${HOST}/reset/MTIzNDU2/c4x1kz-8f3b2a7c9d1e4f6a8b0c2d4e6f8a0b1c/`, site).path,
    ).toBe('/reset/[redacted]/:id/');
  });

  test('free text or a path as the query is not a parameter name', () => {
    expect(sanitizePage(`${HOST}/search?jane+doe+hiv+test`, site).query).toBe('[redacted]');
    expect(sanitizePage(`${HOST}/index.php?/patients/jane-doe/records`, site).query).toBe(
      '[redacted]',
    );
    expect(sanitizePage(`${HOST}/page?print&lang=en`, site).query).toBe('print&lang=[redacted]');
  });

  test('form names, labelled numbers, quoted local parts, a prefixed dashed IPv4 host', () => {
    const props = scrubProps({
      'your-name': 'Jane Doe',
      bday: '1980-02-01',
      nachname: 'Doe',
      cvv: '123',
    });
    for (const value of Object.values(props)) expect(value).toBe('[redacted]');
    expect(scrubText('MRN 1234-5678')).toBe('MRN [redacted]');
    expect(scrubText('Meeting ID: 812 3456 7890')).toBe('Meeting ID: [redacted]');
    expect(scrubText('Patient stories 2025')).toBe('Patient stories 2025');
    expect(scrubText('"pat doe"@mail.test')).toBe('[redacted]');
    expect(hostHasPhi('ec2-54-210-1-2.compute-1.amazonaws.com')).toBe(true);
  });
});

describe('QA round 6 (eighth session)', () => {
  const leaks = (text: string, secret: RegExp): void => {
    expect(text, text).not.toMatch(secret);
  };

  test('numbers whose groups are joined by repeated separators', () => {
    const page = sanitizePage(`${HOST}/search/617--555--0123?q=SSN+123--45--6789`, site);
    expect(page.path).toBe('/search/[redacted]');
    expect(page.query).toBe('q=[redacted]');
    for (const text of [
      'Call 617..555..0123',
      'Call 617__555__0123',
      'Call 617//555//0123',
      'Call 617\u2014\u2014555\u2014\u20140123',
      'Card 4111..1111..1111..1111',
      'Payment 4111--1111--1111--1111 received',
      'SSN 123 -- 45 -- 6789',
    ]) {
      leaks(scrubText(text), /\d{3}/);
    }
    expect(hostHasPhi('617--555--0123.example')).toBe(true);
    // Dates and year ranges keep their double dashes.
    expect(scrubText('2024--2025 season, 10--12 June')).toBe('2024--2025 season, 10--12 June');
  });

  test('a number split over segments, in digits of other scripts or encoded twice', async () => {
    expect(
      sanitizePage(
        `${HOST}/call/\u0666\u0661\u0667/\u0665\u0665\u0665/\u0660\u0661\u0662\u0663`,
        site,
      ).path,
    ).toBe('/call/[redacted]/[redacted]/[redacted]');
    expect(
      sanitizePage(`${HOST}/ssn/%2531%2532%2533/%2534%2535/%2536%2537%2538%2539`, site).path,
    ).toBe('/ssn/[redacted]/[redacted]/[redacted]');
    const event = await enrichOne({
      type: 'outbound',
      href: 'https://wa.me/c/\uff16\uff11\uff17/\uff15\uff15\uff15/\uff10\uff11\uff12\uff13',
    });
    leaks(stored(event), /\uff16\uff11\uff17|\uff10\uff11\uff12\uff13/);
  });

  test('base64 of text with a line break, accents, escapes, or encoded twice', () => {
    for (const text of [
      'cGF0LmRvZUBtYWlsLnRlc3QK',
      'Sm9zw6kgUMOpcmV6IDxqb3NlLnBlcmV6QG1haWwudGVzdD4=',
      'ZW1haWw9cGF0LmRvZSU0MG1haWwudGVzdCZkb2I9MTk4MC0wMi0wMQ==',
      'Y0dGMExtUnZaVUJ0WVdsc0xuUmxjM1E9',
      'ref-cGF0LmRvZUBtYWlsLnRlc3Q',
    ]) {
      expect(scrubText(text), text).toContain('[redacted]');
    }
    const page = sanitizePage(`${HOST}/?utm_content=cGF0LmRvZUBtYWlsLnRlc3QK`, site);
    expect(stored(page.utm)).not.toContain('cGF0');
    // Ordinary words and ids are not read as base64 of anything.
    expect(scrubText('cardiology-appointments orthopedics')).toBe(
      'cardiology-appointments orthopedics',
    );
  });

  test('a number after its label, joined as slugs and forms join them', () => {
    expect(sanitizePage(`${HOST}/records/MRN-1234-5678/view`, site).path).toBe(
      '/records/[redacted]/view',
    );
    for (const text of [
      'mrn_1234_5678',
      'patient-id-1234-5678',
      'member_id=1234 5678',
      'meeting-812-3456-7890',
      'Join 812 3456 7890 at 10:00',
    ]) {
      leaks(scrubText(text), /\d{4}/);
    }
    expect(sanitizePage(`${HOST}/telehealth/join/812-3456-7890`, site).path).toBe(
      '/telehealth/join/[redacted]',
    );
  });

  test('a label joined to its number in more ways; a date after a label stays (round 6 QA)', () => {
    for (const text of [
      'MRN.1234.5678',
      'mrn__1234__5678',
      'MRN - 1234 - 5678',
      'MRN 1234/5678',
      'member no. 1234-5678',
      'MedicalRecordNumber-1234-5678',
      'encounter-1234-5678',
      'policy_num=1234-5678',
      'Webinar ID 8123 4567 890',
    ]) {
      leaks(scrubText(text), /\d{4}/);
    }
    // A number laid out like a date, or beside one, still goes (final QA).
    for (const text of [
      'Patient 14/06/2025 06 12 34 56 78',
      'Member ID 2001 12 34 56 78',
      'Account 12-2019-34-56-78',
      'Claim 06/14/2025-88-99-77',
      'MRN 12-34-2025',
      'MRN 12 1999',
      'patient 2025-06-14 1234567',
      'Claim 2025-06-14-0042 status',
      'Invoice INV-2025-06-14-0042',
      'MRN 2025-06-14 1234',
      'Patient DOB 03/12/1985 0815',
      'mrn 1955-01-01--2001-12-12',
      'claim=2019.12.12.2359',
      // After a record's label a date is the number itself, or a birth date (final QA).
      'Claims 2025-06-14-0042',
      'Claim Status 2025-06-14-0042',
      'Claim 2025-06-14 12',
      'MRN 1961-03-03 7',
      'Patient DOB 03/12/1961 - Results',
      'patient dob 1961-03-12',
      'dob-1961-03-12',
      // Right after a record's label a date is a date of that person's care (Safe Harbor), and
      // a suffix makes a date a number; birth words in any spelling (final QA).
      'patient-2025-03-14',
      'Patient MRN 1961-03-12',
      'Case 2025-06-14-07',
      'Visit 6/14/2025-12',
      'Patient Visit 2025-06-14-12',
      'Patient Birthday 03/12/1961',
      'Birthdate: 1961-03-12',
      'D.O.B.: 03/12/1961',
      'DOB 3/12/61',
      // An id word or another label between still ties the date to a person; birth dates in
      // more spellings and layouts (final QA).
      'Claim Number 2025-06-14',
      'MRN Number 2019-03-12',
      'Patient Record 2019-03-12',
      'Patient Admitted 2025-06-14',
      'Group Member 1961-03-12',
      'Birth Date: 03/12/1961',
      'Date of birth is 3/12/61',
      'DOB 12-Mar-1961',
      'Born March 12, 1961',
    ]) {
      expect(scrubText(text), text).toContain('[redacted]');
    }
    for (const text of [
      'Invoice 2025-06',
      'Meeting 14/06/2025 18:00',
      'Board Meeting - June 14, 2025 - 6pm',
      'Meeting 2025-06-14 - 16:00',
      'board-meeting-june-14-2025-6pm',
      'Patient Portal Meeting 10/14/2025 - 10/16/2025',
      'visit-2025-06-14--2025-06-16',
      'Visit 2025-01-15--2025-02-15',
      'meeting-2025-06-14-minutes',
      'Board Meeting - June 14, 2025',
      'Visit: May 12, 2025',
      'Webinar 3/4/2026 12pm',
      'board-meeting-june-14-2025',
      'board-meeting-06-14-2025',
      'Board meeting 2025-06-14 18:00',
      'policy-2025-01-01-update',
      'Cancer Support Group June 14, 2025',
      'Support Group: 06/14/2025',
      'Medical Records Updated 2025-06-14',
      'MyChart Outage 2025-06-14',
      'Insurance Deadline 2025-12-31',
      'EMR Downtime 06/14/2025',
      'Patient Portal 2025-06-14 10:00 pm',
      'Bill 2024 2025 2026',
      'script 1234-5678',
    ]) {
      expect(scrubText(text)).toBe(text);
    }
    expect(sanitizePage(`${HOST}/dob/1980-02-01`, site).path).toBe('/[redacted]/[redacted]');
    expect(sanitizePage(`${HOST}/p/date-of-birth/1961-03-12`, site).path).toBe(
      '/p/[redacted]/[redacted]',
    );
    expect(sanitizePage(`${HOST}/events/2025-06-14`, site).path).toBe('/events/2025-06-14');
    expect(sanitizePage(`${HOST}/board/meeting-2025-06-14-minutes`, site).path).toBe(
      '/board/meeting-2025-06-14-minutes',
    );
  });

  test('free text as a query name, with a value or without', () => {
    for (const query of ['jane+doe+hiv+positive=', 'jane+doe+hiv+positive=1']) {
      leaks(sanitizePage(`${HOST}/search?${query}`, site).query, /jane|doe|hiv/);
    }
  });

  test('a plus that starts a value is the plus of an international number', () => {
    expect(sanitizePage(`${HOST}/?q=+44%2020%207946%200958`, site).query).toBe('q=[redacted]');
    const page = sanitizePage(
      `${HOST}/?utm_source=x&utm_content=+33%201%2023%2045%2067%2089`,
      site,
    );
    leaks(stored(page.utm), /23 45 67/);
    // A plus inside a query is still a space there.
    expect(sanitizePage(`${HOST}/?q=covid+19+2025+2026`, site).query).toBe(
      'q=covid%2019%202025%202026',
    );
  });

  test('dingbat digits', () => {
    const text = scrubText(
      'Callback \u277b\u2776\u277c-\u277a\u277a\u277a-\u24ff\u2776\u2777\u2778',
    );
    expect(text).toBe('Callback [redacted]');
    expect(scrubText('Step \u2776 of \u2778')).toBe('Step \u2776 of \u2778');
  });

  test('dashed IPv6 in a path, wider local parts, split addresses, numbers, hex, MBI', () => {
    expect(sanitizePage(`${HOST}/ip/2001-db8-85a3--8a2e-370-7334`, site).path).toBe(
      '/ip/[redacted]',
    );
    expect(sanitizePage(`${HOST}/ip/fe80--1ff-fe23-4567-890a`, site).path).toBe('/ip/[redacted]');
    expect(scrubText('Write to jane!doe@mail.test')).toBe('Write to [redacted]');
    expect(scrubText('Write to jane/doe@mail.test')).toBe('Write to jane/[redacted]');
    leaks(sanitizePage(`${HOST}/u/pat.doe/@mail.test`, site).path, /pat\.doe/);
    expect(scrubProps({ n: 617.5550123, price: 19.99 })).toEqual({ n: '[redacted]', price: 19.99 });
    expect(scrubText('7061742e646f65406d61696c2e74657374')).toBe('[redacted]');
    expect(scrubText('MBI 1EG4-TE5-MK73')).toBe('MBI [redacted]');
    expect(scrubText('mbi 1eg4te5mk73')).toBe('mbi [redacted]');
    expect(scrubText('pat.doe\uff0540mail.test')).toBe('[redacted]');
    // Words of hex letters and ordinary codes stay.
    expect(sanitizePage(`${HOST}/blog/add--bed-fee`, site).path).toBe('/blog/add--bed-fee');
    expect(scrubText('Model 2EX4-AB1-CD23 and deadbeefcafe')).toBe(
      'Model 2EX4-AB1-CD23 and deadbeefcafe',
    );
  });
});

describe('QA round 6, second pass (eighth session)', () => {
  const leaks = (text: string, secret: RegExp): void => {
    expect(text, text).not.toMatch(secret);
  };

  test('longer runs of separators, spaced wider, and international numbers joined so', () => {
    for (const text of [
      'Call 617----555----0123',
      'SSN 123----45----6789',
      'Call 617   -   555   -   0123',
      'Call +44 - 20 - 7946 - 0958',
      'Call +44 20  7946  0958',
      'Call + 44 20 7946 0958',
      'Join 812--3456--7890',
      'Join 812 - 3456 - 7890',
    ]) {
      leaks(scrubText(text), /\d{3}/);
    }
  });

  test('a plus typed before a number anywhere in a query value', () => {
    for (const query of [
      'q=call%20+44%2020%207946%200958',
      'q=tel:+44%2020%207946%200958',
      'q=(+44)%2020%207946%200958',
    ]) {
      leaks(sanitizePage(`${HOST}/?${query}`, site).query, /7946/);
    }
    expect(sanitizePage(`${HOST}/?q=covid+19+2025+2026`, site).query).toBe(
      'q=covid%2019%202025%202026',
    );
  });

  test('circled digits in parentheses or with a full stop', () => {
    for (const text of [
      '\u2479\u2474\u247a-\u2478\u2478\u2478-0\u2474\u2475\u2476',
      '\u248d\u2488\u248e-\u248c\u248c\u248c-0\u2488\u2489\u248a',
    ]) {
      expect(scrubText(`Call ${text}`)).toBe('Call [redacted]');
    }
  });

  test('a number over segments encoded three times; an address over segments, encoded', () => {
    expect(
      sanitizePage(
        `${HOST}/ssn/%252531%252532%252533/%252534%252535/%252536%252537%252538%252539`,
        site,
      ).path,
    ).toBe('/ssn/[redacted]/[redacted]/[redacted]');
    leaks(sanitizePage(`${HOST}/u/pat.doe/%2540mail.test`, site).path, /pat\.doe/);
    leaks(sanitizePage(`${HOST}/u/pat.doe/\uff20mail.test`, site).path, /pat\.doe/);
  });

  test('dashed IPv6 in query and text; MBI with spaces; base64 after a long prefix', () => {
    expect(sanitizePage(`${HOST}/?q=2001-db8-85a3--8a2e-370-7334`, site).query).toBe(
      'q=[redacted]',
    );
    expect(scrubText('from 2001-db8-85a3--8a2e-370-7334 today')).toBe('from [redacted] today');
    // Addresses without a hex letter are addresses too (final QA).
    for (const text of [
      'from 2001-4860-4860--8888 today',
      'from 2606-4700-4700--1111 today',
      'Client 2600-1700-5450-1230--45',
      'Client 2001-558-6045-109-1234-5678-9012-3456',
      'from 2001-db8--1 today',
      'from 2001-db8-dec--1 today',
      'mapped --ffff-c0a8-0101 today',
      'from 2001-1218-101--2 today',
      'from 2001-1200-1500--25 today',
      'from 2003-de-2016-330--1 today',
      'from 2001-face-cafe--1 today',
      'mapped --ffff-808-808 today',
      'mapped 0-0-0-0-0-ffff-101-101 today',
      'from 2001-123-456-789-12-34-56-78 today',
    ]) {
      leaks(scrubText(text), /\d{3}|c0a8|face|ffff/);
    }
    for (const text of [
      'Hours 0900-1200--1300-1700',
      '/events/2025-06-14-0900--1700',
      'SKU 100--200-300',
      'price 100-250--500',
      'room 3-120--4',
      'Shift 0800-1600--2000',
      '06-14-2025--06-16-2025',
      '14-06-2025--16-06-2025',
      'Dec-24-2025--Dec-31-2025',
      'Sizes 10-15--20-25-30',
      'bed-12--14',
      '2024-2025--125',
      'Closed Dec-24--26',
      'Flu clinic Feb-10--14',
      'Week of 10-12--10-16',
      '2025-26--2026-27 budget',
      '/events/2025-01-15--2025-02-15',
    ]) {
      expect(scrubText(text)).toBe(text);
    }
    expect(scrubText('MBI 1EG4 TE5 MK73')).toBe('MBI [redacted]');
    expect(scrubText('MBI 1EG4.TE5.MK73')).toBe('MBI [redacted]');
    expect(scrubText('campaign2025newsletter-cGF0LmRvZUBtYWlsLnRlc3Q=')).toBe('[redacted]');
    // UTF-16 text in base64, as some tools encode it.
    expect(scrubText('cABhAHQALgBkAG8AZQBAAG0AYQBpAGwALgB0AGUAcwB0AA==')).toBe('[redacted]');
  });

  test('a query name encoded twice is read decoded; retina image names are no addresses', () => {
    leaks(sanitizePage(`${HOST}/search?jane%2520doe=1`, site).query, /jane/);
    expect(sanitizePage(`${HOST}/static/img/hero@2x.png`, site).path).toBe(
      '/static/img/hero@2x.png',
    );
    expect(scrubText('logo@3x.webp and icon@1.5x.png')).toBe('logo@3x.webp and icon@1.5x.png');
  });
});

describe('labels of care and masked SSN last fours (README: no longer "Not detected")', () => {
  test('a visit, claim, accession or prescription number in a path, title, property', async () => {
    for (const [path, redacted] of [
      ['/claims/claim-no-48213', '/claims/[redacted]'],
      ['/claims/claim-no-48213/status', '/claims/[redacted]/status'],
      ['/visits/visit-id-48213', '/visits/[redacted]'],
      ['/lab/accession-no-A48213', '/lab/[redacted]'],
      ['/pharmacy/rx%23-48213/refill', '/pharmacy/[redacted]/refill'],
      ['/ssn/%E2%80%A2%E2%80%A2%E2%80%A2-%E2%80%A2%E2%80%A2-4821', '/ssn/[redacted]'],
      ['/ssn/%E2%97%8F%E2%97%8F%E2%97%8F-%E2%97%8F%E2%97%8F-4821', '/ssn/[redacted]'],
    ] as const) {
      expect(sanitizePage(`${HOST}${path}`, site).path, path).toBe(redacted);
    }
    expect(sanitizePage(`${HOST}/search?q=Visit%20ID%2048213`, site).query).toBe('q=[redacted]');
    expect(sanitizePage(`${HOST}/search?visit_id=48213`, site).query).toBe('visit_id=[redacted]');

    const event = await enrichOne({
      title: 'Claim #48213 | Billing',
      props: { visit: 'Visit ID 48213', rx: 'Rx# 48213', ssn: '•••-••-4821' },
    });
    expect(event?.title).toBe('Claim #[redacted] | Billing');
    expect(stored(event)).not.toMatch(/4821/);
    expect(event?.flags.split(',')).toContain('phi_detected');
  });

  test('page names that only look so keep their figures, in a path and a title', async () => {
    for (const path of ['/visit-us/1234-main-st', '/claim-your-screening-2025', '/lab-1234']) {
      expect(sanitizePage(`${HOST}${path}`, site).path, path).toBe(path);
    }
    const event = await enrichOne({ title: 'Rx 30/60/90 day supply | Visit #12 2025' });
    expect(event?.title).toBe('Rx 30/60/90 day supply | Visit #12 2025');
    expect(event?.flags.split(',')).not.toContain('phi_detected');
  });
});

describe("the fifteenth session's QA round", () => {
  test('an escape whose backslash was %5C in a path is read with it (it also splits)', () => {
    for (const path of [
      '/p1/pat.doe%5Cu0040mail.test',
      '/p2/123%5Cu002d45%5Cu002d6789',
      '/p21/pat.doe%5Cx40mail.test',
    ]) {
      const page = sanitizePage(`${HOST}${path}`, site);
      // Every part of the piece goes (`123` is an id segment and shown as one).
      expect(page.path, path).toMatch(/^\/p\d+\/(?:\[redacted\]|:id)\/\[redacted\]/);
      expect(page.path, path).not.toMatch(/pat|mail|u00|x40|45|6789/);
      expect(page.flags, path).toContain('phi_detected');
    }
    // A backslash between plain words still splits, as URL parsing reads it.
    expect(sanitizePage(`${HOST}/a%5Cb`, site).path).toBe('/a/b');
  });

  test('path rules see through invisible characters', () => {
    const rules = validateSiteSettings({
      domains: ['www.clinic-a.example'],
      pathRules: ['/patients/*/**'],
    });
    for (const path of ['/patients%E2%80%8B/jane-doe/x', '/patients%E2%81%A0/jane-doe/x']) {
      expect(sanitizePage(`${HOST}${path}`, rules).path, path).not.toContain('jane');
    }
  });
});

describe("base64 of JSON that holds a record number (the fifteenth session's QA)", () => {
  const off = validateSiteSettings({
    domains: ['www.clinic-a.example'],
    queryAllowlist: ['q'],
    collapseIds: false,
  });
  const records = [
    '{"mrn":"48213"}',
    '{"patient":{"mrn":48213}}',
    '{"patient":{"id":"48213"}}',
    '{"state":"{\\"mrn\\":\\"48213\\"}"}',
    '{"mrn":"X7Y8Z9"}',
    '{"csn":48213}',
    '{"medicalRecordNumber":"48213"}',
  ];

  test('goes from a query value, a path segment, text and a property', () => {
    for (const json of records) {
      for (const encoded of [
        Buffer.from(json).toString('base64'),
        Buffer.from(json).toString('base64url'),
      ]) {
        const page = sanitizePage(`${HOST}/r/${encoded}/view?q=${encoded}`, off);
        expect(page.path, json).toBe('/r/[redacted]/view');
        expect(page.query, json).toBe('q=[redacted]');
        expect(scrubText(`ref ${encoded}`), json).toBe('ref [redacted]');
        expect(scrubProps({ state: encoded }), json).toEqual({ state: '[redacted]' });
      }
    }
  });

  test('base64 of JSON without a record number stays', () => {
    for (const json of ['{"patients":1500}', '{"page":2,"lang":"en"}', '{"mrn":"lookup"}']) {
      const encoded = Buffer.from(json).toString('base64url');
      expect(sanitizePage(`${HOST}/s?q=${encoded}`, off).query, json).toBe(`q=${encoded}`);
    }
  });
});

describe("dates of care in a path (the sixteenth session's QA)", () => {
  const off = validateSiteSettings({ domains: ['www.clinic-a.example'], collapseIds: false });

  test('a full date after or within a segment naming care or a person goes', () => {
    for (const [path, redacted] of [
      ['/admission/2025-06-14', '/admission/[redacted]'],
      ['/discharge-date/2025-06-14', '/discharge-date/[redacted]'],
      [
        '/patients/jane-doe/appointments/2025-06-14',
        '/patients/[redacted]/appointments/[redacted]',
      ],
      ['/patient/2019-03-12', '/patient/[redacted]'],
      ['/person/2019-03-12', '/person/[redacted]'],
      ['/admissions/2025-06-14', '/admissions/[redacted]'],
      ['/my-appointments/06-14-2025', '/my-appointments/[redacted]'],
      ['/appointments/june-14-2025', '/appointments/[redacted]'],
      ['/appointments/2025-06-14T09:00', '/appointments/[redacted]'],
      ['/date-of-service/2025-06-14', '/date-of-service/[redacted]'],
      ['/surgery-date/06.14.2025', '/surgery-date/[redacted]'],
      ['/procedure-date/2025-06-14', '/procedure-date/[redacted]'],
      ['/visit-date/2025-06-14', '/visit-date/[redacted]'],
      ['/admission-2025-06-14', '/[redacted]'],
      ['/p/discharge-date-2025-06-14', '/p/[redacted]'],
      ['/admission/2025%252D06%252D14', '/admission/[redacted]'],
    ] as const) {
      const page = sanitizePage(`${HOST}${path}`, site);
      expect(page.path, path).toBe(redacted);
      expect(page.flags, path).toContain('phi_detected');
    }
    // Over three segments, as a calendar's route writes it, with collapse-ids off.
    expect(sanitizePage(`${HOST}/appointments/2025/06/14`, off).path).toBe(
      '/appointments/[redacted]/[redacted]/[redacted]',
    );
    // A single-page app's route is a path too.
    expect(sanitizePage(`${HOST}/#/appointments/2025-06-14`, site).fragment).toBe(
      '/appointments/[redacted]',
    );
  });

  test("a year, a month, or a date after other words stays: it is a calendar's or a post's", () => {
    for (const path of [
      '/events/2025-06-14',
      '/blog/2025-06-14-flu-season',
      '/board-meeting/2025-06-14',
      '/visiting-hours',
      '/admissions/2025-06',
      '/admissions-open-house/2025-06-14',
      '/admissions-open-house-2025-06-14',
      '/visit/2025-06-14',
      '/appointments/2025-13-45',
    ]) {
      expect(sanitizePage(`${HOST}${path}`, site).path, path).toBe(path);
    }
    expect(sanitizePage(`${HOST}/appointments/2025`, off).path).toBe('/appointments/2025');
    expect(sanitizePage(`${HOST}/appointments/2025/06`, off).path).toBe('/appointments/2025/06');
    expect(sanitizePage(`${HOST}/news/2025/06/14/new-wing-opens`, off).path).toBe(
      '/news/2025/06/14/new-wing-opens',
    );
  });

  test('in text, a full date right after a care word goes; after other words it stays', () => {
    for (const [text, redacted] of [
      ['Admission 2025-06-14', 'Admission [redacted]'],
      ['Discharged on June 14, 2025', 'Discharged on [redacted]'],
      ['Visit Date 2025-06-14', 'Visit Date [redacted]'],
      ['DOS: 06/14/2025', 'DOS: [redacted]'],
      ['Appointment: 14 Jun 2025', 'Appointment: [redacted]'],
    ] as const) {
      expect(scrubText(text), text).toBe(redacted);
    }
    for (const text of [
      'Visit: May 12, 2025',
      'Appointment Reminder 06/14/2025',
      'Admissions Open House 2025-06-14',
      'Admissions 2025-06',
      'Appointments 2025',
    ]) {
      expect(scrubText(text), text).toBe(text);
    }
  });
});

describe("a date beside words in an allowlisted value (the sixteenth session's QA)", () => {
  test('a search holding a name and a date of birth loses its value', () => {
    for (const query of [
      'q=Jane%20Doe%2003%2F12%2F1961',
      'q=jane+doe+1961-03-12',
      'q=jane+doe+3/12/61',
      'q=Jane+Doe+March+12+1961',
      'q=doe%2C+jane+12.03.1961',
      'q=jane%252Bdoe%252B1961-03-12',
    ]) {
      const page = sanitizePage(`${HOST}/search?${query}`, site);
      expect(page.query, query).toBe('q=[redacted]');
      expect(page.flags, query).toContain('phi_detected');
    }
    // The same in a kept fragment's query.
    expect(sanitizePage(`${HOST}/#/search?q=jane+doe+1961-03-12`, site).fragment).toBe(
      '/search?q=[redacted]',
    );
  });

  test('search terms without a full date, and a date alone, stay', () => {
    for (const [query, kept] of [
      ['q=flu+shot+hours', 'q=flu%20shot%20hours'],
      ['q=cardiology', 'q=cardiology'],
      ['q=2025-06-14', 'q=2025-06-14'],
      ['q=covid+19+2025+2026', 'q=covid%2019%202025%202026'],
      ['q=visiting+hours+june+2025', 'q=visiting%20hours%20june%202025'],
      ['q=rx+30/60/90', 'q=rx%2030/60/90'],
    ] as const) {
      expect(sanitizePage(`${HOST}/search?${query}`, site).query, query).toBe(kept);
    }
  });
});

describe('JSON whose record id is not the first key (seventeenth QA)', () => {
  const off = validateSiteSettings({
    domains: ['www.clinic-a.example'],
    queryAllowlist: ['q'],
    collapseIds: false,
    pageTitles: true,
  });
  const records = [
    '{"patient":{"name":"x","id":48213}}',
    '{"patient":{"active":true,"id":48213}}',
    '{"patient":[{"id":48213}]}',
    '{"encounter":{"id":48213}}',
    '{"resourceType":"Patient","id":"48213"}',
    '{"patient":{"identifier":{"value":"48213"}}}',
    '{"identifier":[{"system":"urn:mrn","value":"48213"}]}',
  ];

  test('goes from a query value, a path segment, base64url in a path and a title', () => {
    for (const json of records) {
      const encoded = encodeURIComponent(json);
      const base64 = Buffer.from(json).toString('base64url');
      expect(sanitizePage(`${HOST}/s?q=${encoded}`, off).query, json).toBe('q=[redacted]');
      expect(sanitizePage(`${HOST}/r/${encoded}/view`, off).path, json).toBe('/r/[redacted]/view');
      expect(sanitizePage(`${HOST}/r/${base64}/view`, off).path, json).toBe('/r/[redacted]/view');
      expect(sanitizeTitle(json, off), json).toBe(json.replace('48213', '[redacted]'));
    }
    const encounter = 'eyJlbmNvdW50ZXIiOnsiaWQiOjQ4MjEzfX0';
    expect(sanitizePage(`${HOST}/s?q=${encounter}`, off).query).toBe('q=[redacted]');
  });

  test('the same shapes without a record id stay', () => {
    for (const json of [
      '{"patient":{"name":"x","steps":4821}}',
      '{"product":{"a":1,"id":48213}}',
    ]) {
      const encoded = encodeURIComponent(json);
      expect(sanitizePage(`${HOST}/s?q=${encoded}`, off).query, json).toBe(`q=${json}`);
    }
  });
});
