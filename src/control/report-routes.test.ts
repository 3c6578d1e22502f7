import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import type { EventRecord } from '../ports/ledger.js';
import { hourStartMs } from '../lib/time.js';
import { newApiKey } from './auth.js';
import { ReportThread } from './report-thread/report-thread.js';
import { reportRoutes } from './reports.js';
import { exchangeEvent, T0 } from '../../test/support/events.js';
import type { ApiServer } from '../../test/support/api-server.js';
import { serveApi } from '../../test/support/api-server.js';
import { EVERY_ID_KNOWN } from '../../test/support/report-catalog.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-report-routes-'));
const dbPath = join(dir, 'tally.db');
const db = openSqlite(dbPath);
const accounts = new SqliteAccountStore(db);
const ledger = new SqliteLedger(db);
const thread = new ReportThread(dbPath, 'tally-reports');
/** A report thread closed before the tests: every report from it fails. */
const closed = new ReportThread(dbPath, 'tally-reports');
const servers: ApiServer[] = [];
const bases: Record<string, string> = {};
/** What each server logged, by name. */
const logs: Record<string, string[]> = {};
const keys: Record<number, string> = {};
/** Keys of account 6 scoped to advertiser 7 and to catalog publisher 8. */
const scopedKeys: Record<'advertiser' | 'publisher', string> = { advertiser: '', publisher: '' };
const RANGE = `from=${new Date(hourStartMs(T0)).toISOString()}&to=${new Date(hourStartMs(T0) + 3_600_000).toISOString()}`;

/** A counted event of `accountId` won by `seat`, with `overrides` applied. */
function event(accountId: number, seat: string, overrides: Partial<EventRecord> = {}): EventRecord {
  const base = exchangeEvent(overrides);
  return { ...base, dims: { ...base.dims, accountId, seat } };
}

async function serve(name: string, source: ReportThread, maxRows: number): Promise<void> {
  const server = await serveApi(reportRoutes(source, EVERY_ID_KNOWN, maxRows), accounts);
  servers.push(server);
  bases[name] = server.base;
  logs[name] = server.logged;
}

before(async () => {
  for (const accountId of [1, 2, 3, 4, 5, 6]) {
    accounts.createAccount(`account ${accountId}`, Date.now());
    const { key, hash, prefix } = newApiKey();
    accounts.addKey(accountId, hash, prefix, 'reader', 'reader', null, Date.now());
    keys[accountId] = key;
  }
  for (const [type, id] of [
    ['advertiser', 7],
    ['publisher', 8],
  ] as const) {
    const { key, hash, prefix } = newApiKey();
    accounts.addKey(6, hash, prefix, type, 'reader', { type, id }, Date.now());
    scopedKeys[type] = key;
  }
  // Account 1: three seats. Account 2: prices adding up past 2^53 - 1 micros. Account 3: seats a
  // spreadsheet would misread, and a loss. Account 4: a seat for each other character that starts
  // a formula, one that starts with the escape, and one for each other separator. Account 5: hours
  // around New York's clocks going back on 1 November 2026.
  ledger.record([event(1, 's1'), event(1, 's2'), event(1, 's3')]);
  ledger.record([event(2, 'big', { priceMicros: 5e15 }), event(2, 'big', { priceMicros: 5e15 })]);
  ledger.record([
    event(3, 'a;b', { mediaCostMicros: 3_000_000, revenueMicros: 1_000_000 }),
    event(3, 'say "hi"'),
    event(3, '=1+1'),
  ]);
  ledger.record(
    [
      '+1',
      '-1',
      "'-1",
      '@SUM(A1)',
      '\tx',
      '\rx',
      '\n=1+1',
      ' =1+1',
      '\u00a0=1+1',
      '\uff1d1+1',
      '\uff5ccalc',
      '|calc',
      '\0x',
      'a,b',
      'a\tb',
      'a\nb',
      'a\rb',
    ].map((seat) => event(4, seat)),
  );
  ledger.record(
    [
      '2026-11-01T03:00:00Z', // 31 October, 23:00 EDT
      '2026-11-01T04:00:00Z', // 1 November, 00:00 EDT
      '2026-11-01T06:00:00Z', // 1 November, 01:00 EST (the second 01:00)
      '2026-11-02T04:00:00Z', // 1 November, 23:00 EST
      '2026-11-02T05:00:00Z', // 2 November, 00:00 EST
    ].map((hour) => event(5, 'ny', { servedHourMs: Date.parse(hour) })),
  );
  // Account 6: two hits of advertiser 7's tracker on catalog publisher 8's page, each charging
  // the advertiser 1000 micros (revenue) and paying the publisher 300 (media cost).
  const hit = event(6, '', { mediaCostMicros: 300, revenueMicros: 1000, priceMicros: 0 });
  const hitDims = {
    ...hit.dims,
    impressionType: 'external_impression' as const,
    kind: '',
    format: '',
    channel: '',
    method: '',
    publisher: '8',
    advertiserId: 7,
    currency: '',
  };
  ledger.record([
    { ...hit, dims: hitDims },
    { ...hit, dims: hitDims },
  ]);
  await closed.close();
  await serve('three', thread, 3);
  await serve('two', thread, 2);
  await serve('twenty', thread, 20);
  await serve('closed', closed, 3);
});

after(async () => {
  for (const server of servers) await server.close();
  await thread.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function report(
  server: string,
  query: string,
  accountId: number | string = 1,
  accept?: string,
): Promise<{ status: number; headers: Headers; text: string; body: any }> {
  // An account's account-wide key, or a key given as such.
  const key = typeof accountId === 'number' ? keys[accountId] : accountId;
  const response = await fetch(`${bases[server]}/v1/reports?${query}`, {
    headers: { authorization: `Bearer ${key}`, ...(accept === undefined ? {} : { accept }) },
  });
  const text = await response.text();
  const json = response.headers.get('content-type')?.startsWith('application/json') === true;
  return {
    status: response.status,
    headers: response.headers,
    text,
    body: json ? JSON.parse(text) : undefined,
  };
}

describe('GET /v1/reports', () => {
  it('answers a report of exactly the most rows allowed, and refuses one row more with REPORT_TOO_LARGE', async () => {
    const whole = await report('three', `${RANGE}&groupBy=seat`);
    assert.equal(whole.status, 200);
    assert.deepEqual(
      whole.body.rows.map((row: { seat: string }) => row.seat),
      ['s1', 's2', 's3'],
    );
    const over = await report('two', `${RANGE}&groupBy=seat`);
    assert.deepEqual([over.status, over.body.error.code], [400, 'REPORT_TOO_LARGE']);
    assert.match(over.body.error.message, /^the report has more than 2 rows: narrow from and to/);
  });

  it('shows an advertiser key what it is charged but not what publishers are paid nor the margin, and a publisher key what it is paid alone, without the clearing prices, in JSON and CSV', async () => {
    const json = async (key: string) => (await report('three', RANGE, key)).body.rows;
    assert.deepEqual(await json(keys[6] as string), [
      { events: 2, priceMicros: 0, mediaCostMicros: 600, revenueMicros: 2000, profitMicros: 1400 },
    ]);
    assert.deepEqual(await json(scopedKeys.advertiser), [{ events: 2, priceMicros: 0, revenueMicros: 2000 }]);
    assert.deepEqual(await json(scopedKeys.publisher), [{ events: 2, mediaCostMicros: 600 }]);
    const csv = async (key: string) => (await report('three', `${RANGE}&format=csv`, key)).text;
    assert.equal(await csv(scopedKeys.advertiser), 'events,priceMicros,revenueMicros\r\n2,0,2000\r\n');
    assert.equal(await csv(scopedKeys.publisher), 'events,mediaCostMicros\r\n2,600\r\n');
  });

  it('answers the window and grouping it reported alongside the rows', async () => {
    const answer = await report('three', `${RANGE}&groupBy=seat,seat,outcome&seat=s2`);
    assert.deepEqual(
      { ...answer.body, rows: answer.body.rows.length },
      {
        from: new Date(hourStartMs(T0)).toISOString(),
        to: new Date(hourStartMs(T0) + 3_600_000).toISOString(),
        groupBy: ['seat', 'outcome'],
        warnings: [],
        rows: 1,
      },
    );
  });

  it('refuses a report whose sum no JSON number holds exactly with 400 REPORT_TOO_LARGE, not as a failure to retry', async () => {
    const answer = await report('three', `${RANGE}&groupBy=seat`, 2);
    assert.deepEqual([answer.status, answer.body.error.code], [400, 'REPORT_TOO_LARGE']);
    assert.match(answer.body.error.message, /priceMicros add up to 10000000000000000/);
  });

  it('answers 503 UNAVAILABLE with Retry-After: 1, to be retried, when the report thread cannot run the report', async () => {
    const answer = await report('closed', `${RANGE}&groupBy=seat`);
    assert.deepEqual(
      [answer.status, answer.body.error.code, answer.headers.get('retry-after')],
      [503, 'UNAVAILABLE', '1'],
    );
    // The operator learns why from the log, which names the cause.
    const failed = (logs.closed ?? [])
      .map((line) => JSON.parse(line))
      .find((line) => line.event === 'request_failed');
    assert.equal(failed?.requestId, answer.body.error.requestId);
    assert.match(failed?.cause ?? '', /closed/);
  });

  it('answers CSV when Accept prefers text/csv to JSON and format only filters the ad format, and JSON otherwise', async () => {
    const banner = await report('three', `${RANGE}&groupBy=seat&format=banner`, 1, 'text/csv');
    assert.equal(banner.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.match(banner.text, /^seat,events,/);
    const accepted = await report('three', `${RANGE}&groupBy=seat`, 1, 'text/csv, application/json;q=0.5');
    assert.match(accepted.text, /^seat,events,/);
    for (const accept of ['application/json, text/csv;q=0.5', 'application/json, text/csv', '*/*']) {
      const json = await report('three', `${RANGE}&groupBy=seat`, 1, accept);
      assert.equal(json.headers.get('content-type'), 'application/json; charset=utf-8', accept);
    }
    const plain = await report('three', `${RANGE}&groupBy=seat&format=banner`);
    assert.equal(plain.headers.get('content-type'), 'application/json; charset=utf-8');
  });

  it('answers CSV as an uncached attachment of CRLF lines, quoting cells with separators or quotes, escaping formulas but not negative amounts', async () => {
    const csv = await report('three', `${RANGE}&groupBy=seat&format=csv`, 3);
    assert.equal(csv.status, 200);
    const hour = (ms: number) => new Date(ms).toISOString().slice(0, 13);
    assert.equal(
      csv.headers.get('content-disposition'),
      `attachment; filename="tally-report-${hour(hourStartMs(T0))}-${hour(hourStartMs(T0) + 3_600_000)}.csv"`,
      'named by its window',
    );
    assert.equal(csv.headers.get('cache-control'), 'no-store');
    assert.equal(
      csv.text,
      'seat,events,priceMicros,mediaCostMicros,revenueMicros,profitMicros\r\n' +
        "'=1+1,1,1000000,0,0,0\r\n" +
        '"a;b",1,1000000,3000000,1000000,-2000000\r\n' +
        '"say ""hi""",1,1000000,0,0,0\r\n',
    );
  });

  it("escapes a cell starting with any character a spreadsheet may run as a formula (+ - @ | or full-width, after white space or NUL, or white space or NUL itself), or with the escape itself, so that the value seat=-1 and the value seat='-1 never share a cell, and quotes one holding a comma, tab or line break", async () => {
    const csv = await report('twenty', `${RANGE}&groupBy=seat&format=csv`, 4);
    assert.equal(csv.status, 200);
    const metrics = ',1,1000000,0,0,0\r\n';
    assert.equal(
      csv.text,
      'seat,events,priceMicros,mediaCostMicros,revenueMicros,profitMicros\r\n' +
        [
          "'\0x",
          `"'\tx"`,
          `"'\n=1+1"`,
          `"'\rx"`,
          "' =1+1",
          "''-1",
          "'+1",
          "'-1",
          "'@SUM(A1)",
          '"a\tb"',
          '"a\nb"',
          '"a\rb"',
          '"a,b"',
          "'|calc",
          "'\u00a0=1+1",
          "'\uff1d1+1",
          "'\uff5ccalc",
        ]
          .map((cell) => cell + metrics)
          .join(''),
    );
  });

  it('names its request in the X-Request-Id header of a CSV answer, as of a JSON one', async () => {
    const csv = await report('three', `${RANGE}&groupBy=seat&format=csv`);
    const json = await report('three', `${RANGE}&groupBy=seat`);
    const csvId = csv.headers.get('x-request-id');
    assert.match(csvId ?? '', /^\S+$/);
    assert.equal(typeof json.headers.get('x-request-id'), 'string');
    assert.notEqual(csvId, json.headers.get('x-request-id'));
  });

  it('answers a report in a time zone: its window and days in local time with their offset, in JSON and CSV', async () => {
    const query = 'tz=America/New_York&from=2026-10-31&to=2026-11-03&groupBy=day';
    const json = await report('three', query, 5);
    assert.equal(json.status, 200, json.text);
    const money = { mediaCostMicros: 0, revenueMicros: 0, profitMicros: 0 };
    assert.deepEqual(json.body, {
      from: '2026-10-31T00:00:00.000-04:00',
      to: '2026-11-03T00:00:00.000-05:00',
      timeZone: 'America/New_York',
      groupBy: ['day'],
      warnings: [],
      rows: [
        { day: '2026-10-31T00:00:00.000-04:00', events: 1, priceMicros: 1_000_000, ...money },
        { day: '2026-11-01T00:00:00.000-04:00', events: 3, priceMicros: 3_000_000, ...money },
        { day: '2026-11-02T00:00:00.000-05:00', events: 1, priceMicros: 1_000_000, ...money },
      ],
    });
    const csv = await report('three', `${query}&format=csv`, 5);
    assert.equal(
      csv.headers.get('content-disposition'),
      'attachment; filename="tally-report-2026-10-31T00-0400-2026-11-03T00-0500.csv"',
      'named by its window in local hours, each with its offset',
    );
    assert.equal(
      csv.text,
      'day,events,priceMicros,mediaCostMicros,revenueMicros,profitMicros\r\n' +
        '2026-10-31T00:00:00.000-04:00,1,1000000,0,0,0\r\n' +
        '2026-11-01T00:00:00.000-04:00,3,3000000,0,0,0\r\n' +
        '2026-11-02T00:00:00.000-05:00,1,1000000,0,0,0\r\n',
    );
  });

  it('answers a report in UTC the same whether tz=UTC is asked for or left out', async () => {
    const query = 'from=2026-10-31&to=2026-11-03&groupBy=day,hour&format=csv';
    const plain = await report('twenty', query, 5);
    const utc = await report('twenty', `${query}&tz=UTC`, 5);
    assert.equal(utc.text, plain.text);
    assert.equal(utc.headers.get('content-disposition'), plain.headers.get('content-disposition'));
    assert.match(plain.text, /\r\n2026-11-01T00:00:00.000Z,2026-11-01T03:00:00.000Z,1,/);
  });

  it('refuses an unknown zone, and one the report thread finds is not whole hours off UTC within the window, with 400 VALIDATION_FAILED in the error envelope', async () => {
    const unknown = await report('three', 'tz=America/Gotham&from=2026-10-31&to=2026-11-03', 5);
    assert.deepEqual([unknown.status, unknown.body.error.code], [400, 'VALIDATION_FAILED']);
    assert.match(
      unknown.body.error.message,
      /^tz="America\/Gotham": no such time zone; .* e\.g\. tz=America\/New_York/,
    );
    assert.equal(unknown.body.error.requestId, unknown.headers.get('x-request-id'));
    // Barbados was −03:30 from April to September 1944, −04:00 at the window's ends.
    const misfit = await report('three', 'tz=America/Barbados&from=1944-01-01&to=1945-01-01', 5);
    assert.deepEqual([misfit.status, misfit.body.error.code], [400, 'VALIDATION_FAILED']);
    assert.match(
      misfit.body.error.message,
      /^tz=America\/Barbados is -03:30 from UTC at 1944-04-10T05:00:00.000Z, not a whole number of hours: .*or in UTC \(leave tz out\)$/,
    );
    assert.equal(misfit.body.error.requestId, misfit.headers.get('x-request-id'));
  });
});
