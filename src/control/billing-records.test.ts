import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { newApiKey } from './auth.js';
import { billingRecordRoutes } from './billing-records.js';
import { ReportThread } from './report-thread/report-thread.js';
import { exchangeEvent } from '../../test/support/events.js';
import { EVERY_ID_KNOWN } from '../../test/support/report-catalog.js';
import type { ApiServer } from '../../test/support/api-server.js';
import { serveApi } from '../../test/support/api-server.js';
import { HOUR_MS } from '../lib/time.js';

/**
 * Which records a served window picks, over the rows of a real SQLite ledger, read on a report
 * thread as the server reads them, and real HTTP.
 */

const dir = mkdtempSync(join(tmpdir(), 'tally-billing-window-'));
const db = openSqlite(join(dir, 'tally.db'));
const accounts = new SqliteAccountStore(db);
const ledger = new SqliteLedger(db);
const reads = new ReportThread(join(dir, 'tally.db'), 'billing-records-test');
/** The TTL ceiling, as a server started on the default rules passes it: 3 h. */
const LONGEST_TTL_MS = 3 * HOUR_MS;
/** 1 December 2026, 00:00 in New York (−05:00). */
const H = Date.parse('2026-12-01T05:00:00Z');
let server: ApiServer;
let key = '';

/** A counted impression of `auctionId` served in the hour `servedHourMs`, counted at `receivedMs`. */
function impression(auctionId: string, servedHourMs: number, receivedMs: number) {
  const base = exchangeEvent();
  return exchangeEvent({
    receivedMs,
    servedHourMs,
    dims: { ...base.dims, auctionId },
    dedupe: { key: `k-${auctionId}`, expiresMs: receivedMs + LONGEST_TTL_MS },
  });
}

before(async () => {
  const accountId = accounts.createAccount('billing', Date.now()).id;
  const made = newApiKey();
  accounts.addKey(accountId, made.hash, made.prefix, 'reader', 'reader', null, Date.now());
  key = made.key;
  // One row a batch, in the order a server would write them.
  for (const row of [
    impression('before', H - HOUR_MS, H - HOUR_MS + 60_000),
    // An auction 4 minutes ahead of Tally's clock: counted before its served hour began.
    impression('ahead', H, H - 4 * 60_000),
    impression('on-time', H, H + 60_000),
    impression('after', H + HOUR_MS, H + HOUR_MS + 60_000),
    // The last moment a 3 h TTL lets an impression served at the window's end count.
    impression('late', H, H + HOUR_MS + LONGEST_TTL_MS - 1),
    // Served five hours later, counted 40 ms into its hour.
    impression('fraction', H + 5 * HOUR_MS, H + 5 * HOUR_MS + 40),
  ])
    ledger.record([row]);
  server = await serveApi(billingRecordRoutes(reads, LONGEST_TTL_MS, EVERY_ID_KNOWN), accounts);
});

after(async () => {
  await server.close();
  await reads.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function auctionIds(query: string): Promise<string[]> {
  const response = await fetch(`${server.base}/v1/billing-records?${query}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  const body = (await response.json()) as { records: { auctionId: string }[]; next: number | null };
  assert.equal(response.status, 200, JSON.stringify(body));
  assert.equal(body.next, null);
  return body.records.map((record) => record.auctionId);
}

describe('GET /v1/billing-records by the hour served', () => {
  const window = 'servedFrom=2026-12-01&servedTo=2026-12-01T01:00:00-05:00&tz=America/New_York';

  it('picks the impressions served in the window, counted from 5 minutes before it to the longest TTL after it', async () => {
    assert.deepEqual(await auctionIds(window), ['ahead', 'on-time', 'late']);
    assert.deepEqual(await auctionIds('servedFrom=2026-12-01T05:00:00Z'), [
      'ahead',
      'on-time',
      'after',
      'late',
      'fraction',
    ]);
    assert.deepEqual(await auctionIds('servedTo=2026-12-01T06:00:00Z'), [
      'before',
      'ahead',
      'on-time',
      'late',
    ]);
  });

  it('keeps a count window that is narrower than the one the served window reads, its dates in tz', async () => {
    // from=2026-12-01 is New York's midnight, 05:00Z, after the early count of `ahead`.
    assert.deepEqual(await auctionIds(`${window}&from=2026-12-01`), ['on-time', 'late']);
    assert.deepEqual(await auctionIds(`${window}&to=2026-12-01T02:00:00-05:00`), ['ahead', 'on-time']);
  });
});

describe('GET /v1/billing-records with a window that is none', () => {
  it('refuses a served or a count window ending where it begins, by the names it was asked with, saying its end is not included', async () => {
    for (const [query, names] of [
      ['servedFrom=2026-12-01&servedTo=2026-12-01&tz=America/New_York', ['servedFrom', 'servedTo']],
      ['from=2026-12-01&to=2026-12-01', ['from', 'to']],
    ] as const) {
      const [from, to] = names;
      const response = await fetch(`${server.base}/v1/billing-records?${query}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.deepEqual(
        [response.status, body.error.code, body.error.message],
        [
          400,
          'VALIDATION_FAILED',
          `${from} must be before ${to}: ${to} is not included, so one day, e.g. 2026-12-03, is ${from}=2026-12-03&${to}=2026-12-04`,
        ],
        query,
      );
    }
  });
});

describe('GET /v1/billing-records by when each counted', () => {
  it('reads a fraction of a second in from or to as the milliseconds it names (.5 is 500 ms, .04 is 40 ms)', async () => {
    // `fraction` counted at 10:00:00.040Z.
    assert.deepEqual(await auctionIds('from=2026-12-01T10:00:00.04Z'), ['fraction']);
    assert.deepEqual(await auctionIds('from=2026-12-01T10:00:00.041Z'), []);
    assert.deepEqual(await auctionIds('from=2026-12-01T10:00:00.5Z'), []);
    assert.deepEqual(await auctionIds('from=2026-12-01T10:00:00Z&to=2026-12-01T10:00:00.05Z'), ['fraction']);
    assert.deepEqual(await auctionIds('from=2026-12-01T10:00:00Z&to=2026-12-01T10:00:00.04Z'), []);
  });
});

describe('GET /v1/billing-records page by page', () => {
  it('links each page to the next with the after of that page alone, so that following the links reads every record once', async () => {
    const seen: string[] = [];
    const links: string[] = [];
    let path: string | undefined = '/v1/billing-records?limit=2&format=json';
    while (path !== undefined) {
      const response = await fetch(`${server.base}${path}`, { headers: { authorization: `Bearer ${key}` } });
      const body = (await response.json()) as { records: { auctionId: string }[]; next: number | null };
      assert.equal(response.status, 200, JSON.stringify(body));
      seen.push(...body.records.map((record) => record.auctionId));
      const link = response.headers.get('link');
      path = link === null ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)?.[1];
      if (link !== null) {
        assert.ok(path !== undefined, link);
        assert.equal(new URL(path, server.base).searchParams.getAll('after').join(), String(body.next));
        links.push(path);
      }
    }
    assert.deepEqual(seen, ['before', 'ahead', 'on-time', 'after', 'late', 'fraction']);
    assert.ok(links.length >= 2, links.join(' '));
  });
});

describe('GET /v1/billing-records of one auction', () => {
  it('lists the auction’s records alone, read on the report thread, within a served window too, and refuses an empty auctionId', async () => {
    assert.deepEqual(await auctionIds('auctionId=on-time'), ['on-time']);
    assert.deepEqual(await auctionIds('auctionId=on-tim'), []);
    const window = 'servedFrom=2026-12-01T05:00:00Z&servedTo=2026-12-01T06:00:00Z';
    assert.deepEqual(await auctionIds(`${window}&auctionId=late`), ['late']);
    assert.deepEqual(await auctionIds(`${window}&auctionId=after`), [], 'served in the next hour');
    assert.deepEqual(await auctionIds('auctionId=late&limit=1'), ['late']);
    const response = await fetch(`${server.base}/v1/billing-records?auctionId=`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const body = (await response.json()) as { error: { code: string; message: string; requestId: string } };
    assert.deepEqual(
      [response.status, body.error.code, body.error.message],
      [
        400,
        'VALIDATION_FAILED',
        'auctionId is empty: give an auction id (BidRequest.id), or leave auctionId out to take every one',
      ],
    );
    assert.equal(typeof body.error.requestId, 'string');
  });
});

describe('GET /v1/billing-records when the ledger cannot be read', () => {
  it('answers 503 UNAVAILABLE with Retry-After: 1, to be retried, and logs why', async () => {
    const closed = new ReportThread(join(dir, 'tally.db'), 'billing-records-closed');
    await closed.close();
    const failing = await serveApi(billingRecordRoutes(closed, LONGEST_TTL_MS, EVERY_ID_KNOWN), accounts);
    try {
      const response = await fetch(`${failing.base}/v1/billing-records`, {
        headers: { authorization: `Bearer ${key}` },
      });
      const body = (await response.json()) as { error: { code: string; requestId: string } };
      assert.deepEqual(
        [response.status, body.error.code, response.headers.get('retry-after')],
        [503, 'UNAVAILABLE', '1'],
      );
      const failed = failing.logged
        .map((line) => JSON.parse(line))
        .find((line) => line.event === 'request_failed');
      assert.equal(failed?.requestId, body.error.requestId);
      assert.match(failed?.cause ?? '', /closed/);
    } finally {
      await failing.close();
    }
  });
});
