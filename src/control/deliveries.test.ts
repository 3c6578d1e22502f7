import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import type { KeyScope, Role } from '../ports/accounts.js';
import type { Delivery } from '../ports/ledger.js';
import { newApiKey } from './auth.js';
import { deliveryRoutes } from './deliveries.js';
import { exchangeEvent, T0 } from '../../test/support/events.js';
import { bannerClaims } from '../../test/support/claims.js';
import { impressionKey } from '../domain/impression-key.js';
import type { ApiServer } from '../../test/support/api-server.js';
import { serveApi } from '../../test/support/api-server.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-deliveries-'));
const db = openSqlite(join(dir, 'tally.db'));
const accounts = new SqliteAccountStore(db);
const ledger = new SqliteLedger(db);
let server: ApiServer;
let base = '';

/** Deliveries of the first account: the most a page holds, and one more. */
const FIRST_ACCOUNT_DELIVERIES = 1001;
const HOUR_MS = 3_600_000;

function keyFor(accountId: number, role: Role, scope: KeyScope | null = null): string {
  const { key, hash, prefix } = newApiKey();
  accounts.addKey(accountId, hash, prefix, role, role, scope, Date.now());
  return key;
}

/** Records a counted notice of `accountId` whose burl delivery goes to `url`. */
function deliveryOf(accountId: number, url: string) {
  const event = exchangeEvent({
    dedupe: { key: url, expiresMs: T0 + 600_000 },
    delivery: { url, deadlineMs: T0 + 3_600_000 },
  });
  return { ...event, dims: { ...event.dims, accountId } };
}

/**
 * A counted notice of `accountId` billing the impression of `auctionId` and `impId` to `seat`, queued
 * for its DSP, as a notice of a registered win records it.
 */
function impressionDelivery(accountId: number, auctionId: string, impId: string, seat = 'seat-9') {
  const key = impressionKey(bannerClaims({ accountId, auctionId, impId, bidId: 'bid-7', seat }));
  const event = exchangeEvent({
    dedupe: { key, expiresMs: T0 + 600_000 },
    delivery: { url: `https://dsp.example/${auctionId}/${impId}`, deadlineMs: T0 + 3_600_000 },
  });
  return { ...event, dims: { ...event.dims, accountId, auctionId, impId, bidId: 'bid-7', seat } };
}

const keys: Record<string, string> = {};

before(async () => {
  accounts.createAccount('operator', Date.now());
  accounts.createAccount('rival', Date.now());
  ledger.record(
    Array.from({ length: FIRST_ACCOUNT_DELIVERIES }, (_, index) =>
      deliveryOf(1, `https://dsp.example/${index}`),
    ),
  );
  ledger.record([deliveryOf(2, 'https://rival-dsp.example/1')]);
  const listed = ledger.listDeliveries(1, undefined, 3);
  // The newest delivery was delivered, the one before it failed for good.
  ledger.markDelivered(listed[0]?.id ?? 0, T0 + 1000);
  ledger.markFailed(listed[1]?.id ?? 0, 'HTTP 500', null);
  keys.editor = keyFor(1, 'editor');
  keys.admin = keyFor(1, 'admin');
  keys.reader = keyFor(1, 'reader');
  keys.scopedAdmin = keyFor(1, 'admin', { type: 'advertiser', id: 1 });
  keys.rival = keyFor(2, 'editor');
  // Accounts 3 and 4: deliveries keyed by their impressions, as notices of registered wins make them.
  accounts.createAccount('auctions', Date.now());
  accounts.createAccount('same ids elsewhere', Date.now());
  ledger.record([
    impressionDelivery(3, 'auction-42', '1'),
    impressionDelivery(3, 'auction-42', '2'),
    impressionDelivery(3, 'auction-420', '1'),
    impressionDelivery(4, 'auction-42', '1'),
  ]);
  keys.auctions = keyFor(3, 'editor');
  // Account 5: deliveries queued an hour apart, the last under a clock stepped back 20 minutes.
  accounts.createAccount('hours', Date.now());
  const queuedAt = (url: string, receivedMs: number) => ({ ...deliveryOf(5, url), receivedMs });
  ledger.record([queuedAt('https://dsp.example/h0', T0)]);
  ledger.record([queuedAt('https://dsp.example/h1', T0 + HOUR_MS)]);
  ledger.record([queuedAt('https://dsp.example/h2', T0 + 2 * HOUR_MS)]);
  ledger.record([queuedAt('https://dsp.example/stepped', T0 + 2 * HOUR_MS - 20 * 60_000)]);
  keys.hours = keyFor(5, 'editor');
  // Account 6: two seats' deliveries, interleaved, of every status; account 7 has one of seat-a's too.
  accounts.createAccount('seats', Date.now());
  accounts.createAccount('same seat elsewhere', Date.now());
  const seatOf = (index: number) => (index % 3 === 0 ? 'seat-b' : 'seat-a');
  for (let index = 0; index < 12; index++) {
    const queued = {
      ...impressionDelivery(6, `auction-${index}`, '1', seatOf(index)),
      receivedMs: T0 + index * HOUR_MS,
    };
    ledger.record([queued]);
  }
  const redirected = impressionDelivery(6, 'auction-12', '1', 'seat-b');
  ledger.record([
    {
      ...redirected,
      receivedMs: T0 + 12 * HOUR_MS,
      delivery: { url: 'https://dsp.example/r', deadlineMs: T0, redirected: true },
    },
  ]);
  ledger.record([impressionDelivery(7, 'auction-1', '1', 'seat-a')]);
  const seatIds = ledger
    .listDeliveries(6, undefined, 13)
    .map((delivery) => delivery.id)
    .slice(1);
  // Newest first after auction-12: auction-11 delivered, auction-10 dead, auction-8 delivered.
  ledger.markDelivered(seatIds[0] ?? 0, T0 + 1000);
  ledger.markFailed(seatIds[1] ?? 0, 'HTTP 500', null);
  ledger.markDelivered(seatIds[3] ?? 0, T0 + 1000);
  keys.seats = keyFor(6, 'editor');
  // Account 8: a burl with a user name and password, its last error (kept by an older Tally) too.
  accounts.createAccount('credentials', Date.now());
  ledger.record([deliveryOf(8, 'https://user:pass@dsp.example/c?p=1')]);
  ledger.markFailed(
    ledger.listDeliveries(8, undefined, 1)[0]?.id ?? 0,
    'HTTP 503 from https://user:pass@dsp.example/next, where the burl redirected',
    T0 + 10_000,
  );
  keys.credentials = keyFor(8, 'editor');
  server = await serveApi(deliveryRoutes(ledger), accounts);
  base = server.base;
});

after(async () => {
  await server.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function list(query: string, key = keys.editor ?? ''): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}/v1/deliveries${query}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return { status: response.status, body: await response.json() };
}

describe('GET /v1/deliveries', () => {
  it('lists 100 deliveries a page unless asked for another limit, saying where the next page starts', async () => {
    const page = await list('');
    assert.equal(page.status, 200);
    assert.equal(page.body.deliveries.length, 100);
    assert.notEqual(page.body.next, null);
    const next = await list(`?after=${page.body.next}`);
    assert.equal(next.body.deliveries[0].id, page.body.deliveries[99].id - 1);
  });

  it('takes a limit from 1 to 1000 and refuses 0 and 1001', async () => {
    assert.equal((await list('?limit=1')).body.deliveries.length, 1);
    const most = await list('?limit=1000');
    assert.equal(most.status, 200);
    assert.equal(most.body.deliveries.length, 1000);
    for (const limit of ['0', '1001', '-1', '10000', '00050']) {
      const refused = await list(`?limit=${limit}`);
      assert.equal(refused.status, 400, limit);
      assert.equal(refused.body.error.code, 'VALIDATION_FAILED');
      assert.match(refused.body.error.message, /limit must be an integer from 1 to 1000/);
    }
  });

  it('lists only the deliveries of the status asked for, and refuses a status there is none of', async () => {
    const statusOf = async (status: string) =>
      (await list(`?status=${status}&limit=1000`)).body.deliveries.map(
        (delivery: Delivery) => delivery.status,
      );
    assert.deepEqual(await statusOf('delivered'), ['delivered']);
    assert.deepEqual(await statusOf('dead'), ['dead']);
    const pending = await statusOf('pending');
    assert.equal(pending.length, FIRST_ACCOUNT_DELIVERIES - 2);
    assert.deepEqual(
      pending.filter((status: string) => status !== 'pending'),
      [],
      'status=pending lists only pending deliveries',
    );
    const refused = await list('?status=failed');
    assert.equal(refused.status, 400);
    assert.match(
      refused.body.error.message,
      /^status must be one of pending, delivered, dead, redirected, not "failed"$/,
    );
  });

  it('lists only the deliveries of the caller’s account', async () => {
    const rival = await list('?limit=1000', keys.rival);
    assert.equal(rival.status, 200);
    assert.deepEqual(
      rival.body.deliveries.map((delivery: Delivery) => delivery.url),
      ['https://rival-dsp.example/1'],
    );
    const own = await list('?limit=1000');
    assert.deepEqual(
      own.body.deliveries
        .map((delivery: Delivery) => delivery.url)
        .filter((url: string) => !url.startsWith('https://dsp.example/')),
      [],
      'the account lists only its own deliveries, none of the rival’s',
    );
  });

  it('names the impression each delivery bills, and lists one auction’s alone with auctionId', async () => {
    const all = await list('?limit=10', keys.auctions);
    assert.deepEqual(
      all.body.deliveries.map((delivery: any) => [
        delivery.auctionId,
        delivery.impId,
        delivery.bidId,
        delivery.seat,
      ]),
      [
        ['auction-420', '1', 'bid-7', 'seat-9'],
        ['auction-42', '2', 'bid-7', 'seat-9'],
        ['auction-42', '1', 'bid-7', 'seat-9'],
      ],
    );
    const auction = await list('?auctionId=auction-42', keys.auctions);
    assert.equal(auction.status, 200);
    assert.deepEqual(
      auction.body.deliveries.map((delivery: any) => delivery.url),
      ['https://dsp.example/auction-42/2', 'https://dsp.example/auction-42/1'],
    );
    assert.deepEqual((await list('?auctionId=auction-42&status=dead', keys.auctions)).body.deliveries, []);
    assert.equal((await list('?auctionId=auction-42&limit=1', keys.auctions)).body.next !== null, true);
    const empty = await list('?auctionId=', keys.auctions);
    assert.equal(empty.status, 400);
    assert.match(
      empty.body.error.message,
      /^auctionId is empty: give an auction id \(BidRequest\.id\), or leave auctionId out to take every one$/,
    );
  });

  it('lists one seat’s deliveries alone with seat, newest first whatever their status, page by page, with the other filters', async () => {
    const auctions = async (query: string) => {
      const page = await list(query, keys.seats);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      return page.body.deliveries.map(
        (delivery: any) => `${delivery.auctionId} ${delivery.seat} ${delivery.status}`,
      );
    };
    assert.deepEqual(await auctions('?seat=seat-a'), [
      'auction-11 seat-a delivered',
      'auction-10 seat-a dead',
      'auction-8 seat-a delivered',
      'auction-7 seat-a pending',
      'auction-5 seat-a pending',
      'auction-4 seat-a pending',
      'auction-2 seat-a pending',
      'auction-1 seat-a pending',
    ]);
    assert.deepEqual(await auctions('?seat=seat-b'), [
      'auction-12 seat-b redirected',
      'auction-9 seat-b pending',
      'auction-6 seat-b pending',
      'auction-3 seat-b pending',
      'auction-0 seat-b pending',
    ]);
    assert.deepEqual(await auctions('?seat=seat-a&status=delivered'), [
      'auction-11 seat-a delivered',
      'auction-8 seat-a delivered',
    ]);
    assert.deepEqual(await auctions('?seat=seat-b&status=dead'), []);
    assert.deepEqual(await auctions('?seat=seat-a&auctionId=auction-10'), ['auction-10 seat-a dead']);
    assert.deepEqual(await auctions('?seat=seat-b&auctionId=auction-10'), []);
    const iso = (ms: number) => new Date(ms).toISOString();
    assert.deepEqual(
      await auctions(`?seat=seat-a&from=${iso(T0 + 4 * HOUR_MS)}&to=${iso(T0 + 10 * HOUR_MS)}`),
      [
        'auction-8 seat-a delivered',
        'auction-7 seat-a pending',
        'auction-5 seat-a pending',
        'auction-4 seat-a pending',
      ],
    );
    assert.deepEqual(await auctions('?seat=seat-z'), [], 'a seat with no delivery: none');
    // Three at a time: every one of the seat's once, in order, and no next after the last.
    const paged: string[] = [];
    let after = '';
    let pages = 0;
    // Bounded: a next that does not move on would otherwise be followed forever.
    while (pages < 5) {
      const page = await list(`?seat=seat-a&limit=3${after}`, keys.seats);
      pages++;
      paged.push(...page.body.deliveries.map((delivery: any) => delivery.auctionId));
      if (page.body.next === null) break;
      after = `&after=${page.body.next}`;
    }
    assert.equal(pages, 3);
    assert.deepEqual(paged, [
      'auction-11',
      'auction-10',
      'auction-8',
      'auction-7',
      'auction-5',
      'auction-4',
      'auction-2',
      'auction-1',
    ]);
    const pending = await list('?seat=seat-a&status=pending&limit=2', keys.seats);
    assert.deepEqual(
      (await auctions(`?seat=seat-a&status=pending&after=${pending.body.next}`)).map(
        (line: string) => line.split(' ')[0],
      ),
      ['auction-4', 'auction-2', 'auction-1'],
    );
    const empty = await list('?seat=', keys.seats);
    assert.equal(empty.status, 400);
    assert.equal(empty.body.error.code, 'VALIDATION_FAILED');
    assert.match(
      empty.body.error.message,
      /^seat is empty: give a seat id \(SeatBid\.seat\), or leave seat out to take every one$/,
    );
    assert.equal(typeof empty.body.error.requestId, 'string');
  });

  it('lists the deliveries whose impression counted from one time to another, to exclusive, and refuses a window that is none', async () => {
    const iso = (ms: number) => new Date(ms).toISOString();
    const urls = async (query: string) =>
      (await list(query, keys.hours)).body.deliveries.map((delivery: Delivery) =>
        delivery.url.replace('https://dsp.example/', ''),
      );
    assert.deepEqual(await urls(`?from=${iso(T0 + HOUR_MS)}`), ['stepped', 'h2', 'h1']);
    assert.deepEqual(await urls(`?from=${iso(T0 + HOUR_MS)}&to=${iso(T0 + 2 * HOUR_MS)}`), ['stepped', 'h1']);
    assert.deepEqual(await urls(`?to=${iso(T0 + HOUR_MS)}`), ['h0']);
    assert.deepEqual(await urls(`?from=${iso(T0 + 3 * HOUR_MS)}`), []);
    assert.deepEqual(await urls(`?from=${iso(T0 + HOUR_MS)}&limit=1`), ['stepped']);
    const page = await list(`?from=${iso(T0 + HOUR_MS)}&limit=1`, keys.hours);
    assert.deepEqual(await urls(`?from=${iso(T0 + HOUR_MS)}&after=${page.body.next}`), ['h2', 'h1']);
    for (const [query, message] of [
      ['?from=yesterday', /^from must be an RFC 3339 date-time/],
      [`?from=${iso(T0)}&to=${iso(T0)}`, /^from must be before to: to is not included, so one day/],
    ] as const) {
      const refused = await list(query, keys.hours);
      assert.equal(refused.status, 400, query);
      assert.match(refused.body.error.message, message);
    }
  });

  it('shows no user name or password of a burl, in its URL or its last error', async () => {
    const { status, body } = await list('', keys.credentials);
    assert.equal(status, 200);
    assert.deepEqual(
      body.deliveries.map((delivery: Delivery) => [delivery.url, delivery.lastError]),
      [
        [
          'https://***@dsp.example/c?p=1',
          'HTTP 503 from https://***@dsp.example/next, where the burl redirected',
        ],
      ],
    );
  });

  it('shows a device User-Agent sent in UTF-8 as its characters (café), not as each byte’s Latin-1 (cafÃ©)', async () => {
    const { id } = accounts.createAccount('user agents', Date.now());
    // node:http gives each byte of a header as the Latin-1 character: this is how é arrives.
    const asReceived = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
    ledger.record([
      { ...deliveryOf(id, 'https://dsp.example/ua'), userAgent: asReceived('Mozilla/5.0 (café; 日本)') },
    ]);
    const { status, body } = await list('', keyFor(id, 'editor'));
    assert.deepEqual(
      [status, body.deliveries.map((delivery: Delivery) => delivery.userAgent)],
      [200, ['Mozilla/5.0 (café; 日本)']],
    );
  });

  it('is for account-wide editors and admins: readers and scoped keys get 403', async () => {
    assert.equal((await list('?limit=1', keys.admin)).status, 200);
    for (const key of [keys.reader, keys.scopedAdmin]) {
      const refused = await list('?limit=1', key);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.code, 'FORBIDDEN');
    }
  });
});
