/** Reports over the hourly rollups, for `Ledger.report`. */
import type Database from 'better-sqlite3';
import type { ReportAmount, ReportDimension, ReportQuery, ReportRow } from '../../ports/ledger.js';
import { MixedCurrenciesError, NUMERIC_REPORT_DIMENSIONS, ReportTooLargeError } from '../../ports/ledger.js';
import { catalogPublisherIdSql, openRtbPublisherSql } from './publisher-sql.js';
import type { ReportCalendar } from './report-calendar.js';
import { reportCalendar } from './report-calendar.js';
import { exactSum } from './rollup-sums.js';

/**
 * Column (SQL expression) behind each report dimension. An exchange row holds its win's OpenRTB
 * publisher id in `publisher`, a tracker row its catalog publisher's id: the `publisher` dimension
 * is the OpenRTB id of either, and `publisherId` the catalog publisher of either, so that neither
 * mixes the two kinds of id.
 */
const DIMENSION_SQL: Readonly<Record<Exclude<ReportDimension, 'day'>, string>> = {
  hour: 'hour_ms',
  outcome: 'outcome',
  reason: 'reason',
  impressionType: 'impression_type',
  format: 'format',
  channel: 'channel',
  method: 'method',
  seat: 'seat',
  publisher: openRtbPublisherSql('rollup_hourly'),
  publisherId: catalogPublisherIdSql('rollup_hourly'),
  advertiser: 'advertiser_id',
  lineItem: 'line_item_id',
  tracker: 'tracker_id',
  placement: 'placement_id',
  paymentRule: 'payment_rule_id',
  cachebusterMissing: 'cachebuster_missing',
  notice: 'kind',
  ivtRule: 'ivt_rule',
  vastError: 'vast_error',
  currency: 'currency',
};
/** A UTC time as `toISOString` writes it, the only form an `hour` or `day` filter comes in. */
const ISO_UTC_TIME = /^(?:\d{4}|[+-]\d{6})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function filterValue(dimension: ReportDimension, value: string, calendar: ReportCalendar): string | number {
  if (dimension === 'hour') return timeFilterMs(value);
  if (dimension === 'day') return calendar.dayValue(timeFilterMs(value));
  if (dimension === 'cachebusterMissing') return value === 'true' || value === '1' ? 1 : 0;
  // No code (empty) is kept as 0.
  if (dimension === 'vastError') return value === '' ? 0 : Number(value);
  if (NUMERIC_REPORT_DIMENSIONS.has(dimension)) return Number(value);
  return value;
}

/**
 * Epoch ms of an `hour` or `day` filter. `Date.parse` reads `toISOString`'s form the same in every
 * time zone; any other form (one without an offset would be read in the server's) is refused.
 */
function timeFilterMs(value: string): number {
  if (!ISO_UTC_TIME.test(value))
    throw new RangeError(`report filter time ${value}: expected a UTC time as toISOString writes it`);
  return Date.parse(value);
}

/**
 * A report's amounts and the rollup columns they add up. The currency of a rollup row's amounts,
 * when it has any of those shown: none (NULL) for a row whose amounts are all zero, `''` for
 * tracker hits, whose amounts are in units Tally does not name.
 */
const AMOUNT_COLUMNS = [
  ['priceMicros', 'price_micros'],
  ['mediaCostMicros', 'media_cost_micros'],
  ['revenueMicros', 'revenue_micros'],
] as const satisfies readonly (readonly [ReportAmount, string])[];

/**
 * Refuses a report whose amounts are in more than one currency (`rowCurrencies`: each row's, as
 * SQLite's `GROUP_CONCAT` joins them with commas): a row's sum would be no amount of anything,
 * and rows in different currencies, none saying which, would be added up by whoever totals them.
 */
function refuseMixedCurrencies(rowCurrencies: readonly unknown[]): void {
  const currencies = new Set<string>();
  for (const row of rowCurrencies)
    if (typeof row === 'string') for (const currency of row.split(',')) currencies.add(currency);
  if (currencies.size < 2) return;
  const named = [...currencies].sort().map((currency) => currency || "trackers' unnamed units");
  // Tracker hits beside exchange wins: most often, only one kind was wanted.
  const kinds = currencies.has('')
    ? ', or report one kind of event (impressionType=external_impression, external_click or exchange)'
    : '';
  throw new MixedCurrenciesError(
    `this report's amounts are in ${named.join(', ')}: group by currency (groupBy=…,currency) or filter on one (currency=USD)${kinds}`,
  );
}
function presentDimension(
  dimension: ReportDimension,
  value: unknown,
  calendar: ReportCalendar,
): string | number | boolean {
  if (dimension === 'hour') return calendar.hourText(Number(value));
  if (dimension === 'day') return calendar.dayText(Number(value));
  if (dimension === 'cachebusterMissing') return value === 1n;
  if (dimension === 'vastError') return value === 0n ? '' : Number(value);
  // Ids and flags are read as BigInt with the metrics; ids are far below 2^53.
  return typeof value === 'bigint' ? Number(value) : (value as string);
}

/**
 * Runs a report's query. A SUM past SQLite's 64-bit integers (2^63 - 1 micros) fails with
 * "integer overflow": far past what a JSON number holds, so the report is refused as any report
 * past 2^53 - 1 is, saying how to narrow it, rather than failing as if retrying could help.
 */
function sumsWithinInt64<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof Error && error.name === 'SqliteError' && error.message === 'integer overflow') {
      throw new ReportTooLargeError(
        `the report's sums pass 2^63 - 1, far more than a number in the answer holds exactly (2^53 - 1): narrow from and to, or filter or group it so that each row adds up to less`,
      );
    }
    throw error;
  }
}

/**
 * A report metric (`name`) as a number, exactly: a sum past `Number.MAX_SAFE_INTEGER` has no
 * exact JSON number a client could read, so the report is refused (a {@link ReportTooLargeError},
 * which the report thread answers as a refusal) rather than answered a few micros off.
 */
function exactNumber(name: string, value: bigint): number {
  const number = numberIfSafe(value);
  if (typeof number === 'number') return number;
  throw new ReportTooLargeError(
    `the report's ${name} add up to ${value}, more than a JSON number holds exactly (2^53 - 1): ask for it as CSV (format=csv), which writes every sum exactly, or narrow from and to, or filter or group it so that each row adds up to less`,
  );
}

/** A report metric as a number where one holds it exactly, else as the bigint. */
function numberIfSafe(value: bigint): number | bigint {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(value)
    : value;
}

/**
 * The rollups of the hours that begin in [`fromMs`, `toMs`), so that back-to-back windows never
 * share an hour (the API takes only hour starts for both). An `hour` or `day` filter is a UTC
 * time as `toISOString` writes it (the API rewrites it so). Days are UTC days, or those of the
 * query's `timeZone` (see `reportCalendar`).
 */
export function readReport(db: Database.Database, query: ReportQuery): ReportRow[] {
  const calendar = reportCalendar(query);
  const sqlOf = (dimension: ReportDimension) =>
    dimension === 'day' ? calendar.daySql : DIMENSION_SQL[dimension];
  const groupColumns = query.groupBy.map((dimension) => `${sqlOf(dimension)} AS "${dimension}"`);
  // By position: a GROUP BY name that is also a column (`publisher`) would mean the column, not
  // the dimension's expression.
  const positions = query.groupBy.map((_, index) => index + 1).join(', ');
  const where = ['account_id = ?', 'hour_ms >= ?', 'hour_ms < ?'];
  const params: unknown[] = [query.accountId, query.fromMs, query.toMs];
  if (query.publisherScope !== undefined) {
    where.push(
      `((impression_type <> 'exchange' AND publisher = ?) OR (impression_type = 'exchange' AND publisher = ?))`,
    );
    params.push(query.publisherScope.catalogId, query.publisherScope.externalId);
  }
  for (const [dimension, value] of Object.entries(query.filters) as [ReportDimension, string][]) {
    where.push(`${sqlOf(dimension)} = ?`);
    params.push(filterValue(dimension, value, calendar));
  }
  // Amounts the caller is not shown are neither added up nor read for their currency.
  const hiddenAmounts = query.hiddenAmounts ?? [];
  const shownAmounts = AMOUNT_COLUMNS.filter(([amount]) => !hiddenAmounts.includes(amount));
  const profitShown = !hiddenAmounts.includes('mediaCostMicros') && !hiddenAmounts.includes('revenueMicros');
  // Unless the currency is grouped by or filtered on, the currencies each row's amounts are in.
  const mixable =
    !query.groupBy.includes('currency') && query.filters.currency === undefined && shownAmounts.length > 0;
  const currencyOfAmounts = `CASE WHEN ${shownAmounts.map(([, column]) => `${column} <> 0`).join(' OR ')}
    THEN ${DIMENSION_SQL.currency} END`;
  /**
   * The sums of a report row and the currencies its amounts are in: each sum of `summed(column,
   * name)`, a rollup column or the hourly sum by that name; `currencies`, each rollup row's or
   * each hourly sum's.
   */
  const sums = (summed: (column: string, name: string) => string, currencies: string) => [
    `SUM(${summed('events', 'events')}) AS events`,
    ...AMOUNT_COLUMNS.map(([amount, column]) =>
      hiddenAmounts.includes(amount) ? `0 AS ${amount}` : `SUM(${summed(column, amount)}) AS ${amount}`,
    ),
    ...(mixable ? [`GROUP_CONCAT(DISTINCT ${currencies}) AS currencies`] : []),
  ];
  const ofRollups = (column: string) => column;
  const whereSql = `WHERE ${where.join(' AND ')}`;
  const grouped = query.groupBy.length > 0 ? `GROUP BY ${positions} ORDER BY ${positions}` : '';
  let sql = `SELECT ${[...groupColumns, ...sums(ofRollups, currencyOfAmounts)].join(', ')}
    FROM rollup_hourly ${whereSql} ${grouped} LIMIT ?`;
  if (query.groupBy.includes('day')) {
    // The rollups come in the order of their key, account then hour: summed by the hour (and the
    // other dimensions) first, which sorts none of them when no other dimension is grouped by, then
    // those sums by the day. An hour's currencies are joined as a row's are (a comma between), so
    // that the day's are the same set.
    const hourlyColumns = [
      'hour_ms',
      ...query.groupBy
        .filter((dimension) => dimension !== 'day')
        .map((dimension) => `${sqlOf(dimension)} AS "${dimension}"`),
    ];
    const hourlyPositions = hourlyColumns.map((_, index) => index + 1).join(', ');
    const dayColumns = query.groupBy.map((dimension) =>
      dimension === 'day' ? `${calendar.daySql} AS "day"` : `"${dimension}"`,
    );
    const ofHourlySums = (_: string, name: string) => name;
    sql = `SELECT ${[...dayColumns, ...sums(ofHourlySums, 'currencies')].join(', ')}
    FROM (SELECT ${[...hourlyColumns, ...sums(ofRollups, currencyOfAmounts)].join(', ')}
      FROM rollup_hourly ${whereSql} GROUP BY ${hourlyPositions})
    ${grouped} LIMIT ?`;
  }
  // Read as BigInt: SQLite adds up 64-bit integers exactly, and a sum past 2^53 - 1 (priceMicros
  // adds up CPMs: a year of a few million impressions a day) would come back as the nearest
  // double, a few micros off the rows by day that it totals. A negative limit is none.
  const rows = sumsWithinInt64(() =>
    db
      .prepare(sql)
      .safeIntegers(true)
      .all(...params, query.maxRows ?? -1),
  ) as Record<string, bigint | string | null>[];
  if (mixable) refuseMixedCurrencies(rows.map((row) => row.currencies));
  const metric = (name: string, value: bigint) =>
    query.exactSums === true ? numberIfSafe(value) : exactNumber(name, value);
  return rows
    .filter((row) => row.events !== null)
    .map((row) => {
      const revenueMicros = exactSum('revenueMicros', row.revenueMicros);
      const mediaCostMicros = exactSum('mediaCostMicros', row.mediaCostMicros);
      const out: ReportRow = {
        events: metric('events', row.events as bigint),
        priceMicros: metric('priceMicros', exactSum('priceMicros', row.priceMicros)),
        mediaCostMicros: metric('mediaCostMicros', mediaCostMicros),
        revenueMicros: metric('revenueMicros', revenueMicros),
        // The revenue less the cost, where both are shown.
        profitMicros: metric('profitMicros', profitShown ? revenueMicros - mediaCostMicros : 0n),
      };
      for (const dimension of query.groupBy)
        out[dimension] = presentDimension(dimension, row[dimension], calendar);
      return out;
    });
}
