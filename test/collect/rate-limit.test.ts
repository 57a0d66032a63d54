import { describe, expect, it } from 'vitest';

import { RateLimiter } from '../../src/collect/rate-limit.js';
import { validateSiteSettings } from '../../src/domain/site.js';

describe('rate limiter', () => {
  it('refills over time and tells how long to wait', () => {
    const limiter = new RateLimiter(2, 4);
    const t = 1_000_000;

    expect(limiter.take('198.51.100.7', 4, t)).toBe(0);
    expect(limiter.take('198.51.100.7', 1, t)).toBe(1);
    expect(limiter.take('198.51.100.8', 1, t)).toBe(0);
    expect(limiter.take('198.51.100.7', 2, t + 1000)).toBe(0);
  });

  it('counts an IPv6 /64 as one client, so rotating the interface id does not escape it', () => {
    const limiter = new RateLimiter(1, 3);
    const t = 1_000_000;

    expect(limiter.take('2001:db8:aa:bb::1', 3, t)).toBe(0);
    expect(limiter.take('2001:db8:aa:bb::2', 1, t)).toBeGreaterThan(0);
    expect(limiter.take('2001:db8:aa:bb:ffff::c8', 1, t)).toBeGreaterThan(0);
    expect(limiter.take('2001:db8:aa:cc::1', 1, t)).toBe(0);
  });

  it('gives IPv4 clients behind NAT64 a bucket each, as without it (QA)', () => {
    const limiter = new RateLimiter(1, 3);
    const t = 1_000_000;

    expect(limiter.take('64:ff9b::203.0.113.10', 3, t)).toBe(0);
    expect(limiter.take('64:ff9b::203.0.113.11', 3, t)).toBe(0);
    expect(limiter.take('203.0.113.10', 1, t)).toBeGreaterThan(0);
  });
});

describe('site domains', () => {
  it.each(['*.com', '*.co.uk', '*.github.io'])(
    'refuses the wildcard %s over a public suffix',
    (domain) => {
      expect(() => validateSiteSettings({ domains: [domain] })).toThrowError(
        expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
      );
    },
  );

  it('accepts a wildcard under a registrable domain', () => {
    expect(
      validateSiteSettings({ domains: ['*.clinic-a.example', '*.clinic-a.org.uk'] }).domains,
    ).toHaveLength(2);
  });
});
