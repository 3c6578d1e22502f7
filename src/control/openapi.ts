import { PLACEHOLDER_SYNTAXES } from '../domain/tag-export.js';
import { REPORT_DIMENSIONS } from '../ports/ledger.js';
import { CATALOG_OPENAPI_PATHS } from './catalog/openapi.js';

const errorEnvelope = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'requestId'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, requestId: { type: 'string' } },
    },
  },
};

const errors = {
  '400': {
    description: 'Invalid input',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  },
  '401': {
    description: 'Missing or unknown API key',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  },
  '403': {
    description: 'The key lacks the role or scope',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  },
};

/** The OpenAPI 3.1 description of Tally's API, served at `/docs`. */
export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'Tally',
    version: '0.1.0',
    description:
      'Counts billable ad impressions. Errors use one envelope {"error": {"code", "message", "requestId"}}. Money is integer micros in reports; amounts sent in are decimal currency units.',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: errorEnvelope,
      Win: {
        type: 'object',
        required: ['request', 'seat', 'bid'],
        properties: {
          request: { type: 'object', description: 'OpenRTB 2.5/2.6 BidRequest' },
          seat: { type: 'string' },
          bid: { type: 'object', description: 'OpenRTB Bid (the winner)' },
          clearingPrice: { type: 'number', description: 'defaults to bid.price' },
          bidResponseId: {
            type: 'string',
            description: 'the BidResponse.bidid, for ${AUCTION_BID_ID} (empty without it)',
          },
          currency: { type: 'string', default: 'USD' },
          auctionTimeMs: { type: 'integer', description: 'defaults to now' },
          publisherBurl: { type: 'boolean', description: 'the publisher fires burl' },
          test: { type: 'boolean', description: 'a test/preview win: never counted' },
        },
      },
      WinResult: {
        oneOf: [
          {
            type: 'object',
            properties: {
              ok: { const: true },
              format: { enum: ['banner', 'video', 'audio', 'native'] },
              channel: { enum: ['web', 'app', 'ctv'] },
              method: { enum: ['adm', 'omid', 'burl', 'vast', 'native'] },
              ttlSeconds: { type: 'integer' },
              adm: { type: ['string', 'null'] },
              burl: { type: ['string', 'null'] },
              noticeUrls: { type: 'object', additionalProperties: { type: 'string' } },
              warnings: { type: 'array', items: { type: 'string' } },
            },
          },
          {
            type: 'object',
            properties: {
              ok: { const: false },
              error: {
                type: 'object',
                properties: { code: { type: 'string' }, message: { type: 'string' } },
              },
            },
          },
        ],
      },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/v1/wins': {
      post: {
        summary: 'Register auction wins; get instrumented markup and notice URLs',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { wins: { type: 'array', items: { $ref: '#/components/schemas/Win' } } },
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
                  properties: {
                    results: { type: 'array', items: { $ref: '#/components/schemas/WinResult' } },
                  },
                },
              },
            },
          },
          ...errors,
        },
      },
    },
    '/n/{token}': {
      get: {
        summary:
          'Billing or tracking notice (public). Answers a 1×1 GIF (204 with f=b), or 302 to the DSP burl for a counted publisher burl',
        security: [],
        parameters: [
          { name: 'token', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'f', in: 'query', schema: { enum: ['b'] } },
          { name: 'preview', in: 'query', schema: { enum: ['1'] } },
        ],
        responses: {
          '200': { description: 'GIF' },
          '204': { description: 'beacon' },
          '302': { description: 'to the DSP burl' },
          '503': { description: 'overloaded: retry' },
        },
      },
    },
    '/v1/reports': {
      get: {
        summary: 'Hourly-rollup reports, JSON or CSV',
        description:
          'Rows come from hourly rollups by the UTC hour the impression was served: the hours that ' +
          'begin in [from, to). from and to must be on the hour in UTC (minutes and seconds zero), ' +
          'each an RFC 3339 date-time with its offset (Z or ±hh:mm; send a + as %2B), e.g. ' +
          '2026-12-03T11:00:00Z, or a date, e.g. 2026-12-03, meaning 00:00 UTC. Any other time is ' +
          'refused (400 VALIDATION_FAILED), as are an hour filter not on a UTC hour and a day filter ' +
          'not at 00:00 UTC. format=csv or format=json chooses the output whatever Accept says; ' +
          'without it, Accept: text/csv asks for CSV. A report of more rows than the server allows ' +
          '(TALLY_REPORT_MAX_ROWS, 100 000 unless set) is refused with 400 REPORT_TOO_LARGE.',
        parameters: [
          ...(['from', 'to'] as const).map((name) => ({
            name,
            in: 'query',
            required: true,
            schema: { type: 'string' },
            description: 'on a UTC hour: an RFC 3339 date-time with its offset, or a date (00:00 UTC)',
          })),
          {
            name: 'groupBy',
            in: 'query',
            schema: { type: 'string', description: `comma-separated: ${REPORT_DIMENSIONS.join(', ')}` },
          },
          { name: 'format', in: 'query', schema: { enum: ['json', 'csv'] } },
          ...REPORT_DIMENSIONS.map((name) => ({
            name,
            in: 'query',
            schema: { type: 'string' },
            description: `filter on ${name}`,
          })),
        ],
        responses: {
          '200': {
            description:
              'rows of dimensions and metrics (events, priceMicros, mediaCostMicros, revenueMicros, profitMicros)',
          },
          ...errors,
        },
      },
    },
    '/v1/deliveries': {
      get: {
        summary: 'DSP burl deliveries by status, newest first',
        parameters: [
          { name: 'status', in: 'query', schema: { enum: ['pending', 'delivered', 'dead'] } },
          { name: 'limit', in: 'query', schema: { type: 'integer', maximum: 1000 } },
          { name: 'after', in: 'query', schema: { type: 'integer' } },
        ],
        responses: { '200': { description: 'deliveries and the next cursor' }, ...errors },
      },
    },
    ...CATALOG_OPENAPI_PATHS,
    ...Object.fromEntries(
      (['impression', 'click'] as const).map((kind) => [
        `/v1/${kind}-trackers/{id}/export`,
        {
          post: {
            summary: `Tags for this ${kind} tracker (and trackerIds), answered now or mailed`,
            parameters: [
              { name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } },
              { name: 'download', in: 'query', schema: { enum: ['1'] }, description: 'answer a text file' },
            ],
            requestBody: {
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      trackerIds: { type: 'array', items: { type: 'integer', minimum: 1 }, maxItems: 499 },
                      type: { enum: ['pixel', 'javascript'], default: 'pixel' },
                      secure: { type: 'boolean', default: true },
                      params: { type: 'array', items: { enum: ['cachebuster', 'ancost', 'redir'] } },
                      placeholders: { enum: PLACEHOLDER_SYNTAXES, default: 'xandr' },
                      delivery: { enum: ['now', 'email'], default: 'now' },
                      email: { type: 'string', description: 'where to mail the tags (delivery email)' },
                    },
                  },
                },
              },
            },
            responses: {
              '200': { description: '{tags: [{trackerId, tag}]}, or a text file with download=1' },
              '202': { description: 'mailed: {delivery, email, tags}' },
              ...errors,
            },
          },
        },
      ]),
    ),
    ...Object.fromEntries(
      (['imptr', 'clktr'] as const).map((path) => [
        `/${path}`,
        {
          get: {
            summary:
              path === 'imptr'
                ? 'Impression tracker hit (public): a 1×1 GIF (t=2), a script (t=1), or 302 to redir'
                : "Click tracker hit (public): 302 to redir, else to the tracker's clickUrl",
            security: [],
            parameters: [
              {
                name: 'id',
                in: 'query',
                schema: { type: 'integer' },
                description: 'the tracker id, or code',
              },
              { name: 'code', in: 'query', schema: { type: 'string' } },
              { name: 'member', in: 'query', schema: { type: 'integer' }, description: 'account of a code' },
              { name: 'cachebuster', in: 'query', schema: { type: 'string' } },
              {
                name: 'ancost',
                in: 'query',
                schema: { type: 'number' },
                description: 'overrides the payment rule',
              },
              ...(path === 'imptr' ? [{ name: 't', in: 'query', schema: { enum: ['1', '2'] } }] : []),
              {
                name: 'redir',
                in: 'query',
                schema: { type: 'string' },
                description: 'last, taken as it stands',
              },
            ],
            responses:
              path === 'imptr'
                ? { '200': { description: 'GIF or script' }, '302': { description: 'to redir' } }
                : {
                    '302': { description: 'to the landing page' },
                    '400': { description: 'no landing page: an HTML page says why' },
                    '404': { description: 'no such click tracker' },
                  },
          },
        },
      ]),
    ),
    '/omid/verify.js': {
      get: {
        summary: 'OMID verification script',
        security: [],
        responses: { '200': { description: 'JavaScript' } },
      },
    },
    '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': { description: 'ok' } } } },
    '/readyz': {
      get: {
        summary: 'Readiness',
        security: [],
        responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics',
        security: [],
        responses: { '200': { description: 'text exposition' } },
      },
    },
  } as Record<string, unknown>,
};
