import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import { KeyError } from '../errors.js';

/** AES-256-GCM: 12-byte random nonce, 16-byte tag, output `nonce | tag | ciphertext`. */
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/**
 * What a wrapped key is bound to. The associated data makes a wrapped key useless anywhere else:
 * a tenant key copied to another tenant's row, or presented as another version, fails to unwrap.
 */
export interface KeyContext {
  purpose: 'control' | 'tenant' | 'salt' | 'import';
  owner: string;
  version: number;
}

export function associatedData(context: KeyContext): Buffer {
  // Length-prefixed so that no two contexts share an encoding ("a:bc" vs "ab:c").
  const parts = ['lighttrail/v1', context.purpose, context.owner, String(context.version)];

  return Buffer.concat(
    parts.map((part) => {
      const bytes = Buffer.from(part, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);

      return Buffer.concat([length, bytes]);
    }),
  );
}

export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);

  return Buffer.concat([nonce, cipher.getAuthTag(), body]);
}

export function open(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) {
    throw new KeyError('ERR_KEY_UNWRAP', 'wrapped key is truncated');
  }

  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE_BYTES));
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));

    return Buffer.concat([
      decipher.update(sealed.subarray(NONCE_BYTES + TAG_BYTES)),
      decipher.final(),
    ]);
  } catch (cause) {
    // One refusal for every reason (wrong key, wrong context, tampered bytes).
    throw new KeyError('ERR_KEY_UNWRAP', 'wrapped key does not unwrap in this context', cause);
  }
}

export function newDataKey(): Buffer {
  return randomBytes(KEY_BYTES);
}
