import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { KeyError } from '../errors.js';
import { associatedData, KEY_BYTES, open, seal, type KeyContext } from './envelope.js';
import type { KeyProvider, WrappedKey } from './provider.js';

interface RingFile {
  format: 1;
  current: string;
  keys: Record<string, string>;
}

/** Identifies a master key without revealing it: the first bytes of a domain-separated hash. */
export function masterKeyId(key: Buffer): string {
  const digest = createHash('sha256').update('lighttrail master key id\0').update(key);

  return `mk-${digest.digest('hex').slice(0, 16)}`;
}

/** Accepts 64 hex characters or base64 of exactly 32 bytes. */
export function parseMasterKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : Buffer.from(trimmed, 'base64');
  if (key.length !== KEY_BYTES || (!/^[0-9a-fA-F]{64}$/.test(trimmed) && !isBase64(trimmed))) {
    throw new KeyError(
      'ERR_MASTER_KEY_INVALID',
      'master key must be 32 bytes, as 64 hex characters or base64',
    );
  }

  return key;
}

function isBase64(text: string): boolean {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0;
}

/**
 * The default provider: master keys held in this process, loaded from LIGHTTRAIL_MASTER_KEY or
 * from a key ring file (mode 0600) that can hold several versions during a rotation.
 */
export class LocalKeyProvider implements KeyProvider {
  readonly name: string;
  private readonly keys: Map<string, Buffer>;
  private current: string;
  private readonly file: string | undefined;

  private constructor(name: string, keys: Map<string, Buffer>, current: string, file?: string) {
    this.name = name;
    this.keys = keys;
    this.current = current;
    this.file = file;
  }

  static fromKey(text: string, extra: string[] = []): LocalKeyProvider {
    const key = parseMasterKey(text);
    const keys = new Map([[masterKeyId(key), key]]);
    for (const more of extra) {
      const parsed = parseMasterKey(more);
      keys.set(masterKeyId(parsed), parsed);
    }

    return new LocalKeyProvider('local-env', keys, masterKeyId(key));
  }

  static fromFile(file: string): LocalKeyProvider {
    if (!existsSync(file)) {
      throw new KeyError('ERR_MASTER_KEY_MISSING', `master key file ${file} does not exist`);
    }

    let ring: RingFile;
    try {
      const text = readFileSync(file, 'utf8');
      ring = text.trim().startsWith('{')
        ? (JSON.parse(text) as RingFile)
        : singleKeyRing(parseMasterKey(text));
    } catch (cause) {
      if (cause instanceof KeyError) throw cause;
      throw new KeyError(
        'ERR_MASTER_KEY_INVALID',
        `master key file ${file} is not readable`,
        cause,
      );
    }

    const keys = new Map<string, Buffer>();
    for (const [id, encoded] of Object.entries(ring.keys ?? {}))
      keys.set(id, parseMasterKey(encoded));
    if (!keys.has(ring.current)) {
      throw new KeyError('ERR_MASTER_KEY_INVALID', `master key file ${file} names no current key`);
    }

    return new LocalKeyProvider('local-file', keys, ring.current, file);
  }

  /** Development only: writes a fresh key ring with mode 0600. */
  static generateFile(file: string): LocalKeyProvider {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeRing(file, singleKeyRing(randomBytes(KEY_BYTES)));

    return LocalKeyProvider.fromFile(file);
  }

  currentVersion(): string {
    return this.current;
  }

  async wrap(key: Buffer, context: KeyContext): Promise<WrappedKey> {
    const master = this.keys.get(this.current) as Buffer;

    return { masterVersion: this.current, sealed: seal(master, key, associatedData(context)) };
  }

  async unwrap(wrapped: WrappedKey, context: KeyContext): Promise<Buffer> {
    const master = this.keys.get(wrapped.masterVersion);
    if (master === undefined) {
      throw new KeyError(
        'ERR_MASTER_KEY_WRONG',
        `data was sealed under master key ${wrapped.masterVersion}, ` +
          'which this key source does not hold',
      );
    }

    return open(master, wrapped.sealed, associatedData(context));
  }

  async rotate(): Promise<string> {
    if (this.file === undefined) {
      throw new KeyError(
        'ERR_MASTER_KEY_INVALID',
        'rotating an environment-supplied master key needs LIGHTTRAIL_NEW_MASTER_KEY',
      );
    }

    const key = randomBytes(KEY_BYTES);
    const id = masterKeyId(key);
    this.keys.set(id, key);
    this.current = id;
    this.persist();

    return id;
  }

  /** For an environment key: make an operator-supplied new key current. */
  adopt(text: string): string {
    const key = parseMasterKey(text);
    const id = masterKeyId(key);
    this.keys.set(id, key);
    this.current = id;

    return id;
  }

  async retire(version: string): Promise<void> {
    if (version === this.current) return;
    this.keys.delete(version);
    this.persist();
  }

  private persist(): void {
    if (this.file === undefined) return;

    const keys: Record<string, string> = {};
    for (const [id, key] of this.keys) keys[id] = key.toString('base64');
    writeRing(this.file, { format: 1, current: this.current, keys });
  }
}

function singleKeyRing(key: Buffer): RingFile {
  const id = masterKeyId(key);

  return { format: 1, current: id, keys: { [id]: key.toString('base64') } };
}

/** Atomic replace: a crash leaves either the old ring or the new one, never half of one. */
function writeRing(file: string, ring: RingFile): void {
  const temp = `${file}.tmp-${process.pid}`;
  writeFileSync(temp, `${JSON.stringify(ring, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}
