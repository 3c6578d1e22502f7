// How long a report over months of hourly rollups keeps the report thread busy: the ledger's
// `report`, called as the report thread calls it (exact sums, one row more than the most allowed),
// on a ledger of 90 days of 2000 rollup rows an hour for one account (4.3 M rows) beside three
// other accounts' rows in the same hours, built through the real schema (rows inserted by SQL).
// Beside each report, the baseline measured in the same run: a bare SUM(events) of the account's
// rollups over the same window, read as the same range of the rollups' (account, hour) key.
//
//   npm run bench:reports      (BENCH_DAYS=90, BENCH_ROWS_PER_HOUR=2000 by default)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteAccountStore } from '../src/adapters/sqlite/accounts.js';
import { openSqlite } from '../src/adapters/sqlite/database.js';
import { SqliteLedger } from '../src/adapters/sqlite/ledger.js';
import { DAY_MS, HOUR_MS } from '../src/lib/time.js';
import { IVT_RULES, NOT_COUNTED_REASONS } from '../src/domain/outcome.js';
import type { ReportQuery } from '../src/ports/ledger.js';

const DAYS = Number(process.env.BENCH_DAYS ?? '90');
const ROWS_PER_HOUR = Number(process.env.BENCH_ROWS_PER_HOUR ?? '2000');
/** Rollup rows an hour of each of the other accounts. */
const OTHER_ROWS_PER_HOUR = 100;
const OTHER_ACCOUNTS = 3;
const SEATS = 50;
const PUBLISHERS = 500;
const ADVERTISERS = 20;
const LINE_ITEMS = 200;
/** As the report thread asks: one row more than the API's default most (`TALLY_REPORT_MAX_ROWS`). */
const MAX_ROWS = 100_001;
/** A report over a day is timed for at least this long (the median); one over months once. */
const SHORT_TOTAL_MS = 500;
const NOW_MS = Date.UTC(2026, 11, 1);
const FROM_MS = NOW_MS - DAYS * DAY_MS;

/** A small seeded generator (mulberry32), so that every run builds the same ledger. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A rollup row's dimensions and its amounts in its first hour (the hours scale them). */
type Combination = readonly (string | number)[];

/**
 * `count` distinct combinations of dimensions, shaped like an exchange's and its trackers': mostly
 * counted exchange wins in USD over a few formats and channels, ~50 seats and ~500 publishers; some
 * not counted, for a few reasons (invalid traffic by its rule); some tracker hits (their amounts
 * left at 0, so that a report over both kinds is not refused for mixing their units).
 */
function combinations(count: number, random: () => number): Combination[] {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const reasons = NOT_COUNTED_REASONS.filter((reason) => reason !== 'invalid_traffic').slice(0, 4);
  const out = new Map<string, Combination>();
  while (out.size < count) {
    const exchange = random() < 0.8;
    const counted = random() < 0.85;
    const invalid = !counted && random() < 0.4;
    const format = pick(['banner', 'banner', 'video', 'native', 'audio']);
    const lineItem = 1 + Math.floor(random() * LINE_ITEMS);
    const publisher = 1 + Math.floor(random() * PUBLISHERS);
    const row: Combination = [
      counted ? 'counted' : 'not_counted',
      counted ? '' : invalid ? 'invalid_traffic' : pick(reasons),
      exchange ? 'exchange' : pick(['external_impression', 'external_impression', 'external_click']),
      format,
      pick(['web', 'web', 'app', 'ctv']),
      exchange ? pick(['adm', 'burl']) : 'pixel',
      exchange ? `seat-${Math.floor(random() * SEATS)}` : '',
      exchange ? `pub-${publisher}` : String(publisher),
      1 + (lineItem % ADVERTISERS),
      lineItem,
      exchange ? 0 : 1 + Math.floor(random() * 2000),
      exchange ? 0 : 1 + Math.floor(random() * 1000),
      exchange ? 0 : 1 + Math.floor(random() * 50),
      random() < 0.05 ? 1 : 0,
      exchange ? pick(['adm', 'burl']) : 'tracker',
      exchange ? 'USD' : '',
      invalid ? pick(IVT_RULES) : '',
      format === 'video' && random() < 0.1 ? pick([100, 301, 402, 405]) : 0,
      1 + Math.floor(random() * 400),
      counted && exchange ? 500 + Math.floor(random() * 3000) : 0,
    ];
    out.set(row.slice(0, 18).join('\u001f'), row);
  }
  return [...out.values()];
}

/**
 * Inserts `rowsPerHour` combinations of `accountId` in every hour of the window: the combinations
 * go into a temporary table, then one INSERT … SELECT crosses them with the hours.
 */
function insertRollups(db: Database.Database, accountId: number, rowsPerHour: number, seed: number): void {
  // Typed as the rollups' columns are, so that the numbers bound (as doubles) are stored as integers;
  // keyed as they are, so that the hours crossed with them come in the rollups' order (appends).
  db.exec(`CREATE TEMP TABLE bench_combinations (
    outcome TEXT, reason TEXT, impression_type TEXT, format TEXT, channel TEXT, method TEXT, seat TEXT,
    publisher TEXT, advertiser_id INTEGER, line_item_id INTEGER, tracker_id INTEGER, placement_id INTEGER,
    payment_rule_id INTEGER, cachebuster_missing INTEGER, kind TEXT, currency TEXT, ivt_rule TEXT,
    vast_error INTEGER, events INTEGER, cpm_micros INTEGER,
    PRIMARY KEY (outcome, reason, impression_type, format, channel, method, seat, publisher, advertiser_id,
      line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind, currency, ivt_rule,
      vast_error)
  ) WITHOUT ROWID`);
  const insert = db.prepare(`INSERT INTO bench_combinations VALUES (${Array(20).fill('?').join(', ')})`);
  db.transaction(() => {
    for (const row of combinations(rowsPerHour, seeded(seed))) insert.run(...row);
  })();
  db.prepare(
    `WITH RECURSIVE hours (hour_ms) AS (SELECT CAST(? AS INTEGER) UNION ALL SELECT hour_ms + ${HOUR_MS} FROM hours WHERE hour_ms + ${HOUR_MS} < ?)
     INSERT INTO rollup_hourly (hour_ms, account_id, outcome, reason, impression_type, format, channel, method, seat,
       publisher, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind,
       currency, ivt_rule, vast_error, events, price_micros, media_cost_micros, revenue_micros)
     SELECT h.hour_ms, ?, c.outcome, c.reason, c.impression_type, c.format, c.channel, c.method, c.seat, c.publisher,
       c.advertiser_id, c.line_item_id, c.tracker_id, c.placement_id, c.payment_rule_id, c.cachebuster_missing,
       c.kind, c.currency, c.ivt_rule, c.vast_error, ${EVENTS}, ${EVENTS} * c.cpm_micros,
       ${EVENTS} * c.cpm_micros * 7 / 10, ${EVENTS} * c.cpm_micros
     FROM hours h CROSS JOIN bench_combinations c`,
  ).run(FROM_MS, NOW_MS, accountId);
  db.exec('DROP TABLE bench_combinations');
}

/** A rollup row's events in its hour: its combination's, by the hour of the day (a daily curve). */
const EVENTS = `c.events * (1 + ABS(12 - (h.hour_ms / ${HOUR_MS}) % 24))`;

/**
 * The time `body` takes, in ms: once when `long` (a report over months takes seconds, and the run
 * stays within about two minutes), else the median of at least 3 runs over `SHORT_TOTAL_MS`.
 */
function medianMs(body: () => unknown, long: boolean): number {
  const timings: number[] = [];
  const started = performance.now();
  while (long ? timings.length < 1 : timings.length < 3 || performance.now() - started < SHORT_TOTAL_MS) {
    const runStarted = performance.now();
    body();
    timings.push(performance.now() - runStarted);
  }
  timings.sort((a, b) => a - b);
  return timings[Math.floor(timings.length / 2)] ?? Number.NaN;
}

const dir = mkdtempSync(join(tmpdir(), 'tally-bench-reports-'));
try {
  const path = join(dir, 'tally.db');
  const db = openSqlite(path, 'NORMAL');
  const accounts = new SqliteAccountStore(db);
  const accountId = accounts.createAccount('bench', NOW_MS).id;
  const others = Array.from(
    { length: OTHER_ACCOUNTS },
    (_, index) => accounts.createAccount(`other ${index}`, NOW_MS).id,
  );
  // The catalog publishers the tracker rows name, each with the OpenRTB id the exchange rows hold.
  db.transaction(() => {
    const insert = db.prepare(
      `INSERT INTO publishers (id, account_id, name, external_id, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    for (let id = 1; id <= PUBLISHERS; id++)
      insert.run(id, accountId, `publisher ${id}`, `pub-${id}`, NOW_MS, NOW_MS);
  })();
  const buildStarted = performance.now();
  insertRollups(db, accountId, ROWS_PER_HOUR, 1);
  others.forEach((other, index) => insertRollups(db, other, OTHER_ROWS_PER_HOUR, 2 + index));
  const buildS = (performance.now() - buildStarted) / 1000;
  const rollupRows = (db.prepare('SELECT COUNT(*) FROM rollup_hourly').pluck().get() as number) / 1e6;
  db.close();

  // A read-only connection of its own, as the report thread's.
  const reader = new SqliteLedger(new Database(path, { readonly: true }));
  const bareDb = new Database(path, { readonly: true });
  const bareSum = bareDb.prepare(
    'SELECT SUM(events) FROM rollup_hourly WHERE account_id = ? AND hour_ms >= ? AND hour_ms < ?',
  );
  const lastDayMs = NOW_MS - DAY_MS;
  const months = { accountId, fromMs: FROM_MS, toMs: NOW_MS, filters: {} };
  const oneDay = { accountId, fromMs: lastDayMs, toMs: NOW_MS, filters: {} };
  const reports: [string, Omit<ReportQuery, 'maxRows'>][] = [
    [`${DAYS} days by day`, { ...months, groupBy: ['day'] }],
    [`${DAYS} days by day, America/New_York`, { ...months, groupBy: ['day'], timeZone: 'America/New_York' }],
    [`${DAYS} days by day and seat`, { ...months, groupBy: ['day', 'seat'] }],
    [
      `${DAYS} days by publisher, one seat`,
      { ...months, groupBy: ['publisher'], filters: { seat: 'seat-7' } },
    ],
    ['1 day by hour', { ...oneDay, groupBy: ['hour'] }],
    ['1 day by hour, America/New_York', { ...oneDay, groupBy: ['hour'], timeZone: 'America/New_York' }],
  ];
  const long = (query: Omit<ReportQuery, 'maxRows'>) => query.toMs - query.fromMs > DAY_MS;
  const baselineMs = new Map<boolean, number>();
  for (const isLong of [true, false]) {
    const window = isLong ? months : oneDay;
    baselineMs.set(
      isLong,
      medianMs(() => bareSum.get(accountId, window.fromMs, window.toMs), isLong),
    );
  }
  let out =
    `${rollupRows.toFixed(2)} M rollup rows (${DAYS} days × ${ROWS_PER_HOUR} an hour, and ${OTHER_ACCOUNTS} other ` +
    `accounts × ${OTHER_ROWS_PER_HOUR}), built in ${buildS.toFixed(1)} s; ${DAYS} days' ` +
    `reports timed once, a day's over ${SHORT_TOTAL_MS} ms of runs (the median)\n\n`;
  for (const [label, query] of reports) {
    const ms = medianMs(
      () => reader.report({ ...query, maxRows: MAX_ROWS, exactSums: true, hiddenAmounts: [] }),
      long(query),
    );
    const baseline = baselineMs.get(long(query)) ?? Number.NaN;
    out += `${label.padEnd(44)} ${ms.toFixed(1).padStart(9)} ms  ${(ms / baseline).toFixed(1).padStart(6)}× the bare sum\n`;
  }
  out +=
    `\nbaseline, same run: bare SUM(events) of the account's rollups, the same range of the (account, hour) key:\n` +
    `  ${DAYS} days ${baselineMs.get(true)?.toFixed(1)} ms, 1 day ${baselineMs.get(false)?.toFixed(2)} ms\n`;
  process.stdout.write(out);
  reader.close();
  bareDb.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
