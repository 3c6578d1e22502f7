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
import { reportRoutes } from './reports.js';
import { exchangeEvent } from '../../test/support/events.js';
import type { ApiServer } from '../../test/support/api-server.js';
import { serveApi } from '../../test/support/api-server.js';
import { EVERY_ID_KNOWN } from '../../test/support/report-catalog.js';
import { seededRandom } from '../../test/support/seeded-random.js';
import { DAY_MS, HOUR_MS } from '../lib/time.js';
import { COUNTED, notCounted } from '../domain/outcome.js';

/**
 * Reports and billing records agree across the clocks' changes: counted impressions served in the
 * hours around New York's and London's spring and autumn changes of 2026, recorded in a real SQLite
 * ledger and read on a report thread over real HTTP, add up in a report over any local day, hour or
 * window to exactly the records served in it, in the same zone. (Over a running server, impressions
 * can count only within the TTL of now: these hours are months away.)
 */

const dir = mkdtempSync(join(tmpdir(), 'tally-report-billing-dst-'));
const dbPath = join(dir, 'tally.db');
const db = openSqlite(dbPath);
const accounts = new SqliteAccountStore(db);
const ledger = new SqliteLedger(db);
const reads = new ReportThread(dbPath, 'report-billing-dst-test');
const TTL_MS = 3 * HOUR_MS;
/** The stretches of hours the impressions are served in: each around a change of the clocks. */
const STRETCHES = [
  ['2026-03-06T00:00:00Z', '2026-03-10T00:00:00Z'],
  ['2026-03-27T00:00:00Z', '2026-03-31T00:00:00Z'],
  ['2026-10-23T00:00:00Z', '2026-10-27T00:00:00Z'],
  ['2026-10-30T00:00:00Z', '2026-11-03T00:00:00Z'],
] as const;
const SEATS = ['s1', 's2'];
const CURRENCIES = ['USD', 'EUR'];
let server: ApiServer;
let key = '';

before(async () => {
  const accountId = accounts.createAccount('dst', Date.now()).id;
  const made = newApiKey();
  accounts.addKey(accountId, made.hash, made.prefix, 'reader', 'reader', null, Date.now());
  key = made.key;
  const random = seededRandom(1101);
  const events = [];
  for (const [from, to] of STRETCHES) {
    for (let hourMs = Date.parse(from); hourMs < Date.parse(to); hourMs += HOUR_MS) {
      for (let n = 1 + Math.floor(random() * 2); n > 0; n--) {
        const base = exchangeEvent();
        // Counted from 5 minutes before its hour (an auction ahead of the clock) to its TTL.
        const receivedMs = hourMs - 5 * 60_000 + Math.floor(random() * (HOUR_MS + TTL_MS));
        const auctionId = `a-${hourMs}-${n}`;
        events.push(
          exchangeEvent({
            receivedMs,
            servedHourMs: hourMs,
            // Some that did not count, which neither adds up; every hour has one that did.
            outcome: n > 1 && random() < 0.4 ? notCounted('late') : COUNTED,
            priceMicros: 1 + Math.floor(random() * 5_000_000),
            dims: {
              ...base.dims,
              accountId,
              auctionId,
              seat: SEATS[Math.floor(random() * SEATS.length)] as string,
              currency: CURRENCIES[Math.floor(random() * CURRENCIES.length)] as string,
            },
            dedupe: { key: auctionId, expiresMs: receivedMs + TTL_MS },
          }),
        );
      }
    }
  }
  // In the order a server receives them.
  events.sort((a, b) => a.receivedMs - b.receivedMs);
  for (let index = 0; index < events.length; index += 7) ledger.record(events.slice(index, index + 7));
  server = await serveApi(
    [...reportRoutes(reads, EVERY_ID_KNOWN, 100_000), ...billingRecordRoutes(reads, TTL_MS, EVERY_ID_KNOWN)],
    accounts,
  );
});

after(async () => {
  await server.close();
  await reads.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(path: string): Promise<any> {
  const response = await fetch(`${server.base}${path}`, { headers: { authorization: `Bearer ${key}` } });
  const body = await response.json();
  assert.equal(response.status, 200, `${path}: ${JSON.stringify(body)}`);
  return body;
}

/** `[seat/currency, events, priceMicros]`, sorted, of a report's counted rows. */
async function reportTotals(query: string): Promise<[string, number, number][]> {
  const body = await get(`/v1/reports?${query}&outcome=counted&groupBy=seat,currency`);
  return body.rows.map((row: any) => [`${row.seat}/${row.currency}`, row.events, row.priceMicros]);
}

/** Every record served in a window, page by page, and their totals as {@link reportTotals} writes them. */
async function recordTotals(query: string): Promise<{ records: any[]; totals: [string, number, number][] }> {
  const records: any[] = [];
  let afterId = '';
  for (;;) {
    const body = await get(`/v1/billing-records?${query}&limit=1000${afterId}`);
    records.push(...body.records);
    if (body.next === null) break;
    afterId = `&after=${body.next}`;
  }
  const sums = new Map<string, [number, number]>();
  for (const record of records) {
    const name = `${record.seat}/${record.currency}`;
    const [events, priceMicros] = sums.get(name) ?? [0, 0];
    sums.set(name, [events + 1, priceMicros + record.priceMicros]);
  }
  const totals = [...sums.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, [events, priceMicros]]): [string, number, number] => [name, events, priceMicros]);
  return { records, totals };
}

const localDate = (ms: number, zone: string) =>
  new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(ms);

describe('reports and billing records across the clocks’ changes', () => {
  for (const zone of ['America/New_York', 'Europe/London', 'UTC']) {
    it(`adds up every local day of ${zone} around its changes, grouped by day or asked for alone, to the records served in it`, async () => {
      for (const [from, to] of STRETCHES) {
        const dates: string[] = [];
        for (let ms = Date.parse(from) + DAY_MS; ms < Date.parse(to); ms += DAY_MS)
          dates.push(localDate(ms, zone));
        const window = `tz=${zone}&from=${dates[0]}&to=${dates.at(-1)}`;
        const byDay = await get(`/v1/reports?${window}&outcome=counted&groupBy=day,seat,currency`);
        for (const [index, date] of dates.slice(0, -1).entries()) {
          const next = dates[index + 1] as string;
          const { records, totals } = await recordTotals(`tz=${zone}&servedFrom=${date}&servedTo=${next}`);
          assert.deepEqual(
            await reportTotals(`tz=${zone}&from=${date}&to=${next}`),
            totals,
            `${zone} ${date}`,
          );
          const dayRows = byDay.rows
            .filter((row: any) => row.day.startsWith(date))
            .map((row: any) => [`${row.seat}/${row.currency}`, row.events, row.priceMicros]);
          assert.deepEqual(dayRows, totals, `${zone} ${date} grouped by day`);
          const hours = new Set(records.map((record) => record.servedHour));
          for (const hour of hours) assert.ok(hour.startsWith(date), `${hour} outside ${date}`);
        }
      }
    });
  }

  it('adds up each of the two 01:00 hours of New York’s 1 November as the records served in it, and both together', async () => {
    const zone = 'tz=America/New_York';
    const first = 'from=2026-11-01T01:00:00-04:00&to=2026-11-01T01:00:00-05:00';
    const second = 'from=2026-11-01T01:00:00-05:00&to=2026-11-01T02:00:00-05:00';
    const both = 'from=2026-11-01T01:00:00-04:00&to=2026-11-01T02:00:00-05:00';
    for (const window of [first, second, both]) {
      const { records, totals } = await recordTotals(
        `${zone}&${window.replace(/from|to/g, (bound) => (bound === 'from' ? 'servedFrom' : 'servedTo'))}`,
      );
      assert.deepEqual(await reportTotals(`${zone}&${window}`), totals, window);
      assert.ok(records.length > 0, window);
    }
    const byHour = await get(`/v1/reports?${zone}&${both}&outcome=counted&groupBy=hour,currency`);
    assert.deepEqual(
      [...new Set(byHour.rows.map((row: any) => row.hour))],
      ['2026-11-01T01:00:00.000-04:00', '2026-11-01T01:00:00.000-05:00'],
    );
    const { records } = await recordTotals(
      `${zone}&servedFrom=2026-11-01T01:00:00-04:00&servedTo=2026-11-01T02:00:00-05:00`,
    );
    for (const row of byHour.rows) {
      const inHour = records.filter(
        (record) => record.servedHour === row.hour && record.currency === row.currency,
      );
      assert.equal(row.events, inHour.length, row.hour);
      assert.equal(
        row.priceMicros,
        inHour.reduce((sum, record) => sum + record.priceMicros, 0),
        row.hour,
      );
    }
  });

  it('adds up any window of whole hours, in UTC or with local offsets, to the records served in it', async () => {
    const random = seededRandom(7);
    for (let window = 0; window < 40; window++) {
      const [from, to] = STRETCHES[Math.floor(random() * STRETCHES.length)] as readonly [string, string];
      const hours = (Date.parse(to) - Date.parse(from)) / HOUR_MS;
      const startMs = Date.parse(from) + Math.floor(random() * hours) * HOUR_MS;
      const endMs = startMs + (1 + Math.floor(random() * 30)) * HOUR_MS;
      const query = `from=${new Date(startMs).toISOString()}&to=${new Date(endMs).toISOString()}`;
      const served = `servedFrom=${new Date(startMs).toISOString()}&servedTo=${new Date(endMs).toISOString()}`;
      assert.deepEqual(await reportTotals(query), (await recordTotals(served)).totals, query);
    }
  });
});
