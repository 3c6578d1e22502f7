import { ApiError } from '../api-error.js';
import { shownName } from '../../lib/shown.js';
import type { CatalogObject } from '../unknown-ids.js';
import { idOfDigits, idOfText } from '../ids.js';

/** A list query parameter naming a catalog object by its id: the kind of object it names. */
interface IdFilter {
  readonly idOf: CatalogObject;
}

/**
 * How a list query parameter is read: an id (of the object an {@link IdFilter} names), a text
 * (name: substring), or one of some values.
 */
export type FilterKind = IdFilter | 'text' | readonly string[];

/** The page size of a list request sent without `limit`. */
export const DEFAULT_LIMIT = 50;
/** The largest `limit` a list request may send; a larger one is refused. */
export const MAX_LIMIT = 500;

/** A parsed list request: the filter, page size and cursor. */
export interface ListRequest {
  filter: Record<string, string | number>;
  limit: number;
  afterId: number | undefined;
}

/** What is wrong with an `after` parameter that {@link afterCursor} refuses. */
export const AFTER_PROBLEM = 'after: send the `next` value of the previous page';

/**
 * The id a list's `after` parameter names (a page's `next`, 0 before the first), or `undefined`
 * when it names none: digits of a number up to `MAX_ID`, the bound of every id.
 */
export function afterCursor(value: string): number | undefined {
  return idOfDigits(value);
}

/** Parses `limit`, `after` and the filters of a list request; any other parameter is a 400 naming the known ones. */
export function parseListRequest(
  params: URLSearchParams,
  filters: Readonly<Record<string, FilterKind>>,
): ListRequest {
  const problems: string[] = [];
  const filter: Record<string, string | number> = {};
  let limit = DEFAULT_LIMIT;
  let afterId: number | undefined;
  const known = ['limit', 'after', ...Object.keys(filters)];
  for (const name of new Set(params.keys())) {
    const value = params.get(name) ?? '';
    // Own keys only: `constructor` or `__proto__` names no filter, not Object's prototype.
    if (!known.includes(name)) {
      problems.push(`${shownName(name)}: unknown parameter; use ${known.join(', ')}`);
      continue;
    }
    if (params.getAll(name).length > 1) {
      problems.push(`${name}: given more than once; give it once`);
      continue;
    }
    if (name === 'limit') {
      limit = Number(value);
      if (!/^\d+$/.test(value) || limit < 1 || limit > MAX_LIMIT) {
        problems.push(`limit: send an integer from 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT})`);
      }
      continue;
    }
    if (name === 'after') {
      afterId = afterCursor(value);
      if (afterId === undefined) problems.push(AFTER_PROBLEM);
      continue;
    }
    const kind = filters[name];
    if (typeof kind === 'object' && 'idOf' in kind) {
      const id = idOfText(value);
      if (id === undefined)
        problems.push(
          `${name}: send an id, a whole number from 1 to 2^53 - 1 written without leading zeros, not ${JSON.stringify(value)}`,
        );
      filter[name] = id ?? 0;
    } else if (kind === 'text') {
      filter[name] = value;
    } else if (kind !== undefined) {
      if (!kind.includes(value)) problems.push(`${name}: send one of ${kind.join(', ')}`);
      filter[name] = value;
    }
  }
  if (problems.length > 0)
    throw new ApiError(400, 'VALIDATION_FAILED', `bad list query: ${problems.join('; ')}`);
  return { filter, limit, afterId };
}

/**
 * One page of a list fetched with `limit + 1` rows: `next` is the cursor for `after` when
 * there are more, else null.
 */
export function pageOf<T extends { id: number }, J>(
  rows: readonly T[],
  limit: number,
  toJson: (row: T) => J,
): { items: J[]; next: number | null } {
  const items = rows.slice(0, limit);
  return { items: items.map(toJson), next: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
}

/**
 * A path id: digits only, else the object cannot exist (404), the message saying how an id is
 * written (`/v1/advertisers/01` names no advertiser 1: each object has one path).
 */
export function parsePathId(text: string | undefined, noun: string): number {
  if (text !== undefined && /^[1-9]\d*$/.test(text)) {
    const id = idOfText(text);
    // Past `MAX_ID`, past any id given out.
    if (id === undefined) throw notFound(noun, text.slice(0, 40));
    return id;
  }
  const written = JSON.stringify((text ?? '').slice(0, 40));
  throw new ApiError(
    404,
    'NOT_FOUND',
    `${noun} ${written} not found: an id is a whole number from 1, written without leading zeros or a sign`,
  );
}

/** The 404 for an object that does not exist or that the key may not see: the two look the same. */
export function notFound(noun: string, id: number | string): ApiError {
  return new ApiError(404, 'NOT_FOUND', `${noun} ${id} not found`);
}
