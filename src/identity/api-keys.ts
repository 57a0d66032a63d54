import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

import { RequestError } from '../errors.js';
import type { ApiKeyRecord, ControlStore } from '../store/types.js';

export const STATS_READ = 'stats:read';

/** Token layout: `lt_<key id>_<secret>`; only a hash of the secret is stored. */
const TOKEN = /^lt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

function hashSecret(secret: string): string {
  // The secret is 256 random bits, so a fast hash is enough: there is nothing to brute-force.
  return createHash('sha256').update(secret).digest('hex');
}

/** Creates a stats-reading key for one site and returns the token, which is shown only once. */
export function createApiKey(
  control: ControlStore,
  siteId: string,
  actor: string,
): { token: string; record: ApiKeyRecord } {
  const site = control.getSite(siteId);
  if (site === undefined) throw new RequestError('ERR_SITE_NOT_FOUND', 404, `no site ${siteId}`);

  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const record = control.createApiKey(
    { id, tenantId: site.tenantId, siteId, scope: STATS_READ, secretHash: hashSecret(secret) },
    actor,
  );

  return { token: `lt_${id}_${secret}`, record };
}

// Compared against when the key id is unknown, so every refusal costs the same work.
const DUMMY_HASH = hashSecret('lighttrail-no-such-key');

/**
 * Resolves a bearer token to its key record. Every failure (malformed, unknown, revoked, wrong
 * secret) is the same ERR_UNAUTHENTICATED, so the answer says nothing about which part was wrong.
 */
export function authenticateApiKey(
  control: ControlStore,
  authorization: string | undefined,
): ApiKeyRecord {
  // RFC 9110 11.6.1: a 401 names the scheme it wants.
  const refuse = () =>
    new RequestError('ERR_UNAUTHENTICATED', 401, 'a valid API key is required', undefined, {
      'WWW-Authenticate': 'Bearer realm="lighttrail"',
    });
  // The scheme name is case-insensitive (RFC 9110, section 11.1).
  const match = /^Bearer +(\S+)$/i.exec(authorization ?? '');
  const parts = match ? TOKEN.exec(match[1] as string) : null;
  if (parts === null) throw refuse();

  const record = control.getApiKey(parts[1] as string);
  const expected = Buffer.from(record?.secretHash ?? DUMMY_HASH, 'hex');
  const actual = Buffer.from(hashSecret(parts[2] as string), 'hex');
  const same = timingSafeEqual(expected, actual);
  if (record === undefined || !same || record.revokedAt !== null) throw refuse();

  const tenant = control.getTenant(record.tenantId);
  if (tenant === undefined || tenant.deletedAt !== null) throw refuse();

  return record;
}
