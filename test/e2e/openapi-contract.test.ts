import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Schema } from '../support/json-schema.js';
import { schemaProblems } from '../support/json-schema.js';
import type { TestServer } from '../support/server.js';
import { startServer } from '../support/server.js';
import { CHROME } from '../support/user-agents.js';

interface Documented {
  description: string;
  content?: Record<string, { schema?: Schema }>;
  headers?: Record<string, { required?: boolean }>;
}
interface Document {
  paths: Record<string, Record<string, { responses: Record<string, Documented> } | undefined>>;
  components: { schemas: Record<string, Schema> };
}
interface Answer {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * The headers of Tally's own a client acts on (lower case, as node:http reads them): an answer
 * that carries one must document it, or a client written against the document never learns of it.
 */
const CLIENT_HEADERS = [
  'allow',
  'www-authenticate',
  'retry-after',
  'location',
  'link',
  'content-disposition',
  'x-request-id',
  'x-tally-warnings',
];

/** One HTTP/1.1 exchange: `headers` as sent, the body as JSON when there is one. */
function exchange(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Answer> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: text === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const received = Buffer.concat(chunks).toString('utf8');
          const json = /json/.test(res.headers['content-type'] ?? '');
          resolve({
            status: res.statusCode ?? 0,
            body: json ? JSON.parse(received) : received,
            headers: res.headers,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

describe('the answers of a running server, against the OpenAPI document it serves at /docs', () => {
  let server: TestServer;
  let docs: Document;

  /** The documented path a request path is an instance of (`/v1/advertisers/7` → `/v1/advertisers/{id}`). */
  const templateOf = (path: string): string => {
    const pathname = path.split('?')[0] ?? path;
    const found = Object.keys(docs.paths).find((template) =>
      new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`).test(pathname),
    );
    assert.ok(found !== undefined, `${pathname} is documented`);
    return found;
  };

  /**
   * Sends a request (with the admin key unless `headers` says otherwise), and checks its answer
   * against the document: the status is one the operation lists, a JSON body matches the schema
   * given for it, and the headers it requires are there.
   */
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = { authorization: `Bearer ${server.adminKey}` },
  ): Promise<Answer> => {
    const answer = await exchange(server.port, method, path, headers, body);
    const template = templateOf(path);
    const name = `${method} ${template} answering ${answer.status}`;
    const item = docs.paths[template] ?? {};
    // A method the path does not take is answered as each of its operations documents it.
    const operations =
      item[method.toLowerCase()] === undefined
        ? Object.values(item).filter((value) => value?.responses !== undefined)
        : [item[method.toLowerCase()]];
    for (const operation of operations) {
      const documented = operation?.responses[String(answer.status)];
      assert.ok(documented !== undefined, `${name} (${JSON.stringify(answer.body)}): documented`);
      if (typeof answer.body !== 'string') {
        const schema = documented.content?.['application/json']?.schema;
        assert.ok(schema !== undefined, `${name}: a schema for its JSON`);
        assert.deepEqual(schemaProblems(answer.body, schema, docs.components.schemas), [], name);
      }
      for (const [header, spec] of Object.entries(documented.headers ?? {}))
        if (spec.required === true) assert.ok(answer.headers[header.toLowerCase()] !== undefined, header);
      const declared = Object.keys(documented.headers ?? {}).map((header) => header.toLowerCase());
      assert.deepEqual(
        CLIENT_HEADERS.filter((header) => answer.headers[header] !== undefined && !declared.includes(header)),
        [],
        `${name}: the headers it answers with that a client reads are documented`,
      );
    }
    return answer;
  };

  /** Sends a write that must succeed, and answers the object. */
  const ok = async (method: string, path: string, body?: unknown): Promise<Record<string, any>> => {
    const answer = await call(method, path, body);
    assert.ok(answer.status === 200 || answer.status === 201, JSON.stringify(answer.body));
    return answer.body as Record<string, any>;
  };

  before(async () => {
    server = await startServer();
    docs = (await exchange(server.port, 'GET', '/docs', {})).body as Document;
  });
  after(async () => {
    await server.dispose();
  });

  it('answers the health checks, /docs, /metrics and the OMID script as documented, each 200 with the caller’s X-Request-Id', async () => {
    for (const path of ['/healthz', '/readyz', '/docs', '/metrics', '/omid/verify.js']) {
      const answer = await call('GET', path, undefined, { 'x-request-id': 'contract-check.1' });
      assert.equal(answer.status, 200, path);
      assert.equal(answer.headers['x-request-id'], 'contract-check.1', path);
    }
  });

  it('answers a method a path does not take 405, and an unknown Expect 417, as each operation documents', async () => {
    for (const template of Object.keys(docs.paths)) {
      const path = template.replace(/\{\w+\}/g, '1');
      assert.equal((await call('OPTIONS', path)).status, 405, path);
      const expecting = await call('GET', path, undefined, { expect: 'nothing' });
      assert.equal(expecting.status, 417, path);
    }
  });

  it('answers 406 in the JSON envelope, as every API and public operation documents, to an Accept naming only types it does not answer in, and answers one its 200 lists', async () => {
    for (const [template, item] of Object.entries(docs.paths)) {
      const served =
        template.startsWith('/v1/') || ['/healthz', '/readyz', '/docs', '/metrics'].includes(template);
      if (!served) continue;
      const path = template.replace(/\{\w+\}/g, '1');
      for (const method of Object.keys(item)) {
        if (item[method]?.responses === undefined) continue;
        const refused = await call(method.toUpperCase(), path, undefined, {
          authorization: `Bearer ${server.adminKey}`,
          accept: 'application/xml',
        });
        assert.equal(refused.status, 406, `${method} ${path}`);
        assert.equal(refused.body.error.code, 'NOT_ACCEPTABLE', `${method} ${path}`);
      }
    }
    for (const [path, accept] of [
      ['/metrics', 'text/plain'],
      ['/omid/verify.js', 'application/javascript'],
      ['/omid/verify.js', 'text/javascript'],
      ['/v1/billing-records', 'text/csv'],
      ['/v1/advertisers', 'application/json'],
      ['/v1/advertisers', '*/*'],
    ] as const) {
      const answer = await call('GET', path, undefined, {
        authorization: `Bearer ${server.adminKey}`,
        accept,
      });
      assert.equal(answer.status, 200, `${path} ${accept}`);
    }
    const csvOnly = await call('GET', '/v1/advertisers', undefined, {
      authorization: `Bearer ${server.adminKey}`,
      accept: 'text/csv',
    });
    assert.equal(csvOnly.status, 406, 'a list has no CSV');
  });

  it('answers a win, its notice, the delivery it keeps, its billing record and the report of it as documented', async () => {
    // The document's own example, its burl fired by the publisher.
    const documented = docs.paths['/v1/wins']?.post as unknown as {
      requestBody: { content: { 'application/json': { example: { wins: [{ request: object }] } } } };
    };
    const [example] = documented.requestBody.content['application/json'].example.wins;
    const win = { ...example, request: { ...example.request, id: 'contract-1' }, publisherBurl: true };
    // Days taken before the win is registered: a window that holds it even across midnight.
    const today = new Date().toISOString().slice(0, 10);
    const later = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    const registered = await call('POST', '/v1/wins', { wins: [win, { ...win, seat: '' }] });
    assert.deepEqual(
      registered.body.results.map((result: { ok: boolean }) => result.ok),
      [true, false],
    );
    const burl = new URL(registered.body.results[0].burl as string);
    const notice = await call('GET', `${burl.pathname}${burl.search}`, undefined, {
      'user-agent': 'okhttp/4.12.0',
    });
    assert.equal(notice.status, 302);
    const deliveries = await call('GET', `/v1/deliveries?auctionId=contract-1&from=${today}`);
    assert.deepEqual(
      deliveries.body.deliveries.map((delivery: { status: string }) => delivery.status),
      ['redirected'],
    );
    assert.equal((await call('GET', `/v1/deliveries?from=${today}&to=${today}`)).status, 400);
    const report = await call('GET', `/v1/reports?from=${today}&to=${later}&groupBy=outcome,method`);
    assert.deepEqual(
      report.body.rows.map((row: { method: string }) => row.method),
      ['burl'],
    );
    assert.equal((await call('GET', `/v1/reports?from=${today}`)).status, 400);
    // In a time zone: its times are written with their offset.
    const inParis = await call('GET', `/v1/reports?from=${today}&to=${later}&tz=Europe/Paris&groupBy=day`);
    assert.equal(inParis.status, 200);
    assert.match(inParis.body.from, /T00:00:00\.000\+0[12]:00$/);
    assert.equal((await call('GET', `/v1/reports?from=${today}&to=${later}&tz=Asia/Kolkata`)).status, 400);
    const records = await call('GET', `/v1/billing-records?from=${today}`);
    assert.deepEqual(
      records.body.records.map((record: { auctionId: string; notice: string }) => [
        record.auctionId,
        record.notice,
      ]),
      [['contract-1', 'burl']],
    );
    assert.equal((await call('GET', '/v1/billing-records?limit=1001')).status, 400);
  });

  it('answers every catalog operation, its refusals and conflicts as documented', async () => {
    const advertiser = await ok('POST', '/v1/advertisers', { name: 'Contract advertiser' });
    const lineItem = await ok('POST', '/v1/line-items', {
      advertiserId: advertiser.id,
      name: 'Contract line item',
      revenueType: 'cpm',
      revenueValue: '2.5',
    });
    const publisher = await ok('POST', '/v1/publishers', { name: 'Contract publisher', externalId: 'pub-1' });
    const placement = await ok('POST', '/v1/placements', { publisherId: publisher.id, name: 'Top' });
    const baseRule = await ok('POST', '/v1/payment-rules', {
      publisherId: publisher.id,
      name: 'Base',
      pricingType: 'revshare',
      revshare: 0.5,
    });
    const conditionalRule = await ok('POST', '/v1/payment-rules', {
      publisherId: publisher.id,
      name: 'Summer',
      pricingType: 'cpm',
      costCpm: 1.25,
      startDate: '2026-06-01',
      endDate: '2026-08-31',
      placementIds: [placement.id],
      priority: 3,
    });
    const tracker = {
      advertiserId: advertiser.id,
      name: 'Contract tracker',
      lineItemId: lineItem.id,
      publisherId: publisher.id,
    };
    const impressionTracker = await ok('POST', '/v1/impression-trackers', {
      ...tracker,
      code: 'contract-1',
      placementId: placement.id,
    });
    const clickTracker = await ok('POST', '/v1/click-trackers', {
      ...tracker,
      paymentRuleId: conditionalRule.id,
      clickUrl: 'https://advertiser.example/landing',
    });
    const objects: [string, Record<string, any>][] = [
      ['/v1/advertisers', advertiser],
      ['/v1/line-items', lineItem],
      ['/v1/publishers', publisher],
      ['/v1/placements', placement],
      ['/v1/payment-rules', baseRule],
      ['/v1/payment-rules', conditionalRule],
      ['/v1/impression-trackers', impressionTracker],
      ['/v1/click-trackers', clickTracker],
    ];
    for (const [path, object] of objects) {
      assert.equal((await call('GET', path)).status, 200);
      assert.equal((await call('GET', `${path}?limit=1`)).status, 200);
      assert.equal((await call('GET', `${path}?unknown=1`)).status, 400);
      assert.equal((await call('GET', `${path}/${object.id}`)).status, 200);
      assert.equal((await call('GET', `${path}/not-a-number`)).status, 404);
      assert.equal((await call('GET', `${path}/%zz`)).status, 400);
      assert.equal((await call('PATCH', `${path}/${object.id}`, { name: 'Renamed' })).status, 200);
      assert.equal((await call('PUT', `${path}/${object.id}`, { ...object, name: 'Replaced' })).status, 200);
      assert.equal((await call('PATCH', `${path}/${object.id}`, { unknown: 1 })).status, 400);
      assert.equal((await call('POST', path, {}, { authorization: 'Bearer unknown-key' })).status, 401);
    }
    assert.equal((await call('POST', '/v1/publishers', { name: 'Again', externalId: 'pub-1' })).status, 409);
    const again = { ...tracker, code: 'contract-1' };
    assert.equal((await call('POST', '/v1/impression-trackers', again)).status, 409);
    for (const [path, object] of objects.slice(0, 5))
      assert.equal((await call('DELETE', `${path}/${object.id}`)).status, 409, path);
    for (const [path, object] of [...objects].reverse())
      assert.equal((await call('DELETE', `${path}/${object.id}`)).status, 204, path);
  });

  it('answers the API key and redirect allow-list operations as documented, revoking a revoked key again with 204', async () => {
    const key = await ok('POST', '/v1/api-keys', { name: 'Contract reader', role: 'reader' });
    assert.equal((await call('POST', '/v1/api-keys', { name: 'x', role: 'reader', unknown: 1 })).status, 400);
    assert.equal((await call('GET', '/v1/api-keys')).status, 200);
    assert.equal((await call('GET', `/v1/api-keys/${key.id}`)).status, 200);
    assert.equal((await call('DELETE', `/v1/api-keys/${key.id}`)).status, 204);
    assert.equal((await call('DELETE', `/v1/api-keys/${key.id}`)).status, 204);
    assert.notEqual((await call('GET', `/v1/api-keys/${key.id}`)).body.revokedAt, null);
    assert.equal((await call('DELETE', '/v1/api-keys/999999')).status, 404);
    assert.equal((await call('GET', '/v1/account/redirect-allowlist')).status, 200);
    const allowlist = { enabled: true, domains: ['example.com'] };
    assert.equal((await call('PUT', '/v1/account/redirect-allowlist', allowlist)).status, 200);
    const unknown = { enabled: false, unknown: 1 };
    assert.equal((await call('PUT', '/v1/account/redirect-allowlist', unknown)).status, 400);
    assert.equal((await call('PUT', '/v1/account/redirect-allowlist', { enabled: false })).status, 200);
  });

  it('answers a publisher-scoped key its report rows, without the clearing prices, as documented', async () => {
    const publisher = await ok('POST', '/v1/publishers', { name: 'Scoped', externalId: 'pub-scoped' });
    const key = await ok('POST', '/v1/api-keys', {
      name: 'Scoped reader',
      role: 'reader',
      scope: { type: 'publisher', id: publisher.id },
    });
    const win = {
      request: {
        id: 'contract-scoped',
        imp: [{ id: '1', banner: {} }],
        site: { publisher: { id: 'pub-scoped' } },
      },
      seat: 's1',
      bid: { id: 'b1', impid: '1', price: 1.5, adm: '<div>ad</div>' },
    };
    const today = new Date().toISOString().slice(0, 10);
    const later = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    const [result] = (await call('POST', '/v1/wins', { wins: [win] })).body.results;
    const notice = await fetch(result.noticeUrls[result.method], { headers: { 'user-agent': CHROME } });
    assert.equal(notice.status, 200);
    const report = await call('GET', `/v1/reports?from=${today}&to=${later}&groupBy=publisher`, undefined, {
      authorization: `Bearer ${key.key}`,
    });
    assert.deepEqual(report.body.rows, [{ publisher: 'pub-scoped', events: 1, mediaCostMicros: 0 }]);
    assert.deepEqual(report.body.warnings, []);
  });

  it('answers a report and a page of billing records in CSV, and a tag export downloaded, as files named as documented', async () => {
    const advertiser = await ok('POST', '/v1/advertisers', { name: 'Files advertiser' });
    const lineItem = await ok('POST', '/v1/line-items', {
      advertiserId: advertiser.id,
      name: 'Files',
      revenueType: 'none',
    });
    const publisher = await ok('POST', '/v1/publishers', { name: 'Files publisher' });
    const sides = { advertiserId: advertiser.id, lineItemId: lineItem.id, publisherId: publisher.id };
    const tracker = await ok('POST', '/v1/impression-trackers', { ...sides, name: 'Files' });
    const clickTracker = await ok('POST', '/v1/click-trackers', {
      ...sides,
      name: 'Files click',
      clickUrl: 'https://advertiser.example/landing',
    });
    const files: [string, string, string][] = [
      ['GET', '/v1/reports', '/v1/reports?from=2026-11-01&to=2026-11-02&format=csv'],
      ['GET', '/v1/reports', '/v1/reports?from=2026-10-31&to=2026-11-03&tz=America/New_York&format=csv'],
      ['GET', '/v1/billing-records', '/v1/billing-records?from=2026-11-01&to=2026-11-02&format=csv'],
      [
        'POST',
        '/v1/impression-trackers/{id}/export',
        `/v1/impression-trackers/${tracker.id}/export?download=1`,
      ],
      ['POST', '/v1/click-trackers/{id}/export', `/v1/click-trackers/${clickTracker.id}/export?download=1`],
    ];
    for (const [method, template, path] of files) {
      const answer = await call(method, path, method === 'POST' ? {} : undefined);
      assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body)}`);
      const documented = (
        docs.paths[template]?.[method.toLowerCase()] as
          | {
              responses: Record<
                string,
                { content?: Record<string, unknown>; headers?: Record<string, { schema?: Schema }> }
              >;
            }
          | undefined
      )?.responses['200'];
      const type = String(answer.headers['content-type']).split(';')[0] ?? '';
      assert.equal(
        Object.keys(documented?.content ?? {}).includes(type),
        true,
        `${path}: ${type} documented`,
      );
      const disposition = documented?.headers?.['Content-Disposition']?.schema ?? { const: 'documented' };
      assert.deepEqual(
        schemaProblems(answer.headers['content-disposition'], disposition, docs.components.schemas),
        [],
        `${path}: its Content-Disposition ${String(answer.headers['content-disposition'])} as documented`,
      );
    }
  });

  it('answers a report filtered on a tracker id no tracker has with its warnings, as documented', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const later = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    const report = await call('GET', `/v1/reports?from=${today}&to=${later}&tracker=999999`);
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.deepEqual(
      report.body.warnings.map((warning: { code: string }) => warning.code),
      ['unknown_tracker'],
    );
    assert.equal(report.headers['x-tally-warnings'], 'unknown_tracker;id=999999');
  });

  it('answers a list filtered on a line item id no line item has with its warnings, as documented', async () => {
    const list = await call('GET', '/v1/impression-trackers?lineItemId=999999');
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.deepEqual(
      [list.body.items, list.body.next, list.body.warnings.map((warning: { code: string }) => warning.code)],
      [[], null, ['unknown_line_item']],
    );
    assert.equal(list.headers['x-tally-warnings'], 'unknown_line_item;id=999999');
    assert.deepEqual((await call('GET', '/v1/advertisers')).body.warnings, []);
  });

  it("takes a click tracker's clickUrl and a publisher's externalId exactly when the documented schema admits it", async () => {
    const bodySchema = (path: string, field: string): Schema => {
      const post = docs.paths[path]?.post as unknown as {
        requestBody: { content: { 'application/json': { schema: { properties: Record<string, Schema> } } } };
      };
      return post.requestBody.content['application/json'].schema.properties[field] ?? {};
    };
    const advertiser = await ok('POST', '/v1/advertisers', { name: 'Schema advertiser' });
    const lineItem = await ok('POST', '/v1/line-items', {
      advertiserId: advertiser.id,
      name: 'Schema',
      revenueType: 'none',
    });
    const publisher = await ok('POST', '/v1/publishers', { name: 'Schema publisher' });
    const clickUrl = bodySchema('/v1/click-trackers', 'clickUrl');
    for (const value of [
      'https://advertiser.example/landing?a=1',
      'HTTP://advertiser.example',
      'mailto:ads@advertiser.example',
      'urn:isbn:0451450523',
      'ftp://advertiser.example/landing',
      'https://user:secret@advertiser.example/',
      `https://advertiser.example/${'x'.repeat(2048)}`,
      'https://advertiser.example/a b',
    ]) {
      const answer = await call('POST', '/v1/click-trackers', {
        advertiserId: advertiser.id,
        name: 'Schema click',
        lineItemId: lineItem.id,
        publisherId: publisher.id,
        clickUrl: value,
      });
      const admitted = schemaProblems(value, clickUrl, docs.components.schemas).length === 0;
      assert.equal(answer.status === 201, admitted, `clickUrl ${value.slice(0, 60)}: ${answer.status}`);
    }
    const externalId = bodySchema('/v1/publishers', 'externalId');
    for (const [index, value] of [
      'pub-schema',
      ' pub-schema',
      'pub-schema ',
      'pub\tschema',
      'pub schema',
      'é'.repeat(255),
      'x'.repeat(256),
    ].entries()) {
      const answer = await call('POST', '/v1/publishers', { name: `Schema ${index}`, externalId: value });
      const admitted = schemaProblems(value, externalId, docs.components.schemas).length === 0;
      assert.equal(
        answer.status === 201,
        admitted,
        `externalId ${JSON.stringify(value.slice(0, 60))}: ${answer.status}`,
      );
    }
  });

  it('takes an amount or a fraction, as a number or a decimal string, exactly when the documented schema admits it', async () => {
    const advertiser = await ok('POST', '/v1/advertisers', { name: 'Amounts advertiser' });
    const publisher = await ok('POST', '/v1/publishers', { name: 'Amounts publisher' });
    const schemaOf = (path: string, field: string): Schema => {
      const post = docs.paths[path]?.post as unknown as {
        requestBody: { content: { 'application/json': { schema: { properties: Record<string, Schema> } } } };
      };
      return post.requestBody.content['application/json'].schema.properties[field] ?? {};
    };
    const writes: [string, string, (value: unknown) => Record<string, unknown>][] = [
      [
        '/v1/line-items',
        'revenueValue',
        (value) => ({
          advertiserId: advertiser.id,
          name: 'Amounts',
          revenueType: 'cpm',
          revenueValue: value,
        }),
      ],
      [
        '/v1/payment-rules',
        'costCpm',
        (value) => ({ publisherId: publisher.id, name: 'Cpm', pricingType: 'cpm', costCpm: value }),
      ],
      [
        '/v1/payment-rules',
        'revshare',
        (value) => ({ publisherId: publisher.id, name: 'Share', pricingType: 'revshare', revshare: value }),
      ],
    ];
    const values = [
      0.5,
      1,
      1.5,
      2.5,
      999_999.999_999,
      1_000_000,
      -1,
      1.000_000_1,
      1e-7,
      '0.5',
      '1',
      '1.',
      '.5',
      '007',
      '1.000000',
      '1.5',
      '999999.999999',
      '0000001',
      '1000000',
      '0.1234567',
      '',
      '.',
      '-1',
      '1e2',
      ' 1',
      '1,5',
    ];
    for (const [path, field, body] of writes) {
      const schema = schemaOf(path, field);
      for (const value of values) {
        const answer = await call('POST', path, body(value));
        const admitted = schemaProblems(value, schema, docs.components.schemas).length === 0;
        assert.equal(
          answer.status === 201,
          admitted,
          `${path} ${field} ${JSON.stringify(value)}: ${answer.status} ${JSON.stringify(answer.body)}`,
        );
      }
    }
  });

  it('takes null for a field of a catalog write exactly where the documented schema admits it, in a create, a replace and an edit', async () => {
    /** The properties of a write's body as the document gives them, read-only ones left out. */
    const propertiesOf = (path: string, method: string): Record<string, Schema & { readOnly?: boolean }> => {
      const operation = docs.paths[path]?.[method] as unknown as {
        requestBody: { content: { 'application/json': { schema: { properties: Record<string, Schema> } } } };
      };
      return Object.fromEntries(
        Object.entries(operation.requestBody.content['application/json'].schema.properties).filter(
          ([, schema]) => (schema as { readOnly?: boolean }).readOnly !== true,
        ),
      );
    };
    const advertiser = await ok('POST', '/v1/advertisers', { name: 'Null advertiser' });
    const lineItem = await ok('POST', '/v1/line-items', {
      advertiserId: advertiser.id,
      name: 'Null line item',
      revenueType: 'cpm',
      revenueValue: 1,
    });
    const publisher = await ok('POST', '/v1/publishers', { name: 'Null publisher' });
    const tracker = {
      advertiserId: advertiser.id,
      name: 'Null',
      lineItemId: lineItem.id,
      publisherId: publisher.id,
    };
    const bodies: [string, Record<string, unknown>][] = [
      ['/v1/advertisers', { name: 'Null' }],
      ['/v1/line-items', { advertiserId: advertiser.id, name: 'Null', revenueType: 'none' }],
      ['/v1/publishers', { name: 'Null' }],
      ['/v1/placements', { publisherId: publisher.id, name: 'Null' }],
      ['/v1/payment-rules', { publisherId: publisher.id, name: 'Null', pricingType: 'cpm', costCpm: 1 }],
      ['/v1/impression-trackers', tracker],
      ['/v1/click-trackers', tracker],
      ['/v1/api-keys', { name: 'Null', role: 'reader' }],
    ];
    const refusedNull = (answer: Answer, field: string) =>
      answer.status === 400 && new RegExp(`${field}: cannot be null`).test(answer.body.error.message);
    for (const [path, body] of bodies) {
      const object = await ok('POST', path, body);
      for (const [field, schema] of Object.entries(propertiesOf(path, 'post'))) {
        const admitted = schemaProblems(null, schema, docs.components.schemas).length === 0;
        const writes: [string, string, Record<string, unknown>][] = [
          ['POST', path, { ...body, [field]: null }],
          ...(path === '/v1/api-keys'
            ? []
            : [
                ['PUT', `${path}/${object.id}`, { ...body, [field]: null }] as [
                  string,
                  string,
                  Record<string, unknown>,
                ],
                ['PATCH', `${path}/${object.id}`, { [field]: null }] as [
                  string,
                  string,
                  Record<string, unknown>,
                ],
              ]),
        ];
        for (const [method, target, sent] of writes) {
          const answer = await call(method, target, sent);
          assert.equal(
            refusedNull(answer, field),
            !admitted,
            `${method} ${target} ${field}: null: ${answer.status} ${JSON.stringify(answer.body)}`,
          );
          if (!admitted) assert.match(answer.body.error.message, new RegExp(`${field}: [^;]*send `));
        }
      }
    }
    const allowlist = { enabled: false, domains: [] };
    for (const [field, schema] of Object.entries(propertiesOf('/v1/account/redirect-allowlist', 'put'))) {
      const answer = await call('PUT', '/v1/account/redirect-allowlist', { ...allowlist, [field]: null });
      const admitted = schemaProblems(null, schema, docs.components.schemas).length === 0;
      assert.equal(refusedNull(answer, field), !admitted, `${field}: null: ${answer.status}`);
    }
  });

  it('reads a body sent as application/json or any application/*+json type, as the document says, and refuses another type 415 as documented', async () => {
    const info = (docs as unknown as { info: { description: string } }).info.description;
    const post = docs.paths['/v1/advertisers']?.post;
    for (const said of [info, post?.responses['415']?.description ?? ''])
      assert.match(said, /application\/json, or any application\/\*\+json type \(RFC 6839/);
    const body = JSON.stringify({ name: 'Suffixed' });
    for (const [type, status] of [
      ['application/json', 201],
      ['application/merge-patch+json', 201],
      ['application/vnd.tally.advertiser+json; charset=utf-8', 201],
      ['text/json', 415],
      ['application/json-seq', 415],
      ['text/plain', 415],
    ] as const) {
      const response = await fetch(`http://127.0.0.1:${server.port}/v1/advertisers`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': type },
        body,
      });
      const answer = (await response.json()) as { error?: { code: string } };
      assert.equal(response.status, status, `${type}: ${JSON.stringify(answer)}`);
      if (status === 415) assert.equal(answer.error?.code, 'UNSUPPORTED_MEDIA_TYPE', type);
    }
  });

  it("takes an object's name exactly when the documented schema admits it", async () => {
    const post = docs.paths['/v1/advertisers']?.post as unknown as {
      requestBody: { content: { 'application/json': { schema: { properties: Record<string, Schema> } } } };
    };
    const schema = post.requestBody.content['application/json'].schema.properties.name ?? {};
    for (const [index, value] of [
      'Acme',
      ' Acme ',
      'Acme\n',
      'Café 2',
      '\u200bAcme',
      'x'.repeat(255),
      'x'.repeat(256),
      '',
      ' ',
      '\t\u3000',
      '\u200b',
      '\u200b\ufeff ',
      'Ac\nme',
      'Ac\u2028me',
      'Ac\u0000me',
    ].entries()) {
      const answer = await call('POST', '/v1/advertisers', { name: value });
      const admitted = schemaProblems(value, schema, docs.components.schemas).length === 0;
      assert.equal(
        answer.status === 201,
        admitted,
        `name ${index} ${JSON.stringify(value)}: ${answer.status}`,
      );
    }
  });

  it('takes an integer query parameter of every API list exactly when the documented schema admits it, up to the bound it documents', async () => {
    for (const [template, item] of Object.entries(docs.paths)) {
      const list = item.get as unknown as
        { parameters?: { name: string; in: string; schema: Schema }[] } | undefined;
      if (list === undefined || !template.startsWith('/v1/') || template.includes('{')) continue;
      for (const { name, schema } of list.parameters ?? []) {
        if (!([] as unknown[]).concat(schema.type).includes('integer')) continue;
        for (const value of [1, 10 ** 15 - 1, 10 ** 15, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2]) {
          const answer = await call('GET', `${template}?${name}=${value}`);
          const admitted = schemaProblems(value, schema, docs.components.schemas).length === 0;
          assert.equal(
            answer.status === 200,
            admitted,
            `${template}?${name}=${value}: ${answer.status} ${JSON.stringify(answer.body)}`,
          );
        }
      }
    }
  });

  it('takes a redirect allow-list exactly when the documented schema admits its domains', async () => {
    const put = docs.paths['/v1/account/redirect-allowlist']?.put as unknown as {
      requestBody: { content: { 'application/json': { schema: { properties: Record<string, Schema> } } } };
    };
    const schema = put.requestBody.content['application/json'].schema.properties.domains ?? {};
    for (const domains of [
      [],
      ['example.com', 'ads.example.co.uk'],
      ['Example.COM'],
      ['example.com.'],
      ['xn--caf-dma.example'],
      ['localhost', '1-2.example'],
      [`${'a'.repeat(63)}.example`],
      [`${'a'.repeat(64)}.example`],
      [`${'abcdefghi.'.repeat(25)}com`],
      [`${'abcdefghi.'.repeat(26)}com`],
      Array.from({ length: 1000 }, (_, index) => `d${index}.example`),
      Array.from({ length: 1001 }, (_, index) => `d${index}.example`),
      [''],
      ['*.example.com'],
      ['https://example.com'],
      ['example.com/path'],
      ['exa mple.com'],
      ['café.example'],
      ['-example.com'],
      ['example-.com'],
      ['example..com'],
      ['.example.com'],
      ['example_1.com'],
    ]) {
      const answer = await call('PUT', '/v1/account/redirect-allowlist', { enabled: false, domains });
      const admitted = schemaProblems(domains, schema, docs.components.schemas).length === 0;
      assert.equal(
        answer.status === 200,
        admitted,
        `${JSON.stringify(domains).slice(0, 80)}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`,
      );
    }
  });

  it('registers a win whose whole-number ids and auction time the documented schema admits, and refuses one past 2^53 - 1', async () => {
    const documented = docs.paths['/v1/wins']?.post as unknown as {
      requestBody: { content: { 'application/json': { example: { wins: [Record<string, any>] } } } };
    };
    const [example] = documented.requestBody.content['application/json'].example.wins;
    const properties = (docs.components.schemas.Win?.properties ?? {}) as Record<string, Schema>;
    const values: [string, number][] = [
      ['seat', 2 ** 53 - 1],
      ['seat', 2 ** 53],
      ['bidResponseId', 2 ** 53 - 1],
      ['bidResponseId', 2 ** 53],
      ['auctionTimeMs', 2 ** 53],
    ];
    for (const [index, [field, value]] of values.entries()) {
      const win = {
        ...example,
        request: { ...example.request, id: `contract-ids-${index}` },
        [field]: value,
      };
      const [result] = (await call('POST', '/v1/wins', { wins: [win] })).body.results;
      const admitted = schemaProblems(value, properties[field] ?? {}, docs.components.schemas).length === 0;
      assert.equal(result.ok, admitted, `${field} ${value}: ${JSON.stringify(result.error)}`);
    }
  });
});
