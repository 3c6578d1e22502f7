import { retryWhileBusy } from '../../lib/busy-retry.js';
import { shown } from '../../lib/shown.js';
import type {
  CatalogRecord,
  DeleteResult,
  EntityStore,
  FieldProblem,
  WriteResult,
} from '../../ports/catalog.js';
import type { KeyScope } from '../../ports/accounts.js';
import type { Principal } from '../auth.js';
import type { Route, RequestContext } from '../router.js';
import { ApiError } from '../api-error.js';
import { readJson } from '../json-body.js';
import { sendJson } from '../send.js';
import type { Owner, ScopeType } from './access.js';
import { requireOwnWrite, requireScopeType, requireWriter, sees } from './access.js';
import type { KnownIds } from '../unknown-ids.js';
import { warningsHeader } from '../unknown-ids.js';
import { listIdWarnings } from './list-id-warnings.js';
import type { FilterKind } from './paging.js';
import { notFound, pageOf, parseListRequest, parsePathId } from './paging.js';
import type { WriteMode } from './validation.js';
import { validationError } from './validation.js';

/** Catalog bodies are small; placement lists are the largest part. */
export const CATALOG_MAX_BODY_BYTES = 1024 * 1024;

/** What the generic create/read/list/update/delete routes need to know about one resource. */
interface ResourceSpec<T extends CatalogRecord, Input, Filter extends object> {
  /** Collection path, e.g. `/v1/line-items`. */
  path: string;
  /** Singular noun for messages, e.g. `line item`. */
  noun: string;
  nounPlural: string;
  store: EntityStore<T, Input, Filter>;
  /** Scoped keys of these dimensions may read the resource (their own objects only). */
  readScopes: readonly ScopeType[];
  /** Scoped keys of these dimensions may write it (their own objects only). */
  writeScopes: readonly ScopeType[];
  /** The resource a scope points at (advertisers, publishers): a key scoped to it may not create or delete one. */
  scopeRoot?: ScopeType;
  /** Who owns a stored object. */
  owner(value: T): Owner;
  /** Who would own the object a write describes. */
  inputOwner(input: Input): Owner;
  /** The filter key a scoped key's list is pinned to, per dimension. */
  scopeFilterKey: Partial<Record<ScopeType, keyof Filter & string>>;
  /** The list query parameters. */
  filters: Readonly<Record<string, FilterKind>>;
  /** Which objects each key knows of, for the warnings of an id filter naming one it does not. */
  knownIds: KnownIds;
  /** Filter every list and lookup of this route set applies (e.g. the tracker kind). */
  fixedFilter?: Partial<Filter>;
  /**
   * The 404 for a stored object that does not belong to this route set (a tracker of the other
   * kind: one id sequence numbers both), saying where it is; `undefined` for one that belongs.
   */
  elsewhere?(value: T): ApiError | undefined;
  /**
   * Fields only an account-wide key may set or change, with why: a scoped key changing them would
   * widen what it sees (a publisher's `externalId` decides whose exchange traffic its reports
   * show), or learn of objects outside its scope (a tracker's `code`, unique across the account,
   * refused 409 when another scope's tracker has it). A scoped key creates objects without them.
   */
  accountWideFields?: Readonly<Partial<Record<keyof Input & keyof T & string, string>>>;
  /**
   * An edit's refused field (`problem`) as a scoped key (`scope`) is told of it, where the fix the
   * store names is a change of one of `accountWideFields`, which that key may not make (a tracker
   * moved to another publisher must lose its old one's payment rule): what that key can do
   * instead. `problem` itself otherwise.
   */
  scopedProblem?(problem: FieldProblem, input: Input, existing: T, scope: KeyScope): FieldProblem;
  /**
   * Warnings the answer of a create or an edit carries besides the object, as `warnings` (read
   * answers carry none): what the write did elsewhere that its writer (`principal`) should know.
   */
  writeWarnings?(value: T, principal: Principal): readonly unknown[];
  /** Reads and checks a body into a full input; `existing` is set for replace and patch. */
  parse(body: unknown, mode: WriteMode, existing: T | undefined): Input;
  /** The object as the API answers it to `principal`, which may be shown less than another key. */
  toJson(value: T, principal: Principal): Record<string, unknown>;
}

/**
 * `POST path`, `GET path`, `GET path/:id`, `PATCH` and `PUT path/:id`, `DELETE path/:id` for one
 * resource. A list's page is `{items, next, warnings}`, its `warnings` those of its id filters
 * naming an object the key knows nothing of (`listIdWarnings`), also in an `X-Tally-Warnings`
 * header when there are any.
 */
export function crudRoutes<T extends CatalogRecord, Input, Filter extends object>(
  spec: ResourceSpec<T, Input, Filter>,
): Route[] {
  const item = `${spec.path}/:id`;

  /** The object the key may see, else 404 (saying where it is, when it is of another route set). */
  const load = (ctx: RequestContext): T => {
    const id = parsePathId(ctx.params.id, spec.noun);
    const value = spec.store.get(ctx.principal.accountId, id);
    if (value === undefined || !sees(ctx.principal, spec.owner(value))) throw notFound(spec.noun, id);
    const elsewhere = spec.elsewhere?.(value);
    if (elsewhere !== undefined) throw elsewhere;
    return value;
  };

  /**
   * Throws 403 when a scoped key's write sets an account-wide field to other than it is: the value
   * it has in `existing`, or, for a create, none (`null`).
   */
  const requireAccountWideFields = (principal: Principal, input: Input, existing: T | undefined): void => {
    const scope = principal.scope;
    if (scope === null) return;
    for (const [field, why] of Object.entries(spec.accountWideFields ?? {})) {
      const key = field as keyof Input & keyof T;
      const before: unknown = existing === undefined ? null : existing[key];
      if ((input[key] as unknown) !== before) {
        const verb = existing === undefined ? 'set' : 'changed';
        throw new ApiError(
          403,
          'FORBIDDEN',
          `your key is scoped to ${scope.type} ${scope.id}; ${field} can only be ${verb} with an account-wide key (${String(why)})`,
        );
      }
    }
  };

  /** An edit's `result`, its refused fields told as `principal` can fix them (see `scopedProblem`). */
  const fixableBy = (principal: Principal, result: WriteResult<T>, input: Input, existing: T) => {
    const { scope } = principal;
    if (result.ok || result.reason !== 'invalid' || scope === null) return result;
    return {
      ...result,
      problems: result.problems.map(
        (problem) => spec.scopedProblem?.(problem, input, existing, scope) ?? problem,
      ),
    };
  };

  /** A write's answer: the object, and the write's warnings where the resource has them. */
  const written = (value: T, principal: Principal): Record<string, unknown> =>
    spec.writeWarnings === undefined
      ? spec.toJson(value, principal)
      : { ...spec.toJson(value, principal), warnings: spec.writeWarnings(value, principal) };

  const write = async (ctx: RequestContext, mode: Exclude<WriteMode, 'create'>): Promise<void> => {
    requireWriter(ctx.principal, spec.writeScopes, `change ${spec.nounPlural}`);
    // The body is read before the stored object: from reading it to writing there is then no
    // await, so an edit committed while this body was arriving is not written back over with
    // the values read before it (a deactivation silently undone by a rename).
    const body = await readJson(ctx.req, CATALOG_MAX_BODY_BYTES);
    // Read again at each try: another edit may commit while the write lock is awaited.
    const value = await retryWhileBusy(() => {
      const existing = load(ctx);
      requireSameId(body, existing.id, spec.noun);
      const input = spec.parse(body, mode, existing);
      requireOwnWrite(ctx.principal, spec.inputOwner(input));
      requireAccountWideFields(ctx.principal, input, existing);
      ctx.requireLiveKey();
      const result = spec.store.update(ctx.principal.accountId, existing.id, input, Date.now());
      return unwrap(spec.noun, fixableBy(ctx.principal, result, input, existing));
    });
    sendJson(ctx.res, 200, written(value, ctx.principal), ctx.requestId);
  };

  return [
    {
      method: 'POST',
      path: spec.path,
      async handler(ctx) {
        requireWriter(ctx.principal, spec.writeScopes, `create ${spec.nounPlural}`);
        if (spec.scopeRoot !== undefined) requireScopeType(ctx.principal, [], `create ${spec.nounPlural}`);
        const input = spec.parse(await readJson(ctx.req, CATALOG_MAX_BODY_BYTES), 'create', undefined);
        requireOwnWrite(ctx.principal, spec.inputOwner(input));
        requireAccountWideFields(ctx.principal, input, undefined);
        const value = await retryWhileBusy(() => {
          ctx.requireLiveKey();
          return unwrap(spec.noun, spec.store.create(ctx.principal.accountId, input, Date.now()));
        });
        ctx.res.setHeader('Location', `${spec.path}/${value.id}`);
        sendJson(ctx.res, 201, written(value, ctx.principal), ctx.requestId);
      },
    },
    {
      method: 'GET',
      path: spec.path,
      readsQuery: true,
      handler(ctx) {
        requireScopeType(ctx.principal, spec.readScopes, `read ${spec.nounPlural}`);
        const request = parseListRequest(ctx.url.searchParams, spec.filters);
        const filter: Record<string, unknown> = { ...request.filter, ...spec.fixedFilter };
        const scope = ctx.principal.scope;
        if (scope !== null) {
          const key = spec.scopeFilterKey[scope.type];
          if (key !== undefined) {
            if (filter[key] !== undefined && filter[key] !== scope.id) {
              throw new ApiError(
                403,
                'FORBIDDEN',
                `your key is scoped to ${scope.type} ${scope.id}; ${key} may only be ${scope.id}`,
              );
            }
            filter[key] = scope.id;
          }
        }
        const warnings = listIdWarnings(
          request.filter,
          spec.filters,
          ctx.principal,
          spec.knownIds,
          spec.nounPlural,
        );
        const rows = spec.store.list(ctx.principal.accountId, {
          filter: filter as Filter,
          afterId: request.afterId,
          limit: request.limit + 1,
        });
        if (warnings.length > 0) ctx.res.setHeader('X-Tally-Warnings', warningsHeader(warnings));
        sendJson(
          ctx.res,
          200,
          { ...pageOf(rows, request.limit, (row) => spec.toJson(row, ctx.principal)), warnings },
          ctx.requestId,
        );
      },
    },
    {
      method: 'GET',
      path: item,
      handler(ctx) {
        requireScopeType(ctx.principal, spec.readScopes, `read ${spec.nounPlural}`);
        sendJson(ctx.res, 200, spec.toJson(load(ctx), ctx.principal), ctx.requestId);
      },
    },
    { method: 'PATCH', path: item, handler: (ctx) => write(ctx, 'patch') },
    { method: 'PUT', path: item, handler: (ctx) => write(ctx, 'replace') },
    {
      method: 'DELETE',
      path: item,
      async handler(ctx) {
        requireWriter(ctx.principal, spec.writeScopes, `delete ${spec.nounPlural}`);
        if (spec.scopeRoot !== undefined) requireScopeType(ctx.principal, [], `delete ${spec.nounPlural}`);
        await retryWhileBusy(() => {
          const existing = load(ctx);
          const result = spec.store.delete(ctx.principal.accountId, existing.id);
          if (!result.ok) throw deleteRefusal(spec.noun, existing.id, result);
        });
        ctx.res.writeHead(204, { 'X-Request-Id': ctx.requestId, 'Cache-Control': 'no-store' });
        ctx.res.end();
      },
    },
  ];
}

/**
 * Throws 400 when a PATCH or PUT body's `id` names another object than the path: ids never
 * change, and a client sending another id meant another object. Its own id (a body read back
 * from GET) passes.
 */
function requireSameId(body: unknown, id: number, noun: string): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !Object.hasOwn(body, 'id')) return;
  const sent = (body as { id: unknown }).id;
  if (sent === id) return;
  throw validationError(noun, [
    {
      field: 'id',
      message: `${shown(sent)} is not this ${noun}'s id: ids never change; send ${id} (the id in the path) or leave id out`,
    },
  ]);
}

/** The stored object, or the API error saying why the write was refused. */
function unwrap<T>(noun: string, result: WriteResult<T>): T {
  if (result.ok) return result.value;
  switch (result.reason) {
    case 'not_found':
      throw new ApiError(404, 'NOT_FOUND', `the ${noun} no longer exists`);
    case 'invalid':
      throw validationError(noun, result.problems);
    case 'conflict':
      // The message names the field itself: `externalId "x" is already used by …`.
      throw new ApiError(409, 'CONFLICT', result.message);
  }
}

/** E.g. `advertiser 3 still has 2 line items (ids 5, 6) and 1 impression tracker (id 9); delete or move them first`. */
function deleteRefusal(noun: string, id: number, result: Exclude<DeleteResult, { ok: true }>): ApiError {
  if (result.reason === 'not_found') return notFound(noun, id);
  const parts = result.dependents.map((dependent) => {
    const count = dependent.ids.length;
    const shown = dependent.ids.slice(0, 10).join(', ');
    const more = count > 10 ? ` and ${count - 10} more` : '';
    return `${count} ${count === 1 ? dependent.noun : dependent.nounPlural} (${count === 1 ? 'id' : 'ids'} ${shown}${more})`;
  });
  const list = parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
  return new ApiError(409, 'CONFLICT', `${noun} ${id} still has ${list}; ${result.fix}`);
}
