import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AccountStore, ApiKeyRecord, KeyScope, Role } from '../ports/accounts.js';
import { ApiError } from './api-error.js';

/** The authenticated caller of an API request. */
export interface Principal {
  accountId: number;
  keyId: number;
  role: Role;
  scope: KeyScope | null;
}

const KEY_PREFIX = 'tally_';

/** A new random API key (shown once) and what is stored of it. */
export function newApiKey(): { key: string; hash: string; prefix: string } {
  const key = `${KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
  return { key, hash: hashApiKey(key), prefix: key.slice(0, KEY_PREFIX.length + 6) };
}

/** Keys are long random strings, so a plain SHA-256 is the right hash (no password stretching needed). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Authenticates `Authorization: Bearer <key>`; throws 401 when missing or unknown. */
export function authenticate(req: IncomingMessage, accounts: AccountStore): Principal {
  const sent = bearerKeyOf(req, 'tally');
  if (sent === undefined) {
    throw new ApiError(401, 'UNAUTHENTICATED', 'send your API key as Authorization: Bearer <key>', {
      'WWW-Authenticate': 'Bearer realm="tally"',
    });
  }
  const record: ApiKeyRecord | undefined = accounts.findKey(hashApiKey(sent));
  if (record === undefined) {
    throw new ApiError(
      401,
      'UNAUTHENTICATED',
      'the API key is unknown or revoked: send a live key of your account (an administrator creates one with POST /v1/api-keys; a revoked key stays revoked)',
      { 'WWW-Authenticate': 'Bearer realm="tally", error="invalid_token"' },
    );
  }
  return { accountId: record.accountId, keyId: record.id, role: record.role, scope: record.scope };
}

/**
 * Throws 401 unless the request sends `Authorization: Bearer <key>` with `key` (compared in
 * constant time): what a Prometheus scrape sends as its `authorization` credentials.
 */
export function requireBearer(req: IncomingMessage, key: string): void {
  const sent = bearerKeyOf(req, 'tally-metrics');
  const digest = (text: string) => createHash('sha256').update(text).digest();
  if (sent !== undefined && timingSafeEqual(digest(sent), digest(key))) return;
  throw new ApiError(
    401,
    'UNAUTHENTICATED',
    sent === undefined
      ? 'send the metrics key (TALLY_METRICS_KEY) as Authorization: Bearer <key>'
      : 'the key sent is not the metrics key (TALLY_METRICS_KEY)',
    { 'WWW-Authenticate': 'Bearer realm="tally-metrics"' },
  );
}

/**
 * The key a request sends as `Authorization: Bearer <key>`, if it sends one. Throws 401 (naming
 * `realm`) for a request with more than one `Authorization` header: which holds its credentials is
 * not for Tally to guess (node:http keeps the first and drops the others unseen).
 */
function bearerKeyOf(req: IncomingMessage, realm: string): string | undefined {
  const sent = req.headersDistinct.authorization ?? [];
  if (sent.length > 1) {
    throw new ApiError(
      401,
      'UNAUTHENTICATED',
      `the request has ${sent.length} Authorization headers: send one, Authorization: Bearer <key>`,
      { 'WWW-Authenticate': `Bearer realm="${realm}"` },
    );
  }
  return /^Bearer\s+(\S+)\s*$/i.exec(sent[0] ?? '')?.[1];
}

const ROLE_RANK: Readonly<Record<Role, number>> = { reader: 0, editor: 1, admin: 2 };

/** Throws 403 unless the caller's role is at least `role`. */
export function requireRole(principal: Principal, role: Role): void {
  if (ROLE_RANK[principal.role] < ROLE_RANK[role]) {
    refuseKey(`a key with the ${role} role`, keyOfRole(principal.role));
  }
}

/**
 * Throws 403 unless the key is account-wide (scoped to no advertiser or publisher) and its role is
 * at least `role`, naming in one message all that the key lacks, so that one new key is enough.
 */
export function requireAccountWide(principal: Principal, role: Role): void {
  const scope = principal.scope;
  const roleTooLow = ROLE_RANK[principal.role] < ROLE_RANK[role];
  if (scope === null && !roleTooLow) return;
  const needs = role === 'reader' ? 'an account-wide key' : `an account-wide key with the ${role} role`;
  const held = [
    roleTooLow ? keyOfRole(principal.role) : 'a key',
    ...(scope === null ? [] : [`scoped to ${scope.type} ${scope.id}`]),
  ].join(' ');
  refuseKey(needs, held);
}

/** A key of `role` as a refusal names it: a reader key, an editor key, an admin key. */
function keyOfRole(role: Role): string {
  return `${role === 'reader' ? 'a' : 'an'} ${role} key`;
}

/** Throws the 403 refusing a key, in the one wording every route gives: what it needs, what it is. */
function refuseKey(needs: string, held: string): never {
  throw new ApiError(403, 'FORBIDDEN', `this needs ${needs}; yours is ${held}`);
}
