import type { KeyContext } from './envelope.js';

/** A data key sealed under one version of the master key. */
export interface WrappedKey {
  /** Which master key version sealed it (for a KMS: the key id or ARN version). */
  masterVersion: string;
  sealed: Buffer;
}

/**
 * Holds the master key-encryption key and never lets it out. The local provider keeps it in a
 * file or an environment variable; a cloud KMS (AWS KMS, Azure Key Vault, Vault transit) plugs in
 * by implementing these four calls, with the context passed as its encryption context.
 */
export interface KeyProvider {
  readonly name: string;
  currentVersion(): string;
  wrap(key: Buffer, context: KeyContext): Promise<WrappedKey>;
  unwrap(wrapped: WrappedKey, context: KeyContext): Promise<Buffer>;
  /** Adds a new master version and makes it current; returns its id. */
  rotate(): Promise<string>;
  /** Forgets an old master version once nothing is wrapped under it any more. */
  retire(version: string): Promise<void>;
}
