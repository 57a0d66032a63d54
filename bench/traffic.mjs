// The benchmarks' traffic: pageviews as the browser tracker sends them, on a clinic's pages,
// from a pool of visitors (documentation addresses and common browsers). Shared by the load
// generator (bench/load.mjs) and the writer benchmark (bench/writer.mjs).

export const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
];

const PAGES = [
  '/',
  '/services/cardiology',
  '/services/imaging',
  '/locations/main-street',
  '/doctors/find-a-doctor',
  '/patients/billing',
  '/careers',
  '/blog/flu-season-tips',
];

const REFERRERS = [
  '',
  'https://www.google.com/',
  'https://www.bing.com/',
  'https://duckduckgo.com/',
];

/** A pageview shaped like the browser tracker's (tracker/src/types.ts), on a site page. */
export function pageview(host, i) {
  const page = PAGES[i % PAGES.length];

  return {
    type: 'pageview',
    url: `https://${host}${page}?ref=nav&utm_source=newsletter&utm_medium=email`,
    referrer: REFERRERS[i % REFERRERS.length],
    title: `Clinic page ${i % PAGES.length}`,
    screen: 1280 + (i % 3) * 160,
    lang: 'en-US',
  };
}

/**
 * Visitor `v` of a pool: an address from the documentation ranges (RFC 5737), as a trusted
 * reverse proxy would forward it, and a browser. With no pool every request comes from the
 * loopback address alone, which the product refuses to use as a visitor: each request is then
 * a new visitor with a new session, the writer's worst case.
 */
export function visitor(v) {
  const nets = ['192.0.2.', '198.51.100.', '203.0.113.'];
  const address = nets[v % 3] + (Math.floor(v / 3) % 256);

  return { address, userAgent: USER_AGENTS[Math.floor(v / 768) % USER_AGENTS.length] };
}
