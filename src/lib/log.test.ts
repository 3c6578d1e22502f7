import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonLogger } from './log.js';

describe('the JSON logger', () => {
  it('writes each event as one JSON line with its time, level, name and fields', () => {
    const lines: string[] = [];
    const log = jsonLogger((line) => lines.push(line));
    log.info('listening', { port: 8080 });
    log.warn('slow_commit', { ms: 120 });
    log.error('disk_full');
    assert.equal(lines.length, 3);
    for (const line of lines) assert.ok(line.endsWith('}\n') && !line.slice(0, -1).includes('\n'), line);
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const entry of parsed) {
      assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      delete entry.time;
    }
    assert.deepEqual(parsed, [
      { level: 'info', event: 'listening', port: 8080 },
      { level: 'warn', event: 'slow_commit', ms: 120 },
      { level: 'error', event: 'disk_full' },
    ]);
  });

  it('keeps its own time, level and event when a field has one of their names', () => {
    const lines: string[] = [];
    const log = jsonLogger((line) => lines.push(line));
    log.warn('burl_dead', { level: 'info', event: 'other', time: 'yesterday', deliveryId: 7 });
    const entry = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(Object.keys(entry), ['time', 'level', 'event', 'deliveryId']);
    assert.deepEqual([entry.level, entry.event, entry.deliveryId], ['warn', 'burl_dead', 7]);
  });
});
