import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSqlite } from './database.js';
import { SqliteLedger } from './ledger.js';
import type { ReportQuery } from '../../ports/ledger.js';
import { TimeZoneMisfitError } from '../../ports/ledger.js';
import { exchangeEvent } from '../../../test/support/events.js';

/** Reports by the days and hours of a time zone, read from a real SQLite ledger. */

const dir = mkdtempSync(join(tmpdir(), 'tally-report-calendar-'));
let ledger: SqliteLedger;

/** The UTC hours of the impressions recorded, each a 1.00 impression, around New York's 2026 changes. */
const SERVED_HOURS = [
  // 7 March 23:00 EST; 8 March 00:00 EST, 03:00 EDT (02:00 never comes), 23:00 EDT; 9 March 00:00 EDT.
  '2026-03-08T04:00:00Z',
  '2026-03-08T05:00:00Z',
  '2026-03-08T07:00:00Z',
  '2026-03-09T03:00:00Z',
  '2026-03-09T04:00:00Z',
  // 31 October 23:00 EDT; 1 November 00:00 EDT, 01:00 EDT, 01:00 EST (again), 23:00 EST; 2 November 00:00 EST.
  '2026-11-01T03:00:00Z',
  '2026-11-01T04:00:00Z',
  '2026-11-01T05:00:00Z',
  '2026-11-01T06:00:00Z',
  '2026-11-02T04:00:00Z',
  '2026-11-02T05:00:00Z',
];

const inNewYork = (fromIso: string, toIso: string, more: Partial<ReportQuery> = {}): ReportQuery => ({
  accountId: 1,
  fromMs: Date.parse(fromIso),
  toMs: Date.parse(toIso),
  groupBy: ['day'],
  filters: {},
  timeZone: 'America/New_York',
  ...more,
});

before(() => {
  ledger = new SqliteLedger(openSqlite(join(dir, 'ledger.db')));
  ledger.record(SERVED_HOURS.map((hour) => exchangeEvent({ servedHourMs: Date.parse(hour) })));
  // Account 2: Santiago's clocks go back at its midnight, from 5 April 00:00 (−03:00) to 4 April
  // 23:00 (−04:00): 4 April 23:00 −03:00, 23:00 −04:00 (the hour that begins at the change), and
  // 5 April 00:00 −04:00.
  const santiago = ['2026-04-05T02:00:00Z', '2026-04-05T03:00:00Z', '2026-04-05T04:00:00Z'];
  const base = exchangeEvent();
  ledger.record(
    santiago.map((hour) =>
      exchangeEvent({ servedHourMs: Date.parse(hour), dims: { ...base.dims, accountId: 2 } }),
    ),
  );
});

after(() => {
  ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('reports in a time zone, from the SQLite ledger', () => {
  it('adds 23 hours into the day New York’s clocks go forward, each hour in the day of its own offset', () => {
    const rows = ledger.report(inNewYork('2026-03-07T05:00:00Z', '2026-03-10T04:00:00Z'));
    assert.deepEqual(
      rows.map((row) => [row.day, row.events, row.priceMicros]),
      [
        ['2026-03-07T00:00:00.000-05:00', 1, 1_000_000],
        ['2026-03-08T00:00:00.000-05:00', 3, 3_000_000],
        ['2026-03-09T00:00:00.000-04:00', 1, 1_000_000],
      ],
    );
  });

  it('adds 25 hours into the day New York’s clocks go back, its 23:00 (−05:00) included though its midnight was −04:00', () => {
    const rows = ledger.report(inNewYork('2026-10-31T04:00:00Z', '2026-11-03T05:00:00Z'));
    assert.deepEqual(
      rows.map((row) => [row.day, row.events, row.priceMicros]),
      [
        ['2026-10-31T00:00:00.000-04:00', 1, 1_000_000],
        ['2026-11-01T00:00:00.000-04:00', 4, 4_000_000],
        ['2026-11-02T00:00:00.000-05:00', 1, 1_000_000],
      ],
    );
  });

  it('adds the hour that begins as clocks go back at midnight into the day before, in its new offset', () => {
    const rows = ledger.report({
      ...inNewYork('2026-04-04T03:00:00Z', '2026-04-06T04:00:00Z', { accountId: 2 }),
      timeZone: 'America/Santiago',
    });
    assert.deepEqual(
      rows.map((row) => [row.day, row.events]),
      [
        ['2026-04-04T00:00:00.000-03:00', 2],
        ['2026-04-05T00:00:00.000-04:00', 1],
      ],
    );
  });

  it('names each hour in local time with its offset, the two 01:00s of 1 November apart', () => {
    const rows = ledger.report(
      inNewYork('2026-11-01T04:00:00Z', '2026-11-01T07:00:00Z', { groupBy: ['hour'] }),
    );
    assert.deepEqual(
      rows.map((row) => [row.hour, row.events]),
      [
        ['2026-11-01T00:00:00.000-04:00', 1],
        ['2026-11-01T01:00:00.000-04:00', 1],
        ['2026-11-01T01:00:00.000-05:00', 1],
      ],
    );
  });

  it('names a day that began before the window by its midnight, as a UTC report does', () => {
    const rows = ledger.report(inNewYork('2026-11-01T06:00:00Z', '2026-11-02T05:00:00Z'));
    assert.deepEqual(
      rows.map((row) => [row.day, row.events]),
      [['2026-11-01T00:00:00.000-04:00', 2]],
    );
  });

  it('filters on a local day given as its first instant, and on an hour, each as toISOString writes it', () => {
    const window = inNewYork('2026-10-31T04:00:00Z', '2026-11-03T05:00:00Z', { groupBy: [] });
    const events = (filters: ReportQuery['filters']) => ledger.report({ ...window, filters })[0]?.events ?? 0;
    assert.equal(events({ day: '2026-11-01T04:00:00.000Z' }), 4);
    assert.equal(events({ day: '2026-11-02T05:00:00.000Z' }), 1);
    assert.equal(events({ hour: '2026-11-01T06:00:00.000Z' }), 1);
    // A filter on a day outside the window matches nothing.
    assert.equal(events({ day: '2026-03-08T05:00:00.000Z' }), 0);
  });

  it('reads a day filter at the offset of that day’s midnight, not the one the window begins in', () => {
    // The window begins in EST (−05:00); 9 March begins at 00:00 EDT (−04:00), 04:00Z.
    const window = inNewYork('2026-03-07T05:00:00Z', '2026-03-10T04:00:00Z', { groupBy: [] });
    const events = (day: string) => ledger.report({ ...window, filters: { day } })[0]?.events ?? 0;
    assert.equal(events('2026-03-09T04:00:00.000Z'), 1);
    assert.equal(events('2026-03-08T05:00:00.000Z'), 3);
  });

  it('groups and filters on the days of a zone east of UTC, whose midnights fall on the UTC day before', () => {
    // Paris, +01:00 from 25 October: 1 November begins at 2026-10-31T23:00Z.
    const window = { ...inNewYork('2026-10-31T23:00:00Z', '2026-11-02T23:00:00Z'), timeZone: 'Europe/Paris' };
    assert.deepEqual(
      ledger.report(window).map((row) => [row.day, row.events]),
      [
        ['2026-11-01T00:00:00.000+01:00', 4],
        ['2026-11-02T00:00:00.000+01:00', 2],
      ],
    );
    const events = (day: string) =>
      ledger.report({ ...window, groupBy: [], filters: { day } })[0]?.events ?? 0;
    assert.equal(events('2026-10-31T23:00:00.000Z'), 4);
    assert.equal(events('2026-11-01T23:00:00.000Z'), 2);
  });

  it('answers a window that begins after a change of offset at the half hour the day before it', () => {
    // Lord Howe goes from +10:30 to +11:00 at 2026-10-03T15:30Z; its 5 October begins at 13:00Z on the 4th.
    const rows = ledger.report({
      ...inNewYork('2026-10-04T13:00:00Z', '2026-10-05T13:00:00Z'),
      timeZone: 'Australia/Lord_Howe',
    });
    assert.deepEqual(rows, []);
  });

  it('answers the same days as a UTC report for a zone whose offset is 0 all year', () => {
    const utc = ledger.report({ ...inNewYork('2026-03-01', '2026-12-01'), timeZone: undefined });
    const reykjavik = ledger.report({
      ...inNewYork('2026-03-01', '2026-12-01'),
      timeZone: 'Atlantic/Reykjavik',
    });
    assert.deepEqual(
      reykjavik.map((row) => [row.day, row.events]),
      utc.map((row) => [String(row.day).replace('Z', '+00:00'), row.events]),
    );
  });

  it('refuses, rather than splitting an hour between two days, a window in which the zone is not a whole number of hours off UTC', () => {
    // Barbados was −03:30 from April to September 1944, −04:00 either side.
    assert.throws(
      () => ledger.report({ ...inNewYork('1944-01-01', '1945-01-01'), timeZone: 'America/Barbados' }),
      (error: unknown) =>
        error instanceof TimeZoneMisfitError &&
        error.code === 'VALIDATION_FAILED' &&
        error.message.startsWith(
          'tz=America/Barbados is -03:30 from UTC at 1944-04-10T05:00:00.000Z, not a whole number of hours:',
        ),
    );
  });
});
