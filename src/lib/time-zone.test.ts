import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DAY_MS, HOUR_MS } from './time.js';
import {
  dayStartMs,
  hourlyMisfit,
  hourlyMisfitMessage,
  localDay,
  localIsoString,
  localMidnightMs,
  offsetAtMs,
  offsetInMs,
  offsetSegments,
  offsetText,
  resolvedTimeZone,
} from './time-zone.js';

const NEW_YORK = 'America/New_York';
/** A segment as `[start as toISOString writes it, offset in hours]`, to read at a glance. */
const shown = (segments: ReturnType<typeof offsetSegments>) =>
  segments.map((segment) => [new Date(segment.startMs).toISOString(), segment.offsetMs / HOUR_MS]);
/** The local day number of a date `YYYY-MM-DD`. */
const dayOf = (date: string) => Date.parse(date) / DAY_MS;

describe('time zone names', () => {
  it('knows an IANA name in any case or by an alias, by Node’s own name for it, and no other', () => {
    assert.equal(resolvedTimeZone('america/new_york'), NEW_YORK);
    assert.equal(resolvedTimeZone('US/Eastern'), NEW_YORK);
    assert.equal(resolvedTimeZone('Europe/Paris'), 'Europe/Paris');
    for (const utc of ['UTC', 'utc', 'Etc/UTC', 'GMT']) assert.equal(resolvedTimeZone(utc), 'UTC', utc);
    for (const unknown of ['Mars/Olympus', '', 'New York', '+05:00', 'Z'])
      assert.equal(resolvedTimeZone(unknown), undefined, unknown);
  });
});

describe('a zone’s offsets over a window', () => {
  it('finds both 2026 New York changes at the UTC hour they happen, 2 a.m. local', () => {
    const segments = offsetSegments(NEW_YORK, Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1));
    assert.deepEqual(shown(segments), [
      ['2026-01-01T00:00:00.000Z', -5],
      ['2026-03-08T07:00:00.000Z', -4],
      ['2026-11-01T06:00:00.000Z', -5],
    ]);
    assert.equal(offsetInMs(segments, Date.UTC(2026, 2, 8, 6, 59, 59, 999)), -5 * HOUR_MS);
    assert.equal(offsetInMs(segments, Date.UTC(2026, 2, 8, 7)), -4 * HOUR_MS);
    assert.equal(offsetAtMs(NEW_YORK, Date.UTC(2026, 10, 1, 5, 59, 59)), -4 * HOUR_MS);
    assert.equal(offsetAtMs(NEW_YORK, Date.UTC(2026, 10, 1, 6)), -5 * HOUR_MS);
  });

  it('finds a change between two hour starts to the millisecond, and one in the window’s last hour', () => {
    // Dublin left its mean time (+00:34:39 in summer) for GMT at 02:25:21 UTC on 1 October 1916.
    assert.deepEqual(offsetSegments('Europe/Dublin', Date.UTC(1916, 9, 1, 2), Date.UTC(1916, 9, 1, 3)), [
      { startMs: Date.UTC(1916, 9, 1, 2), offsetMs: (34 * 60 + 39) * 1000 },
      { startMs: Date.UTC(1916, 9, 1, 2, 25, 21), offsetMs: 0 },
    ]);
    assert.deepEqual(
      shown(offsetSegments(NEW_YORK, Date.UTC(2026, 2, 8, 6, 30), Date.UTC(2026, 2, 8, 7, 0, 0, 1))),
      [
        ['2026-03-08T06:30:00.000Z', -5],
        ['2026-03-08T07:00:00.000Z', -4],
      ],
    );
  });

  it('reads offsets in seconds, as a zone’s local mean time had them', () => {
    assert.equal(offsetAtMs(NEW_YORK, Date.UTC(1880, 0, 1)), -(4 * 3600 + 56 * 60 + 2) * 1000);
    assert.equal(offsetText(-(4 * 3600 + 56 * 60 + 2) * 1000), '-04:56:02');
    assert.equal(offsetText(5.5 * HOUR_MS), '+05:30');
    assert.equal(offsetText(0), '+00:00');
  });
});

describe('a zone’s days', () => {
  it('has a 23-hour day when New York’s clocks go forward and a 25-hour one when they go back', () => {
    const midnight = (date: string) => new Date(localMidnightMs(NEW_YORK, dayOf(date)) ?? NaN).toISOString();
    assert.equal(midnight('2026-03-08'), '2026-03-08T05:00:00.000Z');
    assert.equal(midnight('2026-03-09'), '2026-03-09T04:00:00.000Z');
    assert.equal(midnight('2026-11-01'), '2026-11-01T04:00:00.000Z');
    assert.equal(midnight('2026-11-02'), '2026-11-02T05:00:00.000Z');
  });

  it('puts each hour in the day of its own offset, not its midnight’s: 23:00 on the day the clocks go back is −05:00, its midnight −04:00', () => {
    const lastHourMs = Date.UTC(2026, 10, 2, 4);
    assert.equal(localDay(lastHourMs, offsetAtMs(NEW_YORK, lastHourMs)), dayOf('2026-11-01'));
    // Its midnight's offset would put it in the next day.
    assert.equal(localDay(lastHourMs, -4 * HOUR_MS), dayOf('2026-11-02'));
  });

  it('starts a day whose midnight the clocks skip at the time they skip to (Santiago, 6 September 2026)', () => {
    const startMs = localMidnightMs('America/Santiago', dayOf('2026-09-06')) ?? NaN;
    assert.equal(
      localIsoString(startMs, offsetAtMs('America/Santiago', startMs)),
      '2026-09-06T01:00:00.000-03:00',
    );
  });

  it('has no start for a day the zone skipped (Samoa’s 30 December 2011)', () => {
    assert.equal(localMidnightMs('Pacific/Apia', dayOf('2011-12-30')), undefined);
    assert.equal(
      new Date(localMidnightMs('Pacific/Apia', dayOf('2011-12-31')) ?? NaN).toISOString(),
      '2011-12-30T10:00:00.000Z',
    );
  });

  it('finds a day’s start within the segments given', () => {
    const segments = offsetSegments('Europe/Paris', Date.UTC(2026, 2, 28), Date.UTC(2026, 2, 31));
    assert.equal(
      new Date(dayStartMs(segments, dayOf('2026-03-29')) ?? NaN).toISOString(),
      '2026-03-28T23:00:00.000Z',
    );
    assert.equal(
      new Date(dayStartMs(segments, dayOf('2026-03-30')) ?? NaN).toISOString(),
      '2026-03-29T22:00:00.000Z',
    );
  });
});

describe('local times as answers write them', () => {
  it('writes a time as toISOString does, in local time with its offset in place of Z', () => {
    assert.equal(localIsoString(Date.UTC(2026, 10, 22, 5), -5 * HOUR_MS), '2026-11-22T00:00:00.000-05:00');
    assert.equal(localIsoString(Date.UTC(2026, 10, 1, 5), -4 * HOUR_MS), '2026-11-01T01:00:00.000-04:00');
    assert.equal(localIsoString(Date.UTC(2026, 10, 1, 6), -5 * HOUR_MS), '2026-11-01T01:00:00.000-05:00');
    assert.equal(localIsoString(Date.UTC(2026, 10, 21, 23), HOUR_MS), '2026-11-22T00:00:00.000+01:00');
  });
});

describe('zones hourly rollups cannot serve', () => {
  const year = [Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1)] as const;

  it('serves every hour of a year in New York, Paris and UTC', () => {
    for (const zone of [NEW_YORK, 'Europe/Paris', 'UTC'])
      assert.equal(hourlyMisfit(offsetSegments(zone, ...year), ...year), undefined, zone);
  });

  it('refuses a zone a half or a quarter of an hour off UTC, saying why and what to ask for instead', () => {
    for (const [zone, offset] of [
      ['Asia/Kolkata', '+05:30'],
      ['Asia/Kathmandu', '+05:45'],
      ['Australia/Adelaide', '+10:30'],
    ] as const) {
      const misfit = hourlyMisfit(offsetSegments(zone, ...year), ...year);
      assert.deepEqual(misfit?.atMs, year[0], zone);
      assert.equal(
        hourlyMisfitMessage(zone, misfit ?? { atMs: 0, offsetMs: 0 }),
        `tz=${zone} is ${offset} from UTC at 2026-01-01T00:00:00.000Z, not a whole number of hours: reports are made of hourly rollups (by the UTC hour), which cannot be split between its days or hours; ask for the report in a zone whose offset is a whole number of hours, or in UTC (leave tz out)`,
      );
    }
  });

  it('refuses a window whose ends are whole hours off UTC when the offset between them is not', () => {
    const window = [Date.UTC(1944, 0, 1), Date.UTC(1945, 0, 1)] as const;
    const misfit = hourlyMisfit(offsetSegments('America/Barbados', ...window), ...window);
    assert.deepEqual(misfit, { atMs: Date.UTC(1944, 3, 10, 5), offsetMs: -3.5 * HOUR_MS });
    // Only the window counts: the months before are whole hours.
    const before = [Date.UTC(1944, 0, 1), Date.UTC(1944, 3, 10, 5)] as const;
    assert.equal(hourlyMisfit(offsetSegments('America/Barbados', ...before), ...before), undefined);
  });

  it('refuses a change of offset within an hour, though both offsets are whole hours', () => {
    const segments = [
      { startMs: 0, offsetMs: -5 * HOUR_MS },
      { startMs: 90 * 60_000, offsetMs: -4 * HOUR_MS },
    ];
    assert.deepEqual(hourlyMisfit(segments, 0, 3 * HOUR_MS), { atMs: 90 * 60_000, offsetMs: -4 * HOUR_MS });
    assert.match(
      hourlyMisfitMessage('X/Y', { atMs: 90 * 60_000, offsetMs: -4 * HOUR_MS }),
      /^tz=X\/Y changes its offset from UTC at 1970-01-01T01:30:00.000Z, within an hour:/,
    );
  });
});
