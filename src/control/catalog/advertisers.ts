import type { Advertiser, AdvertiserFilter, AdvertiserInput, EntityStore } from '../../ports/catalog.js';
import type { Route } from '../router.js';
import type { KnownIds } from '../unknown-ids.js';
import { crudRoutes } from './crud.js';
import { FieldReader, isoOf } from './validation.js';

/** `/v1/advertisers`: `{name}`; `known`: which objects each key knows of, for list warnings. */
export function advertiserRoutes(
  store: EntityStore<Advertiser, AdvertiserInput, AdvertiserFilter>,
  known: KnownIds,
): Route[] {
  return crudRoutes({
    path: '/v1/advertisers',
    noun: 'advertiser',
    nounPlural: 'advertisers',
    store,
    readScopes: ['advertiser'],
    writeScopes: ['advertiser'],
    scopeRoot: 'advertiser',
    owner: (advertiser) => ({ advertiserId: advertiser.id }),
    inputOwner: () => ({}),
    scopeFilterKey: { advertiser: 'id' },
    filters: { name: 'text' },
    knownIds: known,
    parse(body, mode, existing) {
      const fields = new FieldReader(body, mode, ['name']);
      const name = fields.name('name', mode === 'patch' ? (existing?.name ?? '') : '');
      fields.finish('advertiser');
      return { name };
    },
    toJson: (advertiser) => ({
      id: advertiser.id,
      name: advertiser.name,
      createdAt: isoOf(advertiser.createdMs),
      updatedAt: isoOf(advertiser.updatedMs),
    }),
  });
}
