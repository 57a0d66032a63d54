import { hash, randomBytes } from 'node:crypto';

/** A UTF-16 code unit of a surrogate pair standing alone: text that has no UTF-8 form. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Keys for in-memory tables that must not hold what they are keyed by (a client address, a raw
 * URL that may carry PHI): SHA-256 over a secret of this instance and the text. Nothing in such a
 * table can be read back, and no other process can test a guess against it. An HMAC object per
 * key would cost twice as much and buy nothing for a table key.
 *
 * @example
 * const keys = new TableKeys();
 * buckets.get(keys.of(address));
 */
export class TableKeys {
  private readonly secret = randomBytes(32).toString('hex');

  /** The key of `text`: 32 characters, equal only for equal text. */
  of(text: string): string {
    // The hash reads text as UTF-8, where every lone surrogate becomes U+FFFD: such text would
    // share its key with other text (QA). It is hashed in its JSON form, which escapes them, and
    // marked apart so it can never equal well-formed text.
    const input = LONE_SURROGATE.test(text)
      ? `${this.secret}\u0001${JSON.stringify(text)}`
      : `${this.secret}\u0000${text}`;

    return hash('sha256', input, 'binary');
  }
}
