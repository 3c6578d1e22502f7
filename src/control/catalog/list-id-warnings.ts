/**
 * The warnings a catalog list answers with when a filter names an id its key knows no object by
 * (see `unknown-ids.ts`), as a report's do: a mistyped id, whose empty page would otherwise read
 * as there being none of what it lists. The page is answered all the same.
 */
import type { Principal } from '../auth.js';
import type { KnownIds, UnknownIdWarning } from '../unknown-ids.js';
import { unknownIdWarning } from '../unknown-ids.js';
import type { FilterKind, ListRequest } from './paging.js';

/**
 * A warning for each id filter of `filter` (as `parseListRequest` reads it with `filters`) naming
 * an object `principal` does not know of (see `KnownIds.knows`, read from `known`), in the order
 * the query gives them; `nounPlural` is what the list lists.
 */
export function listIdWarnings(
  filter: ListRequest['filter'],
  filters: Readonly<Record<string, FilterKind>>,
  principal: Principal,
  known: KnownIds,
  nounPlural: string,
): UnknownIdWarning[] {
  const warnings: UnknownIdWarning[] = [];
  for (const [name, value] of Object.entries(filter)) {
    const kind = Object.hasOwn(filters, name) ? filters[name] : undefined;
    if (typeof kind !== 'object' || !('idOf' in kind) || typeof value !== 'number') continue;
    if (known.knows(principal, kind.idOf, value)) continue;
    warnings.push(
      unknownIdWarning(principal, name, kind.idOf, value, `no ${nounPlural} are listed under it`),
    );
  }
  return warnings;
}
