import { describe, expect, it } from 'vitest';

import { createMemoryLogger } from '../../src/log/logger.js';
import { redactText } from '../../src/log/redact.js';

describe('log redaction', () => {
  it.each([
    ['client 203.0.113.7 connected', 'client [redacted] connected'],
    ['peer 2001:db8::5 and ::ffff:198.51.100.7', 'peer [redacted] and [redacted]'],
    ['full 2001:0db8:0000:0000:0000:ff00:0042:8329 here', 'full [redacted] here'],
    ['GET /account?email=pat@mail.test', 'GET /account?[redacted]'],
    ['mail pat.doe%40mail.test now', 'mail [redacted] now'],
    ['Authorization: Bearer abc.def.ghi', 'Authorization: Bearer [redacted]'],
  ])('scrubs %s', (input, expected) => {
    expect(redactText(input)).toBe(expected);
  });

  it('keeps times, fingerprints and scoped names readable', () => {
    const text = 'at 10:05:03, sha256 27:0A:CD:CD:44:59:65:58:6C:26:81:A6:B0:71:BD:1C, Foo::bar';

    expect(redactText(text)).toBe(text);
  });

  it('drops secret-looking fields by name and scrubs nested values', () => {
    const { logger, lines } = createMemoryLogger();
    logger.info('test.event', {
      password: 'hunter2',
      token: 'tok_123',
      nested: { ip: '198.51.100.7', note: 'from 198.51.100.7' },
      error: new Error('failed for pat@mail.test'),
      route: '/api/collect',
    });

    const line = lines.join('\n');
    for (const secret of ['hunter2', 'tok_123', '198.51.100.7', 'pat@mail.test'])
      expect(line).not.toContain(secret);
    expect(JSON.parse(line)).toMatchObject({
      level: 'info',
      event: 'test.event',
      route: '/api/collect',
    });
  });
});
