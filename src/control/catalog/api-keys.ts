import { retryWhileBusy } from '../../lib/busy-retry.js';
import type { AccountStore, ApiKeyRecord, KeyScope } from '../../ports/accounts.js';
import { ROLES } from '../../ports/accounts.js';
import type { CatalogStore } from '../../ports/catalog.js';
import type { Principal } from '../auth.js';
import { newApiKey, requireAccountWide } from '../auth.js';
import type { Route } from '../router.js';
import { ApiError } from '../api-error.js';
import { readJson } from '../json-body.js';
import { sendJson } from '../send.js';
import { CATALOG_MAX_BODY_BYTES } from './crud.js';
import { notFound, pageOf, parseListRequest, parsePathId } from './paging.js';
import { FieldReader, isoOf, validationError } from './validation.js';
import { shown, shownSent } from '../../lib/shown.js';

const SCOPE_TYPES: readonly KeyScope['type'][] = ['advertiser', 'publisher'];

/**
 * `/v1/api-keys` (account-wide admins only): `POST {name, role, scope?: {type, id}}` answers the
 * key once; `GET` lists keys (never the key or its hash); `DELETE /:id` revokes. The last
 * account-wide admin key cannot be revoked, so the account is never locked out.
 */
export function apiKeyRoutes(accounts: AccountStore, catalog: CatalogStore): Route[] {
  const requireAdmin = (principal: Principal) => {
    requireAccountWide(principal, 'admin');
  };
  return [
    {
      method: 'POST',
      path: '/v1/api-keys',
      async handler(ctx) {
        requireAdmin(ctx.principal);
        const body = await readJson(ctx.req, CATALOG_MAX_BODY_BYTES);
        const fields = new FieldReader(body, 'create', ['name', 'role', 'scope']);
        const name = fields.name('name', '');
        const role = fields.oneOf('role', ROLES, 'reader', { required: true });
        const scope = readScope(
          fields,
          (body as { scope?: unknown }).scope,
          ctx.principal.accountId,
          catalog,
        );
        fields.finish('API key');
        const generated = newApiKey();
        const { accountId } = ctx.principal;
        // The scope is checked again as the key is written: its advertiser or publisher may be
        // deleted while the write awaits the lock.
        const record = await retryWhileBusy(() => {
          ctx.requireLiveKey();
          const nowMs = Date.now();
          if (scope === null) {
            return accounts.addKey(accountId, generated.hash, generated.prefix, name, role, null, nowMs);
          }
          const scoped = accounts.addScopedKey(
            accountId,
            generated.hash,
            generated.prefix,
            name,
            role,
            scope,
            nowMs,
          );
          if (scoped === undefined) {
            throw validationError('API key', [{ field: 'scope', message: missingScope(scope) }]);
          }
          return scoped;
        });
        ctx.res.setHeader('Location', `/v1/api-keys/${record.id}`);
        sendJson(ctx.res, 201, { ...keyJson(record), key: generated.key }, ctx.requestId);
      },
    },
    {
      method: 'GET',
      path: '/v1/api-keys',
      readsQuery: true,
      handler(ctx) {
        requireAdmin(ctx.principal);
        const request = parseListRequest(ctx.url.searchParams, {});
        const keys = accounts
          .listKeys(ctx.principal.accountId)
          .filter((key) => key.id > (request.afterId ?? 0))
          .slice(0, request.limit + 1);
        sendJson(ctx.res, 200, pageOf(keys, request.limit, keyJson), ctx.requestId);
      },
    },
    {
      method: 'GET',
      path: '/v1/api-keys/:id',
      handler(ctx) {
        requireAdmin(ctx.principal);
        sendJson(
          ctx.res,
          200,
          keyJson(findKey(accounts, ctx.principal.accountId, ctx.params.id)),
          ctx.requestId,
        );
      },
    },
    {
      method: 'DELETE',
      path: '/v1/api-keys/:id',
      async handler(ctx) {
        requireAdmin(ctx.principal);
        // Checked again at each try: another admin key may be revoked while the lock is awaited.
        await retryWhileBusy(() => {
          const key = findKey(accounts, ctx.principal.accountId, ctx.params.id);
          if (key.revokedMs === null && isAccountAdmin(key)) {
            const admins = accounts
              .listKeys(ctx.principal.accountId)
              .filter((other) => other.revokedMs === null && isAccountAdmin(other));
            if (admins.length === 1) {
              throw new ApiError(
                409,
                'CONFLICT',
                `API key ${key.id} is the account's last account-wide admin key; create another admin key first`,
              );
            }
          }
          if (key.revokedMs === null) accounts.revokeKey(ctx.principal.accountId, key.id, Date.now());
        });
        ctx.res.writeHead(204, { 'X-Request-Id': ctx.requestId, 'Cache-Control': 'no-store' });
        ctx.res.end();
      },
    },
  ];
}

function readScope(
  fields: FieldReader,
  value: unknown,
  accountId: number,
  catalog: CatalogStore,
): KeyScope | null {
  if (value === undefined || value === null) return null;
  const wrong = scopeShapeProblem(value);
  if (wrong !== undefined) {
    fields.problem(
      'scope',
      `send {"type": "advertiser" | "publisher", "id": <its id>}, or leave it out for an account-wide key: ${wrong}`,
    );
    return null;
  }
  const scope = value as { type: KeyScope['type']; id: unknown };
  const { type } = scope;
  // A member besides type and id (`readOnly: true`, a misspelt field) would be dropped unread, and
  // the key created with more than its writer meant it to have.
  const extra = Object.keys(value).find((member) => member !== 'type' && member !== 'id');
  if (extra !== undefined) {
    fields.problem(
      'scope',
      `unknown member ${shown(extra)}; a scope is {"type", "id"} alone: {"type": "advertiser" | "publisher", "id": <its id>}`,
    );
    return null;
  }
  const id = scope.id as number;
  const exists =
    type === 'advertiser'
      ? catalog.advertisers.get(accountId, id) !== undefined
      : catalog.publishers.get(accountId, id) !== undefined;
  if (!exists) fields.problem('scope', missingScope({ type, id }));
  return { type, id };
}

/**
 * What is wrong with the shape of a scope sent (not an object, its type, or its id), so that the
 * refusal says which to fix; `undefined` for `{type, id}` of a type a scope has and a safe integer.
 */
function scopeShapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `it is ${shownSent(value)}`;
  const { type, id } = value as { type?: unknown; id?: unknown };
  if (!SCOPE_TYPES.includes(type as KeyScope['type'])) {
    return type === undefined ? 'its type is missing' : `its type is ${shown(type)}`;
  }
  if (Number.isSafeInteger(id)) return undefined;
  return id === undefined
    ? 'its id is missing'
    : `its id is ${shownSent(id)}, not the ${String(type)}'s numeric id`;
}

/** The problem of a scope whose advertiser or publisher is not in the account. */
function missingScope(scope: KeyScope): string {
  return `there is no ${scope.type} ${scope.id} in this account; create it first or use an existing id`;
}

function findKey(accounts: AccountStore, accountId: number, idText: string | undefined): ApiKeyRecord {
  const id = parsePathId(idText, 'API key');
  const key = accounts.listKeys(accountId).find((candidate) => candidate.id === id);
  if (key === undefined) throw notFound('API key', id);
  return key;
}

function isAccountAdmin(key: ApiKeyRecord): boolean {
  return key.role === 'admin' && key.scope === null;
}

function keyJson(key: ApiKeyRecord): Record<string, unknown> {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    role: key.role,
    scope: key.scope,
    createdAt: isoOf(key.createdMs),
    revokedAt: key.revokedMs === null ? null : isoOf(key.revokedMs),
  };
}
