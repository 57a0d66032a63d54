import { readFileSync } from 'node:fs';

import { describe, expect, test } from 'vitest';

import { validateSiteSettings } from '../../src/domain/site.js';
import { detectBot } from '../../src/enrich/bots.js';
import { classifyChannel, CHANNELS } from '../../src/enrich/channel.js';
import { createProxyMatcher, deriveClientIp } from '../../src/enrich/client-ip.js';
import { sanitizeReferrer } from '../../src/enrich/referrer.js';
import { PATH_MAX, QUERY_MAX, sanitizePage } from '../../src/enrich/url.js';
import { parseUserAgent } from '../../src/enrich/useragent.js';

/** 10,000 real requests in Apache combined format (see /work/shared/data/README.md). */
const LOG = '/work/shared/data/apache-combined-2015.log';
const LINE = /^(\S+) \S+ \S+ \[[^\]]+\] "\S+ (\S+)[^"]*" \d{3} \S+ "([^"]*)" "([^"]*)"/;

interface Hit {
  peer: string;
  path: string;
  referrer: string;
  userAgent: string;
}

function readHits(): Hit[] {
  return readFileSync(LOG, 'utf8')
    .split('\n')
    .map((line) => LINE.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map(([, peer = '', path = '', referrer = '', userAgent = '']) => ({
      peer,
      path,
      referrer,
      userAgent,
    }));
}

describe('the enrich functions over a real access log', () => {
  const hits = readHits();
  const settings = validateSiteSettings({
    domains: ['semicomplete.com'],
    queryAllowlist: ['flav'],
  });

  test('every request is enriched without an error, within the documented limits', () => {
    expect(hits.length).toBeGreaterThan(9_900);

    const proxies = createProxyMatcher([]);
    const enrich = (hit: Hit) => {
      const path = hit.path.startsWith('/') ? hit.path : `/${hit.path}`;
      const page = sanitizePage(path, settings, { hostname: 'semicomplete.com' });
      const referrer = sanitizeReferrer(hit.referrer, page.hostname);
      const input = {
        referrerDomain: referrer?.domain,
        referrerHost: referrer?.host,
        utm: page.utm,
      };
      parseUserAgent(hit.userAgent);
      deriveClientIp({ peer: hit.peer, headers: {}, trustedProxies: proxies, mode: 'xff' });

      return {
        page,
        referrer,
        bot: detectBot({ userAgent: hit.userAgent }),
        channel: classifyChannel(input),
      };
    };

    const started = performance.now();
    const results = hits.map(enrich);
    const perHitMs = (performance.now() - started) / hits.length;

    // A budget with room for a busy machine; an idle one needs about 0.05 ms per request.
    expect(perHitMs).toBeLessThan(1);
    for (const { page, referrer } of results) {
      expect(page.path.length).toBeLessThanOrEqual(PATH_MAX);
      expect(page.query.length).toBeLessThanOrEqual(QUERY_MAX);
      expect(page.path.startsWith('/')).toBe(true);
      expect(referrer?.host ?? '').not.toMatch(/[/?#@]/);
    }

    const channels = new Set(results.map((result) => result.channel));

    expect(results.filter((result) => result.bot === 'crawler').length).toBeGreaterThan(500);
    expect([...channels].every((channel) => CHANNELS.includes(channel))).toBe(true);
    expect(channels).toContain('Organic Search');
  });

  test('crawlers that sign with an e-mail address instead of a URL are caught', () => {
    const ezooms = hits.filter((hit) => hit.userAgent.includes('Ezooms'));

    expect(ezooms.length).toBeGreaterThan(0);
    for (const hit of ezooms) expect(detectBot({ userAgent: hit.userAgent })).toBe('crawler');
  });

  test('the log query strings keep only allowlisted values', () => {
    const page = sanitizePage(
      '/doc/index.html?org/elasticsearch/action/search/SearchResponse.html',
      settings,
      {
        hostname: 'semicomplete.com',
      },
    );
    const feed = sanitizePage('/blog/tags/puppet?flav=rss20', settings, {
      hostname: 'semicomplete.com',
    });

    expect(page.query).toBe('org/elasticsearch/action/search/SearchResponse.html');
    expect(feed.query).toBe('flav=rss20');
  });
});
