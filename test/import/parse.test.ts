import { describe, expect, it } from 'vitest';

import { isLightTrailError } from '../../src/errors.js';
import { isLogFormat, parseLine, type LogFormat } from '../../src/collect/import/parse.js';

// Addresses from the documentation ranges (RFC 5737, RFC 3849), never from a real log.
const V4 = '192.0.2.10';
const V6 = '2001:db8::7';
const UA = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0';
const STAMP = '[17/May/2015:10:05:03 +0000]';
const AT = Date.UTC(2015, 4, 17, 10, 5, 3);

function combined(parts: { host?: string; time?: string; req?: string; tail?: string } = {}) {
  const req = parts.req ?? '"GET /clinics/?a=1 HTTP/1.1"';
  const tail = parts.tail ?? `200 5120 "https://search.example/" "${UA}"`;

  return `${parts.host ?? V4} - - ${parts.time ?? STAMP} ${req} ${tail}`;
}

describe('combined and common lines', () => {
  it('reads every field of a combined line', () => {
    expect(parseLine(combined(), 'combined')).toEqual({
      ip: V4,
      time: AT,
      method: 'GET',
      target: '/clinics/?a=1',
      status: 200,
      bytes: 5120,
      referrer: 'https://search.example/',
      userAgent: UA,
      userAgentLogged: true,
      host: null,
    });
  });

  it('reads a common line, with no referrer or user agent', () => {
    const rec = parseLine(`${V4} - - ${STAMP} "GET / HTTP/1.0" 304 -`, 'common');

    expect(rec).toMatchObject({ method: 'GET', target: '/', status: 304, bytes: null });
    expect(rec?.referrer).toBeNull();
    expect(rec?.userAgent).toBeNull();
    // Not logged at all: an unknown browser, not the empty agent of a script.
    expect(rec?.userAgentLogged).toBe(false);
  });

  it('drops %u: a portal user name never reaches the record', () => {
    const rec = parseLine(`${V4} - pat.doe ${STAMP} "GET / HTTP/1.1" 200 1 "-" "-"`, 'combined');

    expect(rec).not.toBeNull();
    expect(JSON.stringify(rec)).not.toContain('pat.doe');
  });

  it('turns - into null for bytes, referrer and user agent', () => {
    const rec = parseLine(combined({ tail: '200 - "-" "-"' }), 'combined');

    expect(rec).toMatchObject({ bytes: null, referrer: null, userAgent: null });
  });

  it('undoes \\" and \\\\ inside quoted fields and keeps \\x escapes as written', () => {
    const tail = '200 1 "https://r.example/?q=\\"x\\"" "Agent \\"quoted\\" \\\\ \\x01"';
    const rec = parseLine(combined({ tail }), 'combined');

    expect(rec?.referrer).toBe('https://r.example/?q="x"');
    expect(rec?.userAgent).toBe('Agent "quoted" \\ \\x01');
  });

  it('reads a byte escaped in the request as a URL writes it: /q15\\x22 is /q15%22 (QA)', () => {
    const tail = '200 1 "http://\\xe4\\xe5.example/" "Agent \\x01"';
    const rec = parseLine(combined({ req: '"GET /q15\\x22 HTTP/1.1"', tail }), 'combined');

    expect(rec?.target).toBe('/q15%22');
    expect(rec?.referrer).toBe('http://\\xe4\\xe5.example/');
    expect(rec?.userAgent).toBe('Agent \\x01');
  });

  it('keeps an escaped quote in the request target', () => {
    const rec = parseLine(combined({ req: '"GET /a\\"b HTTP/1.1"' }), 'combined');

    expect(rec?.target).toBe('/a"b');
  });

  it('reads IPv6 client addresses', () => {
    expect(parseLine(combined({ host: V6 }), 'combined')?.ip).toBe(V6);
    expect(parseLine(combined({ host: '::1' }), 'combined')?.ip).toBe('::1');
  });

  it('applies the timestamp offset, whatever its sign', () => {
    const at = (offset: string) =>
      parseLine(combined({ time: `[17/May/2015:10:05:03 ${offset}]` }), 'combined')?.time;

    expect(at('+0200')).toBe(AT - 2 * 3600_000);
    expect(at('-0700')).toBe(AT + 7 * 3600_000);
    expect(at('+0530')).toBe(AT - 330 * 60_000);
    expect(at('-0030')).toBe(AT + 30 * 60_000);
    expect(at('+1400')).toBe(AT - 14 * 3600_000);
  });

  it('crosses a day and a year boundary through the offset', () => {
    const rec = parseLine(combined({ time: '[01/Jan/2016:00:30:00 +0100]' }), 'combined');

    expect(new Date(rec?.time ?? 0).toISOString()).toBe('2015-12-31T23:30:00.000Z');
  });

  it('refuses a time before 1970 in UTC, whatever the local year says (QA)', () => {
    const at = (time: string) => parseLine(combined({ time }), 'combined')?.time;

    expect(at('[01/Jan/1970:00:30:00 +0100]')).toBeUndefined();
    expect(at('[01/Jan/1970:00:30:00 +0000]')).toBe(30 * 60_000);
    expect(at('[31/Dec/1969:23:30:00 -0100]')).toBeUndefined();
  });

  it('keeps a garbage request line as a record with an empty method', () => {
    const garbage = [
      '"-"',
      '"\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03"',
      '"GET /no-version"',
      '"GET /a b HTTP/1.1"',
      '"G(T / HTTP/1.1"',
      '"GET / FTP/1.0"',
      '""',
    ];

    for (const req of garbage) {
      const rec = parseLine(combined({ req }), 'combined');
      expect(rec, req).toMatchObject({ method: '', target: '', status: 200 });
    }
  });

  it('accepts HTTP/2.0 and HTTP/2 request lines', () => {
    expect(parseLine(combined({ req: '"GET / HTTP/2.0"' }), 'combined')?.method).toBe('GET');
    expect(parseLine(combined({ req: '"GET / HTTP/2"' }), 'combined')?.method).toBe('GET');
  });

  it('refuses lines that do not have the shape of the format', () => {
    const bad = [
      '',
      '   ',
      'hello world',
      combined({ host: 'www.example.org' }),
      combined({ host: '-' }),
      combined({ time: '[17/May/2015:10:05:03]' }),
      combined({ time: '[17/Mai/2015:10:05:03 +0000]' }),
      combined({ time: '[31/Jun/2015:10:05:03 +0000]' }),
      combined({ time: '[17/May/2015:24:05:03 +0000]' }),
      combined({ time: '[17/May/2015:10:05:60 +0000]' }),
      combined({ time: '[17/May/2015:10:05:03 +0070]' }),
      combined({ time: '17/May/2015:10:05:03 +0000' }),
      combined({ req: '"GET / HTTP/1.1' }),
      combined({ tail: '200 1 "-" "unterminated' }),
      combined({ tail: 'OK 1 "-" "-"' }),
      combined({ tail: '20 1 "-" "-"' }),
      combined({ tail: '200 1k "-" "-"' }),
      combined({ tail: '200 -1 "-" "-"' }),
      combined({ tail: '200 1 "-"' }),
      combined({ tail: '200 1 "-" "-" "extra"' }),
      combined({ tail: '200 1 - -' }),
    ];

    for (const line of bad) expect(parseLine(line, 'combined'), line).toBeNull();
  });

  it('refuses a combined line read as common, so a wrong --format shows up as malformed', () => {
    expect(parseLine(combined(), 'common')).toBeNull();
    expect(parseLine(`${V4} - - ${STAMP} "GET / HTTP/1.0" 200 1`, 'combined')).toBeNull();
  });

  it('tolerates trailing spaces', () => {
    expect(parseLine(`${combined()}  `, 'combined')).not.toBeNull();
  });
});

describe('nginx-json lines', () => {
  const base = {
    remote_addr: V4,
    time_iso8601: '2015-05-17T12:05:03+02:00',
    request: 'GET /clinics/ HTTP/1.1',
    status: '200',
    body_bytes_sent: '512',
    http_referer: 'https://search.example/',
    http_user_agent: UA,
    host: 'www.clinic.example',
  };
  const json = (over: Record<string, unknown>, drop: string[] = []) => {
    const obj: Record<string, unknown> = { ...base };
    for (const key of drop) delete obj[key];

    return JSON.stringify({ ...obj, ...over });
  };

  it('reads the usual keys, with string numbers', () => {
    expect(parseLine(json({}), 'nginx-json')).toEqual({
      ip: V4,
      time: AT,
      method: 'GET',
      target: '/clinics/',
      status: 200,
      bytes: 512,
      referrer: 'https://search.example/',
      userAgent: UA,
      userAgentLogged: true,
      host: 'www.clinic.example',
    });
  });

  it('reads numbers written without quotes', () => {
    const rec = parseLine(json({ status: 304, body_bytes_sent: 0 }), 'nginx-json');

    expect(rec).toMatchObject({ status: 304, bytes: 0 });
  });

  it('reads every accepted time key', () => {
    const variants: Record<string, unknown>[] = [
      { '@timestamp': '2015-05-17T10:05:03.000Z' },
      { '@timestamp': '2015-05-17T10:05:03Z' },
      { time_iso8601: '2015-05-17T05:05:03-05:00' },
      { time_iso8601: '2015-05-17T15:35:03+0530' },
      { time_local: '17/May/2015:12:05:03 +0200' },
      { time_local: '[17/May/2015:12:05:03 +0200]' },
      { msec: '1431857103.000' },
      { msec: 1431857103 },
    ];

    for (const v of variants) {
      const rec = parseLine(json(v, ['time_iso8601']), 'nginx-json');
      expect(rec?.time, JSON.stringify(v)).toBe(AT);
    }
  });

  it('refuses an ISO time before 1970 in UTC (QA)', () => {
    expect(parseLine(json({ time_iso8601: '1970-01-01T00:30:00+01:00' }), 'nginx-json')).toBeNull();
  });

  it('keeps the millisecond fraction of an ISO time', () => {
    const rec = parseLine(
      json({ '@timestamp': '2015-05-17T10:05:03.1234Z' }, ['time_iso8601']),
      'nginx-json',
    );

    expect(rec?.time).toBe(AT + 123);
  });

  it('reads request_method with request_uri when there is no request key', () => {
    const line = json({ request_method: 'HEAD', request_uri: '/a?b=1' }, ['request']);

    expect(parseLine(line, 'nginx-json')).toMatchObject({ method: 'HEAD', target: '/a?b=1' });
  });

  it('reads http_host and turns -, empty and missing optionals into null', () => {
    const line = json(
      { http_host: 'clinic.example:8443', http_referer: '-', http_user_agent: '' },
      ['host', 'body_bytes_sent'],
    );

    expect(parseLine(line, 'nginx-json')).toMatchObject({
      host: 'clinic.example:8443',
      referrer: null,
      userAgent: null,
      bytes: null,
    });
  });

  it('reads http_host when host is "-" or empty', () => {
    for (const host of ['-', '']) {
      const line = json({ host, http_host: 'other.example' });
      expect(parseLine(line, 'nginx-json')?.host).toBe('other.example');
    }
  });

  it('keeps a garbage request as an empty method', () => {
    expect(parseLine(json({ request: '\u0016\u0003\u0001' }), 'nginx-json')?.method).toBe('');
    expect(parseLine(json({ request: '-' }), 'nginx-json')?.target).toBe('');
  });

  it('refuses bad JSON and objects without the required keys or with wrong types', () => {
    const bad = [
      '',
      '{',
      '[1,2]',
      'null',
      '"text"',
      '{"remote_addr":"192.0.2.1",}',
      // nginx's default escaping is not JSON.
      '{"remote_addr":"192.0.2.1","request":"GET /\\x22 HTTP/1.1"}',
      json({}, ['remote_addr']),
      json({ remote_addr: 'proxy.example' }),
      json({ remote_addr: 3232235777 }),
      json({}, ['time_iso8601']),
      json({ time_iso8601: '2015-05-17T10:05:03' }),
      json({ time_iso8601: '2015-02-30T10:05:03Z' }),
      json({ time_iso8601: 1431857103 }),
      json({ time_local: '2015-05-17T10:05:03Z' }, ['time_iso8601']),
      json({ msec: 'soon' }, ['time_iso8601']),
      json({}, ['request']),
      json({ request_method: 'GET' }, ['request']),
      json({ request: 42 }),
      json({}, ['status']),
      json({ status: '2xx' }),
      json({ status: 200.5 }),
      json({ body_bytes_sent: -1 }),
      json({ body_bytes_sent: 'lots' }),
      json({ http_user_agent: ['a'] }),
      json({ host: 7 }),
    ];

    for (const line of bad) expect(parseLine(line, 'nginx-json'), line).toBeNull();
  });

  it('refuses an Apache line read as nginx-json, and the reverse', () => {
    expect(parseLine(combined(), 'nginx-json')).toBeNull();
    expect(parseLine(json({}), 'combined')).toBeNull();
  });
});

describe('formats', () => {
  it('knows its three formats and nothing else', () => {
    expect(['combined', 'common', 'nginx-json'].every(isLogFormat)).toBe(true);
    expect(['', 'Combined', 'json', 'nginx', 'clf', 'toString'].some(isLogFormat)).toBe(false);
  });

  it('throws ERR_IMPORT_FORMAT for an unknown format instead of answering null', () => {
    let caught: unknown;
    try {
      parseLine(combined(), 'apache' as LogFormat);
    } catch (err) {
      caught = err;
    }

    expect(isLightTrailError(caught) && caught.code).toBe('ERR_IMPORT_FORMAT');
  });
});
