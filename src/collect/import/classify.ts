import type { LogRecord } from './parse.js';

/**
 * Which logged requests count as page views. A server log records every file a browser fetched;
 * the tracker counts one view per page a person opened. This rule picks the requests that stand
 * for a page, so an imported month reads like a tracked one.
 *
 * The rule, in order (first failure wins):
 *
 * 1. `method`: only GET. HEAD is a link checker or a monitor; POST is a form, not a view; an empty
 *    method is a request line the server could not read.
 * 2. `status`: 200–299 except 204 and 206, plus 304. A 304 is a page the browser showed from its
 *    cache after asking: a real view. 204 has no page; 206 is a resumed download. 3xx redirects
 *    are counted at their destination, 4xx and 5xx showed no page.
 * 3. `asset`: a style sheet, script, image, font, media file or source map, by extension.
 * 4. `non-html`: a file of a known kind that is not a page (`.pdf` is a document download,
 *    `.txt`, `.xml`, `.json`, archives, installers, source files); a feed (`/feed`, `.rss`,
 *    `.atom`, `?flav=rss20`, `?feed=atom`, `?format=rss`), which a feed reader polls; a path
 *    that serves machines (`/robots.txt`, `/.well-known/`, any dot-segment like `/.env`,
 *    `/wp-admin/`, `/wp-login.php`, `/xmlrpc.php`, `/server-status`); a target that is not a
 *    path.
 *
 * Paths without an extension (`/`, `/clinics/`, `/blog/tags/x`), page extensions (`.html`,
 * `.htm`, `.xhtml`, `.shtml`, `.php`, `.asp`, `.aspx`, `.jsp`, `.cfm`, `.cgi`) and a last segment
 * whose dot is part of a name rather than a known file kind (`/providers/dr.smith`,
 * `/locations/st.louis`) are page views.
 * Bots are not judged here: the pipeline's bot filter sees every record, so one list decides for
 * tracked and imported traffic alike.
 *
 * @example
 * classifyRecord(rec); // { kind: 'skip', reason: 'asset' } for GET /css/site.css 200
 */
export type SkipReason = 'method' | 'status' | 'asset' | 'non-html';

export type Classification = { kind: 'pageview' } | { kind: 'skip'; reason: SkipReason };

const ASSET = new Set(
  (
    'css js mjs cjs map png jpg jpeg gif svg svgz ico webp avif jxl bmp tif tiff apng cur ' +
    'woff woff2 ttf eot otf mp4 m4s webm ogv mov m4v mp3 m4a ogg oga opus wav wma flac aac ' +
    'wasm swf glb gltf'
  ).split(' '),
);

// Files a browser downloads or a program reads: documents, data, archives, packages and
// installers, source code and logs, captions and playlists, medical and map files, calendar and
// mail files, web framework handlers (ASP.NET's `.axd`, `.ashx`). Any other text after the last
// dot is part of a name: initials and words (`/providers/smith.r`, `/team/jane-doe.md`,
// `/sign.in`) are pages (QA).
const NON_PAGE = new Set(
  (
    'pdf txt text markdown rst tex log csv tsv json jsonl xml xsl xslt xsd dtd yaml yml toml ' +
    'ini conf cfg properties doc docx docm dot dotx dotm rtf odt ods odp xls xlsx xlsm xlsb xltx ' +
    'xps oxps geojson topojson ' +
    'ppt pptx pptm potx pps ppsx ppsm key pages numbers epub mobi ps eps psd ' +
    'ics ical ifb vcs vcf vcard eml msg mbox pkpass rss atom rdf opml webmanifest manifest ' +
    'appcache vtt srt sbv m3u m3u8 mpd mkv avi wmv mpg mpeg flv 3gp heic heif ' +
    'dcm dicom hl7 kml kmz gpx axd ashx asmx svc ' +
    'zip gz tgz bz2 tbz xz txz zst lz lzma 7z rar tar z cab iso img dmg deb rpm apk ipa msi ' +
    'msu exe bin dll so dylib jar war ear class gem egg whl pkg snap appimage torrent ' +
    'c h cc cpp cxx hh hpp hxx cs java kt kts scala go rs swift mm py pyc pyo pyw pl pm6 rb ' +
    'lua tcl sh bash zsh ksh csh fish bat cmd ps1 vbs el vim lisp scm clj hs ml mli erl ex exs ' +
    'jl dart coffee ts tsx jsx vue sql diff patch spec mk cmake m4 ac am xs sig asc gpg ' +
    'pem crt cer der pub p12 pfx pcap pcapng dump bak old orig swp tmp sqlite db mdb'
  ).split(' '),
);

const HANDLER_SEGMENT = /\.(?:asmx|svc|axd|ashx)\//;

const MACHINE_PATHS = [
  '/wp-admin',
  '/wp-login.php',
  '/wp-cron.php',
  '/wp-json',
  '/xmlrpc.php',
  '/server-status',
  '/server-info',
];
const FEED_SEGMENTS = new Set(['feed', 'rss', 'rss2', 'atom', 'rdf']);
const FEED_PARAMS = new Set(['flav', 'feed', 'format']);

const PAGEVIEW: Classification = Object.freeze({ kind: 'pageview' });

function skip(reason: SkipReason): Classification {
  return Object.freeze({ kind: 'skip', reason });
}

/** Decides whether one logged request is a page view, and if not, why not (for the summary). */
export function classifyRecord(rec: LogRecord): Classification {
  if (rec.method !== 'GET') return skip('method');
  if (!isViewStatus(rec.status)) return skip('status');

  const split = splitTarget(rec.target);
  if (split === null) return skip('non-html');

  const path = split.path.toLowerCase();
  const ext = extension(path);
  if (ext !== null && ASSET.has(ext)) return skip('asset');
  if (ext !== null && NON_PAGE.has(ext)) return skip('non-html');
  // An ASP.NET service or handler answers below its own path too (`/slots.asmx/List`).
  if (HANDLER_SEGMENT.test(path)) return skip('non-html');
  if (isMachinePath(path) || isFeed(path, split.query)) return skip('non-html');

  return PAGEVIEW;
}

function isViewStatus(status: number): boolean {
  if (status === 304) return true;

  return status >= 200 && status <= 299 && status !== 204 && status !== 206;
}

/**
 * Path (percent-decoded where it decodes) and raw query of an origin-form target (`/a?b`) or an
 * absolute-form one (`http://host/a?b`, legal in HTTP/1.1). `null` for `*` and other non-paths.
 */
function splitTarget(target: string): { path: string; query: string } | null {
  let rest = target;
  if (/^https?:\/\//i.test(rest)) {
    const slash = rest.indexOf('/', rest.indexOf('//') + 2);
    rest = slash < 0 ? '/' : rest.slice(slash);
  }

  if (!rest.startsWith('/')) return null;

  const hash = rest.indexOf('#');
  const noHash = hash < 0 ? rest : rest.slice(0, hash);
  const q = noHash.indexOf('?');
  const rawPath = q < 0 ? noHash : noHash.slice(0, q);

  return { path: decodePath(rawPath), query: q < 0 ? '' : noHash.slice(q + 1) };
}

function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** Extension of the last segment, if it has a letter (so `/v/1.2` and `/2015.10/` have none). */
function extension(path: string): string | null {
  // A path parameter is no part of the name (`/forms/intake.pdf;jsessionid=...`, QA).
  const segment = path.slice(path.lastIndexOf('/') + 1);
  const last = segment.includes(';') ? segment.slice(0, segment.indexOf(';')) : segment;
  const m = /\.([a-z0-9]{1,12})$/.exec(last);
  if (m === null || m[1] === undefined || !/[a-z]/.test(m[1])) return null;

  return m[1];
}

function isMachinePath(path: string): boolean {
  if (path.split('/').some((segment) => segment.startsWith('.'))) return true;

  return MACHINE_PATHS.some((p) => path === p || path.startsWith(`${p}/`));
}

/** Query values are read here, in memory only; nothing of them leaves this function. */
function isFeed(path: string, query: string): boolean {
  const segments = path.split('/').filter((s) => s !== '');
  const last = segments.at(-1);
  if (segments.includes('feed') || (last !== undefined && FEED_SEGMENTS.has(last))) return true;
  if (query === '') return false;

  for (const [key, value] of new URLSearchParams(query)) {
    if (FEED_PARAMS.has(key.toLowerCase()) && /^(rss|atom|rdf)/i.test(value)) return true;
  }

  return false;
}
