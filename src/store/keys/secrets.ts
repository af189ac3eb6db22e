/**
 * What both key stores do the same way: validating a new key, minting its secret, and hashing.
 *
 * A secret is `psk_<id>_<random>` with 32 random bytes, so a fast salted SHA-256 is enough (there
 * is nothing to brute-force); verification compares hashes in constant time, and hashes even when
 * the id is unknown so that an unknown id costs what a wrong secret does.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createError } from '../../errors.js';
import { DEFAULT_RATE_PER_MINUTE, isScope, SCOPES, type NewKey, type Scope } from './types.js';

const ID_BYTES = 8;
const SECRET_BYTES = 32;
export const SALT_BYTES = 16;
const HASH_BYTES = 32;
const NAME_MAX = 100;
/** psk_<16 hex>_<43 base64url> */
const SECRET_PATTERN = /^psk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
export const KEY_ID_PATTERN = /^[0-9a-f]{16}$/;

/** A validated new key with its id, secret, salt and hash. */
export interface MintedKey {
  id: string;
  secret: string;
  salt: Buffer;
  hash: Buffer;
  name: string;
  scopes: Scope[];
  ratePerMinute: number;
  dailySearches: number | null;
  dailyGenerations: number | null;
}

export function hashSecret(salt: Buffer, secret: string): Buffer {
  return createHash('sha256').update(salt).update(secret, 'utf8').digest();
}

function checkLimit(value: number | null | undefined, what: string): void {
  if (value === null || value === undefined) return;
  if (!Number.isInteger(value) || value < 0) throw createError('INVALID_QUERY', `${what}: expected an integer ≥ 0`);
}

/** Validates a new key (INVALID_QUERY) and mints its secret. */
export function mintKey(input: NewKey): MintedKey {
  const name = input.name.trim();
  if (name.length === 0 || name.length > NAME_MAX) throw createError('INVALID_QUERY', `name: expected 1–${NAME_MAX} characters`);
  const scopes = [...new Set(input.scopes)];
  if (scopes.length === 0) throw createError('INVALID_QUERY', `scopes: give at least one of ${SCOPES.join(', ')}`);
  for (const scope of scopes) if (!isScope(scope)) throw createError('INVALID_QUERY', `scopes: unknown scope "${String(scope).slice(0, 50)}"`);
  const rate = input.ratePerMinute ?? DEFAULT_RATE_PER_MINUTE;
  if (!Number.isInteger(rate) || rate < 1) throw createError('INVALID_QUERY', 'ratePerMinute: expected an integer ≥ 1');
  checkLimit(input.dailySearches, 'dailySearches');
  checkLimit(input.dailyGenerations, 'dailyGenerations');
  const id = randomBytes(ID_BYTES).toString('hex');
  const secret = `psk_${id}_${randomBytes(SECRET_BYTES).toString('base64url')}`;
  const salt = randomBytes(SALT_BYTES);
  return {
    id,
    secret,
    salt,
    hash: hashSecret(salt, secret),
    name,
    scopes,
    ratePerMinute: rate,
    dailySearches: input.dailySearches ?? null,
    dailyGenerations: input.dailyGenerations ?? null,
  };
}

/** The key id a well-formed secret names, or undefined. */
export function secretKeyId(secret: string): string | undefined {
  return SECRET_PATTERN.exec(secret)?.[1];
}

/**
 * Whether `secret` matches a stored salt and hash; with no stored key it still hashes (against
 * zeros) so that the time taken says nothing about whether the id exists.
 */
export function secretMatches(secret: string, stored: { salt: Buffer; hash: Buffer } | undefined): boolean {
  const salt = stored?.salt ?? Buffer.alloc(SALT_BYTES);
  const expected = stored?.hash.length === HASH_BYTES ? stored.hash : Buffer.alloc(HASH_BYTES);
  const equal = timingSafeEqual(hashSecret(salt, secret), expected);
  return stored !== undefined && stored.hash.length === HASH_BYTES && equal;
}

/** The scopes stored as "a,b", unknown names dropped. */
export function parseScopes(text: string): Scope[] {
  return text.split(',').filter(isScope);
}
