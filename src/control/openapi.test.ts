import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { SqliteCatalogStore } from '../adapters/sqlite/catalog.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { isPublicAddress } from '../billing/egress.js';
import { rulesByPublisher } from '../domain/rules.js';
import { testKeyRing } from '../../test/support/claims.js';
import { EVERY_ID_KNOWN } from '../../test/support/report-catalog.js';
import type { Schema } from '../../test/support/json-schema.js';
import { schemaProblems } from '../../test/support/json-schema.js';
import { openApiProblems } from '../../test/support/openapi-structure.js';
import type { Principal } from './auth.js';
import { catalogRoutes } from './catalog/index.js';
import { parseListRequest } from './catalog/paging.js';
import { csvCell } from './csv.js';
import { billingRecordRoutes } from './billing-records.js';
import { deliveryRoutes } from './deliveries.js';
import { exportRoutes } from './export.js';
import type { RequestContext, Route } from './router.js';
import { ApiError } from './api-error.js';
import { MAX_BODY_DEPTH } from './json-body.js';
import { API_ERROR_CODES, OPENAPI_DOCUMENT, WIN_ERROR_CODES } from './openapi.js';
import { REPORT_DIMENSIONS } from '../ports/ledger.js';
import { MAX_WINS_PER_CALL, registerWins } from './register-wins.js';
import { parseReportQuery, reportRoutes } from './reports.js';
import { winRoutes } from './wins.js';
import { jsonLogger } from '../lib/log.js';

/** Routes are only listed here, never called: their dependencies need not work. */
const never = (): never => {
  throw new Error('not called when listing routes');
};

interface Operation {
  summary?: string;
  description?: string;
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema; example?: unknown }> };
  responses: Record<
    string,
    { description: string; content?: Record<string, { schema?: Schema }>; headers?: Record<string, unknown> }
  >;
}
const paths = OPENAPI_DOCUMENT.paths as Record<string, Record<string, Operation | undefined> | undefined>;
const HTTP_METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'];

function operation(path: string, method: string): Operation {
  const found = paths[path]?.[method];
  assert.ok(found !== undefined, `${method.toUpperCase()} ${path} is documented`);
  return found;
}

/** The problems of `value` against `schema`, a schema of the document. */
const problems = (value: unknown, schema: Schema): string[] =>
  schemaProblems(value, schema, OPENAPI_DOCUMENT.components.schemas);

/** Every non-test source file's text, by path. */
function sources(dir = 'src'): Map<string, string> {
  const found = new Map<string, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) for (const [file, text] of sources(path)) found.set(file, text);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
      found.set(path, readFileSync(path, 'utf8'));
  }
  return found;
}

/** Every operation of the document, with its name (`GET /v1/advertisers`). */
function operations(): {
  name: string;
  path: string;
  operation: Operation;
  responses: Operation['responses'];
}[] {
  return Object.entries(paths).flatMap(([path, item]) =>
    HTTP_METHODS.filter((method) => item?.[method] !== undefined).map((method) => {
      const found = operation(path, method);
      return { name: `${method.toUpperCase()} ${path}`, path, operation: found, responses: found.responses };
    }),
  );
}

const admin: Principal = { accountId: 1, keyId: 1, role: 'admin', scope: null };

/** Every route of the API (the public ones are src/start/public-routes.ts's), built on a ledger never read. */
function apiRoutes(): Route[] {
  const db = openSqlite(':memory:');
  const routes = [
    ...winRoutes(
      { register: never },
      1024,
      jsonLogger(() => undefined),
    ),
    ...reportRoutes({ report: never }, { publisherExternalId: never, knows: never }, 1),
    ...deliveryRoutes(new SqliteLedger(db)),
    ...billingRecordRoutes({ billingRecords: never }, 0, EVERY_ID_KNOWN),
    ...catalogRoutes(new SqliteCatalogStore(db), new SqliteAccountStore(db), never),
    ...exportRoutes(new SqliteCatalogStore(db), never, 'https://tally.example', {
      smtpUrl: undefined,
      from: '',
    }),
  ];
  db.close();
  return routes;
}

describe('the OpenAPI document served at /docs', () => {
  it('is a structurally sound OpenAPI 3.1 document, which the structure check would tell a broken one from', () => {
    assert.deepEqual(openApiProblems(OPENAPI_DOCUMENT as unknown as Record<string, unknown>), []);
    const broken = structuredClone(OPENAPI_DOCUMENT) as unknown as {
      paths: Record<string, Record<string, unknown>>;
    };
    broken.paths['/v1/advertisers/{id}'] = { ...broken.paths['/v1/advertisers/{id}'], parameters: [] };
    broken.paths['/healthz'] = { get: { responses: { '2000': { content: {} } } } };
    assert.deepEqual(
      openApiProblems(broken as unknown as Record<string, unknown>).sort(),
      [
        'GET /healthz 2000: no description',
        'GET /healthz 2000: not a status code',
        ...['DELETE', 'GET', 'PATCH', 'PUT'].map(
          (method) => `${method} /v1/advertisers/{id}: the path parameter id is not declared`,
        ),
      ].sort(),
    );
  });

  it('describes every route of the API and the hot endpoints, with its method, and no route that is not there', () => {
    const listed = [
      ...apiRoutes().map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, '{$1}')}`),
      // Public routes of src/start/public-routes.ts.
      ...['/healthz', '/readyz', '/metrics', '/docs', '/omid/verify.js'].map((path) => `GET ${path}`),
      // Served in front of the router (src/hot/notices.ts, src/hot/trackers.ts): GET and POST
      // (beacons) are notices, HEAD is recorded as invalid traffic, any other method is 405.
      ...['/n/{token}', '/imptr', '/clktr'].flatMap((path) => [`GET ${path}`, `POST ${path}`]),
    ];
    const documented = Object.entries(paths).flatMap(([path, item]) =>
      Object.keys(item ?? {})
        .filter((method) => HTTP_METHODS.includes(method))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    assert.deepEqual(
      listed.filter((route) => !documented.includes(route)),
      [],
      'routes missing from the document',
    );
    assert.deepEqual(
      documented.filter((route) => !listed.includes(route)),
      [],
      'documented routes that do not exist',
    );
  });

  it('documents the query parameters of every route that reads its query, and the refusal of any on every other route of the API', () => {
    const undocumented: string[] = [];
    for (const route of apiRoutes()) {
      const path = route.path.replace(/:(\w+)/g, '{$1}');
      const name = `${route.method} ${path}`;
      const found = operation(path, route.method.toLowerCase());
      const queryParameters = (found.parameters ?? []).filter((parameter) => parameter.in === 'query');
      if (route.readsQuery === true) {
        if (queryParameters.length === 0) undocumented.push(`${name}: its query parameters`);
      } else if (
        queryParameters.length > 0 ||
        !(found.responses['400']?.description ?? '').includes('any query parameter')
      )
        undocumented.push(`${name}: 400 for any query parameter`);
    }
    assert.deepEqual(undocumented, []);
  });

  it('lists every error code the API answers with, with its status, and only those; the README names each', () => {
    const answered = new Map<string, Set<number>>();
    for (const [file, text] of sources()) {
      // `new ApiError(400, 'CODE'`, `refused(400, 'CODE'`, `status: 431, code: 'CODE'`; and
      // `retryLater('CODE'`, a 503.
      const answers = [
        ...[...text.matchAll(/\b([1-5]\d\d),\s*(?:code:\s*)?'([A-Z][A-Z_]{3,})'/g)].map(
          ([, status, code]) => ({
            status,
            code,
          }),
        ),
        ...[...text.matchAll(/\bretryLater\(\s*'([A-Z][A-Z_]{3,})'/g)].map(([, code]) => ({
          status: '503',
          code,
        })),
      ];
      for (const { status = '', code = '' } of answers) {
        if (!answered.has(code)) answered.set(code, new Set());
        answered.get(code)?.add(Number(status));
        assert.ok(code in API_ERROR_CODES, `${code} (${file}) is in API_ERROR_CODES`);
      }
    }
    for (const [code, status] of Object.entries(API_ERROR_CODES)) {
      if (code === 'INTERNAL') continue; // sendError's fallback for anything unexpected
      assert.deepEqual([...(answered.get(code) ?? [])], [status], `${code} is answered with ${status} alone`);
    }
    const readme = readFileSync('README.md', 'utf8');
    for (const code of [...Object.keys(API_ERROR_CODES), ...WIN_ERROR_CODES])
      assert.ok(readme.includes(`\`${code}\``), `the README names ${code}`);
  });

  it('gives a /v1/wins example that registers, and results that match the documented schema', () => {
    /** An answer budget the example's other results fit in, and a markup of this size does not. */
    const ANSWER_BUDGET_CHARS = 1_000_000;
    const wins = operation('/v1/wins', 'post');
    const body = wins.requestBody?.content['application/json'];
    assert.ok(body !== undefined, 'POST /v1/wins documents a JSON request body');
    assert.deepEqual(problems(body.example, body.schema), []);
    assert.equal(
      (body.schema.properties as Record<string, Schema>).wins?.maxItems,
      MAX_WINS_PER_CALL,
      'the documented limit is the code’s',
    );
    const example = body.example as { wins: Record<string, unknown>[] };
    const [good] = example.wins;
    const bad: unknown[] = [
      'not a win',
      { ...good, bid: undefined },
      { ...good, request: { id: 'a', imp: [{ id: '2', banner: {} }], site: {} } },
      { ...good, request: { id: 'a', imp: [{ id: '1' }], site: {} }, bid: { id: 'b', impid: '1', price: 1 } },
      { ...good, request: { id: 'a', imp: [{ id: '1', banner: {} }] } },
      { ...good, request: { id: 'a', imp: [{ id: '1', banner: {}, qty: { multiplier: 3 } }], site: {} } },
      { ...good, bid: { ...(good?.bid as object), burl: `https://dsp.example/${'x'.repeat(9000)}` } },
      {
        ...good,
        request: { ...(good?.request as object), id: 'a'.repeat(2000) },
        bid: { ...(good?.bid as object), adm: '${AUCTION_ID}'.repeat(1100) },
      },
      // Its publisher's rules fail to read (the fault injected below): a fault in Tally.
      { ...good, request: { ...(good?.request as object), site: { publisher: { id: 'broken' } } } },
      // Markup that takes the answer past the budget given below.
      { ...good, bid: { ...(good?.bid as object), adm: `<div>${'x'.repeat(ANSWER_BUDGET_CHARS)}</div>` } },
      // Nested past the body's depth.
      { ...good, ext: JSON.parse(`${'['.repeat(MAX_BODY_DEPTH)}${']'.repeat(MAX_BODY_DEPTH)}`) as unknown },
    ];
    const rules = rulesByPublisher(new Map());
    const faults: unknown[] = [];
    // A win naming a member twice, which no JSON.stringify writes.
    const duplicate = JSON.stringify(good).replace('{', '{"seat":"a",');
    const answer = registerWins(
      `{"wins":[${[...example.wins, ...bad].map((item) => JSON.stringify(item)).join(',')},${duplicate}]}`,
      {
        accountId: 1,
        rulesFor: (publisherId) => {
          if (publisherId === 'broken') throw new Error('rules unreadable');
          return rules(publisherId);
        },
        keyRing: testKeyRing(),
        publicUrl: 'https://tally.example',
        priceKeysFor: () => undefined,
        allowsBurlAddress: isPublicAddress,
        nowMs: Date.now(),
      },
      (error) => faults.push(error),
      ANSWER_BUDGET_CHARS,
    );
    assert.ok(answer.ok, JSON.stringify(answer));
    assert.equal(faults.length, 1);
    const result: unknown = JSON.parse(answer.json);
    const schema = wins.responses['200']?.content?.['application/json']?.schema;
    assert.ok(schema !== undefined, 'POST /v1/wins documents its JSON 200 answer');
    assert.deepEqual(problems(result, schema), []);
    const results = (result as { results: { ok: boolean; error?: { code: string } }[] }).results;
    assert.equal(results[0]?.ok, true);
    assert.deepEqual(
      [...new Set(results.slice(1).map((item) => item.error?.code))].sort(),
      [...WIN_ERROR_CODES].sort(),
      'each documented code of a refused win is one the code gives',
    );
  });

  it('checks answers against the string formats the document names, so that a malformed time or URL, or a day its month lacks, fails', () => {
    const formatted = (format: string) => ({ type: 'string', format });
    assert.deepEqual(problems('2026-12-05T01:02:03.000Z', formatted('date-time')), []);
    assert.deepEqual(problems('2026-12-05', formatted('date-time')), ['$: not a date-time']);
    assert.deepEqual(problems('2026-12-05', formatted('date')), []);
    assert.deepEqual(problems('12/05/2026', formatted('date')), ['$: not a date']);
    assert.deepEqual(problems('2026-02-30', formatted('date')), ['$: not a date']);
    assert.deepEqual(problems('2026-02-30T01:02:03Z', formatted('date-time')), ['$: not a date-time']);
    assert.deepEqual(problems('https://tally.example/x', formatted('uri')), []);
    assert.deepEqual(problems('tally.example/x', formatted('uri')), ['$: not a uri']);
  });

  it('gives no catalog list filter a default, as a list without one holds every object', () => {
    for (const path of Object.keys(OPENAPI_DOCUMENT.paths).filter((path) => path.startsWith('/v1/'))) {
      const list = (OPENAPI_DOCUMENT.paths as Record<string, { get?: Operation }>)[path]?.get;
      for (const parameter of list?.parameters ?? []) {
        if (parameter.in !== 'query' || parameter.name === 'limit') continue;
        assert.equal(parameter.schema.default, undefined, `${path} ${parameter.name}`);
      }
    }
  });

  it('bounds every list’s after as the lists read it: a page’s next, never below 0', () => {
    const refusesBelow = (query: string): boolean => {
      try {
        parseListRequest(new URLSearchParams(query), {});
        return false;
      } catch (error) {
        return error instanceof ApiError && error.status === 400;
      }
    };
    assert.deepEqual([refusesBelow('after=0'), refusesBelow('after=-1')], [false, true]);
    // Every list that pages (takes a limit) documents its after, bounded so.
    const lists = Object.entries(paths).filter(([, operations]) =>
      operations?.get?.parameters?.some((parameter) => parameter.name === 'limit'),
    );
    assert.notEqual(lists.length, 0, 'the document has lists');
    for (const [path, operations] of lists) {
      const after = operations?.get?.parameters?.find((parameter) => parameter.name === 'after');
      assert.equal(after?.schema.minimum, 0, path);
    }
  });

  it('lets every catalog write send back the read-only fields of an answer, which it ignores', () => {
    const writes = Object.entries(OPENAPI_DOCUMENT.paths as Record<string, Record<string, any>>).flatMap(
      ([path, operations]) =>
        (['post', 'put', 'patch'] as const)
          .filter((method) => operations[method]?.requestBody !== undefined && path !== '/v1/wins')
          .map((method) => [
            `${method} ${path}`,
            operations[method].requestBody.content['application/json'].schema,
          ]),
    );
    const catalogWrites = writes.filter(
      ([name]) =>
        /trackers|advertisers|line-items|publishers|placements|payment-rules/.test(name) &&
        !name.endsWith('/export'),
    );
    assert.ok(catalogWrites.length >= 14, `${catalogWrites.length} catalog writes`);
    for (const [name, schema] of catalogWrites) {
      assert.equal(schema.additionalProperties, false, name);
      for (const field of ['id', 'createdAt', 'updatedAt'])
        assert.equal(schema.properties[field]?.readOnly, true, `${name} ${field}`);
    }
  });

  it('documents 413 BODY_TOO_LARGE and 415 UNSUPPORTED_MEDIA_TYPE on every operation that takes a body', () => {
    const withBody = Object.entries(paths).flatMap(([path, item]) =>
      HTTP_METHODS.filter((method) => item?.[method]?.requestBody !== undefined).map((method) => ({
        name: `${method.toUpperCase()} ${path}`,
        responses: operation(path, method).responses,
      })),
    );
    // At least the wins, the 21 catalog writes, a new API key, the allow-list and the 2 tag exports.
    assert.ok(withBody.length >= 26, withBody.map(({ name }) => name).join(', '));
    assert.deepEqual(
      withBody
        .filter(({ responses }) => responses['413'] === undefined || responses['415'] === undefined)
        .map(({ name }) => name),
      [],
      'operations that take a body without documenting 413 and 415',
    );
  });

  it('documents on every operation the answers any request may get, in the error envelope', () => {
    const hot = ['/n/{token}', '/imptr', '/clktr'];
    const missing: string[] = [];
    for (const { name, path, responses } of operations()) {
      // The notice and tracker endpoints answer 405 and 503 themselves (503 with no body, but at shutdown), and never 500.
      const expected = hot.includes(path)
        ? ['408', '417', '431']
        : ['405', '408', '417', '431', '500', '503'];
      for (const status of expected) {
        const schema = responses[status]?.content?.['application/json']?.schema;
        if (schema?.$ref !== '#/components/schemas/Error') missing.push(`${name} ${status}`);
      }
      const malformed = responses['400'];
      if (
        malformed?.content?.['application/json']?.schema?.$ref !== '#/components/schemas/Error' ||
        !malformed.description.includes('MALFORMED_REQUEST')
      )
        missing.push(`${name} 400 MALFORMED_REQUEST`);
    }
    assert.deepEqual(missing, []);
  });

  it('gives every success answer with a body its schema, and a 201 its Location', () => {
    const missing: string[] = [];
    for (const { name, responses } of operations()) {
      for (const [status, response] of Object.entries(responses)) {
        if (!/^2\d\d$/.test(status) || status === '204') continue;
        const json = response.content?.['application/json'];
        if (response.content === undefined || (json !== undefined && json.schema === undefined))
          missing.push(`${name} ${status}`);
        if (status === '201' && response.headers?.Location === undefined)
          missing.push(`${name} 201 Location`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('refuses in every request body schema the fields the server refuses: any it does not know', () => {
    const open = operations().filter(({ operation }) => {
      const schema = operation.requestBody?.content['application/json']?.schema;
      return schema !== undefined && schema.additionalProperties !== false;
    });
    assert.deepEqual(
      open.map(({ name }) => name),
      [],
    );
    const win = OPENAPI_DOCUMENT.components.schemas.Win;
    assert.deepEqual(problems({ request: {}, seat: '', bid: {} }, win), ['$.seat: shorter than 1']);
  });

  it('documents 409 on a catalog write only where the store refuses a field taken by another object', () => {
    // `reason: 'conflict', field: 'externalId'` in src/adapters/sqlite/catalog-*.ts.
    const uniqueFields = new Set<string>();
    for (const [file, text] of sources('src/adapters'))
      if (/catalog-[a-z]+\.ts$/.test(file))
        for (const match of text.matchAll(/reason: 'conflict',\s*field: '(\w+)'/g))
          uniqueFields.add(match[1] ?? '');
    assert.notEqual(uniqueFields.size, 0, 'the catalog stores refuse some field as a conflict');
    for (const { name, operation: write, responses } of operations()) {
      const schema = write.requestBody?.content['application/json']?.schema;
      if (!/^(POST|PATCH|PUT) \/v1\//.test(name) || schema === undefined || name.endsWith('/export'))
        continue;
      const fields = Object.keys(schema.properties ?? {});
      assert.equal(
        responses['409'] !== undefined,
        fields.some((field) => uniqueFields.has(field)),
        name,
      );
    }
  });

  it('documents the 404 of reading or revoking an API key that does not exist', () => {
    for (const method of ['get', 'delete'] as const) {
      const responses = (
        OPENAPI_DOCUMENT.paths['/v1/api-keys/{id}'] as Record<string, { responses: Record<string, unknown> }>
      )[method]?.responses;
      assert.ok(responses?.['404'] !== undefined, method);
    }
  });

  it('documents the report parameters the API takes, and no other', () => {
    const reports = operation('/v1/reports', 'get');
    const names = (reports.parameters ?? []).map((parameter) => parameter.name);
    assert.equal(new Set(names).size, names.length, 'no parameter is listed twice');
    const sample = (name: string, schema: Schema): string => {
      if (name === 'from' || name === 'day') return '2026-12-03';
      if (name === 'to') return '2026-12-04T00:00:00Z';
      if (name === 'hour') return '2026-12-03T11:00:00Z';
      if (name === 'groupBy') return 'hour,outcome';
      if (Array.isArray(schema.enum)) return String(schema.enum.at(-1));
      if (typeof schema.example === 'string') return schema.example;
      return schema.pattern === undefined ? 'x' : '7';
    };
    const all = new URLSearchParams(
      (reports.parameters ?? []).map((parameter): [string, string] => [
        parameter.name,
        sample(parameter.name, parameter.schema),
      ]),
    );
    assert.doesNotThrow(() => parseReportQuery(all, admin, () => null));
    const required = (reports.parameters ?? []).filter((parameter) => parameter.required === true);
    for (const parameter of required) {
      const without = new URLSearchParams(all);
      without.delete(parameter.name);
      assert.throws(
        () => parseReportQuery(without, admin, () => null),
        ApiError,
        `${parameter.name} is required`,
      );
    }
    all.set('undocumented', 'x');
    assert.throws(() => parseReportQuery(all, admin, () => null), /unknown parameter/);
  });

  it('documents each report filter as the API checks it: a value its schema admits is taken, any other refused', () => {
    const reports = operation('/v1/reports', 'get');
    const range = 'from=2026-12-03&to=2026-12-04';
    // Values of every dimension, and values near them that no dimension takes.
    const values = [
      '',
      '0',
      '7',
      '099',
      '303',
      '999',
      '1000',
      'abc',
      '[ERRORCODE]',
      'USD',
      'usd',
      'true',
      'counted',
      'not_counted',
      'invalid_traffic',
      'head_request',
      'exchange',
      'web',
      'vast',
      'vast_error',
    ];
    // Times are documented in words, and format is also the output: each is checked elsewhere.
    const filters = (reports.parameters ?? []).filter(
      (parameter) =>
        (REPORT_DIMENSIONS as readonly string[]).includes(parameter.name) &&
        !['hour', 'day', 'format'].includes(parameter.name),
    );
    assert.equal(
      filters.length,
      REPORT_DIMENSIONS.length - 3,
      'every other dimension is a documented filter',
    );
    for (const { name, schema } of filters) {
      for (const value of values) {
        const query = new URLSearchParams(`${range}&${name}=${encodeURIComponent(value)}`);
        let taken = true;
        try {
          parseReportQuery(query, admin, () => null);
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          taken = false;
        }
        assert.equal(taken, problems(value, schema).length === 0, `${name}=${JSON.stringify(value)}`);
      }
    }
  });

  it('describes the CSV cells written after a quote as csvCell writes them, in reports and billing records', () => {
    const reports = operation('/v1/reports', 'get').description ?? '';
    const records =
      operation('/v1/billing-records', 'get').parameters?.find((parameter) => parameter.name === 'format')
        ?.description ?? '';
    const escaped: [words: string, cell: string][] = [
      ['|', '|cmd'],
      ['full-width', '\uFF1D1+1'],
      ['after any white space', ' =1+1'],
      ['NUL', '\0x'],
      ["with '", "'x"],
      ['SEPT2', 'SEPT2'],
      ['50%', '50%'],
    ];
    for (const [words, cell] of escaped) {
      assert.equal(csvCell(cell)[0], "'", `csvCell escapes ${JSON.stringify(cell)}`);
      assert.ok(reports.includes(words), `the reports' description names ${words}`);
    }
    assert.match(records, /formula/, 'the billing records say their CSV cells are escaped too');
  });

  it('documents the 503 a prefetched or prerendered click gets, recorded as prefetch, beside the retry, Retry-After required in both', () => {
    const declined = operation('/clktr', 'get').responses['503']?.description ?? '';
    assert.match(
      declined,
      /prefetch(?:ed)? or prerendered click[^]*recorded as prefetch[^]*with Retry-After/,
    );
    const retryAfter = operation('/clktr', 'get').responses['503']?.headers?.['Retry-After'] as
      { required?: boolean } | undefined;
    assert.equal(retryAfter?.required, true);
    assert.match(declined, /overloaded or not recorded: retry/);
    assert.doesNotMatch(operation('/imptr', 'get').responses['503']?.description ?? '', /prefetch/);
  });

  it('names each operation with the article its noun takes: an advertiser, an impression tracker', () => {
    for (const { name, operation: documented } of operations()) {
      for (const text of [documented.summary ?? '', documented.description ?? '']) {
        assert.doesNotMatch(text, /\ba [aeio]/i, `${name}: ${text}`);
      }
    }
  });

  it('documents the limits of GET /v1/deliveries as the handler applies them', async () => {
    const deliveries = operation('/v1/deliveries', 'get');
    const limit = deliveries.parameters?.find((parameter) => parameter.name === 'limit')?.schema;
    const status = deliveries.parameters?.find((parameter) => parameter.name === 'status')?.schema;
    assert.ok(limit !== undefined && status !== undefined, 'GET /v1/deliveries documents limit and status');
    const db = openSqlite(':memory:');
    const [route] = deliveryRoutes(new SqliteLedger(db));
    const call = async (query: string): Promise<number> => {
      let answered = 0;
      const res = {
        writeHead(code: number) {
          answered = code;
          return res;
        },
        end() {
          return res;
        },
      };
      const ctx = {
        req: {} as IncomingMessage,
        res: res as unknown as ServerResponse,
        url: new URL(`http://tally.example/v1/deliveries?${query}`),
        params: {},
        requestId: 'r',
        principal: admin,
        requireLiveKey: () => undefined,
      } satisfies RequestContext;
      try {
        await route?.handler(ctx);
        return answered;
      } catch (error) {
        return error instanceof ApiError ? error.status : 500;
      }
    };
    try {
      assert.equal(await call(`limit=${String(limit.maximum)}`), 200);
      assert.equal(await call(`limit=${Number(limit.maximum) + 1}`), 400);
      assert.equal(await call(`limit=${String(limit.minimum)}`), 200);
      assert.equal(await call(`limit=${Number(limit.minimum) - 1}`), 400);
      for (const value of status.enum as string[]) assert.equal(await call(`status=${value}`), 200);
      assert.equal(await call('status=unknown'), 400);
      assert.equal(await call('undocumented=1'), 400);
    } finally {
      db.close();
    }
  });
});
