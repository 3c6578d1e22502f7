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
