import type { ReportDimension, ReportQuery, ReportRow } from '../ports/ledger.js';
import { REPORT_DIMENSIONS } from '../ports/ledger.js';
import type { Principal } from './auth.js';
import type { Route } from './http.js';
import { ApiError, sendJson } from './http.js';
import type { ReportSource } from './report-thread/report-thread.js';
import { shown } from '../lib/shown.js';

const METRICS = ['events', 'priceMicros', 'mediaCostMicros', 'revenueMicros', 'profitMicros'] as const;
const MAX_RANGE_MS = 400 * 86_400_000;
const OUTPUT_FORMATS = new Set(['csv', 'json']);
/** Every query parameter a report takes (`format` is both the output and a dimension). */
const REPORT_PARAMETERS = new Set<string>(['from', 'to', 'groupBy', ...REPORT_DIMENSIONS]);

/**
 * `GET /v1/reports`: the hourly rollups, grouped and filtered; JSON or CSV. The rows come from
 * `source` (the report thread), so that a long report never holds up the notices.
 */
export function reportRoutes(
  source: ReportSource,
  publisherExternalId: (accountId: number, publisherId: number) => string | null,
): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/reports',
      async handler(ctx) {
        const query = parseReportQuery(ctx.url.searchParams, ctx.principal, publisherExternalId);
        let rows: ReportRow[];
        try {
          rows = await source.report(query);
        } catch {
          throw new ApiError(503, 'UNAVAILABLE', 'the report could not be run just now; retry it');
        }
        const wantsCsv =
          ctx.url.searchParams.get('format') === 'csv' || (ctx.req.headers.accept ?? '').includes('text/csv');
        if (!wantsCsv) {
          sendJson(
            ctx.res,
            200,
            {
              from: new Date(query.fromMs).toISOString(),
              to: new Date(query.toMs).toISOString(),
              groupBy: query.groupBy,
              rows,
            },
            ctx.requestId,
          );
          return;
        }
        const csv = toCsv(query.groupBy, rows);
        ctx.res.writeHead(200, {
          'Content-Type': 'text/csv; charset=utf-8',
          'Content-Disposition': 'attachment; filename="tally-report.csv"',
          'Cache-Control': 'no-store',
          'X-Request-Id': ctx.requestId,
        });
        ctx.res.end(csv);
      },
    },
  ];
}

/**
 * A misspelt filter must not quietly widen a report (billing totals read as filtered), nor a
 * repeated one keep only its first value: both are refused.
 */
function checkParameters(params: URLSearchParams): void {
  for (const name of new Set(params.keys())) {
    if (!REPORT_PARAMETERS.has(name)) {
      throw new ApiError(
        400,
        'VALIDATION_FAILED',
        `unknown parameter ${shown(name)}: a report takes from, to, groupBy, format (csv or json) and filters on ${REPORT_DIMENSIONS.join(', ')}`,
      );
    }
    if (params.getAll(name).length > 1)
      throw new ApiError(400, 'VALIDATION_FAILED', `${shown(name)} is given more than once; give it once`);
  }
}

/** Parses and checks a report query; a scoped key only ever sees its advertiser's or publisher's rows. */
export function parseReportQuery(
  params: URLSearchParams,
  principal: Principal,
  publisherExternalId: (accountId: number, publisherId: number) => string | null,
): ReportQuery {
  checkParameters(params);
  const fromMs = parseTime(params.get('from'), 'from');
  const toMs = parseTime(params.get('to'), 'to');
  if (toMs <= fromMs) throw new ApiError(400, 'VALIDATION_FAILED', 'to must be after from');
  if (toMs - fromMs > MAX_RANGE_MS)
    throw new ApiError(400, 'VALIDATION_FAILED', 'a report spans at most 400 days; narrow from/to');
  const groupBy = (params.get('groupBy') ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const dimension of groupBy) {
    if (!REPORT_DIMENSIONS.includes(dimension as ReportDimension)) {
      throw new ApiError(
        400,
        'VALIDATION_FAILED',
        `groupBy: unknown dimension ${shown(dimension)}; use any of ${REPORT_DIMENSIONS.join(', ')}`,
      );
    }
  }
  const filters: Partial<Record<ReportDimension, string>> = {};
  for (const dimension of REPORT_DIMENSIONS) {
    const value = params.get(dimension);
    // `format=csv` / `format=json` choose the output; other values filter the ad format.
    if (value === null || (dimension === 'format' && OUTPUT_FORMATS.has(value))) continue;
    checkFilter(dimension, value);
    filters[dimension] = value;
  }
  const query: ReportQuery = {
    accountId: principal.accountId,
    fromMs,
    toMs,
    groupBy: [...new Set(groupBy)] as ReportDimension[],
    filters,
  };
  const scope = principal.scope;
  if (scope === null) return query;
  const own = String(scope.id);
  if (scope.type === 'advertiser') {
    if (filters.advertiser !== undefined && filters.advertiser !== own) throw outOfScope(scope.type, own);
    filters.advertiser = own;
    return query;
  }
  // Tracker rows name the catalog publisher, exchange rows the OpenRTB publisher id (externalId).
  const externalId = publisherExternalId(principal.accountId, scope.id);
  if (filters.publisher !== undefined && filters.publisher !== own && filters.publisher !== externalId) {
    throw outOfScope(scope.type, own);
  }
  return { ...query, publisherScope: { catalogId: own, externalId } };
}

function outOfScope(type: string, id: string): ApiError {
  return new ApiError(403, 'FORBIDDEN', `your key is scoped to ${type} ${id}`);
}

const NUMERIC_FILTERS = new Set<ReportDimension>([
  'advertiser',
  'lineItem',
  'tracker',
  'placement',
  'paymentRule',
]);

/** Throws 400 for a filter value that could never match: a bad time, id or flag. */
function checkFilter(dimension: ReportDimension, value: string): void {
  const fail = (what: string) =>
    new ApiError(400, 'VALIDATION_FAILED', `${dimension}=${shown(value)}: ${what}`);
  if ((dimension === 'hour' || dimension === 'day') && !Number.isFinite(Date.parse(value))) {
    throw fail('must be an ISO 8601 time, e.g. 2026-11-22T10:00:00Z');
  }
  if (NUMERIC_FILTERS.has(dimension) && !/^\d+$/.test(value)) throw fail('must be a numeric id');
  if (dimension === 'cachebusterMissing' && value !== 'true' && value !== 'false')
    throw fail('must be true or false');
}

function parseTime(value: string | null, name: string): number {
  const ms = value === null ? Number.NaN : Date.parse(value);
  if (!Number.isFinite(ms)) {
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      `${name} must be an ISO 8601 time, e.g. 2026-11-22T00:00:00Z`,
    );
  }
  return ms;
}

function toCsv(groupBy: readonly ReportDimension[], rows: readonly ReportRow[]): string {
  const header = [...groupBy, ...METRICS];
  const lines = [header.join(',')];
  for (const row of rows) lines.push(header.map((column) => csvCell(row[column])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

function csvCell(value: string | number | boolean | undefined): string {
  const text = value === undefined ? '' : String(value);
  // A leading = + - @ would make a spreadsheet run the cell as a formula (CSV injection).
  const safe = /^[=+\-@\t\r]/.test(text) && typeof value === 'string' ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
