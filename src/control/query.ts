import { ApiError } from './http.js';
import { shown } from '../lib/shown.js';

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
 * Refuses (400 `VALIDATION_FAILED`) a query string holding a malformed %-escape (`%`, `%zz`) or
 * escapes that are not UTF-8 (`%ff`), as a path segment is refused: read leniently, each would
 * become U+FFFD and filter for a value nobody sent. `search` is the URL's, `?` included.
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
        `the query's ${shown(piece)} has a malformed %-escape or one that is not UTF-8: write % as %25`,
      );
    }
  }
}
