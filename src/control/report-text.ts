import type { ReportDimension, ReportQuery, ReportRow } from '../ports/ledger.js';
import type { UnknownIdWarning } from './unknown-ids.js';
import { ReportTooLargeError } from '../ports/ledger.js';
import { csvText } from './csv.js';
import { zonedIsoString } from '../lib/time-zone.js';

/** The forms a report is answered in. */
export type ReportOutput = 'json' | 'csv';

/** A report's metrics, in the order CSV writes them. */
export const REPORT_METRICS = [
  'events',
  'priceMicros',
  'mediaCostMicros',
  'revenueMicros',
  'profitMicros',
] as const;

/** A report metric's name. */
export type ReportMetric = (typeof REPORT_METRICS)[number];

/**
 * A report's answer body: JSON `{from, to, groupBy, warnings, rows}` (`from` and `to` in the
 * query's time zone, with its offset, when it has one), or CSV with a header line, a line a row,
 * every sum written exactly (its `warnings` go in a header); without the `hidden` metrics. Built
 * where the rows are read (the report thread), so that the HTTP thread only writes it out.
 */
export function reportText(
  query: ReportQuery,
  rows: readonly ReportRow[],
  output: ReportOutput,
  hidden: readonly ReportMetric[],
  warnings: readonly UnknownIdWarning[],
): string {
  const metrics = REPORT_METRICS.filter((metric) => !hidden.includes(metric));
  if (output === 'csv') return toCsv(query.groupBy, metrics, rows);
  refuseInexactJson(rows, metrics);
  const shown =
    hidden.length === 0
      ? rows
      : rows.map((row) =>
          Object.fromEntries(Object.entries(row).filter(([name]) => !hidden.includes(name as ReportMetric))),
        );
  const { timeZone } = query;
  return JSON.stringify({
    from: zonedIsoString(query.fromMs, timeZone),
    to: zonedIsoString(query.toMs, timeZone),
    // The zone its times are written in, when it is not UTC, for whoever reads the answer later.
    ...(timeZone === undefined ? {} : { timeZone }),
    groupBy: query.groupBy,
    // Before the rows, which may be many: an id filter naming nothing known is read first.
    warnings,
    rows: shown,
  });
}

/**
 * Throws a {@link ReportTooLargeError} when a shown metric's sum is past 2^53 - 1 (a bigint, from a
 * ledger asked for `exactSums`): no JSON number holds it exactly. A hidden metric is not looked
 * at: a key is neither refused for a sum it may not see nor told it in the refusal.
 */
function refuseInexactJson(rows: readonly ReportRow[], shown: readonly ReportMetric[]): void {
  for (const row of rows) {
    for (const metric of shown) {
      const value = row[metric];
      if (typeof value !== 'bigint') continue;
      throw new ReportTooLargeError(
        `the report's ${metric} add up to ${value}, more than a JSON number holds exactly (2^53 - 1): ask for it as CSV (format=csv), which writes every sum exactly, or narrow from and to, or filter or group it so that each row adds up to less`,
      );
    }
  }
}

function toCsv(
  groupBy: readonly ReportDimension[],
  metrics: readonly ReportMetric[],
  rows: readonly ReportRow[],
): string {
  const header = [...groupBy, ...metrics];
  return csvText(header, rows);
}
