import { describe, expect, it } from 'vitest';

import { classifyRecord, type SkipReason } from '../../src/collect/import/classify.js';
import type { LogRecord } from '../../src/collect/import/parse.js';

const BASE: LogRecord = {
  ip: '192.0.2.10',
  time: Date.UTC(2015, 4, 17),
  method: 'GET',
  target: '/',
  status: 200,
  bytes: 100,
  referrer: null,
  userAgent: null,
  userAgentLogged: true,
  host: null,
};

function kind(over: Partial<LogRecord>): 'pageview' | SkipReason {
  const c = classifyRecord({ ...BASE, ...over });

  return c.kind === 'pageview' ? 'pageview' : c.reason;
}

const target = (t: string) => kind({ target: t });

describe('pageview rule', () => {
  it('counts GET of a page path', () => {
    const pages = [
      '/',
      '/clinics/',
      '/blog/tags/puppet',
      '/find-a-doctor?specialty=cardiology',
      '/about.html',
      '/ABOUT.HTM',
      '/blog/post.xhtml',
      '/index.php?page=2',
      '/Default.aspx',
      '/search.cgi',
      '/releases/1.2',
      '/presentations/sf-2012.10/',
      '/a#section',
      'https://www.clinic.example/visit?x=1',
      'http://www.clinic.example',
      '/feeding-your-baby/',
    ];

    for (const t of pages) expect(target(t), t).toBe('pageview');
  });

  it('skips every method but GET, including garbage request lines', () => {
    for (const method of ['HEAD', 'POST', 'OPTIONS', 'PUT', 'get', '']) {
      expect(kind({ method }), method).toBe('method');
    }
  });

  it('counts 2xx and 304, skips 204, 206, redirects and errors', () => {
    for (const status of [200, 201, 203, 299, 304])
      expect(kind({ status }), `${status}`).toBe('pageview');
    for (const status of [100, 204, 206, 301, 302, 307, 400, 404, 416, 499, 500, 503]) {
      expect(kind({ status }), `${status}`).toBe('status');
    }
  });

  it('judges method before status, and status before target', () => {
    expect(kind({ method: 'HEAD', status: 404, target: '/x.css' })).toBe('method');
    expect(kind({ status: 404, target: '/x.css' })).toBe('status');
  });

  it('skips static assets by extension, whatever the case, query or encoding', () => {
    const assets = [
      '/css/site.css',
      '/js/app.js?v=3',
      '/js/app.mjs',
      '/js/app.js.map',
      '/img/logo.PNG',
      '/img/a.jpg',
      '/img/a.jpeg',
      '/img/a.gif',
      '/img/a.svg#icon',
      '/favicon.ico',
      '/img/a.webp',
      '/img/a.avif',
      '/f/a.woff',
      '/f/a.woff2',
      '/f/a.ttf',
      '/f/a.eot',
      '/f/a.otf',
      '/v/a.mp4',
      '/v/a.webm',
      '/a/a.mp3',
      '/site%2Ecss',
      'https://www.clinic.example/app.js',
    ];

    for (const t of assets) expect(target(t), t).toBe('asset');
  });

  it('skips downloads and data files as non-html', () => {
    const files = [
      '/forms/intake.pdf',
      '/robots.txt',
      '/sitemap.xml',
      '/api/slots.json',
      '/files/tool.tar.gz',
      '/scripts/configlib.py',
      '/files/app.jar',
      '/files/setup.exe',
      '/report.docx',
    ];

    for (const t of files) expect(target(t), t).toBe('non-html');
  });

  it('counts a page whose name holds a dot: only a known kind of file is skipped (QA)', () => {
    for (const t of [
      '/providers/dr.smith',
      '/locations/st.louis',
      '/team/jane.doe',
      '/clinics/Mt.Sinai',
      '/providers/dr.smith/',
      // Initials and words after a dot (QA round 3).
      '/providers/smith.r',
      '/providers/jones.m',
      '/team/jane-doe.md',
      '/partners/acme.ai',
      '/sign.in',
      '/hours/9.am-5.pm',
      '/services/e.n.t',
    ]) {
      expect(target(t), t).toBe('pageview');
    }
    for (const t of [
      '/dl/source.zip',
      '/x/data.csv',
      '/a/b.tgz',
      // ASP.NET handlers, captions, playlists, medical and calendar files (QA round 3).
      '/WebResource.axd?d=abc',
      '/ScriptResource.axd',
      '/image.ashx?id=5',
      '/api/slots.asmx/List',
      '/video/intro.vtt',
      '/video/intro.m3u8',
      '/scan/image.dcm',
      '/events/fair.ical',
      '/site.webmanifest',
      '/forms/intake.pdf;jsessionid=ABC',
      '/map/clinics.geojson',
    ]) {
      expect(target(t), t).toBe('non-html');
    }
  });

  it('skips feeds, by path and by query', () => {
    const feeds = [
      '/feed',
      '/feed/',
      '/blog/feed/',
      '/blog/feed/atom/',
      '/news/rss',
      '/news.rss',
      '/news.atom',
      '/?flav=rss20',
      '/blog/tags/puppet?flav=atom',
      '/?feed=rss2',
      '/news?FORMAT=RSS',
    ];

    for (const t of feeds) expect(target(t), t).toBe('non-html');
    expect(target('/news?format=print')).toBe('pageview');
    expect(target('/?flav=html')).toBe('pageview');
  });

  it('skips paths that serve machines, not readers', () => {
    const machine = [
      '/.well-known/security.txt',
      '/.well-known/openid-configuration',
      '/.env',
      '/.git/config',
      '/app/.htaccess',
      '/../../etc/passwd',
      '/wp-admin/',
      '/wp-admin/post.php?post=1',
      '/WP-LOGIN.PHP',
      '/xmlrpc.php',
      '/wp-json/wp/v2/users',
      '/server-status',
    ];

    for (const t of machine) expect(target(t), t).toBe('non-html');
    expect(target('/wp-admin-guide/')).toBe('pageview');
  });

  it('skips targets that are not paths', () => {
    for (const t of ['*', '', 'example.org:443', 'index.html', 'ftp://x.example/a']) {
      expect(target(t), t).toBe('non-html');
    }
  });

  it('does not judge the user agent: bots are the pipeline’s call', () => {
    expect(kind({ userAgent: 'Googlebot/2.1 (+http://www.google.com/bot.html)' })).toBe('pageview');
  });

  it('returns frozen values', () => {
    expect(Object.isFrozen(classifyRecord(BASE))).toBe(true);
    expect(Object.isFrozen(classifyRecord({ ...BASE, method: 'POST' }))).toBe(true);
  });
});
