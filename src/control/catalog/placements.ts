import type { EntityStore, Placement, PlacementFilter, PlacementInput } from '../../ports/catalog.js';
import type { Route } from '../router.js';
import type { KnownIds } from '../unknown-ids.js';
import { crudRoutes } from './crud.js';
import { FieldReader, isoOf } from './validation.js';

/**
 * `/v1/placements`: `{publisherId, name}`; `publisherId` never changes. `known`: which objects each
 * key knows of, for the warnings of a list filtered on an unknown publisher.
 */
export function placementRoutes(
  store: EntityStore<Placement, PlacementInput, PlacementFilter>,
  known: KnownIds,
): Route[] {
  return crudRoutes({
    path: '/v1/placements',
    noun: 'placement',
    nounPlural: 'placements',
    store,
    readScopes: ['publisher'],
    writeScopes: ['publisher'],
    owner: (placement) => ({ publisherId: placement.publisherId }),
    inputOwner: (input) => ({ publisherId: input.publisherId }),
    scopeFilterKey: { publisher: 'publisherId' },
    filters: { publisherId: { idOf: 'publisher' }, name: 'text' },
    knownIds: known,
    parse(body, mode, existing) {
      const fields = new FieldReader(body, mode, ['publisherId', 'name']);
      const base = mode === 'patch' ? existing : undefined;
      const publisherId = fields.id('publisherId', existing?.publisherId ?? 0);
      const name = fields.name('name', base?.name ?? '');
      fields.finish('placement');
      return { publisherId, name };
    },
    toJson: (placement) => ({
      id: placement.id,
      publisherId: placement.publisherId,
      name: placement.name,
      createdAt: isoOf(placement.createdMs),
      updatedAt: isoOf(placement.updatedMs),
    }),
  });
}
