import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonLogger } from './log.js';
import { throttledErrorLog, throttledWarnLog } from './throttled-log.js';

describe('a throttled error log', () => {
  it('logs the first fault at once, then one line an interval saying how many it left out', () => {
    const lines: Record<string, unknown>[] = [];
    let nowMs = 1_000;
    const logFault = throttledErrorLog(
      jsonLogger((line) => lines.push(JSON.parse(line) as Record<string, unknown>)),
      'commit_failed',
      1000,
      () => nowMs,
    );
    logFault({ error: 'disk full' });
    for (nowMs = 1_100; nowMs < 2_000; nowMs += 100) logFault({ error: 'disk full' });
    nowMs = 2_000;
    logFault({ error: 'disk full again' });
    assert.deepEqual(
      lines.map(({ level, event, error, repeats }) => [level, event, error, repeats]),
      [
        ['error', 'commit_failed', 'disk full', 0],
        ['error', 'commit_failed', 'disk full again', 9],
      ],
    );
  });

  it('logs at warning level the same way when asked to', () => {
    const lines: Record<string, unknown>[] = [];
    let nowMs = 1_000;
    const logDead = throttledWarnLog(
      jsonLogger((line) => lines.push(JSON.parse(line) as Record<string, unknown>)),
      'burl_dead',
      1000,
      () => nowMs,
    );
    for (; nowMs < 2_500; nowMs += 250) logDead({ deliveryId: nowMs });
    assert.deepEqual(
      lines.map(({ level, event, deliveryId, repeats }) => [level, event, deliveryId, repeats]),
      [
        ['warn', 'burl_dead', 1_000, 0],
        ['warn', 'burl_dead', 2_000, 3],
      ],
    );
  });

  it('logs a fault after a clock stepped back at once, not only once the clock has caught up', () => {
    const lines: Record<string, unknown>[] = [];
    let nowMs = 7_200_000;
    const logFault = throttledErrorLog(
      jsonLogger((line) => lines.push(JSON.parse(line) as Record<string, unknown>)),
      'commit_failed',
      1000,
      () => nowMs,
    );
    logFault({ error: 'locked' });
    // NTP steps the clock back an hour; the disk fills a minute later.
    nowMs = 3_600_000 + 60_000;
    logFault({ error: 'disk full' });
    nowMs += 500;
    logFault({ error: 'disk full' });
    nowMs += 500;
    logFault({ error: 'disk full' });
    assert.deepEqual(
      lines.map(({ error, repeats }) => [error, repeats]),
      [
        ['locked', 0],
        ['disk full', 0],
        ['disk full', 1],
      ],
    );
  });
});
