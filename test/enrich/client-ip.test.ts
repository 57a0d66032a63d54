import { createHash, createHmac, randomBytes } from 'node:crypto';

import { describe, expect, test } from 'vitest';

import { isLightTrailError } from '../../src/errors.js';
import {
  createProxyMatcher,
  deriveClientIp,
  type ClientIpInput,
} from '../../src/enrich/client-ip.js';
import { compileCidrs, parseForwardedHop, parseIp } from '../../src/enrich/ip.js';
import { hmacSha256Hex, normaliseIpForVisitor, visitorId } from '../../src/enrich/visitor.js';

const TRUSTED = ['10.0.0.0/8'];
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0';

function derive(
  peer: string | undefined,
  headers: ClientIpInput['headers'],
  mode: 'xff' | 'rfc7239' = 'xff',
) {
  return deriveClientIp({ peer, headers, trustedProxies: TRUSTED, mode });
}

describe('C20 client IP derivation behind proxies', () => {
  test('C20 (a) the rightmost untrusted hop is the client', () => {
    const result = derive('10.0.0.5', { 'x-forwarded-for': '203.0.113.50, 198.51.100.7' });

    expect(result).toEqual({ ip: '198.51.100.7', misconfigured: false });
  });

  test('C20 (a) trusted hops are skipped; a forged leftmost entry is not believed', () => {
    const result = derive('10.0.0.5', {
      'x-forwarded-for': '1.1.1.1, 198.51.100.7, 10.9.9.9, 10.0.0.7',
    });

    expect(result.ip).toBe('198.51.100.7');
  });

  test('C20 (b) an untrusted peer is the client and every header is ignored', () => {
    const result = derive('198.51.100.9', {
      'x-forwarded-for': '192.0.2.1',
      'x-real-ip': '192.0.2.2',
      'cf-connecting-ip': '192.0.2.3',
      forwarded: 'for=192.0.2.4',
    });

    expect(result).toEqual({ ip: '198.51.100.9', misconfigured: false });
    expect(derive('198.51.100.9', { forwarded: 'for=192.0.2.4' }, 'rfc7239').ip).toBe(
      '198.51.100.9',
    );
  });

  test('C20 (b) X-Real-IP and CF-Connecting-IP are never read, even from a trusted peer', () => {
    const result = derive('10.0.0.5', {
      'x-real-ip': '192.0.2.2',
      'cf-connecting-ip': '192.0.2.3',
    });

    expect(result.ip).toBe('10.0.0.5');
  });

  test('C20 (c) IPv4-mapped IPv6 is unwrapped, in the header and at the socket', () => {
    expect(derive('10.0.0.5', { 'x-forwarded-for': '::ffff:198.51.100.7' }).ip).toBe(
      '198.51.100.7',
    );
    expect(derive('::ffff:10.0.0.5', { 'x-forwarded-for': '198.51.100.7' }).ip).toBe(
      '198.51.100.7',
    );
    expect(derive('::ffff:198.51.100.9', {}).ip).toBe('198.51.100.9');
    expect(derive('10.0.0.5', { 'x-forwarded-for': '::ffff:c633:6407' }).ip).toBe('198.51.100.7');
  });

  test('C20 (d) loopback is never a visitor: ip null and misconfiguration flagged', () => {
    for (const forwarded of [
      '::ffff:127.0.0.1',
      '127.0.0.1',
      '::1',
      '0.0.0.0',
      '::',
      // Loopback inside IPv6 by a translation: IPv4-compatible, IPv4-translated, NAT64 (QA).
      '::127.0.0.1',
      '::ffff:0:7f00:1',
      '64:ff9b::7f00:1',
    ]) {
      expect(derive('10.0.0.5', { 'x-forwarded-for': forwarded }), forwarded).toEqual({
        ip: null,
        misconfigured: true,
      });
    }

    expect(derive('127.0.0.1', {})).toEqual({ ip: null, misconfigured: true });
  });

  test('C20 a forwarded hop with a port past 65535 is garbage, not an address (QA)', () => {
    expect(derive('10.0.0.5', { 'x-forwarded-for': '198.51.100.7:99999' }).ip).toBeNull();
    expect(derive('10.0.0.5', { 'x-forwarded-for': '[2001:db8::7]:70000' }).ip).toBeNull();
    expect(derive('10.0.0.5', { 'x-forwarded-for': '198.51.100.7:65535' }).ip).toBe('198.51.100.7');
  });

  test('C20 (d) loopback visitors are not merged: the caller gets no address to hash', () => {
    const a = derive('10.0.0.5', { 'x-forwarded-for': '::ffff:127.0.0.1' });
    const b = derive('10.0.0.5', { 'x-forwarded-for': '127.0.0.1' });

    expect(a.ip).toBeNull();
    expect(b.ip).toBeNull();
  });

  test('C20 (e) two addresses of one IPv6 /64 with the same UA are one visitor', () => {
    const salt = randomBytes(32);
    const first = derive('10.0.0.5', { 'x-forwarded-for': '2001:db8:aa:bb:1111:2222:3333:4444' });
    const later = derive('10.0.0.5', { 'x-forwarded-for': '2001:db8:aa:bb:9999:8888:7777:6666' });
    const otherNet = derive('10.0.0.5', {
      'x-forwarded-for': '2001:db8:aa:bc:1111:2222:3333:4444',
    });

    expect(first.ip).toBe('2001:db8:aa:bb:1111:2222:3333:4444');
    expect(visitorId(salt, 'site-1', first.ip as string, UA)).toBe(
      visitorId(salt, 'site-1', later.ip as string, UA),
    );
    expect(visitorId(salt, 'site-1', first.ip as string, UA)).not.toBe(
      visitorId(salt, 'site-1', otherNet.ip as string, UA),
    );
  });

  test('C20 (f) garbage entries, ports and brackets are handled without error', () => {
    expect(derive('10.0.0.5', { 'x-forwarded-for': 'garbage, 198.51.100.7' }).ip).toBe(
      '198.51.100.7',
    );
    expect(derive('10.0.0.5', { 'x-forwarded-for': '198.51.100.7:51234' }).ip).toBe('198.51.100.7');
    expect(derive('10.0.0.5', { 'x-forwarded-for': '[2001:db8::1]:443' }).ip).toBe('2001:db8::1');
    expect(derive('10.0.0.5', { 'x-forwarded-for': ' , ,,unknown, "198.51.100.7" ' }).ip).toBe(
      '198.51.100.7',
    );
  });

  test('a trusted proxy not knowing its client: the entry left of it is not believed', () => {
    // What stands left of the proxy's own entry came from the client, who could write anything.
    expect(derive('10.0.0.5', { 'x-forwarded-for': '81.2.69.142, unknown' })).toEqual({
      ip: null,
      misconfigured: false,
    });
    expect(derive('10.0.0.5', { 'x-forwarded-for': '81.2.69.142, garbage, 10.0.0.9' }).ip).toBe(
      null,
    );
    expect(
      derive('10.0.0.5', { forwarded: 'for=81.2.69.142, for=unknown' }, 'rfc7239').ip,
    ).toBeNull();
    expect(
      derive('10.0.0.5', { forwarded: 'for=81.2.69.142, for=_hidden' }, 'rfc7239').ip,
    ).toBeNull();
    // An element of a trusted proxy that names no client at all says as much.
    for (const own of ['by=10.0.0.1;proto=https', 'for=', 'for=""']) {
      const forwarded = `for=81.2.69.142, ${own}`;
      expect(derive('10.0.0.5', { forwarded }, 'rfc7239').ip, own).toBeNull();
    }
    // An empty entry (a stray comma) is no statement by anyone.
    expect(derive('10.0.0.5', { 'x-forwarded-for': '198.51.100.7, ' }).ip).toBe('198.51.100.7');
  });

  test('C20 (f) hostile header values never throw and never yield a non-address', () => {
    const hostile = [
      '',
      ',,,,',
      '999.1.1.1',
      '1.2.3',
      '01.2.3.4',
      '[::1',
      '[2001:db8::1]x',
      '1.2.3.4:99999999',
      ':::',
      '1::2::3',
      'a'.repeat(10_000),
      '1.1.1.1,'.repeat(2_000),
    ];
    for (const value of hostile) {
      const result = derive('10.0.0.5', { 'x-forwarded-for': value });

      expect(result.ip === null || parseIp(result.ip) !== null, value.slice(0, 20)).toBe(true);
    }
  });

  test('C20 (g) RFC 7239 Forwarded: quoted, bracketed IPv6 with parameters', () => {
    const result = derive('10.0.0.5', { forwarded: 'for="[2001:db8::5]";proto=https' }, 'rfc7239');

    expect(result).toEqual({ ip: '2001:db8::5', misconfigured: false });
  });

  test('C20 (g) RFC 7239: elements, ports, case, obfuscated ids, quoted commas', () => {
    const header =
      'for=192.0.2.60;proto=http;by=203.0.113.43, For="198.51.100.7:4711", for=10.1.1.1';

    expect(derive('10.0.0.5', { forwarded: header }, 'rfc7239').ip).toBe('198.51.100.7');
    expect(
      derive('10.0.0.5', { forwarded: 'for=_hidden, for="unknown", for=198.51.100.7' }, 'rfc7239')
        .ip,
    ).toBe('198.51.100.7');
    expect(derive('10.0.0.5', { forwarded: 'for=198.51.100.7;ext="a,b"' }, 'rfc7239').ip).toBe(
      '198.51.100.7',
    );
  });

  test('C20 (g) the mode decides which header is read', () => {
    const headers = { forwarded: 'for=198.51.100.1', 'x-forwarded-for': '198.51.100.2' };

    expect(derive('10.0.0.5', headers, 'rfc7239').ip).toBe('198.51.100.1');
    expect(derive('10.0.0.5', headers, 'xff').ip).toBe('198.51.100.2');
  });

  test('a missing or unreadable peer gives no address and no misconfiguration flag', () => {
    expect(derive(undefined, { 'x-forwarded-for': '198.51.100.7' })).toEqual({
      ip: null,
      misconfigured: false,
    });
    expect(derive('nonsense', { 'x-forwarded-for': '198.51.100.7' })).toEqual({
      ip: null,
      misconfigured: false,
    });
  });

  test('a peer with every hop trusted is itself the client; repeated headers are joined', () => {
    expect(derive('10.0.0.5', {}).ip).toBe('10.0.0.5');
    expect(derive('10.0.0.5', { 'x-forwarded-for': '10.1.1.1' }).ip).toBe('10.1.1.1');
    expect(
      deriveClientIp({
        peer: '10.0.0.5',
        headers: {
          forwarded: ['for=198.51.100.7', 'for=10.0.0.9'],
        } as unknown as ClientIpInput['headers'],
        trustedProxies: TRUSTED,
        mode: 'rfc7239',
      }).ip,
    ).toBe('198.51.100.7');
  });
});

describe('proxy matcher', () => {
  test('compiled once; IPv4, IPv6, single hosts and mapped CIDRs', () => {
    const proxies = createProxyMatcher([
      '10.0.0.0/8',
      '2001:db8:1::/48',
      '192.0.2.7',
      '::ffff:172.16.0.0/108',
    ]);
    const via = (peer: string) =>
      deriveClientIp({
        peer,
        headers: { 'x-forwarded-for': '198.51.100.7' },
        trustedProxies: proxies,
        mode: 'xff',
      });

    expect(via('10.255.0.1').ip).toBe('198.51.100.7');
    expect(via('2001:db8:1:ffff::1').ip).toBe('198.51.100.7');
    expect(via('192.0.2.7').ip).toBe('198.51.100.7');
    expect(via('172.16.3.4').ip).toBe('198.51.100.7');
    expect(via('192.0.2.8').ip).toBe('192.0.2.8');
    expect(via('2001:db8:2::1').ip).toBe('2001:db8:2::1');
  });

  test('an unreadable CIDR is refused with ERR_CONFIG_INVALID, not skipped', () => {
    for (const bad of [['10.0.0.0/33'], ['10.0.0/8'], ['example.com'], ['10.0.0.0/8', '::/129']]) {
      let code: string | undefined;
      try {
        createProxyMatcher(bad);
      } catch (error) {
        code = isLightTrailError(error) ? error.code : 'other';
      }

      expect(code, bad.join()).toBe('ERR_CONFIG_INVALID');
    }
  });

  test('a prefix boundary is exact', () => {
    const { list } = compileCidrs(['198.51.100.0/25']);

    expect(list.contains(parseIp('198.51.100.127')!)).toBe(true);
    expect(list.contains(parseIp('198.51.100.128')!)).toBe(false);
  });

  test('deriving an address costs microseconds', () => {
    const proxies = createProxyMatcher(['10.0.0.0/8', '172.16.0.0/12', 'fd00::/8']);
    const headers = { 'x-forwarded-for': '203.0.113.50, 198.51.100.7, 10.1.2.3' };
    let best = Infinity;
    for (let round = 0; round < 5; round++) {
      const started = performance.now();
      for (let i = 0; i < 2_000; i++) {
        deriveClientIp({ peer: '10.0.0.5', headers, trustedProxies: proxies, mode: 'xff' });
      }

      best = Math.min(best, (performance.now() - started) / 2_000);
    }

    expect(best).toBeLessThan(0.05);
  });
});

describe('IP parsing', () => {
  test('canonical text for IPv6 (RFC 5952) and strict IPv4', () => {
    expect(parseIp('2001:0DB8:0000:0000:0000:0000:0000:0001')?.text).toBe('2001:db8::1');
    expect(parseIp('2001:db8:0:0:1:0:0:1')?.text).toBe('2001:db8::1:0:0:1');
    expect(parseIp('fe80::1%eth0')?.text).toBe('fe80::1');
    expect(parseIp('::')?.text).toBe('::');
    expect(parseIp('010.0.0.1')).toBeNull();
    expect(parseIp('256.0.0.1')).toBeNull();
    expect(parseForwardedHop('"[::ffff:198.51.100.7]:80"')?.text).toBe('198.51.100.7');
  });

  test('IPv4 is four decimal parts of at most 255, nothing else', () => {
    for (const good of ['0.0.0.0', '255.255.255.255', '198.51.100.7', '10.0.0.1', '1.20.255.0']) {
      const parsed = parseIp(good);

      expect(parsed?.text).toBe(good);
      expect([...(parsed?.bytes ?? [])]).toEqual(good.split('.').map(Number));
    }

    for (const bad of [
      '1.2.3',
      '1.2.3.4.5',
      '1.2.3.4.',
      '.1.2.3.4',
      '1..2.3',
      '1.2.3.256',
      '1.2.3.1000',
      '01.2.3.4',
      '1.2.3.00',
      '1.2.3.4a',
      '1.2.3.-4',
      '1.2.3. 4',
      '١.٢.٣.٤',
      '1.2.3.0x1',
    ]) {
      expect(parseIp(bad), bad).toBeNull();
    }

    expect(parseIp('::ffff:198.51.100.7')?.text).toBe('198.51.100.7');
  });
});

describe('HMAC-SHA-256', () => {
  test('matches RFC 4231 test cases 1, 2 and 6 (a key longer than a block)', () => {
    const hex = (key: Uint8Array, data: string) => hmacSha256Hex(key, Buffer.from(data, 'utf8'));

    expect(hex(Buffer.alloc(20, 0x0b), 'Hi There')).toBe(
      'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
    );
    expect(hex(Buffer.from('Jefe'), 'what do ya want for nothing?')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
    expect(
      hex(Buffer.alloc(131, 0xaa), 'Test Using Larger Than Block-Size Key - Hash Key First'),
    ).toBe('60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
  });

  test('gives the bytes createHmac gives, for keys and messages around a block long', () => {
    for (const keyLength of [1, 16, 32, 63, 64, 65, 200]) {
      const key = randomBytes(keyLength);
      for (const dataLength of [0, 1, 55, 64, 119, 1000]) {
        const data = randomBytes(dataLength);

        expect(hmacSha256Hex(key, data)).toBe(createHmac('sha256', key).update(data).digest('hex'));
      }
    }
  });
});

describe('visitor id', () => {
  const salt = randomBytes(32);

  test('is a keyed hash: not the SHA-1 or SHA-256 of the address, and does not contain it', () => {
    const ip = '198.51.100.7';
    const id = visitorId(salt, 'site-1', ip, UA);

    expect(id).toMatch(/^[0-9a-f]{32}$/);
    for (const algorithm of ['sha1', 'sha256']) {
      const plain = createHash(algorithm).update(ip).digest('hex');

      expect(plain.startsWith(id)).toBe(false);
      expect(id).not.toBe(plain.slice(0, 32));
    }

    // The address neither as text nor as its four bytes in hex (c6336407). A three-digit
    // octet alone would match a random hex digest now and then.
    expect(id).not.toContain(ip);
    expect(id).not.toContain(Buffer.from([198, 51, 100, 7]).toString('hex'));
  });

  test('a different salt, site or user agent gives a different id', () => {
    const id = visitorId(salt, 'site-1', '198.51.100.7', UA);

    expect(visitorId(randomBytes(32), 'site-1', '198.51.100.7', UA)).not.toBe(id);
    expect(visitorId(salt, 'site-2', '198.51.100.7', UA)).not.toBe(id);
    expect(visitorId(salt, 'site-1', '198.51.100.7', `${UA} x`)).not.toBe(id);
    expect(visitorId(salt, 'site-1', '198.51.100.7', UA)).toBe(id);
  });

  test('fields are length-prefixed: shifting text between fields changes the id', () => {
    expect(visitorId(salt, 'ab', '198.51.100.7', 'c')).not.toBe(
      visitorId(salt, 'a', '198.51.100.7', 'bc'),
    );
  });

  test('mapped and plain IPv4 are one visitor; a stand-in never equals an address', () => {
    expect(visitorId(salt, 's', '::ffff:198.51.100.7', UA)).toBe(
      visitorId(salt, 's', '198.51.100.7', UA),
    );
    expect(normaliseIpForVisitor('2001:db8:aa:bb::1')).toBe('20010db800aa00bb/64');
    expect(normaliseIpForVisitor('unknown:abc')).toBe('opaque:unknown:abc');
  });

  test('IPv4 clients behind NAT64 or in IPv4-compatible form are told apart (QA)', () => {
    // All of 64:ff9b::/96 is one /64: cut there, every IPv4 client was one visitor.
    for (const wrap of ['64:ff9b::', '::']) {
      expect(normaliseIpForVisitor(`${wrap}203.0.113.10`)).toBe('203.0.113.10');
      expect(visitorId(salt, 's', `${wrap}203.0.113.10`, UA)).not.toBe(
        visitorId(salt, 's', `${wrap}203.0.113.11`, UA),
      );
      expect(visitorId(salt, 's', `${wrap}203.0.113.10`, UA)).toBe(
        visitorId(salt, 's', '203.0.113.10', UA),
      );
    }
    // 6to4 carries its sender's IPv4 address in bits 16 to 48.
    expect(normaliseIpForVisitor('2002:cb00:710a::1')).toBe('203.0.113.10');
  });

  test('a short salt is refused with ERR_INVALID_ARGUMENT', () => {
    let code: string | undefined;
    try {
      visitorId(Buffer.alloc(8), 's', '198.51.100.7', UA);
    } catch (error) {
      code = isLightTrailError(error) ? error.code : 'other';
    }

    expect(code).toBe('ERR_INVALID_ARGUMENT');
  });
});
