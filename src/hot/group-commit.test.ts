import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { COUNTED } from '../domain/outcome.js';
import type { Outcome } from '../domain/outcome.js';
import { Metrics } from '../lib/metrics.js';
import type { EventRecord, Ledger } from '../ports/ledger.js';
import { GroupCommitter, inlineRecorder } from './group-commit.js';
import { exchangeEvent } from '../../test/support/events.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-commit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function event(key: string): EventRecord {
  return exchangeEvent({ receivedMs: 1, dedupe: { key, expiresMs: 10 } });
}

/** The promise of an accepted event (fails the test when the committer refused it). */
function accepted(pending: Promise<Outcome> | undefined): Promise<Outcome> {
  assert.ok(pending !== undefined, 'the committer refused the event');
  return pending;
}

describe('group commit', () => {
  it('commits everything queued in one event-loop turn as one transaction, and resolves only after it', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'one.db')));
    const metrics = new Metrics();
    const committer = new GroupCommitter(
      inlineRecorder(ledger),
      { maxBatch: 100, maxDelayMs: 0, maxQueue: 1000 },
      metrics,
    );
    const pending = ['a', 'b', 'a'].map((key) => accepted(committer.submit(event(key))));
    assert.equal(ledger.countEvents().total, 0, 'nothing is committed synchronously');
    const outcomes = await Promise.all(pending);
    assert.deepEqual(outcomes, [COUNTED, COUNTED, { outcome: 'not_counted', reason: 'duplicate' }]);
    assert.equal(ledger.countEvents().total, 3);
    assert.match(metrics.render(), /tally_commit_batch_size_count 1\n/);
    ledger.close();
  });

  it('refuses events past the bounded queue instead of dropping them silently', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'two.db')));
    const committer = new GroupCommitter(
      inlineRecorder(ledger),
      { maxBatch: 100, maxDelayMs: 0, maxQueue: 2 },
      new Metrics(),
    );
    const first = committer.submit(event('x1'));
    const second = committer.submit(event('x2'));
    assert.equal(committer.submit(event('x3')), undefined);
    await Promise.all([first, second]);
    assert.equal(ledger.countEvents().total, 2);
    assert.ok(committer.submit(event('x4')) !== undefined, 'the queue takes events again once committed');
    await committer.drain();
    ledger.close();
  });

  it('rejects every event of a batch whose commit failed, so none is answered as recorded', async () => {
    const failing: Ledger = {
      ...({} as Ledger),
      record: () => {
        throw new Error('disk full');
      },
    };
    const committer = new GroupCommitter(
      inlineRecorder(failing),
      { maxBatch: 10, maxDelayMs: 0, maxQueue: 10 },
      new Metrics(),
    );
    const results = await Promise.allSettled([committer.submit(event('f1')), committer.submit(event('f2'))]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['rejected', 'rejected'],
    );
  });

  it('splits a burst larger than the batch size into several transactions', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'three.db')));
    const metrics = new Metrics();
    const committer = new GroupCommitter(
      inlineRecorder(ledger),
      { maxBatch: 4, maxDelayMs: 0, maxQueue: 100 },
      metrics,
    );
    await Promise.all(
      Array.from({ length: 10 }, (_, index) => accepted(committer.submit(event(`b${index}`)))),
    );
    assert.equal(ledger.countEvents().total, 10);
    assert.match(metrics.render(), /tally_commit_batch_size_count 3\n/);
    ledger.close();
  });
});
