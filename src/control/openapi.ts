import { MAX_AMOUNT_MICROS } from '../domain/macros.js';
import { EARLIEST_AUCTION_TIME_MS, MAX_CLOCK_SKEW_MS, MAX_PRICE_MICROS } from '../domain/win-parse.js';
import { TALLY_VERSION } from '../version.js';
import { EXPORT_PARAMS, EXPORT_TYPES, PLACEHOLDER_SYNTAXES } from '../domain/tag-export.js';
import { IVT_RULES, NOT_COUNTED_REASONS } from '../domain/outcome.js';
import { CHANNELS, FORMATS, METHODS, NOTICE_KINDS } from '../domain/types.js';
import {
  DELIVERY_STATUSES,
  IMPRESSION_TYPES,
  REPORT_CURRENCY_PATTERN,
  REPORT_VAST_ERROR_PATTERN,
  REPORT_DIMENSIONS,
} from '../ports/ledger.js';
import { CATALOG_OPENAPI_PATHS, ID_SCHEMA } from './catalog/openapi.js';
import { MAX_ID } from './ids.js';
import { MAX_TRACKERS_PER_EXPORT } from './export.js';
import { MAX_WAITING_READS } from './report-thread/report-thread.js';
import { WINS_BODIES_AT_ONCE } from './wins.js';
import { EXPORT_WARNING_CODES } from './export-warnings.js';
import {
  AUTHENTICATED_ERRORS,
  badRequest,
  BEARER_CHALLENGE,
  BODY_ERRORS,
  CONNECTION_ERRORS,
  errorResponse,
  JSON_BODY_TYPES,
  QUERY_REFUSED,
  REQUEST_ID_HEADER,
  RETRY_AFTER_HEADER,
  retryResponse,
  ROUTE_ERRORS,
} from './openapi-responses.js';
import { MAX_WINS_PER_CALL } from './register-wins.js';
import { REPORT_METRICS } from './report-text.js';
import { UNKNOWN_ID_WARNING_CODES } from './unknown-ids.js';

/**
 * Every `code` of the error envelope, with its HTTP status. The test checks this list against the
 * codes the source answers with, both ways, and that the README names each.
 */
export const API_ERROR_CODES = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  BODY_TOO_DEEP: 400,
  REPORT_TOO_LARGE: 400,
  MIXED_CURRENCIES: 400,
  MALFORMED_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  REQUEST_TIMEOUT: 408,
  CONFLICT: 409,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  EXPECTATION_FAILED: 417,
  MAIL_NOT_CONFIGURED: 422,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  MAIL_FAILED: 502,
  UNAVAILABLE: 503,
  STARTING: 503,
} as const;

/** The codes of a refused win (`{"ok": false, "error": {code, message}}` in `results`). */
export const WIN_ERROR_CODES = [
  'VALIDATION_FAILED',
  'IMP_NOT_FOUND',
  'FORMAT_UNDETERMINED',
  'CHANNEL_UNDETERMINED',
  'IMP_QTY_UNSUPPORTED',
  'NOTICE_URL_TOO_LONG',
  'MARKUP_TOO_LARGE',
  'ANSWER_TOO_LARGE',
  'INVALID_JSON',
  'BODY_TOO_DEEP',
  'INTERNAL',
] as const;

const errorEnvelope = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'requestId'],
      properties: {
        code: { enum: Object.keys(API_ERROR_CODES) },
        message: { type: 'string', description: 'what to fix' },
        requestId: { type: 'string', description: 'also in the X-Request-Id header' },
      },
    },
  },
};

/**
 * The 400 of `POST /v1/wins`, which reads a JSON body and no query: it refuses any query parameter,
 * and a malformed %-escape in its query, too.
 */
const bodyRefused = badRequest(
  'VALIDATION_FAILED: the message says what to fix (any query parameter too: the operation reads none); INVALID_JSON, BODY_TOO_DEEP: the body is not JSON in UTF-8 (one in UTF-16 or UTF-32 is told so), or nests too deep',
);
/** A notice's or tracker hit's redirect, to its `Location`. */
const redirect = (description: string) => ({
  description,
  headers: {
    Location: { required: true, description: 'where the client is sent', schema: { type: 'string' } },
  },
});
/** A notice's or tracker hit's 405: not recorded, `Allow` naming the methods that are. */
const HIT_NOT_ALLOWED = {
  description: 'not GET, HEAD or POST: not recorded (text/plain)',
  headers: {
    Allow: {
      required: true,
      description: 'the methods of notices and hits',
      schema: { type: 'string', example: 'GET, HEAD, POST' },
    },
  },
  content: { 'text/plain': {} },
};
/**
 * A notice's or tracker hit's 503, to send again after its `Retry-After`: in text/plain, or in the
 * error envelope (with its `X-Request-Id`) when Tally shuts down or starts.
 */
const HIT_UNAVAILABLE = {
  description:
    'overloaded or not recorded: retry (text/plain); or, pipelined behind an answer that closes the connection as Tally shuts down, UNAVAILABLE in the error envelope: send it again on a new connection; or, while Tally starts, STARTING in the error envelope: send it again shortly',
  headers: {
    ...RETRY_AFTER_HEADER,
    'X-Request-Id': {
      ...REQUEST_ID_HEADER['X-Request-Id'],
      required: false,
      description: 'in the error envelope: the id its requestId repeats',
    },
  },
  content: { 'text/plain': {}, 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};
/** A notice or tracker hit's 400 when the request is not HTTP Tally reads, in the envelope. */
const hitMalformed = badRequest();

/**
 * A report's filter on a catalog id: digits (`05` is 5) naming at most `MAX_ID`, as `reports.ts`
 * reads them.
 */
const ID_DIGITS = `digits naming an id of at most ${MAX_ID} (2^53 - 1); 05 is 5`;
const numericId = { type: 'string', pattern: '^[0-9]+$', description: ID_DIGITS };
/** Report filters whose values are known; the others are strings. */
const REPORT_FILTER_SCHEMAS: Partial<Record<(typeof REPORT_DIMENSIONS)[number], unknown>> = {
  hour: {
    type: 'string',
    description:
      'the start of an hour (a UTC hour: whole hours in tz too), with its offset; a date is its midnight',
  },
  day: {
    type: 'string',
    description:
      'a day: a date, or its first instant with its offset (00:00 UTC, or in tz its local midnight)',
  },
  outcome: { enum: ['counted', 'not_counted'] },
  reason: { enum: ['', ...NOT_COUNTED_REASONS], description: 'empty for counted rows' },
  impressionType: { enum: IMPRESSION_TYPES },
  channel: { enum: ['', ...CHANNELS], description: 'empty for tracker hits and invalid tokens' },
  method: { enum: ['', ...METHODS], description: 'empty for tracker hits and invalid tokens' },
  notice: {
    enum: ['', ...NOTICE_KINDS],
    description:
      'the notice that arrived (method is the one that counts): empty for tracker hits, invalid tokens, and uncounted rows an earlier version of Tally recorded',
  },
  ivtRule: {
    enum: ['', ...IVT_RULES],
    description:
      'the invalid-traffic rule that matched: empty for the other rows, and for invalid traffic an earlier version of Tally recorded whose raw events were pruned before the upgrade',
  },
  vastError: {
    type: 'string',
    pattern: REPORT_VAST_ERROR_PATTERN,
    example: '303',
    description:
      'the VAST error code (100–999) a vast_error notice reported in its e; empty for the other rows, a vast_error notice without a valid code, and those an earlier version of Tally recorded. Grouped, a row gives it as an integer, or empty',
  },
  currency: {
    type: 'string',
    pattern: REPORT_CURRENCY_PATTERN,
    example: 'USD',
    description: 'ISO 4217; empty for rows without money',
  },
  publisher: {
    type: 'string',
    description:
      'the OpenRTB publisher.id: of the win, on exchange rows; of the catalog publisher (its externalId), on tracker rows',
  },
  publisherId: {
    ...numericId,
    description: `the catalog publisher: of a tracker, on tracker rows; the one whose externalId is the win’s publisher.id, on exchange rows (0 for none): ${ID_DIGITS}`,
  },
  advertiser: numericId,
  lineItem: numericId,
  tracker: {
    ...numericId,
    description: `the impression or click tracker hit; on unknown_tracker rows (the operator account's), the id the hit named, where Tally ever issued it to a tracker (a deleted one's, another account's), else 0: ${ID_DIGITS}`,
  },
  placement: numericId,
  paymentRule: numericId,
  cachebusterMissing: { enum: ['true', 'false'] },
};

/** The answer `{"status": value}` of a health check, `value` one of `values`. */
const status = (...values: string[]) => ({
  description: values.map((value) => `{"status": "${value}"}`).join(' or '),
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['status'],
        properties: { status: { enum: values } },
        additionalProperties: false,
      },
    },
  },
});

/**
 * Exchange rows' fields of a billing record, null on tracker rows (but `publisher`, of both); and
 * tracker rows', null on exchange rows (but `publisherId`, of both).
 */
const EXCHANGE_RECORD_FIELDS = {
  notice: { description: 'the notice that counted (as the report dimension notice)' },
  method: {},
  format: {},
  channel: {},
  auctionId: { description: 'BidRequest.id' },
  impId: {},
  bidId: {},
  seat: {},
  publisher: {
    description:
      'the OpenRTB publisher id, as the report dimension publisher: of the win, on exchange rows (null when its request named none); on tracker rows, the externalId of the tracker’s catalog publisher (null without one), read from the catalog as it stands',
  },
  currency: {},
};
const TRACKER_RECORD_FIELDS = {
  trackerId: 'the tracker hit',
  advertiserId: "the tracker's advertiser",
  lineItemId: "the tracker's line item",
  publisherId:
    'the catalog publisher, as the report dimension publisherId: the tracker’s; on exchange rows too, the one whose externalId is the win’s publisher.id (0 for none), read from the catalog as it stands',
  placementId: "the tracker's placement; 0: none",
  paymentRuleId:
    'the payment rule that priced the hit; 0: none (the publisher had none, or the hit was priced by its ancost)',
};

/** `GET /v1/billing-records`' records (`BillingRecord` in `ports/ledger.ts`). */
const BILLING_RECORD_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [
    'id',
    'countedAt',
    'servedHour',
    'impressionType',
    ...Object.keys(EXCHANGE_RECORD_FIELDS),
    'priceMicros',
    'deliveryStatus',
    ...Object.keys(TRACKER_RECORD_FIELDS),
    'mediaCostMicros',
    'revenueMicros',
  ],
  properties: {
    id: { type: 'integer', minimum: 1 },
    countedAt: {
      type: 'string',
      format: 'date-time',
      description: 'when the notice or hit that counted arrived',
    },
    servedHour: {
      type: 'string',
      format: 'date-time',
      description: 'the UTC hour the impression was served (the auction’s; the hit’s), as reports group it',
    },
    impressionType: { enum: IMPRESSION_TYPES },
    ...Object.fromEntries(
      Object.entries(EXCHANGE_RECORD_FIELDS).map(([name, field]) => [
        name,
        { type: ['string', 'null'], ...field },
      ]),
    ),
    priceMicros: {
      type: ['integer', 'null'],
      description:
        'exchange rows: the clearing price, a CPM in micros (the impression’s cost is a thousandth of it)',
    },
    deliveryStatus: {
      enum: [...DELIVERY_STATUSES, null],
      description:
        "exchange rows: where the DSP's burl delivery of the impression stands (see GET /v1/deliveries); null without one kept: the DSP gave no burl, or a delivered one was pruned at the retention",
    },
    ...Object.fromEntries(
      Object.entries(TRACKER_RECORD_FIELDS).map(([name, description]) => [
        name,
        name === 'publisherId'
          ? { type: 'integer', minimum: 0, description }
          : { type: ['integer', 'null'], minimum: 0, description: `tracker rows: ${description}` },
      ]),
    ),
    mediaCostMicros: { type: ['integer', 'null'], description: 'tracker rows: the event’s media cost' },
    revenueMicros: { type: ['integer', 'null'], description: 'tracker rows: the event’s revenue' },
  },
};

/** The paging parameters of the deliveries' and billing records' lists. */
const LIST_PAGE_PARAMETERS = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
  {
    name: 'after',
    in: 'query',
    schema: { type: 'integer', minimum: 0, maximum: MAX_ID },
    description: 'the next value of the previous page',
  },
];

/** A report's warnings, as `unknownIdWarnings` gives them. */
const REPORT_WARNINGS = {
  type: 'array',
  description:
    "a warning for each filter on a catalog id (publisherId, advertiser, lineItem, tracker, placement, paymentRule) that names no object the key knows of: none of the account's, or, for a scoped key, none within its scope (an object of its own side it may read, or of the other side one of its trackers is on; any other, there or not, is warned of alike, but a filter naming another advertiser or publisher than the key's own is refused 403). Its rows are still what was recorded under the id: nothing for a mistyped id, a deleted object's past traffic. An inactive object is known; 0 (no such object, on a row) is not warned of. Empty when there are none",
  items: {
    type: 'object',
    required: ['code', 'id', 'message'],
    properties: {
      code: { enum: UNKNOWN_ID_WARNING_CODES },
      id: { type: 'integer', description: 'the id the filter names' },
      message: { type: 'string' },
    },
    additionalProperties: false,
  },
};

/** An export's warnings, as `exportWarnings` gives them. */
const EXPORT_WARNINGS = {
  type: 'array',
  description:
    "first, when the tags are https (secure, the default) while the server's public URL (TALLY_PUBLIC_URL) is http, every tracker exported (https_not_served): no hit on such a tag reaches a plain-http Tally; then trackers every hit of whose exported tag would be recorded and not counted, as the catalog stands: the tracker or its line item is inactive, or a click tracker's clickUrl is one the account's enabled redirect allow-list refuses and the tag has no redir, each code the outcome the hits are recorded with; then, when params lack cachebuster, every tracker exported (cachebuster_missing, to every key): each hit on its tag, impression or click, is counted as a new one, a repeat included, and flagged cachebusterMissing, and the message names the cachebuster the placeholders write; then trackers whose hits without ancost would be booked at a media cost of 0, as the tracker's own warnings say (no_payment_rule: its publisher has no payment rule; zero_media_cost: a rule that may price them books a cost of 0), and of trackers whose own payment rule is inactive or ended (own_rule_not_in_effect), none to a key scoped to an advertiser, which is shown no media cost. Each message names objects by id alone and says what to change. Empty when there are none",
  items: {
    type: 'object',
    required: ['code', 'trackerId', 'message'],
    properties: {
      code: { enum: EXPORT_WARNING_CODES },
      trackerId: { type: 'integer' },
      message: { type: 'string' },
    },
    additionalProperties: false,
  },
};

/** The OpenAPI 3.1 description of Tally's API, served at `/docs`. */
/**
 * The `Content-Disposition` of an answer that is a file (a CSV report or page of billing records,
 * a tag export downloaded), its name as `pattern` matches it, `example` one such name.
 */
const attachment = (when: string, pattern: string, example: string) => ({
  'Content-Disposition': {
    description: `${when}: an attachment, named as the pattern says`,
    schema: {
      type: 'string',
      pattern: `^attachment; filename="${pattern}"$`,
      example: `attachment; filename="${example}"`,
    },
  },
});

/** Paths whose own answers carry no `X-Request-Id`: notices and hits, served before the API's routing. */
const HOT_PATHS = new Set(['/n/{token}', '/imptr', '/clktr']);
/**
 * `paths` with `X-Request-Id` declared on each answer that carries it: every answer of the API and
 * of the public routes (the metrics and the OMID script included); a notice's or hit's answers
 * carry it in the error envelope alone, where `errorResponse` declares it.
 */
function withRequestIds(paths: Record<string, unknown>): Record<string, unknown> {
  type Responses = Record<string, { headers?: Record<string, unknown> }>;
  return Object.fromEntries(
    Object.entries(paths).map(([path, item]) => [
      path,
      HOT_PATHS.has(path)
        ? item
        : Object.fromEntries(
            Object.entries(item as Record<string, { responses?: Responses }>).map(([method, operation]) => [
              method,
              operation.responses === undefined
                ? operation
                : {
                    ...operation,
                    responses: Object.fromEntries(
                      Object.entries(operation.responses).map(([status, response]) => [
                        status,
                        { ...response, headers: { ...REQUEST_ID_HEADER, ...response.headers } },
                      ]),
                    ),
                  },
            ]),
          ),
    ]),
  );
}

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'Tally',
    version: TALLY_VERSION,
    description: `Counts billable ad impressions. Errors use one envelope {"error": {"code", "message", "requestId"}}. Money is integer micros in reports; amounts sent in are decimal currency units. A request body is JSON in UTF-8, sent with ${JSON_BODY_TYPES}.`,
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: errorEnvelope,
      Win: {
        type: 'object',
        required: ['request', 'seat', 'bid'],
        description:
          'Any other field is refused (VALIDATION_FAILED), so that a misspelt one is never ignored. An optional field sent as null is taken as absent.',
        additionalProperties: false,
        properties: {
          request: { type: 'object', description: 'OpenRTB 2.5/2.6 BidRequest' },
          seat: {
            type: ['string', 'integer'],
            minLength: 1,
            maximum: Number.MAX_SAFE_INTEGER,
            description:
              "the winning seatbid.seat, or one id of the exchange's own for a DSP that names none. As OpenRTB's ids (request.id, imp.id, bid.id, bid.impid, bid.adid), a string; a whole number is read as its digits, with a warning",
          },
          bid: { type: 'object', description: 'OpenRTB Bid (the winner)' },
          clearingPrice: {
            type: ['number', 'null'],
            minimum: 0,
            maximum: MAX_PRICE_MICROS / 1_000_000,
            description: `in currency units, e.g. 1.25 (CPM); defaults to bid.price. The price billed (this, else bid.price) is at most ${MAX_PRICE_MICROS / 1_000_000}; a bid.price beside it, which fills \${AUCTION_MBR}, must be such a number too`,
          },
          bidResponseId: {
            type: ['string', 'integer', 'null'],
            maximum: Number.MAX_SAFE_INTEGER,
            description: 'the BidResponse.bidid, for ${AUCTION_BID_ID} (empty without it)',
          },
          currency: {
            type: ['string', 'null'],
            pattern: '^[A-Z]{3}$',
            default: 'USD',
            description: 'ISO 4217',
          },
          auctionTimeMs: {
            type: ['integer', 'null'],
            minimum: EARLIEST_AUCTION_TIME_MS,
            maximum: Number.MAX_SAFE_INTEGER,
            description: `milliseconds since the epoch; defaults to now. Refused more than ${MAX_CLOCK_SKEW_MS / 60_000} minutes ahead of the server clock, or before 2001-09-09 (a time in seconds)`,
          },
          publisherBurl: {
            type: ['boolean', 'null'],
            default: false,
            description:
              "the publisher fires burl: the win then counts on Tally's burl, after OMID, except an app banner whose bid has no burl, which counts on its markup",
          },
          test: {
            type: ['boolean', 'null'],
            default: false,
            description: 'a test/preview win: never counted (as is one whose request.test is 1)',
          },
        },
      },
      Delivery: {
        type: 'object',
        required: [
          'id',
          'dedupeKey',
          'url',
          'deviceIp',
          'userAgent',
          'status',
          'attempts',
          'createdMs',
          'dueMs',
          'deadlineMs',
          'lastError',
          'deliveredMs',
        ],
        properties: {
          id: { type: 'integer' },
          dedupeKey: { type: 'string', description: 'the impression' },
          auctionId: { type: 'string', description: 'the impression billed: its auction (BidRequest.id)' },
          impId: { type: 'string' },
          bidId: { type: 'string' },
          seat: { type: 'string' },
          url: {
            type: 'string',
            description: "the DSP's burl, macros filled, a user name and password in it written ***",
          },
          deviceIp: { type: 'string' },
          userAgent: { type: 'string' },
          status: {
            enum: DELIVERY_STATUSES,
            description:
              'pending: to call; delivered: called and answered 2xx; dead: its deadline passed, or at once for a burl the relay can never call (an address outside the public internet, a URL that is not http(s)), lastError saying why; redirected: not called, the publisher sent on to it by the 302 answering the count (pending should a repeat come once the allow-list no longer admits its host)',
          },
          attempts: {
            type: 'integer',
            description:
              'tries since the delivery was queued, or last replayed (a replay starts the retries over): calls made, and a burl the relay refused to call counted as one',
          },
          createdMs: { type: 'integer' },
          dueMs: { type: 'integer', description: 'next attempt (redirected: when the impression counted)' },
          deadlineMs: {
            type: 'integer',
            description: 'last attempt; dead after it (redirected: when the impression counted)',
          },
          lastError: {
            type: 'string',
            description:
              'why the last attempt failed; a user name and password in a URL it names written ***',
          },
          deliveredMs: { type: ['integer', 'null'] },
        },
      },
      BillingRecord: BILLING_RECORD_SCHEMA,
      Tag: {
        type: 'object',
        required: ['trackerId', 'tag'],
        properties: { trackerId: { type: 'integer' }, tag: { type: 'string' } },
      },
      WinResult: {
        oneOf: [
          {
            type: 'object',
            required: [
              'ok',
              'format',
              'channel',
              'method',
              'ttlSeconds',
              'adm',
              'burl',
              'noticeUrls',
              'warnings',
            ],
            properties: {
              ok: { const: true },
              format: { enum: FORMATS },
              channel: { enum: CHANNELS },
              method: { enum: METHODS, description: 'the one notice that counts' },
              ttlSeconds: { type: 'integer', minimum: 1 },
              adm: {
                type: ['string', 'null'],
                description: 'the instrumented markup; null when the bid had none',
              },
              burl: {
                type: ['string', 'null'],
                description: "Tally's billing URL for the publisher to fire (method burl), else null",
              },
              noticeUrls: {
                type: 'object',
                description: 'every Tally URL of the win, by notice kind',
                propertyNames: { enum: NOTICE_KINDS },
                additionalProperties: { type: 'string' },
              },
              warnings: { type: 'array', items: { type: 'string' } },
            },
          },
          {
            type: 'object',
            required: ['ok', 'error'],
            properties: {
              ok: { const: false },
              error: {
                type: 'object',
                required: ['code', 'message'],
                properties: { code: { enum: WIN_ERROR_CODES }, message: { type: 'string' } },
              },
            },
          },
        ],
      },
    },
  },
  security: [{ bearer: [] }],
  paths: withRequestIds({
    '/v1/wins': {
      post: {
        summary: 'Register auction wins; get instrumented markup and notice URLs',
        description:
          'Needs an account-wide editor or admin key. The body is at most TALLY_MAX_BODY_BYTES (16 MiB unless set) ' +
          `and holds at most ${MAX_WINS_PER_CALL} wins. One bad win never fails the others: it gets its own ` +
          '{"ok": false, "error"} result. A win registered past its TTL is accepted with a warning.',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['wins'],
                additionalProperties: false,
                properties: {
                  wins: {
                    type: 'array',
                    maxItems: MAX_WINS_PER_CALL,
                    items: { $ref: '#/components/schemas/Win' },
                  },
                },
              },
              example: {
                wins: [
                  {
                    request: { id: 'a1', imp: [{ id: '1', banner: {} }], site: {} },
                    seat: 's1',
                    bid: {
                      id: 'b1',
                      impid: '1',
                      price: 1.5,
                      adm: '<div>ad</div>',
                      burl: 'https://dsp.example/bill?p=${AUCTION_PRICE}',
                    },
                  },
                ],
              },
            },
          },
        },
        responses: {
          '200': {
            description: 'One result per win, in input order',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['results'],
                  properties: {
                    results: { type: 'array', items: { $ref: '#/components/schemas/WinResult' } },
                  },
                },
              },
            },
          },
          '400': bodyRefused,
          ...AUTHENTICATED_ERRORS,
          ...BODY_ERRORS,
          '503': retryResponse(
            `UNAVAILABLE: too many wins being registered at once, too many bytes of wins bodies being read at once (${WINS_BODIES_AT_ONCE} times the body limit, across calls, each holding the bytes it has sent: a Content-Length that does not fit in what the others hold is refused before its body is read, a body growing past what is left as it streams, its connection closed), the wins could not be registered just now, or Tally is shutting down; retry (Retry-After says when)`,
          ),
        },
      },
    },
    '/n/{token}': Object.fromEntries(
      (['get', 'post'] as const).map((method) => [
        method,
        {
          summary:
            method === 'get'
              ? 'Billing or tracking notice (public): a 1×1 GIF (204 with f=b), or 302 to the DSP burl for a counted publisher burl (and a repeat of it)'
              : 'The same notice sent as a beacon (navigator.sendBeacon); any body is ignored',
          description:
            'The notice is recorded with its outcome before it is answered, and the answer is the same ' +
            'whatever the outcome. HEAD is answered like GET and recorded as invalid traffic ' +
            '(head_request); any other method is answered 405 and not recorded. A query value AUDIT, ' +
            'or preview=1, records a preview.',
          security: [],
          parameters: [
            { name: 'token', in: 'path', required: true, schema: { type: 'string' } },
            {
              name: 'f',
              in: 'query',
              schema: { enum: ['b'] },
              description:
                'answered 204: a beacon, or a script event tracker (native, method 2), loaded as an empty script',
            },
            {
              name: 'preview',
              in: 'query',
              schema: { enum: ['1'] },
              description: 'a preview: never counted',
            },
            {
              name: 'e',
              in: 'query',
              schema: { type: 'string' },
              description:
                'the VAST [ERRORCODE], on the vast_error URL: the notice is recorded (notice vast_error, not billed) with its code, reported as vastError: three digits from 100 to 999, given once; any other e (the macro left unreplaced, e=abc) is recorded with no code. Read on vast_error URLs alone',
            },
          ],
          responses: {
            '200': { description: 'a 43-byte GIF', content: { 'image/gif': {} } },
            '204': { description: 'beacon (f=b)' },
            '302': redirect(
              'to the DSP burl, macros filled (Tally’s burl, counted, or a repeat of one that was)',
            ),
            '400': hitMalformed,
            '405': HIT_NOT_ALLOWED,
            ...CONNECTION_ERRORS,
            '503': HIT_UNAVAILABLE,
          },
        },
      ]),
    ),
    '/v1/reports': {
      get: {
        summary: 'Hourly-rollup reports, JSON or CSV',
        description:
          'Any key may read reports; a scoped key sees only its advertiser’s or publisher’s rows. ' +
          'Rows come from hourly rollups by the UTC hour the impression was served: the hours that ' +
          'begin in [from, to), at most 400 days. from and to must be on the hour in UTC (minutes and seconds zero), ' +
          'each an RFC 3339 date-time with its offset (Z or ±hh:mm; send a + as %2B), e.g. ' +
          '2026-12-03T11:00:00Z, or a date, e.g. 2026-12-03, meaning 00:00 UTC. Any other time is ' +
          'refused (400 VALIDATION_FAILED), as are an hour filter not on a UTC hour, a day filter ' +
          'not at 00:00 UTC, an unknown parameter and a parameter given twice. ' +
          'tz (an IANA time zone, e.g. America/New_York; UTC by default) reads the report in that zone: ' +
          'a date in from, to, day or hour is its local midnight, day groups by its local days (23 or 25 hours ' +
          'when its clocks change), and from, to, hour and day are answered in its local time with its offset, ' +
          'e.g. 2026-11-22T00:00:00.000-05:00 (Z without tz or with tz=UTC); a day filter must then be a local ' +
          'midnight. A zone whose offset from UTC is not a whole number of hours somewhere in the window ' +
          '(Asia/Kolkata, +05:30) cannot be served from hourly rollups and is refused (400 VALIDATION_FAILED), ' +
          'as is a zone Tally does not know. Every dimension also ' +
          'filters (e.g. seat=s1). format=csv or format=json chooses the output whatever Accept says; ' +
          "without it, an Accept preferring text/csv to JSON asks for CSV (on a tie, the type it names more specifically: text/csv, */* asks for CSV; else JSON); any other format value filters the ad format. In CSV a text cell a spreadsheet may run as a formula (starting with = + - @ | or their full-width forms, after any white space, or with white space or NUL at all) or read as another number than written (more than 15 digits, a leading zero, a decimal point or an exponent: 0042, 1E5) or as a date, amount or the like (1-2, SEPT2, 1,000, 50%, TRUE) or starting with ' is written after a ': take one leading ' off such a cell to read the value. " +
          'events counts every event; the money metrics add up counted events only. An advertiser-scoped ' +
          "key's rows leave out mediaCostMicros and profitMicros, a publisher-scoped key's priceMicros, " +
          "revenueMicros and profitMicros: neither side sees the other's money nor the margin (the " +
          'clearing prices the DSPs paid for a publisher’s impressions are the buy side’s). An ' +
          'advertiser-scoped key may neither group nor filter by paymentRule (403): which rule priced ' +
          'a hit is the publisher side’s pricing. A publisher-scoped key is shown counted events ' +
          'alone (a filter on another outcome is refused 403): which of its notices did not count, and ' +
          'why, would let a publisher firing its own see which of them count. A report of ' +
          'more rows than the server allows (TALLY_REPORT_MAX_ROWS, 100 000 unless set), or with a ' +
          'total past 2^53 − 1 in JSON, of a metric the key is shown (CSV writes every total exactly), is refused with 400 ' +
          'REPORT_TOO_LARGE; one whose amounts are in different currencies (or a currency and ' +
          'tracker hits’ unnamed units), in one row or across rows, unless it groups by or filters ' +
          'on currency, with 400 MIXED_CURRENCIES (only the amounts the key is shown are looked at). ' +
          'A filter on a catalog id that names no object the key knows of (a mistyped id; an object deleted since; ' +
          'for a scoped key, one outside its scope, answered alike, but another advertiser or publisher than its own is ' +
          'refused 403) is answered all the same, with a warning: ' +
          'warnings in JSON, and the X-Tally-Warnings header in JSON and CSV, so that a report of nothing is not ' +
          'read as no traffic.',
        parameters: [
          ...(['from', 'to'] as const).map((name) => ({
            name,
            in: 'query',
            required: true,
            schema: { type: 'string' },
            description:
              'on a UTC hour: an RFC 3339 date-time with its offset, or a date (00:00 UTC; with tz, its local midnight)',
          })),
          {
            name: 'tz',
            in: 'query',
            schema: { type: 'string', example: 'America/New_York' },
            description:
              'an IANA time zone whose offset from UTC is whole hours within the window: days are its days, times are written in its local time with its offset; UTC when absent',
          },
          {
            name: 'groupBy',
            in: 'query',
            schema: { type: 'string' },
            description: `comma-separated dimensions: ${REPORT_DIMENSIONS.join(', ')}`,
          },
          ...REPORT_DIMENSIONS.map((name) =>
            name === 'format'
              ? {
                  name,
                  in: 'query',
                  schema: { enum: ['json', 'csv', '', ...FORMATS] },
                  description:
                    'json or csv: the output; any other value filters on the ad format (empty: tracker hits and invalid tokens)',
                }
              : {
                  name,
                  in: 'query',
                  schema: REPORT_FILTER_SCHEMAS[name] ?? { type: 'string' },
                  description: `filter on ${name}`,
                },
          ),
        ],
        responses: {
          '200': {
            description: 'the rows, grouped by groupBy; CSV has one column per dimension, then the metrics',
            headers: {
              'X-Tally-Warnings': {
                description:
                  "when the report has warnings (see warnings), in CSV as in JSON: each one's code and the id it names, comma-separated",
                schema: { type: 'string', example: 'unknown_tracker;id=999999, unknown_line_item;id=7' },
              },
              ...attachment(
                'with CSV, named by the window (with tz, in local hours with their offsets)',
                'tally-report-\\d{4}-\\d{2}-\\d{2}T\\d{2}([+-]\\d{4})?-\\d{4}-\\d{2}-\\d{2}T\\d{2}([+-]\\d{4})?\\.csv',
                'tally-report-2026-10-31T00-0400-2026-11-03T00-0500.csv',
              ),
            },
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['from', 'to', 'groupBy', 'warnings', 'rows'],
                  properties: {
                    from: {
                      type: 'string',
                      format: 'date-time',
                      description: 'in UTC (Z), or with tz in its local time with its offset',
                    },
                    to: { type: 'string', format: 'date-time' },
                    timeZone: {
                      type: 'string',
                      description: 'the tz the report was read in, as given; absent in UTC',
                    },
                    groupBy: { type: 'array', items: { enum: REPORT_DIMENSIONS } },
                    warnings: REPORT_WARNINGS,
                    rows: {
                      type: 'array',
                      items: {
                        type: 'object',
                        // A scoped key's rows leave out the other side's money and the margin.
                        required: ['events'],
                        properties: Object.fromEntries(
                          REPORT_METRICS.map((name) => [name, { type: 'integer' }]),
                        ),
                        additionalProperties: { type: ['string', 'integer', 'boolean'] },
                      },
                    },
                  },
                },
              },
              'text/csv': { schema: { type: 'string' } },
            },
          },
          '400': badRequest(
            'VALIDATION_FAILED: an unknown, repeated or invalid query parameter, or a malformed %-escape in the query; REPORT_TOO_LARGE, MIXED_CURRENCIES: see above',
          ),
          ...AUTHENTICATED_ERRORS,
          '503': retryResponse(
            `UNAVAILABLE: ${MAX_WAITING_READS} reports and billing record pages wait to be read already (the same report asked again while it waits is never refused), the report could not be run just now, or Tally is shutting down; retry (Retry-After says when)`,
          ),
        },
      },
    },
    '/v1/deliveries': {
      get: {
        summary: 'DSP burl deliveries by status, newest first',
        description: 'Needs an account-wide editor or admin key. Any other parameter is refused.',
        parameters: [
          { name: 'status', in: 'query', schema: { enum: DELIVERY_STATUSES } },
          {
            name: 'auctionId',
            in: 'query',
            schema: { type: 'string', minLength: 1 },
            description: "only the deliveries of this auction's impressions",
          },
          {
            name: 'seat',
            in: 'query',
            schema: { type: 'string', minLength: 1 },
            description:
              "only the deliveries of this seat's impressions (SeatBid.seat), exactly as the win named it",
          },
          ...(['from', 'to'] as const).map((name) => ({
            name,
            in: 'query',
            schema: { type: 'string' },
            description: `only deliveries whose impression counted ${name === 'from' ? 'at or after' : 'before'} this time: an RFC 3339 date-time with its offset, or a date (00:00 UTC)`,
          })),
          ...LIST_PAGE_PARAMETERS,
        ],
        responses: {
          '200': {
            description: 'a page of deliveries; next is null on the last page',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['deliveries', 'next'],
                  properties: {
                    deliveries: { type: 'array', items: { $ref: '#/components/schemas/Delivery' } },
                    next: { type: ['integer', 'null'] },
                  },
                },
              },
            },
          },
          '400': QUERY_REFUSED,
          ...AUTHENTICATED_ERRORS,
        },
      },
    },
    '/v1/billing-records': {
      get: {
        summary: 'Billing records: one per counted impression or click, oldest first',
        description:
          'For reconciling what was billed impression by impression (with a DSP: by auction, impression and bid id, at the clearing price). Needs an account-wide key of any role. A page reads a bounded run of the ledger, so it may hold fewer records than limit, or none, and still have a next: read on until next is null. Any other parameter is refused.',
        parameters: [
          ...(['servedFrom', 'servedTo'] as const).map((name) => ({
            name,
            in: 'query',
            schema: { type: 'string' },
            description: `only records of impressions served in the hours that begin ${name === 'servedFrom' ? 'at or after' : 'before'} this time (on the hour; a date is its midnight in tz): the rows a report over the same window adds up. The ledger is read from ${MAX_CLOCK_SKEW_MS / 60_000} minutes before servedFrom (an auction time may be that far ahead of Tally's clock) to the longest TTL the ledger's servers have been started with after servedTo`,
          })),
          ...(['from', 'to'] as const).map((name) => ({
            name,
            in: 'query',
            schema: { type: 'string' },
            description: `only records counted ${name === 'from' ? 'at or after' : 'before'} this time (when the notice or hit that counted arrived, not the hour served): an RFC 3339 date-time with its offset, or a date (its midnight in tz)`,
          })),
          {
            name: 'tz',
            in: 'query',
            schema: { type: 'string', example: 'America/New_York' },
            description:
              'an IANA time zone: dates in from, to, servedFrom and servedTo are its midnights, and countedAt and servedHour are written with its offset; UTC by default',
          },
          {
            name: 'seat',
            in: 'query',
            schema: { type: 'string', minLength: 1 },
            description: "only this seat's exchange records",
          },
          {
            name: 'auctionId',
            in: 'query',
            schema: { type: 'string', minLength: 1 },
            description:
              "only the records of this auction's impressions (BidRequest.id), exactly as the win named it. Each page still reads a bounded run of the ledger, so most pages of a long window hold none of them: servedFrom and servedTo around the auction's hour read fewer",
          },
          { name: 'impressionType', in: 'query', schema: { enum: IMPRESSION_TYPES } },
          {
            name: 'publisherId',
            in: 'query',
            schema: { type: 'integer', minimum: 0, maximum: MAX_ID },
            description:
              "only this catalog publisher's records, as the report filter publisherId picks its rows: its trackers' hits, and the exchange impressions whose win's publisher.id is its externalId (0: the exchange impressions of none). They are the records its publisher-scoped key is shown in reports. An id naming no publisher of the account is warned of (warnings), as in a report",
          },
          {
            name: 'publisher',
            in: 'query',
            schema: { type: 'string' },
            description:
              'only the records of this OpenRTB publisher id, as the report filter publisher picks its rows: the exchange impressions whose win named it, and the hits of the trackers of the catalog publisher whose externalId it is; empty: those of none (publisher null)',
          },
          ...LIST_PAGE_PARAMETERS,
          {
            name: 'format',
            in: 'query',
            schema: { enum: ['json', 'csv'] },
            description:
              'the answer: JSON, or CSV (as Accept: text/csv asks too), a header line then a line a record; ' +
              "a text cell a spreadsheet may run as a formula or read as another number (an auction id of 19 digits) or a date (1-2) is written after a ' as in reports",
          },
        ],
        responses: {
          '200': {
            description:
              'a page of billing records; next is null once the window is read to its end. CSV: the columns in the order of the JSON fields, null as an empty cell',
            headers: {
              Link: {
                description: 'while another page follows: the URL of the next page, rel="next"',
                schema: { type: 'string', example: '</v1/billing-records?after=100>; rel="next"' },
              },
              'X-Tally-Warnings': {
                description:
                  'when the page has warnings (see warnings), in CSV as in JSON: the code and the id it names',
                schema: { type: 'string', example: 'unknown_publisher;id=999999' },
              },
              ...attachment(
                "with CSV, named by the page's first and last record ids (none for a page of none)",
                'tally-billing-records-(none|\\d+-\\d+)\\.csv',
                'tally-billing-records-12-1011.csv',
              ),
            },
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['records', 'next', 'warnings'],
                  additionalProperties: false,
                  properties: {
                    records: { type: 'array', items: { $ref: '#/components/schemas/BillingRecord' } },
                    next: { type: ['integer', 'null'], minimum: 1 },
                    warnings: {
                      ...REPORT_WARNINGS,
                      description:
                        "unknown_publisher when publisherId names no publisher of the account (0, none, is not warned of): the records are still those recorded under it, a deleted publisher's, or none for a mistyped id. Empty when there are none",
                    },
                  },
                },
              },
              'text/csv': { schema: { type: 'string' } },
            },
          },
          '400': QUERY_REFUSED,
          ...AUTHENTICATED_ERRORS,
          '503': retryResponse(
            `UNAVAILABLE: ${MAX_WAITING_READS} reports and billing record pages wait to be read already (the same page asked again while it waits is never refused), the page could not be read just now, or Tally is shutting down; retry (Retry-After says when)`,
          ),
        },
      },
    },
    ...CATALOG_OPENAPI_PATHS,
    ...Object.fromEntries(
      (['impression', 'click'] as const).map((kind) => [
        `/v1/${kind}-trackers/{id}/export`,
        {
          post: {
            summary: `Tags for this ${kind} tracker (and trackerIds), answered now or mailed`,
            description: `Needs an editor or admin key that sees every tracker named. At most ${MAX_TRACKERS_PER_EXPORT} trackers (this one and trackerIds) in one export; the body is at most 64 KiB.`,
            parameters: [
              { name: 'id', in: 'path', required: true, schema: ID_SCHEMA },
              {
                name: 'download',
                in: 'query',
                schema: { enum: ['0', '1'] },
                description: '1: answer a text file; 0 (as without it): JSON',
              },
            ],
            requestBody: {
              required: true,
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      trackerIds: {
                        type: 'array',
                        items: ID_SCHEMA,
                        maxItems: MAX_TRACKERS_PER_EXPORT - 1,
                        description: `more ${kind} trackers to export at once`,
                      },
                      type: {
                        enum: EXPORT_TYPES,
                        default: 'pixel',
                        description:
                          'an image tag (t=2), a script tag (t=1), or a VAST <Impression> element for a video or audio ad (t=2); a click tracker exports its URL whatever it is',
                      },
                      secure: { type: 'boolean', default: true, description: 'https URLs' },
                      params: {
                        type: 'array',
                        items: { enum: EXPORT_PARAMS },
                        default: [],
                        description:
                          'the parameters the tag carries (none by default: without cachebuster, the answer warns, cachebuster_missing); redir is always written last; preview (a preview render is recorded as preview, not counted) only with placeholders xandr_macros, whose ${IS_PREVIEW} fills it',
                      },
                      placeholders: {
                        enum: PLACEHOLDER_SYNTAXES,
                        default: 'xandr',
                        description:
                          'whose macros fill the parameters; with type vast the default is vast, whose [CACHEBUSTING] the player fills',
                      },
                      delivery: { enum: ['now', 'email'], default: 'now' },
                      email: {
                        type: 'string',
                        format: 'email',
                        description: 'where to mail the tags; with delivery email only, where it is required',
                      },
                    },
                    additionalProperties: false,
                  },
                  example: {
                    type: 'pixel',
                    secure: true,
                    params: ['cachebuster', 'ancost', 'redir'],
                    placeholders: 'xandr',
                    delivery: 'now',
                  },
                },
              },
            },
            responses: {
              '200': {
                description:
                  '{tags: [{trackerId, tag}], warnings}, or a text file with download=1 (each warning a "# warning <code>: <message>" line under its tracker\'s)',
                headers: attachment(
                  'with download=1',
                  `tally-${kind}-trackers\\.txt`,
                  `tally-${kind}-trackers.txt`,
                ),
                content: {
                  'application/json': {
                    schema: {
                      type: 'object',
                      required: ['tags', 'warnings'],
                      properties: {
                        tags: { type: 'array', items: { $ref: '#/components/schemas/Tag' } },
                        warnings: EXPORT_WARNINGS,
                      },
                    },
                  },
                  'text/plain': { schema: { type: 'string' } },
                },
              },
              '202': {
                description: 'mailed, the warnings in the mail too',
                content: {
                  'application/json': {
                    schema: {
                      type: 'object',
                      required: ['delivery', 'email', 'tags', 'warnings'],
                      properties: {
                        delivery: { const: 'email' },
                        email: { type: 'string' },
                        tags: { type: 'array', items: { $ref: '#/components/schemas/Tag' } },
                        warnings: EXPORT_WARNINGS,
                      },
                    },
                  },
                },
              },
              '400': badRequest(
                'VALIDATION_FAILED: the message says what to fix (a malformed %-escape in the path or query too); INVALID_JSON, BODY_TOO_DEEP: the body is not JSON in UTF-8 (one in UTF-16 or UTF-32 is told so), or nests too deep',
              ),
              ...AUTHENTICATED_ERRORS,
              '404': errorResponse('NOT_FOUND: no such tracker of this kind that the key sees'),
              ...BODY_ERRORS,
              '422': errorResponse('MAIL_NOT_CONFIGURED: no TALLY_SMTP_URL; use delivery now'),
              '502': errorResponse(
                'MAIL_FAILED: the SMTP server refused the message (its reply is given), could not be reached or failed',
              ),
            },
          },
        },
      ]),
    ),
    ...Object.fromEntries(
      (['imptr', 'clktr'] as const).map((path) => {
        const hit = {
          security: [],
          parameters: [
            {
              name: 'id',
              in: 'query',
              schema: { type: 'integer', minimum: 1 },
              description: 'the tracker id (or send code)',
            },
            {
              name: 'code',
              in: 'query',
              schema: { type: 'string' },
              description: "the tracker's custom code",
            },
            {
              name: 'member',
              in: 'query',
              schema: { type: 'integer', minimum: 1 },
              description: "the tracker's account (a code names the operator account's tracker without it)",
            },
            {
              name: 'cachebuster',
              in: 'query',
              schema: { type: 'string' },
              description:
                'the same one on the tracker from the same device (address and User-Agent) within 5 minutes is a duplicate; missing, empty or an unreplaced placeholder counts, flagged cachebusterMissing',
            },
            {
              name: 'ancost',
              in: 'query',
              schema: { type: 'number', minimum: 0, maximum: MAX_AMOUNT_MICROS / 1_000_000 },
              description:
                'media cost of this event in currency units, rounded half up to the micro (6 decimals); overrides the payment rule; a malformed one is recorded as missing',
            },
            {
              name: 'preview',
              in: 'query',
              schema: { enum: ['1'] },
              description:
                "a preview (Xandr's ${IS_PREVIEW}; a value AUDIT before redir alike): recorded as preview, never counted",
            },
            ...(path === 'imptr'
              ? [
                  {
                    name: 't',
                    in: 'query',
                    schema: { enum: ['1', '2'], default: '2' },
                    description: '1 a script, 2 an image',
                  },
                ]
              : []),
            {
              name: 'redir',
              in: 'query',
              schema: { type: 'string' },
              description:
                'last: everything after redir= is the http(s) target, taken as it stands (its own ? and & included), but a target percent-encoded whole (https%3A%2F%2F…) is decoded once',
            },
          ],
          responses:
            path === 'imptr'
              ? {
                  '200': {
                    description: 'a 1×1 GIF (t=2), or a script (t=1)',
                    content: { 'image/gif': {}, 'application/javascript': {} },
                  },
                  '302': redirect('to redir, when it is an allowed http(s) URL'),
                  '400': hitMalformed,
                  '405': HIT_NOT_ALLOWED,
                  ...CONNECTION_ERRORS,
                  '503': HIT_UNAVAILABLE,
                }
              : {
                  '302': redirect("to redir, else to the tracker's clickUrl"),
                  '400': {
                    description: `no allowed landing page: an HTML page says why (the click is recorded as no_landing_page, not counted); ${hitMalformed.description}, in the error envelope`,
                    headers: { 'X-Request-Id': { ...REQUEST_ID_HEADER['X-Request-Id'], required: false } },
                    content: { 'text/html': {}, ...hitMalformed.content },
                  },
                  '404': { description: 'no such click tracker: an HTML page', content: { 'text/html': {} } },
                  '405': HIT_NOT_ALLOWED,
                  ...CONNECTION_ERRORS,
                  '503': {
                    ...HIT_UNAVAILABLE,
                    content: { ...HIT_UNAVAILABLE.content, 'text/html': {} },
                    description: `${HIT_UNAVAILABLE.description}; a click with a landing page that was not recorded is answered in text/html, a page sending the browser on to it (a refresh and a link); or a prefetched or prerendered click (Sec-Purpose, Purpose, X-Purpose or X-Moz naming prefetch, prerender, preview or instant), recorded as prefetch and declined in text/plain rather than redirected, with Retry-After as every 503 (the browser prefetches from Tally no sooner): the browser discards it and asks again as the link is followed`,
                  },
                },
        };
        const summary =
          path === 'imptr'
            ? 'Impression tracker hit (public): a 1×1 GIF (t=2), a script (t=1), or 302 to redir'
            : "Click tracker hit (public): 302 to redir, else to the tracker's clickUrl";
        const description =
          'Recorded before it is answered. HEAD is recorded as invalid traffic; POST is a hit as GET is.';
        return [
          `/${path}`,
          {
            get: { summary, description, ...hit },
            post: { summary: `${summary} (POST)`, description, ...hit },
          },
        ];
      }),
    ),
    '/omid/verify.js': {
      get: {
        summary: 'OMID verification script',
        security: [],
        responses: {
          '200': { description: 'JavaScript', content: { 'application/javascript': {} } },
          '400': badRequest(),
          ...ROUTE_ERRORS,
        },
      },
    },
    '/docs': {
      get: {
        summary: 'This OpenAPI description',
        security: [],
        responses: {
          '200': {
            description: 'OpenAPI 3.1, JSON',
            content: {
              'application/json': { schema: { type: 'object', required: ['openapi', 'info', 'paths'] } },
            },
          },
          '400': badRequest(),
          ...ROUTE_ERRORS,
        },
      },
    },
    '/healthz': {
      get: {
        summary: 'Liveness',
        security: [],
        description:
          'Answers {"status": "starting"} while Tally starts (migrating or opening its ledger, which may take minutes after an upgrade), before it listens for anything else.',
        responses: { '200': status('ok', 'starting'), '400': badRequest(), ...ROUTE_ERRORS },
      },
    },
    '/readyz': {
      get: {
        summary: 'Readiness',
        security: [],
        responses: {
          '200': status('ready'),
          '400': badRequest(),
          ...ROUTE_ERRORS,
          '503': errorResponse(
            "UNAVAILABLE: starting (migrating or opening the ledger, loading the live dedupe claims), shutting down, or the ledger failing to commit (for 5 s after a failed commit, unless one succeeds, and while a commit has waited 2 s or more, neither done nor failed), or the data directory's disk having less free than TALLY_MIN_FREE_DISK_MB (notices are still counted meanwhile)",
            {
              'Retry-After': {
                description:
                  'when to look again, in seconds (1): each reason passes, and a Tally restarted after a shutdown may be ready',
                schema: { type: 'string', pattern: '^[0-9]+$', example: '1' },
              },
            },
          ),
        },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics',
        description:
          'Public unless TALLY_METRICS_KEY is set; then it asks for that key as Authorization: Bearer <key>.',
        security: [],
        responses: {
          '200': { description: 'text exposition', content: { 'text/plain': {} } },
          '400': badRequest(),
          ...ROUTE_ERRORS,
          '401': errorResponse(
            'UNAUTHENTICATED: TALLY_METRICS_KEY is set, and the request did not send it',
            BEARER_CHALLENGE,
          ),
        },
      },
    },
  }),
};
