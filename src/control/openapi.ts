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
        parameters: [
          { name: 'from', in: 'query', required: true, schema: { type: 'string', format: 'date-time' } },
          { name: 'to', in: 'query', required: true, schema: { type: 'string', format: 'date-time' } },
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
