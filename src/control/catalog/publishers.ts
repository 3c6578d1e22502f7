import type { EntityStore, Publisher, PublisherFilter, PublisherInput } from '../../ports/catalog.js';
import type { Route } from '../router.js';
import type { KnownIds } from '../unknown-ids.js';
import { crudRoutes } from './crud.js';
import { FieldReader, isoOf } from './validation.js';

/**
 * Printable, no control characters, and no white space at either end: what OpenRTB `publisher.id`
 * values look like. A win's `publisher.id` is matched exactly, so `"pub-1 "` pasted with its
 * trailing space would never match a win, its reports silently empty.
 */
export const EXTERNAL_ID = /^(?!\s)\P{Cc}{1,255}(?<!\s)$/u;

/**
 * `/v1/publishers`: `{name, externalId?}`; `externalId` is the OpenRTB `publisher.id`, unique in
 * the account. `known`: which objects each key knows of, for list warnings.
 */
export function publisherRoutes(
  store: EntityStore<Publisher, PublisherInput, PublisherFilter>,
  known: KnownIds,
): Route[] {
  return crudRoutes({
    path: '/v1/publishers',
    noun: 'publisher',
    nounPlural: 'publishers',
    store,
    readScopes: ['publisher'],
    writeScopes: ['publisher'],
    scopeRoot: 'publisher',
    owner: (publisher) => ({ publisherId: publisher.id }),
    inputOwner: () => ({}),
    scopeFilterKey: { publisher: 'id' },
    accountWideFields: { externalId: 'it decides whose exchange traffic the publisher’s reports show' },
    filters: { name: 'text', externalId: 'text' },
    knownIds: known,
    parse(body, mode, existing) {
      const fields = new FieldReader(body, mode, ['name', 'externalId']);
      const base = mode === 'patch' ? existing : undefined;
      const name = fields.name('name', base?.name ?? '');
      const externalId = fields.optionalText(
        'externalId',
        base?.externalId ?? null,
        EXTERNAL_ID,
        "the OpenRTB publisher.id as a string of 1 to 255 printable characters, without white space at either end (a win's publisher.id is matched exactly), or null for none",
      );
      fields.finish('publisher');
      return { name, externalId };
    },
    toJson: (publisher) => ({
      id: publisher.id,
      name: publisher.name,
      externalId: publisher.externalId,
      createdAt: isoOf(publisher.createdMs),
      updatedAt: isoOf(publisher.updatedMs),
    }),
  });
}
