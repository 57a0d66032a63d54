/**
 * A small website for browser tests of the tracker: a page that installs `lt.js` the way a
 * customer would, plus a stand-in collect endpoint that records every request it receives.
 *
 * The site answers on two loopback origins: `origin` (http://127.0.0.1:port) serves the tracked
 * page; `altOrigin` (http://[::1]:port) is "another host" for outbound links, the referring page
 * and a cross-origin collect endpoint. Both serve the same routes:
 *
 * | Route | Answer |
 * | --- | --- |
 * | `/`, `/app/*` | the tracked test page (any `/app/*` path, like an SPA's fallback route) |
 * | `/from` | an untracked page whose `#go` link leads to the tracked page (a real referrer) |
 * | `/lt.js` | `trackerFile` (default: the built dist/tracker/lt.js) |
 * | `/api/collect` | the capture endpoint: records method, content type, cookie and body; 204 |
 * | `/away` | an untracked page, the target of outbound links |
 * | `/files/*`, `/stay`, `/submitted` | 204, so clicks and form posts leave the page where it is |
 *
 * The tracked page has: outbound links `#outbound` (target=_blank) and `#outbound-nested` (click
 * `#outbound-inner`); `#download` (a PDF on the other host), `#download-attr` (`download`
 * attribute, same host); `#internal` (same host, no event expected); `#mail` (mailto, its default
 * prevented); forms `#appointment` (fields `patient`, `email`, `name`, `id`, button `#book`),
 * `form[name=newsletter]` (fields `email`, `name`, button `#subscribe`) and an anonymous form
 * (field `q`, button `#anon-submit`); and a 4,000px tall body for scroll depth.
 *
 * @example
 * const site = await serveTestSite({ api: 'https://127.0.0.1:8443/api/collect' });
 * await page.goto(site.origin + '/');
 * await site.close();
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The build script of the tracker, the one `npm run build` runs. */
export const BUILD_SCRIPT = join(ROOT, 'scripts/build-tracker.mjs');

/** The built tracker, as `npm run build` writes it. */
export const BUILT_TRACKER = join(ROOT, 'dist/tracker/lt.js');

/** Bodies above this are cut off by the capture endpoint (the real one answers 413). */
const MAX_BODY_BYTES = 64 * 1024;

export interface TestSiteOptions {
  /** `src` of the tracker tag. Default `/lt.js`, served by this site from `trackerFile`. */
  scriptSrc?: string;
  /** File served at `/lt.js`. Default {@link BUILT_TRACKER}. */
  trackerFile?: string;
  /** `data-site`. Default `test-site`; `null` leaves the attribute out. */
  siteId?: string | null;
  /** `data-api`; left out when undefined (the tracker then posts to the script's origin). */
  api?: string;
  /** How many times the page includes the tracker tag. Default 1. */
  scriptTags?: number;
  /** Subresource Integrity for the tag (`sha384-...`), with `crossorigin="anonymous"`. */
  integrity?: string;
  /** `data-hash` on the tag: the page routes by its fragment. */
  hashRoutes?: boolean;
}

/** One request that reached the capture endpoint, whatever its method. */
export interface CollectRequest {
  method: string;
  contentType: string | undefined;
  cookie: string | undefined;
  origin: string | undefined;
  body: string;
  /** The parsed body, or undefined when it was not JSON. */
  payload: Payload | undefined;
}

/** A request body as the tracker sends it. */
export interface Payload {
  site: string;
  events: TrackedEvent[];
  gpc?: boolean;
  dnt?: boolean;
}

/** One event of a payload; fields vary with `type`. */
export interface TrackedEvent {
  type: string;
  url: string;
  [field: string]: unknown;
}

export interface TestSite {
  /** http://127.0.0.1:port, where the tracked page lives. */
  origin: string;
  /** http://[::1]:port, "another host" serving the same routes. */
  altOrigin: string;
  /** Every request to `/api/collect` on either origin, in arrival order. */
  requests: CollectRequest[];
  /** All events of all POSTed payloads, in arrival order. */
  events(): TrackedEvent[];
  /**
   * Resolves with the matching events once at least `count` have arrived; rejects after
   * `timeoutMs` so a missing event fails the test with what did arrive.
   */
  waitForEvents(
    match: (event: TrackedEvent) => boolean,
    count?: number,
    timeoutMs?: number,
  ): Promise<TrackedEvent[]>;
  close(): Promise<void>;
}

/**
 * Serves the test site on 127.0.0.1 and ::1, on random ports. Close it in teardown.
 */
export async function serveTestSite(options: TestSiteOptions = {}): Promise<TestSite> {
  const requests: CollectRequest[] = [];
  const origins = { origin: '', altOrigin: '' };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res, { options, origins, requests });
  };
  const primary = await listen(createServer(handler), '127.0.0.1');
  const alt = await listen(createServer(handler), '::1');
  origins.origin = `http://127.0.0.1:${port(primary)}`;
  origins.altOrigin = `http://[::1]:${port(alt)}`;

  const events = (): TrackedEvent[] => requests.flatMap((r) => r.payload?.events ?? []);

  return {
    ...origins,
    requests,
    events,
    async waitForEvents(match, count = 1, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events().filter(match);
        if (found.length >= count) return found;

        if (Date.now() > deadline) {
          const all = JSON.stringify(events());
          throw new Error(`expected ${count} matching event(s), got ${found.length}; all: ${all}`);
        }

        await new Promise((done) => setTimeout(done, 20));
      }
    },
    async close() {
      await Promise.all([primary, alt].map(stop));
    },
  };
}

/**
 * Builds the tracker with the real build script into `dir` and returns the file. Test files build
 * their own copy: parallel files then never race on dist/, and never test a stale build.
 */
export function buildTracker(dir: string): string {
  const outfile = join(dir, 'lt.js');
  execFileSync(process.execPath, [BUILD_SCRIPT, '--outfile', outfile], { stdio: 'pipe' });

  return outfile;
}

/** A page in its own browser context, with the uncaught errors it raised. */
export interface OpenedPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught exceptions and unhandled rejections of the page: the tracker must cause none. */
  errors: Error[];
}

/**
 * Opens a page in a fresh context (no cookie, no storage from earlier tests). `initScript` runs
 * before any page script, e.g. to take `navigator.sendBeacon` away.
 */
export async function openPage(browser: Browser, initScript?: string): Promise<OpenedPage> {
  const context = await browser.newContext();
  if (initScript) await context.addInitScript(initScript);

  const page = await context.newPage();
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));

  return { context, page, errors };
}

let marks = 0;

/** Name prefix of the marker events {@link settle} sends; leave them out of assertions. */
export const SETTLE_MARK = '__settle-';

/**
 * Waits until what the page sent so far has arrived, so a test can assert that something was
 * NOT sent: the page sends a marker custom event after it, the marker is awaited, and a short
 * grace period covers requests that travelled on another connection.
 */
export async function settle(page: Page, site: TestSite): Promise<void> {
  const mark = SETTLE_MARK + String(++marks);
  await page.evaluate((name) => {
    const api = (window as { lighttrail?: { track(name: string): void } }).lighttrail;
    api?.track(name);
  }, mark);
  await site.waitForEvents((event) => event.type === 'custom' && event.name === mark);
  await new Promise((done) => setTimeout(done, 200));
}

interface RouteContext {
  options: TestSiteOptions;
  origins: { origin: string; altOrigin: string };
  requests: CollectRequest[];
}

function route(req: IncomingMessage, res: ServerResponse, context: RouteContext): void {
  const path = new URL(req.url ?? '/', 'http://site.invalid').pathname;

  if (path === '/api/collect') return capture(req, res, context.requests);

  if (path === '/lt.js') {
    const body = readFileSync(context.options.trackerFile ?? BUILT_TRACKER);
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' }).end(body);

    return;
  }

  req.resume();
  if (path === '/' || path.startsWith('/app/')) return html(res, trackedPage(context));

  if (path === '/from') {
    return html(
      res,
      `<!doctype html><title>From</title><a id="go" href="${context.origins.origin}/">Go</a>`,
    );
  }

  if (path === '/away') return html(res, '<!doctype html><title>Away</title><p>Another site</p>');

  if (path.startsWith('/files/') || path === '/stay' || path === '/submitted') {
    res.writeHead(204).end();

    return;
  }

  res.writeHead(404).end();
}

function capture(req: IncomingMessage, res: ServerResponse, requests: CollectRequest[]): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    requests.push({
      method: req.method ?? '',
      contentType: req.headers['content-type'],
      cookie: req.headers.cookie,
      origin: req.headers.origin,
      body,
      payload: parse(body),
    });
    res.writeHead(204, { 'Access-Control-Allow-Origin': '*' }).end();
  });
}

function parse(body: string): Payload | undefined {
  try {
    return JSON.parse(body) as Payload;
  } catch {
    return undefined;
  }
}

function trackedPage({ options, origins }: RouteContext): string {
  const siteId = options.siteId === undefined ? 'test-site' : options.siteId;
  const attributes = [
    `src="${escape(options.scriptSrc ?? '/lt.js')}"`,
    siteId === null ? '' : `data-site="${escape(siteId)}"`,
    options.api === undefined ? '' : `data-api="${escape(options.api)}"`,
    options.hashRoutes === true ? 'data-hash' : '',
    options.integrity === undefined
      ? ''
      : `integrity="${escape(options.integrity)}" crossorigin="anonymous"`,
  ].join(' ');
  const tag = `<script defer ${attributes}></script>`;
  const other = origins.altOrigin;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>LightTrail test clinic</title>
${tag.repeat(options.scriptTags ?? 1)}
</head>
<body style="margin:0">
<h1>Test clinic</h1>
<p>
<a id="outbound" href="${other}/away" target="_blank">Partner site</a>
<a id="outbound-nested" href="${other}/away" target="_blank"
  ><span id="outbound-inner">Partner</span></a
>
<a id="download" href="${other}/files/results.pdf">Results (PDF)</a>
<a id="download-attr" href="/files/export" download>Export</a>
<a id="internal" href="/stay">Stay here</a>
<a id="mail" href="mailto:pat.doe@mail.test" onclick="event.preventDefault()">E-mail us</a>
</p>
<form id="appointment" action="/submitted" method="post">
<input name="patient"><input name="email"><input name="name"><input name="id">
<button id="book" type="submit">Book</button>
</form>
<form name="newsletter" action="/submitted" method="post">
<input name="email"><input name="name"><button id="subscribe" type="submit">Subscribe</button>
</form>
<form action="/submitted" method="post">
<input name="q"><button id="anon-submit" type="submit">Search</button>
</form>
<div style="height:4000px">Long content</div>
</body>
</html>`;
}

function html(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(body);
}

function escape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

function listen(server: Server, host: string): Promise<Server> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(0, host, () => done(server));
  });
}

function port(server: Server): number {
  return (server.address() as AddressInfo).port;
}

function stop(server: Server): Promise<void> {
  server.closeAllConnections();

  return new Promise((done) => server.close(() => done()));
}
