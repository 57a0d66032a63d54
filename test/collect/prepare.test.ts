import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  createPreparer,
  SALT_PAIRS_KEPT,
  type CollectCarried,
  type CollectJob,
} from '../../src/collect/prepare.js';
import { Enricher } from '../../src/collect/enricher.js';
import { DEFAULT_SITE_SETTINGS, type Site } from '../../src/domain/site.js';
import { visitorId } from '../../src/enrich/visitor.js';
import { createLogger } from '../../src/log/logger.js';

const SITE: Site = {
  id: 'site_prepare_test',
  tenantId: 'ten_prepare_test',
  name: 'Clinic',
  settings: { ...DEFAULT_SITE_SETTINGS, domains: ['clinic.example'] },
  createdAt: 0,
};
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0';

const SALTS = { salt: randomBytes(32), previous: null };

/** An enricher with no geography and no spam list, to look at what it remembers. */
function bareEnricher(): Enricher {
  return new Enricher({ lookup: () => null } as never, { isSpam: () => false } as never);
}

/** The pages an enricher remembers (a private table). */
function remembered(enricher: Enricher): Map<string, unknown> {
  return (enricher as unknown as { pages: Map<string, unknown> }).pages;
}

/** A job as the collect endpoint hands it over, and what it carries beside its JSON. */
function job(
  saltsId: number,
  { site, salts, ...extra }: Partial<CollectJob> & CollectCarried = {},
): [CollectJob, CollectCarried] {
  const carried: CollectCarried = {};
  if (site !== undefined) carried.site = site;
  if (salts !== undefined) carried.salts = salts;
  const sent = {
    siteId: SITE.id,
    events: [{ type: 'pageview', url: 'https://clinic.example/services' }],
    client: {
      ip: '198.51.100.7',
      requestNonce: '',
      userAgent: UA,
      secChUa: null,
      platformHint: null,
      mobileHint: null,
      now: Date.now(),
    },
    saltsId,
    ...extra,
  } as CollectJob;

  // As it crosses to the writer thread: through JSON.
  return [JSON.parse(JSON.stringify(sent)) as CollectJob, carried];
}

async function preparer() {
  const logger = createLogger({ level: 'silent' });

  return createPreparer({ geoipDb: undefined, spamFile: '/nonexistent/spam.txt' }, logger);
}

describe('the writer-side preparer', () => {
  it('keeps the salts a job brought for later jobs that name them', async () => {
    const prepare = await preparer();
    const salts = { salt: randomBytes(32), previous: null };

    const first = prepare(...job(1, { site: SITE, salts }));
    const later = prepare(...job(1));

    const expected = visitorId(salts.salt, SITE.id, '198.51.100.7', UA);
    expect(first.events[0]?.visitorId).toBe(expected);
    expect(later.events[0]?.visitorId).toBe(expected);
  });

  it('refuses a job naming salts it was never given, and forgets old ones', async () => {
    const prepare = await preparer();
    prepare(...job(1, { site: SITE, salts: { salt: randomBytes(32), previous: null } }));

    expect(() => prepare(...job(2))).toThrow(expect.objectContaining({ code: 'ERR_INTERNAL' }));

    for (let id = 2; id <= SALT_PAIRS_KEPT + 1; id++) {
      prepare(...job(id, { salts: { salt: randomBytes(32), previous: null } }));
    }

    // The oldest pair is gone from the thread: a day's salt does not outlive its rotation there.
    expect(() => prepare(...job(1))).toThrow(expect.objectContaining({ code: 'ERR_INTERNAL' }));
    expect(prepare(...job(SALT_PAIRS_KEPT + 1)).events).toHaveLength(1);
  });

  it("counts a visit from another of the site's domains as internal, not a referral", async () => {
    const prepare = await preparer();
    const site: Site = {
      ...SITE,
      settings: { ...SITE.settings, domains: ['www.clinic.example', 'clinic-foundation.org'] },
    };
    const salts = { salt: randomBytes(32), previous: null };
    const from = (referrer: string) =>
      prepare(
        ...job(1, {
          site,
          salts,
          events: [{ type: 'pageview', url: 'https://www.clinic.example/give', referrer }],
        }),
      ).events[0];

    for (const own of ['https://clinic-foundation.org/', 'https://news.clinic-foundation.org/']) {
      expect(from(own)).toMatchObject({ referrerHost: null, channel: 'Direct' });
    }
    expect(from('https://www.unrelated-clinic.example/')).toMatchObject({
      referrerHost: 'www.unrelated-clinic.example',
      channel: 'Referral',
    });
  });

  it('stores a link into a count-only section as the section, never the page (QA)', async () => {
    const prepare = await preparer();
    const site: Site = {
      ...SITE,
      settings: {
        ...SITE.settings,
        domains: ['www.clinic.example', '*.clinic.example'],
        countOnly: ['/patients/**'],
      },
    };
    const salts = { salt: randomBytes(32), previous: null };
    const link = (href: string) =>
      prepare(
        ...job(1, {
          site,
          salts,
          events: [{ type: 'outbound', url: 'https://www.clinic.example/home', href }],
        }),
      ).events[0]?.href;

    expect(link('https://www.clinic.example/patients/jane-doe')).toBe('/patients/*');
    expect(link('https://portal.clinic.example/patients/jane-doe/results')).toBe(
      'portal.clinic.example/patients/*',
    );
    expect(link('https://www.clinic.example/services')).toBe('/services');
  });

  it('answers a page it has seen by the settings given now, never an older version', async () => {
    const prepare = await preparer();
    const salts = { salt: randomBytes(32), previous: null };
    const url = 'https://clinic.example/results?ref=mail&visit=4471&utm_source=news';
    const page = (site: Site) => {
      const event = prepare(...job(1, { site, salts, events: [{ type: 'pageview', url }] }))
        .events[0];

      return { query: event?.query, flags: event?.flags, source: event?.utmSource };
    };

    const strict = page(SITE);
    expect(strict).toEqual({
      query: 'ref=[redacted]&visit=[redacted]',
      flags: 'redacted',
      source: 'news',
    });
    // The same URL again: the same answer, and its flags still reach the event.
    expect(page(SITE)).toEqual(strict);

    // A new version of the settings (as `lighttrail site update` makes) allows `ref`.
    const allowing: Site = { ...SITE, settings: { ...SITE.settings, queryAllowlist: ['ref'] } };
    expect(page(allowing)).toEqual({
      query: 'ref=mail&visit=[redacted]',
      flags: 'redacted',
      source: 'news',
    });
    // The writer thread is then given the old version again (a site updated back): its answer.
    expect(page(SITE)).toEqual(strict);
  });

  it('keeps no raw URL between events: the pages it remembers are keyed by a hash', async () => {
    const enricher = bareEnricher();
    const url = 'https://clinic.example/patients/jane.doe@mail.test/results?mrn=88812345';
    enricher.enrichWith(SITE, { type: 'pageview', url }, job(1)[0].client, SALTS);

    const keys = [...remembered(enricher).keys()];
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain('jane');
    expect(keys[0]).not.toContain('clinic.example');
    expect(JSON.stringify([...remembered(enricher).values()])).not.toMatch(/jane|88812345/);
  });

  it('counts a property that hid PHI behind an encoding in the firewall report (QA)', () => {
    const enricher = bareEnricher();
    for (const note of ['pat.doe&commat;mail.test', 'pat.doe%40mail.test', 'call 617-555-0123']) {
      const outcome = enricher.enrichWith(
        SITE,
        { type: 'custom', name: 'contact', url: 'https://clinic.example/c', props: { note } },
        job(1)[0].client,
        SALTS,
      );
      const event = outcome.kind === 'event' ? outcome.event : null;
      expect([note, event?.flags]).toEqual([note, 'phi_detected']);
      expect(event?.props).toContain('[redacted]');
    }
  });

  it('never answers a URL with a lone surrogate by another URL remembered before (QA)', () => {
    const enricher = bareEnricher();
    const flags = (url: string) => {
      const outcome = enricher.enrichWith(SITE, { type: 'pageview', url }, job(1)[0].client, SALTS);

      return outcome.kind === 'event' ? outcome.event.flags : null;
    };

    // As UTF-8, which the key's hash reads, both are "x\ufffdy"; the firewall tells them apart.
    expect(flags('https://clinic.example/sur/x\ufffdy')).toBe('');
    expect(flags('https://clinic.example/sur/x\ud800y')).toBe('control_removed');
    expect(flags('https://clinic.example/sur/x\ufffdy')).toBe('');
  });

  it('remembers at most 10,000 pages across all sites, then starts over (QA)', () => {
    const enricher = bareEnricher();
    const sites = [SITE, { ...SITE, id: 'other', settings: { ...SITE.settings } }];
    for (let i = 0; i < 10_050; i++) {
      const site = sites[i % 2] as Site;
      const url = `https://clinic.example/unique/${i}`;
      enricher.enrichWith(site, { type: 'pageview', url }, job(1)[0].client, SALTS);
      expect(remembered(enricher).size).toBeLessThanOrEqual(10_000);
    }

    expect(remembered(enricher).size).toBe(50);
  });
});
