import { ApiError } from './api-error.js';
import type { Route } from './router.js';
import { shown } from '../lib/shown.js';
import { AFTER_PROBLEM, afterCursor } from './catalog/paging.js';
import { parseTimeMs } from './query-time.js';
import { idOfDigits } from './ids.js';

/** A page a list asks for: at most `limit` items, after the item `afterId` (a previous page's `next`). */
interface PageParameters {
  limit: number;
  afterId: number | undefined;
}

/**
 * `limit` (1 to `maxLimit`, `defaultLimit` when absent) and `after` of a list's query; 400
 * `VALIDATION_FAILED` for any other value.
 */
export function readPageParameters(
  params: URLSearchParams,
  defaultLimit: number,
  maxLimit: number,
): PageParameters {
  const limitText = params.get('limit') ?? String(defaultLimit);
  const limit = Number(limitText);
  // At most as many digits as the largest limit (`limit=00050` is refused, as it always was).
  const digits = String(maxLimit).length;
  if (!new RegExp(`^\\d{1,${digits}}$`).test(limitText) || limit < 1 || limit > maxLimit) {
    throw new ApiError(400, 'VALIDATION_FAILED', `limit must be an integer from 1 to ${maxLimit}`);
  }
  const afterText = params.get('after');
  const afterId = afterText === null ? undefined : afterCursor(afterText);
  if (afterText !== null && afterId === undefined)
    throw new ApiError(400, 'VALIDATION_FAILED', AFTER_PROBLEM);
  return { limit, afterId };
}

/** A window of time a list's `from` and `to` bound, epoch ms (`to` exclusive); each may be absent. */
interface TimeWindow {
  fromMs: number | undefined;
  toMs: number | undefined;
}

/**
 * A window of a list's query, `from` and `to` unless other `names` are given: RFC 3339, a date
 * meaning its midnight in `timeZone` (UTC without one; see `parseTimeMs`); 400 unless the first is
 * before the second.
 */
export function readTimeWindow(
  params: URLSearchParams,
  timeZone?: string,
  names: readonly [string, string] = ['from', 'to'],
): TimeWindow {
  const [fromName, toName] = names;
  const fromText = params.get(fromName);
  const toText = params.get(toName);
  const fromMs = fromText === null ? undefined : parseTimeMs(fromText, fromName, timeZone);
  const toMs = toText === null ? undefined : parseTimeMs(toText, toName, timeZone);
  if (fromMs !== undefined && toMs !== undefined && fromMs >= toMs)
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      `${fromName} must be before ${toName}: ${toName} is not included, so one day, e.g. 2026-12-03, is ${fromName}=2026-12-03&${toName}=2026-12-04`,
    );
  return { fromMs, toMs };
}

/**
 * An optional filter by an id (`auctionId=`, `seat=`): its value, or `undefined` when not given;
 * 400 `VALIDATION_FAILED` when given empty, which no id is. `what` names the id, e.g. `an auction
 * id (BidRequest.id)`.
 */
export function readIdFilter(params: URLSearchParams, name: string, what: string): string | undefined {
  const value = params.get(name) ?? undefined;
  if (value === '')
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      `${name} is empty: give ${what}, or leave ${name} out to take every one`,
    );
  return value;
}

/**
 * An optional filter by a catalog id (`publisherId=`): the id, or `undefined` when not given; 400
 * `VALIDATION_FAILED` unless it is digits naming an integer of at most 2^53 - 1 (`05` is 5), as a
 * report's filter on a catalog id takes.
 */
export function readCatalogIdFilter(params: URLSearchParams, name: string): number | undefined {
  const value = params.get(name);
  if (value === null) return undefined;
  const id = idOfDigits(value);
  if (id === undefined)
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      `${name}=${shown(value)}: must be a numeric id of at most 2^53 - 1 (0: none)`,
    );
  return id;
}

/**
 * Refuses (400 `VALIDATION_FAILED`) a query parameter that `allowed` does not hold, or one given
 * more than once: a misspelt parameter would be ignored and a repeated one answered with one of
 * its values chosen silently. `usage` says what the route takes, e.g. `use status, limit, after`.
 */
export function refuseUnknownOrRepeated(
  params: URLSearchParams,
  allowed: ReadonlySet<string>,
  usage: string,
): void {
  for (const name of new Set(params.keys())) {
    if (!allowed.has(name))
      throw new ApiError(400, 'VALIDATION_FAILED', `unknown parameter ${shown(name)}; ${usage}`);
    if (params.getAll(name).length > 1)
      throw new ApiError(400, 'VALIDATION_FAILED', `${shown(name)} is given more than once; give it once`);
  }
}

/**
 * Refuses (400 `VALIDATION_FAILED`) any query parameter on a route that reads none (its
 * `readsQuery` unset), naming the first.
 */
export function refuseAnyQuery(route: Pick<Route, 'method' | 'path'>, params: URLSearchParams): void {
  const first = params.keys().next();
  if (first.done === true) return;
  const path = route.path.replace(/:([a-zA-Z]+)/g, '{$1}');
  throw new ApiError(
    400,
    'VALIDATION_FAILED',
    `unknown parameter ${shown(first.value)}; ${route.method} ${path} takes no query parameters`,
  );
}

/**
 * Refuses (400 `VALIDATION_FAILED`) a query string holding a malformed %-escape (`%`, `%zz`) or
 * escapes or raw bytes that are not UTF-8 (`%ff`, a Latin-1 `é`), as a path segment is refused:
 * read leniently, each would become U+FFFD and filter for a value nobody sent. `search` is the
 * URL's, `?` included.
 */
export function refuseMalformedQuery(search: string): void {
  for (const piece of search.slice(1).split(/[&=]/)) {
    if (!piece.includes('%')) continue;
    try {
      decodeURIComponent(piece.replace(/\+/g, ' '));
    } catch {
      throw new ApiError(
        400,
        'VALIDATION_FAILED',
        `the query's ${shown(piece)} has a malformed %-escape or bytes that are not UTF-8: send text in UTF-8, percent-encoded (é as %C3%A9), and a % itself as %25`,
      );
    }
  }
}
