import { describe, expect, it } from 'vitest';

import { TableKeys } from '../../src/crypto/table-keys.js';

describe('keys for in-memory tables', () => {
  it('gives equal text one key, and holds nothing of the text', () => {
    const keys = new TableKeys();
    const text = 'https://clinic.example/patients/jane.doe@mail.test?mrn=88812345';

    expect(keys.of(text)).toBe(keys.of(`${text}`));
    expect(keys.of(text)).toHaveLength(32);
    expect(keys.of(text)).not.toMatch(/jane|88812345|clinic/);
    expect(keys.of(text)).not.toBe(keys.of(`${text}0`));
  });

  it('keys the same text differently in another instance (another process)', () => {
    expect(new TableKeys().of('198.51.100.7')).not.toBe(new TableKeys().of('198.51.100.7'));
  });

  it('tells a lone surrogate from U+FFFD and from its escaped spelling (QA)', () => {
    const keys = new TableKeys();
    const spellings = ['x\ufffdy', 'x\ud800y', 'x\udc00y', 'x\ud83d\ude00y', '"x\\ud800y"'];

    expect(new Set(spellings.map((text) => keys.of(text))).size).toBe(spellings.length);
    expect(keys.of('x\ud800y')).toBe(keys.of('x\ud800y'));
  });
});
