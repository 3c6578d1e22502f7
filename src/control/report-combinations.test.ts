import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { SqliteCatalogStore } from '../adapters/sqlite/catalog.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { newApiKey } from './auth.js';
import { billingRecordRoutes } from './billing-records.js';
import { ReportThread } from './report-thread/report-thread.js';
import { reportRoutes } from './reports.js';
import type { ApiServer } from '../../test/support/api-server.js';
import { serveApi } from '../../test/support/api-server.js';
import { EVERY_ID_KNOWN } from '../../test/support/report-catalog.js';
import { seededRandom } from '../../test/support/seeded-random.js';
import { HOUR_MS } from '../lib/time.js';
import { localDay, localMidnightMs, offsetAtMs, zonedIsoString } from '../lib/time-zone.js';
import type { Outcome } from '../domain/outcome.js';
import { COUNTED, invalidTraffic, notCounted } from '../domain/outcome.js';
import type { EventRecord, ReportDimension } from '../ports/ledger.js';
import { EMPTY_DIMENSIONS, REPORT_DIMENSIONS } from '../ports/ledger.js';

/**
 * Reports over any grouping, filter and time zone add up to the events recorded: exchange notices
 * and tracker hits of every outcome, served over the hours around London's and New York's autumn
 * changes of 2026 (Lord Howe, half an hour off in its winter, is 11 hours ahead then), recorded in
 * a real SQLite ledger in batches of mixed dimensions and read on a report thread over real HTTP.
 * Each report, in JSON and in CSV, is compared row by row with the events added up here, and its
 * counted money by publisher with the billing records served in its window.
 */

const dir = mkdtempSync(join(tmpdir(), 'tally-report-combinations-'));
const dbPath = join(dir, 'tally.db');
const db = openSqlite(dbPath);
const accounts = new SqliteAccountStore(db);
const ledger = new SqliteLedger(db);
const reads = new ReportThread(dbPath, 'report-combinations-test');
const TTL_MS = 3 * HOUR_MS;
const FIRST_HOUR_MS = Date.parse('2026-10-23T00:00:00Z');
const HOURS = 12 * 24;
const ZONES = ['UTC', 'America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'Asia/Tokyo'];
/** Every dimension but `currency`, which each report groups by: amounts are in USD, EUR and trackers' units. */
const DIMENSIONS: readonly ReportDimension[] = REPORT_DIMENSIONS.filter(
  (dimension) => dimension !== 'currency',
);
const METRICS = ['events', 'priceMicros', 'mediaCostMicros', 'revenueMicros', 'profitMicros'] as const;

let server: ApiServer;
let key = '';
/** Keys scoped to the catalog publisher `mapped` and to advertiser 1. */
let publisherKey = '';
let advertiserKey = '';
/** The events as recorded, each with the outcome the ledger gave it. */
const recorded: EventRecord[] = [];
/** The catalog publisher whose OpenRTB id is `p1`, and one without an OpenRTB id. */
let mapped = 0;
let unmapped = 0;

before(async () => {
  const accountId = accounts.createAccount('combinations', Date.now()).id;
  const made = newApiKey();
  accounts.addKey(accountId, made.hash, made.prefix, 'reader', 'reader', null, Date.now());
  key = made.key;
  const catalog = new SqliteCatalogStore(db);
  const publisher = (name: string, externalId: string | null) => {
    const created = catalog.publishers.create(accountId, { name, externalId }, Date.now());
    if (!created.ok) assert.fail(JSON.stringify(created));
    return created.value.id;
  };
  mapped = publisher('Mapped', 'p1');
  unmapped = publisher('Unmapped', null);
  const scoped = (scope: { type: 'publisher' | 'advertiser'; id: number }) => {
    const made = newApiKey();
    accounts.addKey(accountId, made.hash, made.prefix, scope.type, 'reader', scope, Date.now());
    return made.key;
  };
  publisherKey = scoped({ type: 'publisher', id: mapped });
  advertiserKey = scoped({ type: 'advertiser', id: 1 });
  const random = seededRandom(20261207);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const outcomes: Outcome[] = [
    COUNTED,
    COUNTED,
    COUNTED,
    notCounted('late'),
    notCounted('duplicate'),
    invalidTraffic('bot_user_agent'),
    invalidTraffic('blocked_ip'),
  ];
  const events: EventRecord[] = [];
  for (let index = 0; index < 1500; index++) {
    const hourMs = FIRST_HOUR_MS + Math.floor(random() * HOURS) * HOUR_MS;
    // Received from 5 minutes before its hour to its TTL after: served in one hour, counted in another.
    const receivedMs = hourMs - 5 * 60_000 + Math.floor(random() * (HOUR_MS + TTL_MS));
    const tracker = random() < 0.35;
    const kind = pick(['adm', 'vast', 'vast_error']);
    events.push({
      receivedMs,
      servedHourMs: hourMs,
      outcome: pick(outcomes),
      dims: tracker
        ? {
            ...EMPTY_DIMENSIONS,
            accountId,
            impressionType: pick(['external_impression', 'external_click'] as const),
            publisher: String(pick([mapped, unmapped])),
            advertiserId: pick([1, 2]),
            lineItemId: pick([3, 4]),
            trackerId: pick([5, 6]),
            placementId: pick([0, 7]),
            paymentRuleId: pick([0, 8]),
            cachebusterMissing: random() < 0.2,
          }
        : {
            ...EMPTY_DIMENSIONS,
            accountId,
            kind,
            format: pick(['banner', 'video']),
            channel: pick(['web', 'app']),
            method: pick(['adm', 'vast']),
            seat: pick(['s1', 's2']),
            publisher: pick(['p1', 'p2', '']),
            auctionId: `a${index}`,
            impId: '1',
            bidId: 'b',
            currency: pick(['USD', 'EUR']),
            vastError: kind === 'vast_error' && random() < 0.7 ? pick([303, 402]) : null,
          },
      priceMicros: tracker ? 0 : Math.floor(random() * 5_000_000),
      mediaCostMicros: tracker ? Math.floor(random() * 3_000) : 0,
      revenueMicros: tracker ? Math.floor(random() * 5_000) : 0,
      deviceIp: '198.51.100.1',
      userAgent: 'Mozilla/5.0',
    });
  }
  // In the order a server receives them, in batches of a few.
  events.sort((a, b) => a.receivedMs - b.receivedMs);
  for (let index = 0; index < events.length;) {
    const batch = events.slice(index, index + 1 + Math.floor(random() * 12));
    const given = ledger.record(batch);
    batch.forEach((event, at) => recorded.push({ ...event, outcome: given[at] ?? event.outcome }));
    index += batch.length;
  }
  server = await serveApi(
    [
      // The catalog's OpenRTB id of its publisher, which a publisher key's exchange rows are of.
      ...reportRoutes(
        reads,
        { ...EVERY_ID_KNOWN, publisherExternalId: (_, id) => (id === mapped ? 'p1' : null) },
        100_000,
      ),
      ...billingRecordRoutes(reads, TTL_MS, EVERY_ID_KNOWN),
    ],
    accounts,
  );
});

after(async () => {
  await server.close();
  await reads.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The hours and days of hours already read, by zone and hour: each is a while to write. */
const hours = new Map<string, string>();
const days = new Map<string, string>();

/** An hour as a report's `hour` writes it, in `timeZone` (UTC without one). */
function hourOf(hourMs: number, timeZone: string | undefined): string {
  const known = hours.get(`${timeZone}/${hourMs}`);
  if (known !== undefined) return known;
  const hour = zonedIsoString(hourMs, timeZone);
  hours.set(`${timeZone}/${hourMs}`, hour);
  return hour;
}

/** The day an hour is in, as a report's `day` writes it: its first instant, in `timeZone` (UTC without one). */
function dayOf(hourMs: number, timeZone: string | undefined): string {
  const known = days.get(`${timeZone}/${hourMs}`);
  if (known !== undefined) return known;
  const dayStartMs =
    timeZone === undefined
      ? hourMs - (hourMs % 86_400_000)
      : (localMidnightMs(timeZone, localDay(hourMs, offsetAtMs(timeZone, hourMs))) ?? Number.NaN);
  const day = zonedIsoString(dayStartMs, timeZone);
  days.set(`${timeZone}/${hourMs}`, day);
  return day;
}

/** `dimension`'s value on `event`'s report row, as the JSON writes it, in `zone`'s calendar. */
function valueOf(event: EventRecord, dimension: ReportDimension, zone: string): string | number | boolean {
  const d = event.dims;
  const exchange = d.impressionType === 'exchange';
  const counted = event.outcome.outcome === 'counted';
  const timeZone = zone === 'UTC' ? undefined : zone;
  switch (dimension) {
    case 'hour':
      return hourOf(event.servedHourMs, timeZone);
    case 'day':
      return dayOf(event.servedHourMs, timeZone);
    case 'outcome':
      return event.outcome.outcome;
    case 'reason':
      return event.outcome.outcome === 'counted' ? '' : event.outcome.reason;
    case 'ivtRule':
      return event.outcome.outcome === 'not_counted' && event.outcome.reason === 'invalid_traffic'
        ? event.outcome.rule
        : '';
    case 'impressionType':
      return d.impressionType;
    case 'format':
      return d.format;
    case 'channel':
      return d.channel;
    case 'method':
      return d.method;
    case 'seat':
      return d.seat;
    case 'notice':
      return d.kind;
    case 'publisher':
      if (exchange) return d.publisher;
      return d.publisher === String(mapped) ? 'p1' : '';
    case 'publisherId':
      if (!exchange) return Number(d.publisher);
      return d.publisher === 'p1' ? mapped : 0;
    case 'advertiser':
      return d.advertiserId;
    case 'lineItem':
      return d.lineItemId;
    case 'tracker':
      return d.trackerId;
    case 'placement':
      return d.placementId;
    case 'paymentRule':
      return d.paymentRuleId;
    case 'cachebusterMissing':
      return d.cachebusterMissing;
    case 'vastError':
      return d.vastError ?? '';
    case 'currency':
      return counted ? d.currency : '';
  }
}

/** The rows a report grouped by `groupBy` over `events` holds, keyed by their dimensions' values. */
function expectedRows(
  events: readonly EventRecord[],
  groupBy: readonly ReportDimension[],
  zone: string,
): Map<string, number[]> {
  const rows = new Map<string, number[]>();
  for (const event of events) {
    const rowKey = JSON.stringify(groupBy.map((dimension) => valueOf(event, dimension, zone)));
    const metrics = rows.get(rowKey) ?? [0, 0, 0, 0, 0];
    metrics[0] = (metrics[0] ?? 0) + 1;
    // Money is what was billed: counted events alone carry it.
    if (event.outcome.outcome === 'counted') {
      const add = [event.priceMicros, event.mediaCostMicros, event.revenueMicros];
      add.push(event.revenueMicros - event.mediaCostMicros);
      add.forEach((amount, at) => (metrics[at + 1] = (metrics[at + 1] ?? 0) + amount));
    }
    rows.set(rowKey, metrics);
  }
  return rows;
}

async function get(path: string, accept = 'application/json', asKey = key): Promise<Response> {
  const response = await fetch(`${server.base}${path}`, {
    headers: { authorization: `Bearer ${asKey}`, accept },
  });
  if (response.status !== 200) assert.fail(`${path}: ${response.status} ${await response.text()}`);
  return response;
}

/** Every billing record a window's pages list. */
async function everyRecord(query: string): Promise<Record<string, unknown>[]> {
  const records: Record<string, unknown>[] = [];
  let afterId = '';
  for (;;) {
    const body = (await (await get(`/v1/billing-records?${query}&limit=1000${afterId}`)).json()) as {
      records: Record<string, unknown>[];
      next: number | null;
    };
    records.push(...body.records);
    if (body.next === null) return records;
    afterId = `&after=${body.next}`;
  }
}

describe('reports over every grouping, filter and time zone', () => {
  it('add up, row by row and alike in JSON and CSV, the events served in the window, and their counted money by publisher to the billing records served in it', async () => {
    const query = fc.record({
      zone: fc.constantFrom(...ZONES),
      startHour: fc.integer({ min: 0, max: HOURS - 1 }),
      hours: fc.integer({ min: 1, max: 4 * 24 }),
      groupBy: fc.subarray([...DIMENSIONS], { maxLength: 5 }),
      // A filter on one dimension, at the value some event of the window has.
      filter: fc.option(fc.tuple(fc.constantFrom(...DIMENSIONS), fc.nat()), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(query, async ({ zone, startHour, hours, groupBy, filter }) => {
        const fromMs = FIRST_HOUR_MS + startHour * HOUR_MS;
        const toMs = fromMs + hours * HOUR_MS;
        const timeZone = zone === 'UTC' ? undefined : zone;
        const window = new URLSearchParams({
          tz: zone,
          from: zonedIsoString(fromMs, timeZone),
          to: zonedIsoString(toMs, timeZone),
        });
        let inWindow = recorded.filter((event) => event.servedHourMs >= fromMs && event.servedHourMs < toMs);
        const params = new URLSearchParams(window);
        params.set('groupBy', [...groupBy, 'currency'].join(','));
        const [dimension, at] = filter ?? [];
        const chosen = inWindow[(at ?? 0) % Math.max(inWindow.length, 1)];
        if (dimension !== undefined && chosen !== undefined) {
          const value = valueOf(chosen, dimension, zone);
          // A day filter names the day by its first instant, which may lie before the window.
          params.set(dimension, String(value));
          inWindow = inWindow.filter((event) => valueOf(event, dimension, zone) === value);
        }
        const expected = expectedRows(inWindow, [...groupBy, 'currency'], zone);
        const columns = [...groupBy, 'currency', ...METRICS];

        const json = (await (await get(`/v1/reports?${params.toString()}`)).json()) as {
          rows: Record<string, string | number | boolean>[];
        };
        const jsonRows = new Map(
          json.rows.map((row) => [
            JSON.stringify([...groupBy, 'currency'].map((name) => row[name])),
            METRICS.map((metric) => row[metric] as number),
          ]),
        );
        assert.deepEqual(jsonRows, expected, `${params.toString()} in JSON`);

        // Asked for by Accept: a format filter takes the format parameter.
        const csv = await (await get(`/v1/reports?${params.toString()}`, 'text/csv')).text();
        assert.deepEqual(
          csv.split('\r\n'),
          [
            columns.join(','),
            ...json.rows.map((row) => columns.map((column) => String(row[column])).join(',')),
            '',
          ],
          `${params.toString()} in CSV`,
        );

        // Counted money by publisher: the report's rows against the records served in the window.
        const byPublisher = new URLSearchParams(window);
        byPublisher.set('groupBy', 'publisherId,currency');
        byPublisher.set('outcome', 'counted');
        const reported = (await (await get(`/v1/reports?${byPublisher.toString()}`)).json()) as {
          rows: Record<string, string | number>[];
        };
        const served = new URLSearchParams({ tz: zone, servedFrom: window.get('from') ?? '' });
        served.set('servedTo', window.get('to') ?? '');
        const records = await everyRecord(served.toString());
        const fromRecords = new Map<string, number[]>();
        for (const record of records) {
          const rowKey = JSON.stringify([record.publisherId, record.currency ?? '']);
          const sums = fromRecords.get(rowKey) ?? [0, 0, 0, 0];
          const amounts = [1, record.priceMicros, record.mediaCostMicros, record.revenueMicros];
          amounts.forEach((amount, index) => (sums[index] = (sums[index] ?? 0) + Number(amount ?? 0)));
          fromRecords.set(rowKey, sums);
        }
        assert.deepEqual(
          new Map(
            reported.rows.map((row) => [
              JSON.stringify([row.publisherId, row.currency]),
              [row.events, row.priceMicros, row.mediaCostMicros, row.revenueMicros],
            ]),
          ),
          fromRecords,
          `${byPublisher.toString()} against the billing records`,
        );
      }),
      { numRuns: 100 },
    );
  });

  it('show a scoped key the rows of its side alone, its publisher’s counted events or its advertiser’s, without the other side’s money, in JSON and CSV', async () => {
    const query = fc.record({
      zone: fc.constantFrom(...ZONES),
      startHour: fc.integer({ min: 0, max: HOURS - 1 }),
      hours: fc.integer({ min: 1, max: 4 * 24 }),
      groupBy: fc.subarray(
        DIMENSIONS.filter((dimension) => dimension !== 'paymentRule'),
        { maxLength: 4 },
      ),
      side: fc.constantFrom('publisher', 'advertiser'),
    });
    await fc.assert(
      fc.asyncProperty(query, async ({ zone, startHour, hours, groupBy, side }) => {
        const fromMs = FIRST_HOUR_MS + startHour * HOUR_MS;
        const toMs = fromMs + hours * HOUR_MS;
        const timeZone = zone === 'UTC' ? undefined : zone;
        const params = new URLSearchParams({
          tz: zone,
          from: zonedIsoString(fromMs, timeZone),
          to: zonedIsoString(toMs, timeZone),
          groupBy: [...groupBy, 'currency'].join(','),
        });
        const ofSide = (event: EventRecord) =>
          side === 'publisher'
            ? event.outcome.outcome === 'counted' && valueOf(event, 'publisherId', zone) === mapped
            : event.dims.advertiserId === 1;
        const inWindow = recorded.filter(
          (event) => event.servedHourMs >= fromMs && event.servedHourMs < toMs && ofSide(event),
        );
        // The metrics each side is shown, by their place in METRICS.
        const shown =
          side === 'publisher' ? ['events', 'mediaCostMicros'] : ['events', 'priceMicros', 'revenueMicros'];
        const expected = new Map(
          [...expectedRows(inWindow, [...groupBy, 'currency'], zone)].map(([rowKey, metrics]) => [
            rowKey,
            metrics.filter((_, index) => shown.includes(METRICS[index] as string)),
          ]),
        );
        const asKey = side === 'publisher' ? publisherKey : advertiserKey;
        const json = (await (
          await get(`/v1/reports?${params.toString()}`, 'application/json', asKey)
        ).json()) as {
          rows: Record<string, string | number | boolean>[];
        };
        assert.deepEqual(
          new Map(
            json.rows.map((row) => [
              JSON.stringify([...groupBy, 'currency'].map((name) => row[name])),
              shown.map((metric) => row[metric] as number),
            ]),
          ),
          expected,
          `${side} key: ${params.toString()} in JSON`,
        );
        for (const row of json.rows)
          assert.deepEqual(
            Object.keys(row).sort(),
            [...groupBy, 'currency', ...shown].sort(),
            `${side} key's row: its dimensions and the metrics it is shown`,
          );
        const columns = [...groupBy, 'currency', ...shown];
        const csv = await (await get(`/v1/reports?${params.toString()}`, 'text/csv', asKey)).text();
        assert.deepEqual(
          csv.split('\r\n'),
          [
            columns.join(','),
            ...json.rows.map((row) => columns.map((column) => String(row[column])).join(',')),
            '',
          ],
          `${side} key: ${params.toString()} in CSV`,
        );
      }),
      { numRuns: 60 },
    );
  });
});
