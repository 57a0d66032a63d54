import { decodeQueryComponent, stripControl } from './text.js';

/**
 * A URL split into its raw parts without normalising anything. The WHATWG parser is not used for
 * pages because it re-encodes Unicode paths and throws on hosts it dislikes; the PHI firewall needs
 * the bytes as sent to look at their raw and decoded forms.
 */
export interface UrlParts {
  scheme: string;
  /** `host[:port]` with any `user:password@` removed. */
  host: string;
  hadUserInfo: boolean;
  path: string;
  /** Raw query without `?`; `null` when the URL has none. */
  query: string | null;
  /** Raw fragment without `#`; `null` when the URL has none. */
  fragment: string | null;
}

/** One query parameter as sent, with its decoded, lower-cased name for matching. */
export interface RawParam {
  rawKey: string;
  /** `null` for a bare `?flag` with no `=`. */
  rawValue: string | null;
  /** Decoded once, `+` as space, lower-cased and trimmed. */
  name: string;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]{0,15}):\/\//;

/**
 * Splits an absolute `scheme://host/path?query#fragment`, or an origin-relative `/path?query`
 * (scheme and host then empty; `//x` counts as a path). Returns `null` for anything else.
 */
export function splitUrl(raw: string): UrlParts | null {
  const text = raw.trim();
  let rest: string;
  let scheme = '';
  let authority = '';
  if (text.startsWith('/')) {
    // Origin-form, as a request line or access log has it; `//x` is a path here, not a host.
    rest = text;
  } else {
    const match = SCHEME.exec(text);
    if (!match) return null;

    scheme = (match[1] as string).toLowerCase();
    const afterScheme = text.slice(match[0].length);
    // A backslash ends the authority as a slash does (WHATWG URL, for http(s); no host holds
    // one): otherwise `https://evil.example\@www.clinic.example/` passed for the clinic's page.
    const end = afterScheme.search(/[/?#\\]/);
    authority = end === -1 ? afterScheme : afterScheme.slice(0, end);
    rest = end === -1 ? '' : afterScheme.slice(end);
  }

  const hash = rest.indexOf('#');
  const fragment = hash === -1 ? null : rest.slice(hash + 1);
  const beforeHash = hash === -1 ? rest : rest.slice(0, hash);
  const mark = beforeHash.indexOf('?');
  const query = mark === -1 ? null : beforeHash.slice(mark + 1);
  const path = mark === -1 ? beforeHash : beforeHash.slice(0, mark);
  const at = authority.lastIndexOf('@');

  return {
    scheme,
    host: at === -1 ? authority : authority.slice(at + 1),
    hadUserInfo: at !== -1,
    path,
    query,
    fragment,
  };
}

const FORMAT_CHARACTERS = /\p{Cf}/gu;

/** Splits a raw query on `&`, skipping empty pieces. Nothing is decoded but the name. */
export function splitQuery(query: string): RawParam[] {
  const params: RawParam[] = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue;

    const eq = piece.indexOf('=');
    const rawKey = eq === -1 ? piece : piece.slice(0, eq);
    const rawValue = eq === -1 ? null : piece.slice(eq + 1);
    // Control and invisible format characters go before comparing: `utm_source%00` and
    // `utm_source%E2%80%8B` (a zero-width space) are utm_source.
    const name = stripControl(decodeQueryComponent(rawKey))
      .replace(FORMAT_CHARACTERS, '')
      .trim()
      .toLowerCase();
    params.push({ rawKey, rawValue, name });
  }

  return params;
}
