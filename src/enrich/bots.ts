/**
 * Non-human traffic (case C15). Each hit gets a reason or `null`; the collector stores the reason
 * and keeps the hit out of visitors, sessions and pageviews, counting it as filtered traffic.
 *
 * | Reason      | What it is                                                            |
 * | ----------- | --------------------------------------------------------------------- |
 * | `empty`     | no user agent at all, or `-` as access logs write it                  |
 * | `oversized` | a user agent longer than 1024 characters: no browser sends one         |
 * | `prerender` | prerender services and page-speed audits rendering the page for a bot |
 * | `headless`  | headless browsers, by user agent or by the `Sec-CH-UA` client hint    |
 * | `monitor`   | uptime and synthetic monitoring                                       |
 * | `tool`      | HTTP libraries and command-line clients                               |
 * | `crawler`   | search, social, SEO, AI and archive crawlers; any UA with a URL or an |
 * |             | e-mail address in it                                                  |
 *
 * Patterns are plain alternations (no nested quantifiers) run on at most 1024 characters (a
 * longer user agent is `oversized`), so a hostile user agent costs the same as a normal one.
 */
export type BotReason =
  'empty' | 'oversized' | 'prerender' | 'headless' | 'monitor' | 'tool' | 'crawler';

export interface BotInput {
  userAgent: string | null | undefined;
  /** `Sec-CH-UA` header: Chromium names `HeadlessChrome` there even when the UA hides it. */
  secChUa?: string | null;
}

const UA_SCAN_MAX = 1024;

/** One case-insensitive alternation; the parts are regex sources. */
function anyOf(parts: readonly string[]): RegExp {
  return new RegExp(parts.join('|'), 'i');
}

const PRERENDER = anyOf([
  'prerender',
  'chrome-lighthouse',
  'lighthouse',
  'pagespeed',
  'gtmetrix',
  'speedcurve',
  'webpagetest',
  'ptst/',
  'rendertron',
  'splash/',
  'screenshot',
]);

const HEADLESS = anyOf([
  'headless',
  'phantomjs',
  'slimerjs',
  'htmlunit',
  'puppeteer',
  'playwright',
  'selenium',
  'webdriver',
]);

const MONITOR = anyOf([
  'uptimerobot',
  'pingdom',
  'statuscake',
  'site24x7',
  'newrelicpinger',
  'datadog',
  'checkly',
  'better ?uptime',
  'uptime-kuma',
  'freshping',
  'hetrixtools',
  'nagios',
  'zabbix',
  'monitis',
  'catchpoint',
  'dynatrace',
  'synthetic',
]);

const TOOL = anyOf([
  // A client's name alone (`curl`, `Wget`) is as much a tool as one with its version (QA).
  '^curl(?:/|$)',
  '\\bwget(?:/|$)',
  'python-requests',
  'python-urllib',
  'python-httpx',
  'aiohttp',
  'httpx',
  'go-http-client',
  '^java(?:/|$)',
  'java-http-client',
  'apache-httpclient',
  'okhttp',
  'axios(?:/|$)',
  'node-fetch',
  'undici',
  '^node(?:/|$)',
  'got \\(',
  'libwww-perl',
  'lwp-',
  'www-mechanize',
  'mechanize',
  'scrapy',
  'guzzlehttp',
  'php(?:/|$)',
  'ruby',
  'faraday',
  'httpclient',
  'restsharp',
  'postmanruntime',
  'insomnia',
  'httpie',
  'powershell',
  'winhttp',
  'dart:io',
  'reqwest',
  'libcurl',
  'pycurl',
  'http_request2',
  'zgrab',
  'masscan',
  'nmap',
  'nikto',
  'sqlmap',
]);

const CRAWLER = anyOf([
  'googlebot',
  'google-inspectiontool',
  'adsbot-google',
  'mediapartners-google',
  'apis-google',
  'feedfetcher-google',
  'google-extended',
  'googleother',
  'storebot-google',
  'bingbot',
  'bingpreview',
  'msnbot',
  'adidxbot',
  'slurp',
  'duckduckbot',
  'duckassistbot',
  'baiduspider',
  'yandex(?:bot|images|metrika|mobilebot)',
  'exabot',
  'seznambot',
  'petalbot',
  'applebot',
  'facebookexternalhit',
  'facebookcatalog',
  'meta-externalagent',
  'twitterbot',
  'linkedinbot',
  'pinterestbot',
  'slackbot',
  'discordbot',
  'telegrambot',
  'whatsapp',
  'skypeuripreview',
  'embedly',
  'quora link preview',
  'redditbot',
  'ahrefsbot',
  'ahrefssiteaudit',
  'semrushbot',
  'mj12bot',
  'dotbot',
  'rogerbot',
  'blexbot',
  'dataforseobot',
  'serpstatbot',
  'screaming frog',
  'sitebulb',
  'gptbot',
  'chatgpt-user',
  'oai-searchbot',
  'claudebot',
  'claude-web',
  'anthropic-ai',
  'perplexitybot',
  'perplexity-user',
  'ccbot',
  'bytespider',
  'amazonbot',
  'cohere-ai',
  'diffbot',
  'ia_archiver',
  'archive\\.org_bot',
  'heritrix',
  'ezooms',
  'crawl',
  'spider',
  'scraper',
  'archiver',
  'indexer',
  'fetcher',
  'feedparser',
  'bot\\b',
  'bot[/_;-]',
  '\\+?https?://',
  // A contact address (`help@moz.com`): browsers never put one in their user agent.
  '@[a-z0-9-]+\\.[a-z]{2}',
]);

// Real browsers whose names contain "bot" (the Cubot phone brand) are not crawlers.
const NOT_A_CRAWLER = /cubot/gi;

/**
 * Classifies a request as non-human, or `null` for an ordinary browser.
 *
 * @example
 * detectBot({ userAgent: 'curl/8.5.0' }); // 'tool'
 * detectBot({ userAgent: chromeUa, secChUa: '"HeadlessChrome";v="124"' }); // 'headless'
 */
export function detectBot(input: BotInput): BotReason | null {
  const raw = input.userAgent ?? '';
  const ua = raw.trim();
  if (ua === '' || ua === '-') return 'empty';
  // Only the start is scanned, so a marker pushed past it must not pass for a browser (QA).
  if (raw.length > UA_SCAN_MAX) return 'oversized';
  if (PRERENDER.test(ua)) return 'prerender';
  if (HEADLESS.test(ua) || /headless/i.test((input.secChUa ?? '').slice(0, UA_SCAN_MAX)))
    return 'headless';
  if (MONITOR.test(ua)) return 'monitor';
  if (TOOL.test(ua)) return 'tool';
  if (CRAWLER.test(ua.replace(NOT_A_CRAWLER, ''))) return 'crawler';

  return null;
}
