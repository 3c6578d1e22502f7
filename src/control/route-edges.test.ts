// Edge cases of the control routes (wins, reports, tag export, the API handler, Accept and
// /docs), each pinned by a test that a mutation audit found missing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { SqliteCatalogStore } from '../adapters/sqlite/catalog.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { CatalogSnapshot } from '../catalog-snapshot.js';
import { openToken } from '../domain/token.js';
import { FORMATS } from '../domain/types.js';
import { hourStartMs } from '../lib/time.js';
import type { KeyScope, Role } from '../ports/accounts.js';
import type { EventRecord } from '../ports/ledger.js';
import { threadKeys } from '../thread-keys.js';
import { preferredMediaType } from './accept.js';
import { newApiKey } from './auth.js';
import { exportRoutes } from './export.js';
import type { Route } from './router.js';
import { ApiError } from './api-error.js';
import { sendJson } from './send.js';
import { OPENAPI_DOCUMENT } from './openapi.js';
import { ReportThread } from './report-thread/report-thread.js';
import { reportRoutes } from './reports.js';
import { reportCatalog } from './report-id-warnings.js';
import { WinThreads } from './win-thread/win-thread.js';
import { winRoutes } from './wins.js';
import { testKeyRing } from '../../test/support/claims.js';
import { exchangeEvent, T0 } from '../../test/support/events.js';
import type { MailCatcher } from '../../test/support/mail-catcher.js';
import { startMailCatcher } from '../../test/support/mail-catcher.js';
import { storedTracker } from '../../test/support/stored-tracker.js';
import type { ApiServer } from '../../test/support/api-server.js';
import { serveApi } from '../../test/support/api-server.js';
import { jsonLogger } from '../lib/log.js';

/**
 * The control API's edges that its other tests leave open: Accept weights, which failures are
 * logged, routing of nested paths, what the wins route passes on, the report's output choice and
 * filters, tag export delivery, and /docs agreeing with the routes. Real HTTP over loopback, real
 * SQLite, a real SMTP server.
 */

const OFFERED = ['application/json', 'text/csv'];

/** Routes that fail in the ways the API handler tells apart, and a nested path. */
const probeRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/probe/unavailable',
    handler() {
      throw new ApiError(503, 'UNAVAILABLE', 'try again');
    },
  },
  {
    method: 'GET',
    path: '/v1/probe/refused',
    handler() {
      throw new ApiError(400, 'VALIDATION_FAILED', 'the caller’s to fix');
    },
  },
  {
    method: 'GET',
    path: '/v1/items/:id',
    handler: (ctx) => sendJson(ctx.res, 200, { id: ctx.params.id }, ctx.requestId),
  },
  {
    method: 'POST',
    path: '/v1/items/:id/export',
    handler: (ctx) => sendJson(ctx.res, 200, { exported: ctx.params.id }, ctx.requestId),
  },
];

const dir = mkdtempSync(join(tmpdir(), 'tally-audit-control-'));
const dbPath = join(dir, 'tally.db');
const db = openSqlite(dbPath);
const accounts = new SqliteAccountStore(db);
const ledger = new SqliteLedger(db);
const catalog = new SqliteCatalogStore(db);
const snapshot = new CatalogSnapshot(catalog, { pollIntervalMs: 60_000 });
const reports = new ReportThread(dbPath, 'tally-reports');
const ring = testKeyRing();
const wins = new WinThreads({
  ...threadKeys(ring, new Map()),
  publicUrl: 'https://tally.example',
  rules: [],
  burlPrivateNetworks: 'deny',
});
let server: ApiServer;
/** The export routes of a Tally without an SMTP server. */
let noMail: ApiServer;
let smtp: MailCatcher;
let trackerId = 0;
const keys: Record<string, string> = {};
const HOUR = new Date(hourStartMs(T0)).toISOString();
const RANGE = `from=${HOUR}&to=${new Date(hourStartMs(T0) + 3_600_000).toISOString()}`;

function keyFor(role: Role, scope: KeyScope | null = null): string {
  const { key, hash, prefix } = newApiKey();
  accounts.addKey(1, hash, prefix, role, role, scope, Date.now());
  return key;
}

/** A counted notice won by `seat` (`key` tells it from the others). */
function counted(seat: string, key: string): EventRecord {
  const event = exchangeEvent({ dedupe: { key, expiresMs: T0 + 600_000 } });
  return { ...event, dims: { ...event.dims, seat } };
}

before(async () => {
  accounts.createAccount('operator', Date.now());
  keys.editor = keyFor('editor');
  keys.reader = keyFor('reader');
  keys.scoped = keyFor('admin', { type: 'advertiser', id: 1 });
  ledger.record([counted('csv', 'n1'), counted('json', 'n2'), counted('s1', 'n3'), counted('-2+3', 'n4')]);
  trackerId = storedTracker(catalog, 'impression', Date.now());
  snapshot.start();
  smtp = await startMailCatcher();
  server = await serveApi(
    [
      ...probeRoutes,
      ...winRoutes(
        wins,
        64 * 1024,
        jsonLogger(() => undefined),
      ),
      ...reportRoutes(reports, reportCatalog(catalog), 1000),
      ...exportRoutes(catalog, () => snapshot.current(), 'http://tally.example', {
        smtpUrl: smtp.url,
        from: 'tally@tally.example',
      }),
    ],
    accounts,
  );
  noMail = await serveApi(
    exportRoutes(catalog, () => snapshot.current(), 'http://tally.example', {
      smtpUrl: undefined,
      from: 'tally@tally.example',
    }),
    accounts,
  );
});

after(async () => {
  await server.close();
  await noMail.close();
  await smtp.close();
  await reports.close();
  await wins.close();
  snapshot.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  key = keys.editor,
): Promise<{ status: number; headers: Headers; text: string; body: any }> {
  const response = await fetch(`${server.base}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${key}`, ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body };
}

function postWins(body: string, key = keys.editor) {
  return call('/v1/wins', { method: 'POST', body, headers: { 'content-type': 'application/json' } }, key);
}

const win = {
  request: { id: 'auction-1', imp: [{ id: '1', banner: {} }], site: {} },
  seat: 's1',
  bid: { id: 'b1', impid: '1', price: 1, adm: '<p>ad</p>' },
};

describe('Accept weights', () => {
  it('reads the weight parameter in any case, Q= as q=', () => {
    assert.equal(preferredMediaType('text/csv, application/json;Q=0.5', OFFERED), 'text/csv');
    assert.equal(preferredMediaType('text/csv;Q=0.5, application/json', OFFERED), 'application/json');
  });

  it('reads a weight above 1 as 1, so that it cannot outrank an unweighted type', () => {
    assert.equal(preferredMediaType('text/csv;q=1.5, application/json', OFFERED), 'application/json');
  });

  it('reads a weight of more than three decimals, which RFC 9110 does not allow, as malformed: 1', () => {
    assert.equal(preferredMediaType('text/csv;q=0.5000, application/json;q=0.9', OFFERED), 'text/csv');
  });
});

describe('the API handler', () => {
  it('logs a failure of Tally’s own, 503 included, and not a refusal the caller is to fix', async () => {
    const before = server.logged.length;
    assert.equal((await call('/v1/probe/refused')).status, 400);
    assert.equal(server.logged.length, before, 'a 400 is not logged');
    const unavailable = await call('/v1/probe/unavailable');
    assert.equal(unavailable.status, 503);
    const logged = server.logged.slice(before);
    assert.equal(logged.length, 1);
    assert.match(logged[0] ?? '', /request_failed/);
    assert.match(logged[0] ?? '', new RegExp(unavailable.body.error.requestId));
  });

  it('matches a path parameter within one segment and the whole path: a longer path is no route’s', async () => {
    assert.deepEqual((await call('/v1/items/7')).body, { id: '7' });
    const nested = await call('/v1/items/7/export');
    assert.deepEqual([nested.status, nested.body.error.code], [405, 'METHOD_NOT_ALLOWED']);
    const longer = await call('/v1/items/7/export/more');
    assert.deepEqual([longer.status, longer.body.error.code], [404, 'NOT_FOUND']);
  });
});

describe('POST /v1/wins: what the route passes on', () => {
  it('refuses readers and scoped keys with 403', async () => {
    for (const key of [keys.reader, keys.scoped]) {
      const refused = await postWins(JSON.stringify({ wins: [win] }), key);
      assert.deepEqual([refused.status, refused.body.error.code], [403, 'FORBIDDEN']);
    }
  });

  it('answers a body that is not JSON with INVALID_JSON and one nested too deep outside its wins with BODY_TOO_DEEP, as the wins thread refused them', async () => {
    const invalid = await postWins('{"wins": [');
    assert.deepEqual([invalid.status, invalid.body.error.code], [400, 'INVALID_JSON']);
    const deep = await postWins(`{"wins": [], "ext": ${'['.repeat(80)}${']'.repeat(80)}}`);
    assert.deepEqual([deep.status, deep.body.error.code], [400, 'BODY_TOO_DEEP']);
  });

  it('reads a body whose Content-Encoding is identity in any case, as content codings are case-insensitive', async () => {
    for (const encoding of ['identity', 'Identity', 'IDENTITY']) {
      const answer = await call('/v1/wins', {
        method: 'POST',
        body: JSON.stringify({ wins: [win] }),
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
      });
      assert.equal(answer.status, 200, `${encoding}: ${answer.text}`);
    }
  });

  it('names a string with an unpaired surrogate by its first 40 characters only', async () => {
    const long = `${'a'.repeat(100)}\\ud800`;
    const refused = await postWins(`{"wins": [], "note": "${long}"}`);
    assert.deepEqual([refused.status, refused.body.error.code], [400, 'INVALID_JSON']);
    assert.ok(refused.body.error.message.includes(`"${'a'.repeat(40)}…"`), refused.body.error.message);
    assert.ok(!refused.body.error.message.includes('a'.repeat(41)), refused.body.error.message);
  });

  it('refuses a win an object of which names a member twice, such as its clearingPrice, saying which and where, and registers the others', async () => {
    const text = JSON.stringify(win);
    const wins = [
      text.replace('{"request"', '{"clearingPrice":1,"clearingPrice":100,"request"'),
      text,
      // Deep in the OpenRTB request, in a member Tally never reads.
      text.replace('{"request":{', '{"request":{"user":{"eids":[],"eids":[]},'),
    ];
    const answer = await postWins(`{"wins":[${wins.join(',')}]}`);
    assert.equal(answer.status, 200);
    const results = answer.body.results as { ok: boolean; error?: { code: string; message: string } }[];
    assert.deepEqual(
      results.map((result) => result.error?.code ?? 'ok'),
      ['INVALID_JSON', 'ok', 'INVALID_JSON'],
    );
    assert.match(
      results[0]?.error?.message ?? '',
      /^this win names "clearingPrice" twice in one object \(at wins\[0\]\.clearingPrice\): JSON readers differ/,
    );
    assert.match(
      results[2]?.error?.message ?? '',
      /names "eids" twice in one object \(at wins\[2\]\.request\.user\.eids\)/,
    );
  });

  it('refuses a body that names a member twice outside its wins, saying which and where', async () => {
    const refused = await postWins(`{"wins":[],"wins":[${JSON.stringify(win)}]}`);
    assert.deepEqual([refused.status, refused.body.error.code], [400, 'INVALID_JSON']);
    assert.match(refused.body.error.message, /^the body names "wins" twice in one object \(at wins\)/);
    assert.equal(refused.headers.get('x-request-id'), refused.body.error.requestId);
  });

  it('reads the body as UTF-8: markup outside ASCII comes back as sent', async () => {
    const adm = '<p>Café – 東京 🎉</p>';
    const answer = await postWins(JSON.stringify({ wins: [{ ...win, bid: { ...win.bid, adm } }] }));
    assert.equal(answer.status, 200);
    assert.equal(answer.body.results[0].ok, true, JSON.stringify(answer.body.results[0]));
    assert.ok((answer.body.results[0].adm as string).includes(adm), answer.body.results[0].adm);
  });
});

describe('POST /v1/wins: the clock', () => {
  it('times a win sent without auctionTimeMs when its call arrives, not when the wins thread first ran', async () => {
    const auctionTimeOf = async () => {
      const answer = await postWins(JSON.stringify({ wins: [win] }));
      const token = (answer.body.results[0].noticeUrls.adm as string).split('/').at(-1) ?? '';
      const opened = openToken(token, ring);
      assert.ok(opened.ok, `the notice token opens; got ${JSON.stringify(opened)}`);
      return opened.claims.auctionTimeMs;
    };
    await auctionTimeOf();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const sentMs = Date.now();
    const later = await auctionTimeOf();
    assert.ok(
      later >= sentMs && later <= Date.now(),
      `${later} is not the time of the second call, ${sentMs}`,
    );
  });
});

describe('GET /v1/reports: output and filters', () => {
  it('answers 406 in the JSON envelope, naming both types it answers in, when Accept takes neither JSON nor CSV', async () => {
    const answer = await call(`/v1/reports?${RANGE}`, { headers: { accept: 'image/png' } });
    assert.equal(answer.status, 406);
    assert.equal(answer.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(answer.body.error.code, 'NOT_ACCEPTABLE');
    assert.match(answer.body.error.message, /which is application\/json or text\/csv: accept /);
  });

  it('repeats the request id on a CSV answer', async () => {
    const answer = await call(`/v1/reports?${RANGE}&format=csv`, { headers: { 'x-request-id': 'csv-1' } });
    assert.equal(answer.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.equal(answer.headers.get('x-request-id'), 'csv-1');
  });

  it('refuses a groupBy dimension it does not have with 400, naming it', async () => {
    const refused = await call(`/v1/reports?${RANGE}&groupBy=seat,sate`);
    assert.deepEqual([refused.status, refused.body.error.code], [400, 'VALIDATION_FAILED']);
    assert.match(refused.body.error.message, /groupBy: unknown dimension "sate"/);
  });

  it('filters on a seat named csv or json: only format=csv|json chooses the output', async () => {
    for (const seat of ['csv', 'json']) {
      const answer = await call(`/v1/reports?${RANGE}&groupBy=seat&seat=${seat}`);
      assert.deepEqual(
        answer.body.rows.map((row: { seat: string; events: number }) => [row.seat, row.events]),
        [[seat, 1]],
      );
    }
  });
});

describe('GET /v1/reports: the window and the filters it refuses', () => {
  async function refusal(query: string): Promise<string> {
    const refused = await call(`/v1/reports?${query}`);
    assert.deepEqual([refused.status, refused.body.error.code], [400, 'VALIDATION_FAILED'], query);
    return refused.body.error.message as string;
  }

  it('says from and to are required when one is missing', async () => {
    assert.match(await refusal(`to=${HOUR}`), /^from is required: an RFC 3339 date-time/);
    assert.match(await refusal(`from=${HOUR}`), /^to is required: an RFC 3339 date-time/);
  });

  it('refuses minute 60, second 60 and offsets past ±23:59 rather than rolling them into the next hour', async () => {
    for (const from of [
      '2026-11-22T09:60:00Z',
      '2026-11-22T09:59:60Z',
      '2026-11-22T10:00:00%2B24:00',
      '2026-11-22T10:00:00%2B05:60',
    ]) {
      assert.match(await refusal(`from=${from}&to=2026-11-23`), /is not a real date and time/, from);
    }
  });

  it('refuses a catalog id filter that is not digits: a negative or named placement, publisherId or advertiser', async () => {
    for (const filter of ['advertiser=-5', 'placement=home', 'publisherId=news', 'placement=-1']) {
      assert.match(await refusal(`${RANGE}&${filter}`), /must be a numeric id/, filter);
    }
  });

  it('escapes a cell beginning with a minus sign in CSV, which a spreadsheet would run as a formula', async () => {
    const csv = await call(`/v1/reports?${RANGE}&groupBy=seat&seat=-2%2B3&format=csv`);
    assert.equal(csv.status, 200);
    assert.equal(csv.text.split('\r\n')[1], "'-2+3,1,1000000,0,0,0");
  });
});

describe('tag export: delivery', () => {
  const path = () => `/v1/impression-trackers/${trackerId}/export`;
  const exportTo = (base: string, query: string, body: unknown) =>
    fetch(`${base}${path()}${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.editor}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('answers ?download=1 as an attachment named after the kind of tracker, and ?download=0 as JSON', async () => {
    const file = await exportTo(server.base, '?download=1', {});
    assert.equal(file.status, 200);
    assert.equal(
      file.headers.get('content-disposition'),
      'attachment; filename="tally-impression-trackers.txt"',
    );
    const json = await exportTo(server.base, '?download=0', {});
    assert.equal(json.status, 200);
    assert.equal(json.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(((await json.json()) as { tags: unknown[] }).tags.length, 1);
  });

  it('mails the tags as an attached file as well as in the text', async () => {
    const before = smtp.mails.length;
    const answer = await exportTo(server.base, '', { delivery: 'email', email: 'adops@agency.example' });
    assert.equal(answer.status, 202);
    assert.equal(smtp.mails.length, before + 1);
    assert.match(
      smtp.mails.at(-1)?.text ?? '',
      /Content-Disposition: attachment; filename=tally-impression-trackers\.txt/,
    );
  });

  it('answers 422 MAIL_NOT_CONFIGURED, not to be retried, for email delivery on a Tally without SMTP', async () => {
    const answer = await exportTo(noMail.base, '', { delivery: 'email', email: 'adops@agency.example' });
    const body = (await answer.json()) as { error: { code: string; message: string } };
    assert.deepEqual([answer.status, body.error.code], [422, 'MAIL_NOT_CONFIGURED']);
    assert.match(body.error.message, /use delivery "now"/);
  });
});

describe('/docs agrees with what the routes do', () => {
  type Schema = { [key: string]: any };
  const paths = OPENAPI_DOCUMENT.paths as Record<string, Record<string, Schema>>;
  const exportBody = (): Schema =>
    paths['/v1/impression-trackers/{id}/export']?.post?.requestBody.content['application/json'].schema;
  const winSchema = OPENAPI_DOCUMENT.components.schemas.Win as Schema;
  const tagsOf = async (body: unknown) => {
    const answer = await call(`/v1/impression-trackers/${trackerId}/export`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(answer.status, 200, answer.text);
    return answer.body.tags;
  };

  it('documents the export body’s defaults as the export applies them', async () => {
    const properties = exportBody().properties as Record<string, { default?: unknown }>;
    const defaults = Object.fromEntries(
      Object.entries(properties)
        .filter(([, schema]) => schema.default !== undefined)
        .map(([name, schema]) => [name, schema.default]),
    );
    assert.deepEqual(Object.keys(defaults).sort(), ['delivery', 'params', 'placeholders', 'secure', 'type']);
    assert.deepEqual(await tagsOf(defaults), await tagsOf({}));
    // With parameters, so that the placeholders written show.
    const params = ['cachebuster', 'ancost', 'redir'];
    assert.deepEqual(await tagsOf({ ...defaults, params }), await tagsOf({ params }));
  });

  it('documents the most trackerIds one export takes: one more is refused', async () => {
    const most = exportBody().properties.trackerIds.maxItems as number;
    const ids = (count: number) => Array.from({ length: count }, (_, index) => 1_000_000 + index);
    const post = (trackerIds: number[]) =>
      call(`/v1/impression-trackers/${trackerId}/export`, {
        method: 'POST',
        body: JSON.stringify({ trackerIds }),
        headers: { 'content-type': 'application/json' },
      });
    // As many as documented pass the count: the first id that does not exist is then a 404.
    assert.equal((await post(ids(most))).status, 404);
    const over = await post(ids(most + 1));
    assert.equal(over.status, 400);
    assert.match(over.body.error.message, /export at most \d+ trackers at once/);
  });

  it('documents the status an export by email answers', async () => {
    const answer = await call(`/v1/impression-trackers/${trackerId}/export`, {
      method: 'POST',
      body: JSON.stringify({ delivery: 'email', email: 'adops@agency.example' }),
      headers: { 'content-type': 'application/json' },
    });
    const documented = Object.keys(paths['/v1/impression-trackers/{id}/export']?.post?.responses ?? {});
    assert.ok(
      documented.includes(String(answer.status)),
      `${answer.status} is not in ${documented.join(', ')}`,
    );
  });

  it('documents as required the win fields without which a win is refused, and refuses a field it does not document', async () => {
    const results = async (wins: unknown[]) =>
      (await postWins(JSON.stringify({ wins }))).body.results as { ok: boolean }[];
    const fields = ['request', 'seat', 'bid'] as const;
    const without = fields.map((field) =>
      Object.fromEntries(Object.entries(win).filter(([name]) => name !== field)),
    );
    const refused = (await results(without))
      .map((result, index) => (result.ok ? [] : [fields[index]]))
      .flat();
    assert.deepEqual([...(winSchema.required as string[])].sort(), [...refused].sort());
    assert.equal(winSchema.additionalProperties, false);
    const [misspelt] = await results([{ ...win, clearing_price: 2 }]);
    assert.equal(misspelt?.ok, false);
  });

  it('documents every ad format, and empty for rows without one, as values of the report’s format parameter', () => {
    const format = (paths['/v1/reports']?.get?.parameters as Schema[]).find(
      (parameter) => parameter.name === 'format',
    );
    assert.deepEqual([...(format?.schema.enum as string[])].sort(), ['', 'csv', 'json', ...FORMATS].sort());
  });
});
