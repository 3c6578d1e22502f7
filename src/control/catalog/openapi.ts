import { MAX_AMOUNT_MICROS } from '../../domain/macros.js';
import { PRICING_WARNING_CODES } from '../../domain/pricing-warnings.js';
import { ENDED_RULE_WARNING_CODE } from './ended-rule-warning.js';
import { ALLOWLIST_WARNING_CODES, COUNTING_WARNING_CODES, WRITE_WARNING_CODES } from './tracker-warnings.js';
import { ROLES } from '../../ports/accounts.js';
import { NOTIFIERS } from '../../domain/ivt.js';
import {
  CATALOG_STATES,
  DEFAULT_PAYMENT_RULE_PRIORITY,
  PRICING_TYPES,
  REVENUE_TYPES,
} from '../../ports/catalog.js';
import {
  AUTHENTICATED_ERRORS,
  badRequest,
  BODY_ERRORS,
  errorResponse,
  QUERY_REFUSED,
} from '../openapi-responses.js';
import type { CatalogObject } from '../unknown-ids.js';
import { CATALOG_OBJECTS } from '../unknown-ids.js';
import { DEFAULT_LIMIT, MAX_LIMIT } from './paging.js';
import { MAX_ID } from '../ids.js';
import { EXTERNAL_ID } from './publishers.js';
import { MAX_DOMAINS } from './redirect-allowlist.js';
import { TRACKER_CODE } from './trackers.js';
import { NAME_MAX_LENGTH, URL_MAX_LENGTH } from './validation.js';

/**
 * The 400 of a write: its body refused, any query parameter (a write reads none: see
 * `refuseAnyQuery`), or a malformed %-escape in its path or query.
 */
const WRITE_REFUSED = badRequest(
  'VALIDATION_FAILED: the message names each field and its fix, any query parameter (the operation reads none), or a malformed %-escape in the path or query; INVALID_JSON, BODY_TOO_DEEP: the body is not JSON in UTF-8 (one in UTF-16 or UTF-32 is told so), or nests too deep',
);
/**
 * The 400 of a read or delete of one object (or of the allow-list): any query parameter, as it
 * reads none, or a malformed %-escape; no id is refused (one that is no number is 404).
 */
const NO_QUERY_REFUSED = badRequest(
  'VALIDATION_FAILED: any query parameter (the operation reads none), or a malformed %-escape in the path or query',
);
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
    schema: { type: 'integer', minimum: 0, maximum: MAX_ID },
    description: 'the next value of the previous page',
  },
];
/**
 * An absolute http(s) URL as `toHttpUrl` takes one: the scheme in any case, a host, no user name
 * or password (an `@` before the path), no white space or control character anywhere.
 */
const HTTP_URL_PATTERN =
  '^[Hh][Tt][Tt][Pp][Ss]?://[^\\s\\u0000-\\u001F\\u007F-\\u009F@/\\\\?#]+([/\\\\?#][^\\s\\u0000-\\u001F\\u007F-\\u009F]*)?$';
/** An id, in a body, a path or a query: a whole number from 1 to 2^53 - 1 (`MAX_ID`). */
export const ID_SCHEMA = { type: 'integer', minimum: 1, maximum: MAX_ID };
const id = ID_SCHEMA;
const nullableId = { ...ID_SCHEMA, type: ['integer', 'null'] };
/**
 * A name as `validName` takes one: once trimmed of white space, a character that shows (neither
 * white space nor one that draws nothing, such as a zero-width space) and no control character
 * or line break (U+2028, U+2029) anywhere.
 */
const NAME_PATTERN =
  '^\\s*[^\\p{Cc}\\p{Zl}\\p{Zp}]*?[^\\s\\p{Cc}\\p{Zl}\\p{Zp}\\p{Default_Ignorable_Code_Point}][^\\p{Cc}\\p{Zl}\\p{Zp}]*\\s*$';
const name = {
  type: 'string',
  minLength: 1,
  maxLength: NAME_MAX_LENGTH,
  pattern: NAME_PATTERN,
  description:
    'trimmed; not all white space or invisible characters (a zero-width space alone), without control characters or line breaks (U+2028, U+2029)',
};
const state = { enum: CATALOG_STATES, default: 'active' };
/** The state filter of a list: without it, a list holds active and inactive objects alike. */
const stateFilter = { enum: CATALOG_STATES };
/**
 * A decimal the catalog reads into micros (`FieldReader.amount`, `.fraction`): a number of at most
 * 6 decimals from 0 to `max`, or a string of digits with at most 6 decimals (`2.5`, `.5`, `1.`)
 * whose value is within the same bounds, as `stringPattern` matches it; null for none.
 */
const decimal = (max: number, stringPattern: string, description: string) => ({
  type: ['number', 'string', 'null'],
  minimum: 0,
  maximum: max,
  multipleOf: 0.000001,
  pattern: stringPattern,
  description: `${description}. A number of at most 6 decimals, or a string of digits with at most 6 decimals (no sign, exponent or white space)`,
});
const amount = (description: string) =>
  decimal(MAX_AMOUNT_MICROS / 1_000_000, '^(?=.*[0-9])0*([0-9]{1,6})?(\\.[0-9]{0,6})?$', description);
const fraction = (description: string) =>
  decimal(1, '^(?=.*[0-9])(0*1(\\.0{0,6})?|0*(\\.[0-9]{0,6})?)$', description);

/** An impression tracker's warnings: `trackerCountingWarnings` and `impressionPricingWarnings`. */
const IMPRESSION_TRACKER_WARNINGS = {
  type: 'array',
  readOnly: true,
  description:
    "why this tracker's hits would not count as the catalog stands (inactive_line_item: its line item is inactive), then terms under which its hits without ancost would be booked at a media cost of 0, as they stand now: the publisher has no payment rule; a rule that may price them (none behind a rule in effect for good) pays a share of a revenue that is 0, or computed from the cost, or a CPM under half a micro an impression (these none for a key scoped to an advertiser, which is shown no media cost). Empty when there are none. Each message says what to change",
  items: answerObject({
    code: { enum: ['inactive_line_item', ...PRICING_WARNING_CODES] },
    message: { type: 'string' },
  }),
};
/** A click tracker's warnings: `trackerCountingWarnings` and `clickPricingWarnings`. */
const CLICK_TRACKER_WARNINGS = {
  type: 'array',
  readOnly: true,
  description:
    "why this tracker's clicks would not count as the catalog stands: inactive_line_item, its line item is inactive; no_landing_page, its clickUrl is one the account's enabled redirect allow-list refuses (stored before the allow-list was enabled or changed), so a click without a redir the allow-list admits lands nowhere. Then, for a tracker of a cpc line item, terms under which its clicks without ancost would be booked at a media cost of 0, as they stand now: the publisher has no payment rule; a revshare or dynamic rule that may price them (none behind a rule in effect for good) pays a share of a price per click of 0, or a share that comes to less than half a micro, or is a dynamic rule whose minimum share is 0 (its target eCPM is per impression); a cpm rule pays impressions only, and is not warned of (these none for a key scoped to an advertiser, which is shown no media cost; none for a line item of another revenue type, whose clicks cost their ancost alone). Empty when there are none. Each message says what to change",
  items: answerObject({
    code: { enum: [...COUNTING_WARNING_CODES, ...PRICING_WARNING_CODES] },
    message: { type: 'string' },
  }),
};

interface Resource {
  path: string;
  noun: string;
  required: string[];
  /** The fields a request sends, by name; an answer holds each of them. */
  fields: Record<string, unknown>;
  /**
   * How an answer writes the fields it writes otherwise than {@link answered} derives from
   * `fields` (a value a request may leave null that is never null once stored).
   */
  answers?: Record<string, unknown>;
  /** Fields only an answer writes (read-only: a request sending one back has it ignored). */
  answerOnly?: Record<string, unknown>;
  /** What the `warnings` of a create's or an edit's answer name, when they carry any. */
  writeWarnings?: string;
  /** The codes of those warnings, when more than `WRITE_WARNING_CODES`. */
  writeWarningCodes?: readonly string[];
  filters: Record<string, unknown>;
  description?: string;
  /** The field a write is refused 409 for, when another object of the account has its value. */
  uniqueField?: string;
  /** Why a delete is refused 409 (objects depending on it), when it can be. */
  inUse?: string;
}

const trackerFields = {
  advertiserId: id,
  name,
  code: {
    type: ['string', 'null'],
    pattern: TRACKER_CODE.source,
    description:
      'unique per account and kind; hits may send code= instead of id=; set and changed with an account-wide key only',
  },
  lineItemId: { ...id, description: "one of the advertiser's line items" },
  publisherId: id,
  placementId: { ...nullableId, description: "one of the publisher's placements" },
  paymentRuleId: {
    ...nullableId,
    description:
      "one of the publisher's payment rules; overrides the publisher's rules while it is in effect (the base rule; a conditional rule while active and within its dates), else they apply; set and changed with an account-wide key only",
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
    inUse: 'its line items, trackers or API keys scoped to it are still there; the message lists them',
  },
  {
    path: '/v1/line-items',
    writeWarnings:
      "trackers_priced_at_zero: its trackers (the first 500 active ones, of either kind) that book hits without ancost at a media cost of 0 as the terms now stand: impression trackers, and click trackers when it is cpc (a payment rule pays a share of a click's price); each one's own warnings say why (none for a key scoped to an advertiser, which is shown no media cost)",
    noun: 'line item',
    required: ['advertiserId', 'name', 'revenueType'],
    fields: {
      advertiserId: { ...id, description: 'fixed at creation' },
      name,
      revenueType: { enum: REVENUE_TYPES },
      revenueValue: amount(
        'CPM in currency units (cpm, cost_plus_cpm); price of one click in currency units (cpc: a click earns it, an impression nothing); fraction 0–1 (cost_plus_margin, revshare); 0 or absent for none',
      ),
      state,
    },
    answers: { revenueValue: { type: 'number', description: 'as sent; 0 for none' } },
    filters: {
      advertiserId: id,
      state: stateFilter,
      revenueType: { enum: REVENUE_TYPES },
      name: { type: 'string' },
    },
    inUse: 'its trackers are still there; the message lists them',
  },
  {
    path: '/v1/publishers',
    noun: 'publisher',
    required: ['name'],
    fields: {
      name,
      externalId: {
        type: ['string', 'null'],
        pattern: EXTERNAL_ID.source,
        description:
          'OpenRTB publisher.id, unique in the account: 1 to 255 printable characters, without white space at either end (a win’s publisher.id is matched exactly)',
      },
    },
    filters: { name: { type: 'string' }, externalId: { type: 'string' } },
    uniqueField: 'externalId',
    inUse:
      'its placements, payment rules, trackers or API keys scoped to it are still there; the message lists them',
  },
  {
    path: '/v1/placements',
    noun: 'placement',
    required: ['publisherId', 'name'],
    fields: { publisherId: { ...id, description: 'fixed at creation' }, name },
    filters: { publisherId: id, name: { type: 'string' } },
    inUse: 'trackers or payment rules name it; the message lists them',
  },
  {
    path: '/v1/payment-rules',
    writeWarningCodes: [ENDED_RULE_WARNING_CODE, ...WRITE_WARNING_CODES],
    writeWarnings:
      "rule_ended: the rule's endDate (through its 24:00 UTC) has passed, so it prices no hit; the message gives the PATCH that moves it (and activates an inactive conditional rule). trackers_priced_at_zero: its publisher's trackers (the first 500 active ones, of either kind) that book hits without ancost at a media cost of 0 as the terms now stand: impression trackers, and click trackers of a cpc line item (the rule pays a share of a click's price); each one's own warnings say why",
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
      priority: { type: 'integer', minimum: 1, maximum: 10, default: DEFAULT_PAYMENT_RULE_PRIORITY },
      isBase: {
        type: 'boolean',
        description: 'absent: kept as it is; a new rule is the base when its publisher has none',
      },
      state,
      startDate: {
        type: ['string', 'null'],
        format: 'date',
        description: 'a UTC day: the rule applies from its 00:00 UTC; null: since always',
      },
      endDate: {
        type: ['string', 'null'],
        format: 'date',
        description: 'a UTC day, inclusive: the rule applies until its 24:00 UTC; null: no end',
      },
      placementIds: {
        type: 'array',
        items: id,
        maxItems: 10_000,
        description: 'conditions; empty: every placement',
      },
    },
    answers: { isBase: { type: 'boolean', description: "the publisher's base rule" } },
    filters: {
      publisherId: id,
      state: stateFilter,
      pricingType: { enum: PRICING_TYPES },
      name: { type: 'string' },
    },
    inUse:
      'trackers name it; or it is the base rule, and its publisher has other rules or trackers naming no rule of their own; the message says what to do',
  },
  {
    path: '/v1/impression-trackers',
    noun: 'impression tracker',
    required: ['advertiserId', 'name', 'lineItemId', 'publisherId'],
    fields: {
      ...trackerFields,
      firedBy: {
        enum: NOTIFIERS,
        default: 'browser',
        description:
          "who fires the tracker's hits. browser: a tag on a web page, its hits screened as a browser's, so an app's or server's HTTP stack (okhttp, Dalvik, ExoPlayer, curl…) is a bot (invalid_traffic, bot_user_agent). app: a video player (a VAST <Impression>), an app's SDK, a CTV device or an SSAI server, whose HTTP stacks are not taken for bots, as for exchange notices an app fires; declared robots, HEAD, prefetch, empty agents, configured patterns, blocked IPs and X-Device-User-Agent / X-Device-IP are screened as for browsers. A PUT without it sets browser",
      },
    },
    answerOnly: { warnings: IMPRESSION_TRACKER_WARNINGS },
    filters: trackerFilters,
    uniqueField: 'code',
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
        maxLength: URL_MAX_LENGTH,
        pattern: HTTP_URL_PATTERN,
        description:
          "landing page when a hit has no redir: an absolute http(s) URL without a user name or password, white space or control characters; refused when the account's enabled redirect allow-list refuses it",
      },
      firedBy: {
        enum: NOTIFIERS,
        default: 'browser',
        description:
          "who fires the tracker's hits. browser: a link on a web page (or a native ad's link.clicktrackers a web page fires), its hits screened as a browser's, so an app's or server's HTTP stack (okhttp, Dalvik, ExoPlayer…) is a bot (invalid_traffic, bot_user_agent). app: a video player firing a VAST <ClickTracking> on the person's click, or an app's SDK firing a native ad's link.clicktrackers, whose HTTP stacks are not taken for bots; declared robots (link previews), HEAD, prefetch, empty agents, configured patterns and blocked IPs are screened as for browsers. A PUT without it sets browser",
      },
    },
    answerOnly: { warnings: CLICK_TRACKER_WARNINGS },
    filters: trackerFilters,
    uniqueField: 'code',
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
/** The read-only fields as an answer writes them (a request may send any value: it is ignored). */
const READ_ONLY_ANSWERS = {
  id: { ...READ_ONLY_FIELDS.id, type: 'integer', minimum: 1 },
  createdAt: { ...READ_ONLY_FIELDS.createdAt, type: 'string', format: 'date-time' },
  updatedAt: { ...READ_ONLY_FIELDS.updatedAt, type: 'string', format: 'date-time' },
};

/**
 * A field as an answer writes it, from the schema a request sends it with: without the default (an
 * answer holds the value), and an amount a request may send as a decimal string as the number.
 */
function answered(schema: unknown): unknown {
  const field = { ...(schema as Record<string, unknown>) };
  delete field.default;
  if (Array.isArray(field.type) && field.type.includes('number'))
    field.type = field.type.filter((type) => type !== 'string');
  return field;
}

/** The JSON object of an answer: exactly these fields, each always written (null where it may be). */
function answerObject<P extends Record<string, unknown>>(properties: P) {
  return { type: 'object', required: Object.keys(properties), properties, additionalProperties: false };
}

/** An answer holding `schema` as JSON. */
const json = (description: string, schema: unknown) => ({
  description,
  content: { 'application/json': { schema } },
});

/** A list's answer: a page of `item`, and the `after` of the next page. */
const page = (item: unknown) =>
  json(
    '{items, next}: next is null on the last page',
    answerObject({ items: { type: 'array', items: item }, next: { type: ['integer', 'null'], minimum: 1 } }),
  );

/** The kind of object each list filter on an id names (see `listIdWarnings`). */
const ID_FILTER_OBJECTS: Readonly<Record<string, CatalogObject>> = {
  advertiserId: 'advertiser',
  lineItemId: 'lineItem',
  publisherId: 'publisher',
  placementId: 'placement',
  paymentRuleId: 'paymentRule',
};

/**
 * A catalog list's answer: a page of `item`, the `after` of the next page, and the warnings of its
 * `filters` on an id (`listIdWarnings`), also in the `X-Tally-Warnings` header.
 */
function listPage(item: unknown, filters: Record<string, unknown>) {
  const idFilters = Object.keys(filters).filter((filter) => Object.hasOwn(ID_FILTER_OBJECTS, filter));
  const codes = idFilters.map((filter) => CATALOG_OBJECTS[ID_FILTER_OBJECTS[filter] as CatalogObject].code);
  const warnings =
    codes.length === 0
      ? { type: 'array', maxItems: 0, description: 'always empty: this list has no filter on an id' }
      : {
          type: 'array',
          description: `a warning for each filter on an id (${idFilters.join(', ')}) that names no object the key knows of: none of the account's (a mistyped id, or one deleted since), or, for a scoped key, none within its scope (an object of its own side it may read, or of the other side one of its trackers is on; any other, there or not, is warned of alike, but a filter naming another advertiser or publisher than the key's own is refused 403), so that the empty page is not read as there being none of what the list lists. An inactive object is known. Empty when there are none`,
          items: answerObject({
            code: { enum: [...new Set(codes)] },
            id: { type: 'integer', description: 'the id the filter names' },
            message: { type: 'string' },
          }),
        };
  return {
    ...json(
      '{items, next, warnings}: next is null on the last page',
      answerObject({
        items: { type: 'array', items: item },
        next: { type: ['integer', 'null'], minimum: 1 },
        warnings,
      }),
    ),
    ...(codes.length === 0
      ? {}
      : {
          headers: {
            'X-Tally-Warnings': {
              description:
                "when the list has warnings (see warnings): each one's code and the id it names, comma-separated",
              schema: { type: 'string', example: `${codes[0] ?? ''};id=999999` },
            },
          },
        }),
  };
}

/** The 201 of a create: the object, and where it is. */
const created = (description: string, schema: unknown, path: string) => ({
  ...json(description, schema),
  headers: {
    Location: {
      required: true,
      description: 'the path of the new object',
      schema: { type: 'string', example: `${path}/1` },
    },
  },
});

function resourcePaths(resource: Resource): Record<string, unknown> {
  const body = (required: string[]) => ({
    required: true,
    content: {
      'application/json': {
        schema: {
          type: 'object',
          required,
          properties: {
            ...resource.fields,
            ...READ_ONLY_FIELDS,
            ...Object.fromEntries(
              [
                ...Object.keys(resource.answerOnly ?? {}),
                ...(resource.writeWarnings === undefined ? [] : ['warnings']),
              ].map((field) => [field, { readOnly: true, description: 'ignored in a request' }]),
            ),
          },
          additionalProperties: false,
        },
      },
    },
  });
  const { id: idField, ...timestamps } = READ_ONLY_ANSWERS;
  const object = answerObject({
    id: idField,
    ...Object.fromEntries(
      Object.entries(resource.fields).map(([field, schema]) => [
        field,
        resource.answers?.[field] ?? answered(schema),
      ]),
    ),
    ...resource.answerOnly,
    ...timestamps,
  });
  const writtenObject =
    resource.writeWarnings === undefined
      ? object
      : answerObject({
          ...object.properties,
          warnings: {
            type: 'array',
            readOnly: true,
            description: resource.writeWarnings,
            items: answerObject({
              code: { enum: resource.writeWarningCodes ?? WRITE_WARNING_CODES },
              message: { type: 'string' },
            }),
          },
        });
  const idParameter = { name: 'id', in: 'path', required: true, schema: id };
  const one = withArticle(resource.noun);
  const answer = json(`The ${resource.noun}`, object);
  const writtenAnswer = json(`The ${resource.noun}, and the write's warnings`, writtenObject);
  const notFound = { '404': errorResponse(`NOT_FOUND: no such ${resource.noun} that the key sees`) };
  const taken =
    resource.uniqueField === undefined
      ? {}
      : {
          '409': errorResponse(
            `CONFLICT: another ${resource.noun} of the account has this ${resource.uniqueField}`,
          ),
        };
  const inUse = resource.inUse === undefined ? {} : { '409': errorResponse(`CONFLICT: ${resource.inUse}`) };
  return {
    [resource.path]: {
      post: {
        summary: `Create ${one}`,
        ...(resource.description === undefined ? {} : { description: resource.description }),
        requestBody: body(resource.required),
        responses: {
          '201': created(`The ${resource.noun}, with its id`, writtenObject, resource.path),
          '400': WRITE_REFUSED,
          ...AUTHENTICATED_ERRORS,
          ...taken,
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
        responses: {
          '200': listPage(object, resource.filters),
          '400': QUERY_REFUSED,
          ...AUTHENTICATED_ERRORS,
        },
      },
    },
    [`${resource.path}/{id}`]: {
      parameters: [idParameter],
      get: {
        summary: `Read ${one}`,
        responses: { '200': answer, '400': NO_QUERY_REFUSED, ...AUTHENTICATED_ERRORS, ...notFound },
      },
      patch: {
        summary: `Change some fields of ${one}`,
        requestBody: body([]),
        responses: {
          '200': writtenAnswer,
          '400': WRITE_REFUSED,
          ...AUTHENTICATED_ERRORS,
          ...notFound,
          ...taken,
          ...BODY_ERRORS,
        },
      },
      put: {
        summary: `Replace ${one} (absent optional fields take their defaults)`,
        requestBody: body(resource.required),
        responses: {
          '200': writtenAnswer,
          '400': WRITE_REFUSED,
          ...AUTHENTICATED_ERRORS,
          ...notFound,
          ...taken,
          ...BODY_ERRORS,
        },
      },
      delete: {
        summary: `Delete ${one}`,
        responses: {
          '204': { description: 'Deleted' },
          '400': NO_QUERY_REFUSED,
          ...AUTHENTICATED_ERRORS,
          ...notFound,
          ...inUse,
        },
      },
    },
  };
}

/** `noun` after the indefinite article it takes: "an advertiser", "a line item". */
function withArticle(noun: string): string {
  return `${/^[aeio]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}

/** The read-only fields sent in a body that has no such field: ignored, as in every catalog write. */
const IGNORED_FIELDS = Object.fromEntries(
  Object.keys(READ_ONLY_FIELDS).map((field) => [field, { readOnly: true, description: 'ignored' }]),
);

/** The fields of `POST /v1/api-keys`, which its answers hold too. */
const apiKeyFields = {
  name,
  role: { enum: ROLES },
  scope: {
    type: ['object', 'null'],
    required: ['type', 'id'],
    properties: { type: { enum: ['advertiser', 'publisher'] }, id },
    additionalProperties: false,
    description: 'null: an account-wide key; a member besides type and id is refused',
  },
};
/** An API key as the API answers it: never the key itself (but in the answer creating it) or its hash. */
const apiKey = answerObject({
  id: READ_ONLY_ANSWERS.id,
  name,
  prefix: { type: 'string', description: 'the first characters of the key, to tell keys apart' },
  role: apiKeyFields.role,
  scope: apiKeyFields.scope,
  createdAt: READ_ONLY_ANSWERS.createdAt,
  revokedAt: { type: ['string', 'null'], format: 'date-time', description: 'null while the key works' },
});
const apiKeyNotFound = { '404': errorResponse('NOT_FOUND: no such API key in the account') };

/**
 * A domain of the redirect allow-list as the API takes one (`HOST_NAME` in redirect-allowlist.ts,
 * read in lower case and without a final dot): labels of letters, digits and hyphens (none at
 * either end of a label), each of at most 63 characters, at most 253 in all.
 */
const DOMAIN_PATTERN =
  '^(?=.{1,253}\\.?$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.?$';
/** The fields of the redirect allow-list, in a `PUT` and in the answers. */
const allowlistFields = {
  enabled: { type: 'boolean', description: 'null is refused' },
  domains: {
    type: 'array',
    maxItems: MAX_DOMAINS,
    items: { type: 'string', pattern: DOMAIN_PATTERN },
    description:
      'host names, international ones in punycode (xn--…); a click tracker stored with a clickUrl outside them keeps it, its clicks answered 400',
  },
};
const allowlist = json(
  '{enabled, domains, warnings}',
  answerObject({
    ...allowlistFields,
    warnings: {
      type: 'array',
      readOnly: true,
      description:
        'click_urls_refused: the active click trackers (the first 500) whose clickUrl this allow-list refuses, kept as they were saved before it, and their hosts: a click without a redir it admits lands nowhere (no_landing_page, not counted). Empty when there are none, and while it is not enabled',
      items: answerObject({ code: { enum: ALLOWLIST_WARNING_CODES }, message: { type: 'string' } }),
    },
  }),
);

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
              properties: { ...apiKeyFields, ...IGNORED_FIELDS },
              additionalProperties: false,
            },
          },
        },
      },
      responses: {
        '201': created(
          'The key record, and the key',
          {
            ...apiKey,
            required: [...apiKey.required, 'key'],
            properties: {
              ...apiKey.properties,
              key: { type: 'string', description: 'the API key: shown in this answer only' },
            },
          },
          '/v1/api-keys',
        ),
        '400': WRITE_REFUSED,
        ...AUTHENTICATED_ERRORS,
        ...BODY_ERRORS,
      },
    },
    get: {
      summary: 'List API keys (never the keys or their hashes)',
      parameters: PAGING_PARAMETERS,
      responses: { '200': page(apiKey), '400': QUERY_REFUSED, ...AUTHENTICATED_ERRORS },
    },
  },
  '/v1/api-keys/{id}': {
    parameters: [{ name: 'id', in: 'path', required: true, schema: id }],
    get: {
      summary: 'Read an API key (without the key); a revoked one too, with revokedAt',
      responses: {
        '200': json('The key record', apiKey),
        '400': NO_QUERY_REFUSED,
        ...AUTHENTICATED_ERRORS,
        ...apiKeyNotFound,
      },
    },
    delete: {
      summary: 'Revoke an API key; revoking a revoked key again changes nothing, and answers 204 too',
      responses: {
        '204': { description: 'Revoked (now, or before: its revokedAt is kept)' },
        '400': NO_QUERY_REFUSED,
        ...AUTHENTICATED_ERRORS,
        ...apiKeyNotFound,
        '409': errorResponse("CONFLICT: the account's last account-wide admin key"),
      },
    },
  },
  '/v1/account/redirect-allowlist': {
    get: {
      summary: "The account's redirect allow-list (admins)",
      responses: { '200': allowlist, '400': NO_QUERY_REFUSED, ...AUTHENTICATED_ERRORS },
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
                ...allowlistFields,
                ...IGNORED_FIELDS,
                warnings: { readOnly: true, description: 'ignored' },
              },
              additionalProperties: false,
            },
          },
        },
      },
      responses: { '200': allowlist, '400': WRITE_REFUSED, ...AUTHENTICATED_ERRORS, ...BODY_ERRORS },
    },
  },
};
