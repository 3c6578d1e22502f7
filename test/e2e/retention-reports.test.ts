import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { everyBillingRecord } from '../support/billing-pages.js';
import { seededRandom } from '../support/seeded-random.js';
import { CHROME } from '../support/user-agents.js';
import { until } from '../support/until.js';
import { REPORT_DIMENSIONS } from '../../src/ports/ledger.js';
import { DAY_MS, HOUR_MS, hourStartMs } from '../../src/lib/time.js';

/**
 * Retention over real processes and real HTTP: the raw notices that did not count are pruned, and
 * every report over the hours they were served in (JSON and CSV, by each dimension, in UTC and in a
 * zone whose day of a DST change lies in the window) answers as before, the billing records alike.
 * Time is driven by the wins' `auctionTimeMs`; the notices are made older than the retention by
 * moving their receipt times back while the server is stopped, as many days as the retention.
 */

const BOT = 'Googlebot/2.1 (+http://www.google.com/bot.html)';
const TTL_SECONDS = 7 * 24 * 3600;
/** How far back the notices' receipt times are moved: past the default retention of 100 days. */
const AGED_MS = 200 * DAY_MS;
/** America/New_York went back from -04:00 to -05:00 at 06:00 UTC on that day. */
const NEW_YORK_DST_END_MS = Date.UTC(2026, 10, 1, 6);

let tally: TestServer;
let fromMs: number;
let toMs: number;
const random = seededRandom(20261207);
const iso = (ms: number) => new Date(ms).toISOString();

async function fire(url: string, userAgent = CHROME): Promise<void> {
  const response = await fetch(url, { headers: { 'user-agent': userAgent } });
  await response.arrayBuffer();
  assert.equal(response.status, 200, url);
}

async function create(path: string, body: object): Promise<number> {
  const response = await api(tally, tally.adminKey, 'POST', path, body);
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body.id as number;
}

/** The raw events of the ledger that did not count, read on a connection of the test's own. */
function uncountedEvents(): number {
  const db = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
  try {
    return db.prepare(`SELECT COUNT(*) FROM events WHERE outcome <> 'counted'`).pluck().get() as number;
  } finally {
    db.close();
  }
}

/** An answer as compared: its status and body, a refusal's without its `requestId`, new each call. */
function shown(status: number, body: string): string {
  if (status === 200) return `${status} ${body}`;
  const { requestId, ...error } = (JSON.parse(body) as { error: { requestId: string } }).error;
  assert.equal(typeof requestId, 'string');
  return `${status} ${JSON.stringify(error)}`;
}

/** Every answer the test compares before and after the retention, by a label naming its query. */
async function answers(): Promise<Map<string, string>> {
  const read = new Map<string, string>();
  const window = `from=${iso(fromMs)}&to=${iso(toMs)}`;
  for (const zone of ['', '&tz=America/New_York', '&tz=Asia/Kolkata', '&tz=Asia/Kathmandu']) {
    for (const dimension of REPORT_DIMENSIONS) {
      const query = `/v1/reports?${window}${zone}&groupBy=${dimension},currency`;
      const json = await api(tally, tally.adminKey, 'GET', query);
      read.set(`${query} json`, shown(json.status, JSON.stringify(json.body)));
      const csv = await fetch(`${tally.url}${query}`, {
        headers: { authorization: `Bearer ${tally.adminKey}`, accept: 'text/csv' },
      });
      read.set(`${query} csv`, shown(csv.status, await csv.text()));
    }
  }
  return read;
}

before(async () => {
  tally = await startServer({
    TALLY_RULES: JSON.stringify({
      '*': [{ format: 'banner', channel: 'web', method: 'adm', ttlSeconds: TTL_SECONDS }],
    }),
  });
  const nowMs = Date.now();
  fromMs = hourStartMs(NEW_YORK_DST_END_MS) - 2 * DAY_MS;
  toMs = hourStartMs(nowMs) + 2 * HOUR_MS;
  const wins = [];
  for (let index = 0; index < 60; index++) {
    // Over the past six days, and around the DST change: those past the TTL are late.
    const auctionTimeMs =
      index % 6 === 0
        ? NEW_YORK_DST_END_MS + Math.round((random() - 0.5) * 6 * HOUR_MS)
        : Math.round(nowMs - random() * 6 * DAY_MS);
    wins.push({
      request: {
        id: `auction-${index}`,
        imp: [{ id: '1', banner: { w: 300, h: 250 } }],
        site: { publisher: { id: index % 2 === 0 ? 'pub-a' : 'pub-b' } },
      },
      seat: `seat-${index % 3}`,
      bid: { id: `bid-${index}`, impid: '1', price: 100, adm: '<div>ad</div>' },
      clearingPrice: Math.round(random() * 20_000_000) / 1_000_000,
      auctionTimeMs,
    });
  }
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  for (const [index, result] of (registered.body.results as any[]).entries()) {
    assert.equal(result.ok, true, JSON.stringify(result));
    const url = result.noticeUrls.adm as string;
    // Fired once, twice (a duplicate), by a bot then a browser, or forged.
    const plan = index % 4;
    if (plan === 3) {
      const token = url.slice(url.lastIndexOf('/') + 1);
      await fire(
        url.replace(token, `${token.slice(0, 20)}${token[20] === 'A' ? 'B' : 'A'}${token.slice(21)}`),
      );
      continue;
    }
    if (plan === 2) await fire(url, BOT);
    await fire(url);
    if (plan === 1) await fire(url);
  }
  const advertiserId = await create('/v1/advertisers', { name: 'Acme' });
  const lineItemId = await create('/v1/line-items', {
    advertiserId,
    name: 'CPM',
    revenueType: 'cpm',
    revenueValue: 2.5,
  });
  const publisherId = await create('/v1/publishers', { name: 'News', externalId: 'pub-a' });
  await create('/v1/payment-rules', { publisherId, name: 'Base', pricingType: 'revshare', revshare: 0.5 });
  const tracker = await create('/v1/impression-trackers', {
    advertiserId,
    name: 'Homepage',
    lineItemId,
    publisherId,
  });
  // A duplicate hit, then one that counts: the ledger's newest event, which pruning keeps, counted.
  for (const hit of [0, 0, 1])
    await fire(`${tally.url}/imptr?id=${tracker}&t=2&cachebuster=cb-${hit}&ancost=0.75`);
});

after(async () => {
  await tally?.dispose();
});

describe('retention', () => {
  it('prunes the raw notices that did not count, and every report over their hours and the billing records answer as before', async () => {
    const before = await answers();
    const records = await everyBillingRecord(tally, tally.adminKey, 'limit=1000');
    assert.equal(records.length > 20, true, `${records.length} billing records`);
    const uncounted = uncountedEvents();
    assert.equal(uncounted > 20, true, `${uncounted} raw notices that did not count`);

    await tally.stop();
    const db = new Database(join(tally.dataDir, 'tally.db'));
    db.prepare('UPDATE event_rows SET received_ms = received_ms - ?').run(AGED_MS);
    db.close();
    // The server prunes as it starts.
    await tally.restart();
    await until(
      () => Promise.resolve(uncountedEvents() === 0),
      'the raw notices past the retention are pruned',
    );

    const afterRetention = await answers();
    for (const [query, answer] of before) assert.equal(afterRetention.get(query), answer, query);
    const kept = await everyBillingRecord(tally, tally.adminKey, 'limit=1000');
    assert.deepEqual(
      kept.map((record) => ({ ...record, countedAt: iso(Date.parse(record.countedAt) + AGED_MS) })),
      records,
    );
  });
});
