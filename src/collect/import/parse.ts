import { isIP } from 'node:net';

import { LightTrailError } from '../../errors.js';

/**
 * Line parsers for `lighttrail import`. Each turns one access-log line into a `LogRecord`, or
 * `null` when the line does not have the shape of its format. A parser never throws on input and
 * never prints: a line holds a visitor's IP address and a raw query, which may be PHI.
 *
 * @example
 * const rec = parseLine(line, 'combined');
 * if (rec === null) malformed += 1;
 */
export type LogFormat = 'combined' | 'common' | 'nginx-json';

export const LOG_FORMATS: readonly LogFormat[] = ['combined', 'common', 'nginx-json'];

const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;

/** One request as the web server logged it. Values are kept raw; redaction happens downstream. */
export interface LogRecord {
  readonly ip: string;
  /** Epoch milliseconds, from the log's own timestamp and its UTC offset. */
  readonly time: number;
  /** `''` when the request line was garbage (`"-"`, a TLS handshake, no HTTP version). */
  readonly method: string;
  /** Raw request target, e.g. `/path?q`; `''` with an empty method. */
  readonly target: string;
  readonly status: number;
  /** `null` when the server logged `-`. */
  readonly bytes: number | null;
  readonly referrer: string | null;
  readonly userAgent: string | null;
  /**
   * False where the format has no User-Agent at all (Common Log Format, an nginx-json line
   * without the field): an unknown agent, not the empty one that marks a script as a bot.
   */
  readonly userAgentLogged: boolean;
  /** Only nginx-json carries it. */
  readonly host: string | null;
}

/** Lets the CLI check `--format` before it opens anything. */
export function isLogFormat(value: string): value is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(value);
}

/**
 * Parses one line (without its line break). Returns `null` for a malformed line so the caller
 * can count it; throws only for an unknown format, which is the caller's mistake.
 */
export function parseLine(line: string, format: LogFormat): LogRecord | null {
  if (format === 'combined') return parseApache(line, true);
  if (format === 'common') return parseApache(line, false);
  if (format === 'nginx-json') return parseNginxJson(line);

  throw new LightTrailError('ERR_IMPORT_FORMAT', 'unknown log format', { status: 400 });
}

// ---------------------------------------------------------------------------------------------
// Apache common and combined: %h %l %u %t "%r" %>s %b ["%{Referer}i" "%{User-agent}i"]
// ---------------------------------------------------------------------------------------------

/** A cursor over one line; each read returns `null` when the field is not there. */
class Fields {
  private at = 0;

  constructor(private readonly line: string) {}

  /** A run of non-space characters, after the spaces that separate fields. */
  token(): string | null {
    if (!this.separator()) return null;

    const start = this.at;
    while (this.at < this.line.length && this.line[this.at] !== ' ') this.at += 1;

    return this.at > start ? this.line.slice(start, this.at) : null;
  }

  /** `[...]`, as Apache writes `%t`. */
  bracketed(): string | null {
    if (!this.separator() || this.line[this.at] !== '[') return null;

    const end = this.line.indexOf(']', this.at);
    if (end < 0) return null;

    const inner = this.line.slice(this.at + 1, end);
    this.at = end + 1;

    return inner;
  }

  /**
   * `"..."` with Apache's escapes (mod_log_config, "Security Considerations"): `\"` and `\\` are
   * undone; `\xhh` and C escapes stay as written, since they stand for bytes that were never text.
   * In the request line (`url`) `\xhh` is written `%hh`, the way a URL carries a byte: nginx
   * logs a quote in a request so (`/q\x22` was stored as the page `/q/x22`, its backslash read
   * as a path's, QA). A referrer keeps them: there they are bytes of a host name in a legacy
   * charset (`http://\xe4\xe5...`, spam in the shared log), no URL's.
   */
  quoted(url = false): string | null {
    if (!this.separator() || this.line[this.at] !== '"') return null;

    let out = '';
    for (let i = this.at + 1; i < this.line.length; i += 1) {
      const ch = this.line[i];
      if (ch === '"') {
        this.at = i + 1;
        return out;
      }

      const next = this.line[i + 1];
      if (ch === '\\' && (next === '"' || next === '\\')) {
        out += next;
        i += 1;
      } else if (
        url &&
        ch === '\\' &&
        next === 'x' &&
        HEX_PAIR.test(this.line.slice(i + 2, i + 4))
      ) {
        out += `%${this.line.slice(i + 2, i + 4)}`;
        i += 3;
      } else {
        out += ch;
      }
    }

    return null;
  }

  /** True when only trailing spaces remain. */
  atEnd(): boolean {
    return this.line.slice(this.at).trim() === '';
  }

  private separator(): boolean {
    if (this.at === 0) return true;
    if (this.line[this.at] !== ' ') return false;

    while (this.line[this.at] === ' ') this.at += 1;

    return true;
  }
}

function parseApache(line: string, combined: boolean): LogRecord | null {
  const f = new Fields(line);
  const ip = f.token();
  // %l and %u are read past and dropped: %u can be a patient's portal user name.
  const ident = f.token();
  const user = f.token();
  const stamp = f.bracketed();
  const request = f.quoted(true);
  const status = f.token();
  const bytes = f.token();
  if (ip === null || ident === null || user === null || stamp === null || request === null) {
    return null;
  }

  const referrer = combined ? f.quoted() : '-';
  const userAgent = combined ? f.quoted() : '-';
  if (referrer === null || userAgent === null || !f.atEnd()) return null;

  const time = parseApacheTime(stamp);
  const code = parseStatus(status);
  const size = parseBytes(bytes);
  if (!isIP(ip) || time === null || code === null || size === undefined) return null;

  return {
    ip,
    time,
    ...parseRequestLine(request),
    status: code,
    bytes: size,
    referrer: dash(referrer),
    userAgent: dash(userAgent),
    userAgentLogged: combined,
    host: null,
  };
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const VERSION = /^HTTP\/\d(?:\.\d)?$/;

/**
 * `METHOD target HTTP/x.y`, exactly. Anything else (`-`, a TLS handshake sent to port 80, an
 * HTTP/0.9 line without version) still comes from a well-formed log line, so it yields an empty
 * method that classification skips, instead of swelling the malformed count a user reads as "wrong
 * --format".
 */
function parseRequestLine(request: string): { method: string; target: string } {
  const [method = '', target = '', version = '', ...rest] = request.split(' ');
  if (rest.length > 0 || !TOKEN.test(method) || target === '' || !VERSION.test(version)) {
    return { method: '', target: '' };
  }

  return { method, target };
}

/** A status as a three-digit string (Apache, nginx-json) or a JSON number. */
function parseStatus(value: unknown): number | null {
  const n = typeof value === 'string' && /^\d{3}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 100 || n > 999) return null;

  return n;
}

/** `undefined` = not a byte count (malformed); `null` = the server logged `-` for none. */
function parseBytes(value: unknown): number | null | undefined {
  if (value === '-' || value === '') return null;

  const n = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;

  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function dash(value: string): string | null {
  return value === '-' || value === '' ? null : value;
}

// ---------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const APACHE_TIME =
  /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{2})(\d{2})$/;
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-]\d{2}):?(\d{2}))$/;

/** `17/May/2015:10:05:03 +0000`, as `%t` and nginx `$time_local` write it (English months). */
function parseApacheTime(stamp: string): number | null {
  const m = APACHE_TIME.exec(stamp);
  if (m === null) return null;

  const month = MONTHS.indexOf(m[2] ?? '');
  if (month < 0) return null;

  const [day, year, hour, minute, second] = [m[1], m[3], m[4], m[5], m[6]].map(Number);

  return utcMillis([year, month, day, hour, minute, second, 0], offsetMinutes(m[7], m[8]));
}

/**
 * `2015-05-17T10:05:03+00:00` (nginx `$time_iso8601`) or `2015-05-17T10:05:03.120Z` (Logstash
 * `@timestamp`). A stamp without an offset is refused: its instant would be a guess.
 */
function parseIsoTime(stamp: string): number | null {
  const m = ISO_TIME.exec(stamp);
  if (m === null) return null;

  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
  const millis = Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3));
  const offset = m[8] === 'Z' ? 0 : offsetMinutes(m[9], m[10]);

  return utcMillis([year, (month ?? 0) - 1, day, hour, minute, second, millis], offset);
}

/** nginx `$msec`: seconds since the epoch with a millisecond fraction. */
function parseEpochSeconds(value: unknown): number | null {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^\d{9,11}(?:\.\d{1,6})?$/.test(text)) return null;

  return Math.round(Number(text) * 1000);
}

function offsetMinutes(hours: string | undefined, minutes: string | undefined): number | null {
  const h = Number(hours);
  const m = Number(minutes);
  if (Math.abs(h) > 23 || m > 59) return null;

  return (hours?.startsWith('-') ? -1 : 1) * (Math.abs(h) * 60 + m);
}

/** Refuses a calendar date that `Date.UTC` would silently roll over (31 Jun, 25:00, second 60). */
function utcMillis(parts: (number | undefined)[], offset: number | null): number | null {
  const [year = NaN, month = NaN, day = NaN, hour = NaN, minute = NaN, second = NaN] = parts;
  const millis = parts[6] ?? 0;
  if (offset === null || year < 1970) return null;

  const local = Date.UTC(year, month, day, hour, minute, second, millis);
  const d = new Date(local);
  const same =
    d.getUTCFullYear() === year &&
    d.getUTCMonth() === month &&
    d.getUTCDate() === day &&
    d.getUTCHours() === hour &&
    d.getUTCMinutes() === minute &&
    d.getUTCSeconds() === second;

  // The year above is the log's local one: `01/Jan/1970:00:30:00 +0100` is 1969 in UTC, stored
  // and counted on a day no statistics range can name (they start at 1970-01-01, QA).
  const instant = local - offset * 60_000;

  return same && instant >= 0 ? instant : null;
}

// ---------------------------------------------------------------------------------------------
// nginx JSON
// ---------------------------------------------------------------------------------------------

/**
 * One JSON object per line, as written by an nginx `log_format ... escape=json '{...}'`. Keys read
 * (first present wins):
 *
 * - `remote_addr` (required): the client address.
 * - `time_iso8601`, `@timestamp`, `time_local` or `msec` (one required).
 * - `request` (`"GET /path HTTP/1.1"`), or `request_method` with `request_uri` (one required).
 * - `status` (required), `body_bytes_sent`: numbers or numeric strings; `-` or `""` = none.
 * - `http_referer`, `http_user_agent`, `host` or `http_host`: optional; `-` or `""` = none.
 *
 * Other keys are ignored. nginx's default escaping writes `\x22`, which is not JSON: such lines
 * come back malformed, so use `escape=json`.
 */
function parseNginxJson(line: string): LogRecord | null {
  const obj = parseObject(line);
  if (obj === null) return null;

  const ip = obj.remote_addr;
  const time = jsonTime(obj);
  const request = jsonRequest(obj);
  const status = parseStatus(obj.status);
  const bytes = 'body_bytes_sent' in obj ? parseBytes(obj.body_bytes_sent) : null;
  if (typeof ip !== 'string' || !isIP(ip) || time === null || request === null) return null;
  if (status === null || bytes === undefined) return null;

  const optional = [obj.http_referer, obj.http_user_agent, obj.host, obj.http_host];
  if (optional.some((v) => v !== undefined && v !== null && typeof v !== 'string')) return null;

  const [referrer, userAgent, host, httpHost] = optional.map((v) =>
    typeof v === 'string' ? dash(v) : null,
  );

  return {
    ip,
    time,
    ...request,
    status,
    bytes,
    referrer: referrer ?? null,
    userAgent: userAgent ?? null,
    userAgentLogged: 'http_user_agent' in obj,
    // `host` when it names one, else `http_host`: a "-" in one must not hide the other.
    host: host ?? httpHost ?? null,
  };
}

function parseObject(line: string): Record<string, unknown> | null {
  if (!line.trimStart().startsWith('{')) return null;

  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function jsonTime(obj: Record<string, unknown>): number | null {
  const iso = obj.time_iso8601 ?? obj['@timestamp'];
  if (iso !== undefined) return typeof iso === 'string' ? parseIsoTime(iso) : null;

  const local = obj.time_local;
  if (local !== undefined) {
    return typeof local === 'string' ? parseApacheTime(local.replace(/^\[(.*)\]$/, '$1')) : null;
  }

  return parseEpochSeconds(obj.msec);
}

function jsonRequest(obj: Record<string, unknown>): { method: string; target: string } | null {
  if (typeof obj.request === 'string') return parseRequestLine(obj.request);

  const method = obj.request_method;
  const target = obj.request_uri;
  if (typeof method !== 'string' || typeof target !== 'string') return null;
  if (!TOKEN.test(method) || target === '' || /\s/.test(target)) return { method: '', target: '' };

  return { method, target };
}
