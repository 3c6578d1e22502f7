import { CATALOG_STATES, PRICING_TYPES, REVENUE_TYPES } from '../../ports/catalog.js';
import { DEFAULT_LIMIT, MAX_LIMIT } from './paging.js';

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});
const ERRORS = {
  '400': errorResponse('VALIDATION_FAILED: the message names each field and its fix'),
  '401': errorResponse('Missing or unknown API key'),
  '403': errorResponse('The key lacks the role, or the resource is outside its scope'),
};
/** The answers of any operation of the API that reads a JSON body, besides its own. */
export const BODY_ERRORS = {
  '413': errorResponse('BODY_TOO_LARGE'),
  '415': errorResponse(
    'UNSUPPORTED_MEDIA_TYPE: send Content-Type: application/json, without Content-Encoding',
  ),
};
/** The paging parameters of every list. */
const PAGING_PARAMETERS = [
  {
    name: 'limit',
    in: 'query',
    schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
  },
  {
    name: 'after',
    in: 'query',
    schema: { type: 'integer' },
    description: 'the next value of the previous page',
  },
];
const id = { type: 'integer', minimum: 1 };
const nullableId = { type: ['integer', 'null'], minimum: 1 };
const name = { type: 'string', minLength: 1, maxLength: 255 };
const state = { enum: CATALOG_STATES, default: 'active' };
/** The state filter of a list: without it, a list holds active and inactive objects alike. */
const stateFilter = { enum: CATALOG_STATES };
const amount = (description: string) => ({ type: ['number', 'string', 'null'], description });
const fraction = (description: string) => ({
  type: ['number', 'string', 'null'],
  minimum: 0,
  maximum: 1,
  description,
});

interface Resource {
  path: string;
  noun: string;
  required: string[];
  fields: Record<string, unknown>;
  filters: Record<string, unknown>;
  description?: string;
}

const trackerFields = {
  advertiserId: id,
  name,
  code: {
    type: ['string', 'null'],
    pattern: '^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$',
    description: 'unique per account and kind; hits may send code= instead of id=',
  },
  lineItemId: { ...id, description: "one of the advertiser's line items" },
  publisherId: id,
  placementId: { ...nullableId, description: "one of the publisher's placements" },
  paymentRuleId: {
    ...nullableId,
    description:
      "one of the publisher's payment rules; overrides the publisher's rules while it is in effect (the base rule; a conditional rule while active and within its dates), else they apply",
  },
  state,
};
const trackerFilters = {
  advertiserId: id,
  lineItemId: id,
  publisherId: id,
  placementId: id,
  paymentRuleId: id,
  state: stateFilter,
  code: { type: 'string' },
  name: { type: 'string', description: 'substring, any case' },
};

const RESOURCES: Resource[] = [
  {
    path: '/v1/advertisers',
    noun: 'advertiser',
    required: ['name'],
    fields: { name },
    filters: { name: { type: 'string' } },
  },
  {
    path: '/v1/line-items',
    noun: 'line item',
    required: ['advertiserId', 'name', 'revenueType'],
    fields: {
      advertiserId: { ...id, description: 'fixed at creation' },
      name,
      revenueType: { enum: REVENUE_TYPES },
      revenueValue: amount(
        'CPM in currency units (cpm, cost_plus_cpm); fraction 0–1 (cost_plus_margin, revshare); 0 or absent for none',
      ),
      state,
    },
    filters: {
      advertiserId: id,
      state: stateFilter,
      revenueType: { enum: REVENUE_TYPES },
      name: { type: 'string' },
    },
  },
  {
    path: '/v1/publishers',
    noun: 'publisher',
    required: ['name'],
    fields: {
      name,
      externalId: { type: ['string', 'null'], description: 'OpenRTB publisher.id, unique in the account' },
    },
    filters: { name: { type: 'string' }, externalId: { type: 'string' } },
  },
  {
    path: '/v1/placements',
    noun: 'placement',
    required: ['publisherId', 'name'],
    fields: { publisherId: { ...id, description: 'fixed at creation' }, name },
    filters: { publisherId: id, name: { type: 'string' } },
  },
  {
    path: '/v1/payment-rules',
    noun: 'payment rule',
    required: ['publisherId', 'name', 'pricingType'],
    description:
      "The publisher's first rule is its base rule; isBase: true promotes a rule (making it active) and demotes the old base to an inactive conditional rule (it prices nothing until made active again). Conditional rules apply by priority (10 first), ties by lowest id, when active, within their dates and on one of their placements; else the base rule, which is always active and has no placements or dates: state inactive, a priority other than the one it has, placements or dates are refused on it. A base rule that trackers of its publisher rely on (naming no rule of their own) is not deleted (409).",
    fields: {
      publisherId: { ...id, description: 'fixed at creation' },
      name,
      pricingType: { enum: PRICING_TYPES },
      revshare: fraction('revshare: the share; dynamic: the minimum share'),
      costCpm: amount('cpm: paid per 1000 impressions, currency units'),
      applyCostOnDefault: { type: 'boolean', description: 'cpm: pay even when a default creative is served' },
      maxRevshare: fraction('dynamic: the highest share'),
      targetEcpm: amount('dynamic: the eCPM aimed at'),
      priority: { type: 'integer', minimum: 1, maximum: 10, default: 5 },
      isBase: {
        type: ['boolean', 'null'],
        description:
          'absent (or null, except in a PATCH): kept as it is; a new rule is the base when its publisher has none',
      },
      state,
      startDate: { type: ['string', 'null'], format: 'date' },
      endDate: { type: ['string', 'null'], format: 'date', description: 'inclusive' },
      placementIds: { type: 'array', items: id, description: 'conditions; empty: every placement' },
    },
    filters: {
      publisherId: id,
      state: stateFilter,
      pricingType: { enum: PRICING_TYPES },
      name: { type: 'string' },
    },
  },
  {
    path: '/v1/impression-trackers',
    noun: 'impression tracker',
    required: ['advertiserId', 'name', 'lineItemId', 'publisherId'],
    fields: trackerFields,
    filters: trackerFilters,
  },
  {
    path: '/v1/click-trackers',
    noun: 'click tracker',
    required: ['advertiserId', 'name', 'lineItemId', 'publisherId'],
    fields: {
      ...trackerFields,
      clickUrl: {
        type: ['string', 'null'],
        format: 'uri',
        description:
          "landing page when a hit has no redir; refused when the account's enabled redirect allow-list refuses it",
      },
    },
    filters: trackerFilters,
  },
];

/**
 * Fields every answer carries that a request may send back (an answer edited and sent again): they
 * are ignored.
 */
const READ_ONLY_FIELDS = {
  id: {
    readOnly: true,
    description: 'ignored in a request; a PUT or PATCH refuses an id other than the path’s',
  },
  createdAt: { readOnly: true, description: 'ignored in a request' },
  updatedAt: { readOnly: true, description: 'ignored in a request' },
};

function resourcePaths(resource: Resource): Record<string, unknown> {
  const body = (required: string[]) => ({
    required: true,
    content: {
      'application/json': {
        schema: {
          type: 'object',
          required,
          properties: { ...resource.fields, ...READ_ONLY_FIELDS },
          additionalProperties: false,
        },
      },
    },
  });
  const idParameter = { name: 'id', in: 'path', required: true, schema: id };
  const object = { description: `The ${resource.noun}` };
  return {
    [resource.path]: {
      post: {
        summary: `Create a ${resource.noun}`,
        ...(resource.description === undefined ? {} : { description: resource.description }),
        requestBody: body(resource.required),
        responses: {
          '201': { description: `The ${resource.noun}, with its id` },
          ...ERRORS,
          '409': errorResponse('A unique field is taken'),
          ...BODY_ERRORS,
        },
      },
      get: {
        summary: `List ${resource.noun}s, oldest first`,
        parameters: [
          ...PAGING_PARAMETERS,
          ...Object.entries(resource.filters).map(([filter, schema]) => ({
            name: filter,
            in: 'query',
            schema,
          })),
        ],
        responses: { '200': { description: '{items, next}: next is null on the last page' }, ...ERRORS },
      },
    },
    [`${resource.path}/{id}`]: {
      parameters: [idParameter],
      get: {
        summary: `Read a ${resource.noun}`,
        responses: { '200': object, ...ERRORS, '404': errorResponse('No such object') },
      },
      patch: {
        summary: `Change some fields of a ${resource.noun}`,
        requestBody: body([]),
        responses: {
          '200': object,
          ...ERRORS,
          '404': errorResponse('No such object'),
          '409': errorResponse('A unique field is taken'),
          ...BODY_ERRORS,
        },
      },
      put: {
        summary: `Replace a ${resource.noun} (absent optional fields take their defaults)`,
        requestBody: body(resource.required),
        responses: {
          '200': object,
          ...ERRORS,
          '404': errorResponse('No such object'),
          '409': errorResponse('A unique field is taken'),
          ...BODY_ERRORS,
        },
      },
      delete: {
        summary: `Delete a ${resource.noun}`,
        responses: {
          '204': { description: 'Deleted' },
          ...ERRORS,
          '404': errorResponse('No such object'),
          '409': errorResponse('Other objects depend on it; the message lists them and the fix'),
        },
      },
    },
  };
}

/** The OpenAPI paths of the catalog API (entities, API keys, redirect allow-list). */
export const CATALOG_OPENAPI_PATHS: Record<string, unknown> = {
  ...Object.fromEntries(RESOURCES.flatMap((resource) => Object.entries(resourcePaths(resource)))),
  '/v1/api-keys': {
    post: {
      summary: 'Create an API key (account-wide admins); the key is in this answer only',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['name', 'role'],
              properties: {
                name,
                role: { enum: ['admin', 'editor', 'reader'] },
                scope: {
                  type: ['object', 'null'],
                  required: ['type', 'id'],
                  properties: { type: { enum: ['advertiser', 'publisher'] }, id },
                },
              },
            },
          },
        },
      },
      responses: {
        '201': { description: '{id, name, prefix, role, scope, createdAt, revokedAt, key}' },
        ...ERRORS,
        ...BODY_ERRORS,
      },
    },
    get: {
      summary: 'List API keys (never the keys or their hashes)',
      parameters: PAGING_PARAMETERS,
      responses: { '200': { description: '{items, next}' }, ...ERRORS },
    },
  },
  '/v1/api-keys/{id}': {
    parameters: [{ name: 'id', in: 'path', required: true, schema: id }],
    get: {
      summary: 'Read an API key (without the key)',
      responses: { '200': { description: 'The key record' }, ...ERRORS, '404': errorResponse('No such key') },
    },
    delete: {
      summary: 'Revoke an API key',
      responses: {
        '204': { description: 'Revoked' },
        ...ERRORS,
        '404': errorResponse('No such key'),
        '409': errorResponse("The account's last account-wide admin key"),
      },
    },
  },
  '/v1/account/redirect-allowlist': {
    get: {
      summary: "The account's redirect allow-list (admins)",
      responses: { '200': { description: '{enabled, domains}' }, ...ERRORS },
    },
    put: {
      summary: 'Replace the redirect allow-list; a domain allows itself and its subdomains',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['enabled'],
              properties: {
                enabled: { type: 'boolean', description: 'null is refused' },
                domains: {
                  type: 'array',
                  items: { type: 'string' },
                  description:
                    'host names, international ones in punycode (xn--…); a click tracker stored with a clickUrl outside them keeps it, its clicks answered 400',
                },
              },
            },
          },
        },
      },
      responses: { '200': { description: '{enabled, domains}' }, ...ERRORS, ...BODY_ERRORS },
    },
  },
};
