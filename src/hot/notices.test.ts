import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { defaultIvtFilter } from '../domain/ivt.js';
import type { NoticeRequest } from '../domain/notice-request.js';
import type { KeyRing, NoticeClaims } from '../domain/token.js';
import { sealToken } from '../domain/token.js';
import { Metrics } from '../lib/metrics.js';
import { GroupCommitter } from './group-commit.js';
import type { NoticeAnswer } from './notice-answer.js';
import type { NoticeDeps } from './notices.js';
import { answerNotice } from './notices.js';
import { bannerClaims, testKeyRing } from '../../test/support/claims.js';
import { T0 } from '../../test/support/events.js';
import { inlineRecorder } from '../../test/support/inline-recorder.js';
import { CHROME } from '../../test/support/user-agents.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-notices-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Notice endpoint dependencies committing into a real SQLite ledger on this thread. */
function depsOn(name: string, ring: KeyRing, maxQueue = 100): { deps: NoticeDeps; ledger: SqliteLedger } {
  const ledger = new SqliteLedger(openSqlite(join(dir, name)));
  const committer = new GroupCommitter(
    inlineRecorder(ledger),
    { maxBatch: 100, maxDelayMs: 0, maxQueue, maxInFlight: 1, flushAtSize: 1000 },
    new Metrics(),
  );
  const deps: NoticeDeps = {
    committer,
    metrics: new Metrics(),
    env: { keyRing: ring, ivtFilter: defaultIvtFilter(), priceKeysFor: () => undefined },
    nowMs: () => T0 + 1000,
  };
  return { deps, ledger };
}

function request(ring: KeyRing, claims: NoticeClaims, query = ''): NoticeRequest {
  return {
    token: sealToken(claims, ring),
    query,
    method: 'GET',
    headers: { 'user-agent': CHROME },
    remoteAddress: '198.51.100.7',
    receivedMs: T0 + 1000,
  };
}

function answer(notice: NoticeRequest, deps: NoticeDeps): Promise<NoticeAnswer> {
  return new Promise((resolve) => answerNotice(notice, deps, resolve));
}

describe('notice answers', () => {
  it('redirects a notice on Tally’s burl to the DSP’s burl only when the ledger counted it, not for its duplicate', async () => {
    const ring = testKeyRing();
    const { deps, ledger } = depsOn('burl.db', ring);
    const claims = bannerClaims({
      kind: 'burl',
      method: 'burl',
      dspBurl: 'https://dsp.example/bill?p=${AUCTION_PRICE}&a=${AUCTION_ID}',
    });
    // Both are decided as counts on this thread; the ledger, committing them in one batch, counts one.
    const answers = await Promise.all([
      answer(request(ring, claims), deps),
      answer(request(ring, claims), deps),
    ]);
    assert.deepEqual(answers, [
      { kind: 'redirect', location: 'https://dsp.example/bill?p=1.25&a=auction-1' },
      { kind: 'pixel' },
    ]);
    assert.deepEqual(ledger.countEvents(), { total: 2, counted: 1 });
    assert.equal(ledger.countDeliveries().pending, 0, 'a burl relayed by redirect is not queued as well');
    ledger.close();
  });

  it('answers the same pixel whatever the outcome, 204 to a beacon, and records every notice', async () => {
    const ring = testKeyRing();
    const { deps, ledger } = depsOn('pixel.db', ring);
    const answers = await Promise.all([
      answer(request(ring, bannerClaims()), deps),
      answer(request(ring, bannerClaims()), deps),
      answer({ ...request(ring, bannerClaims()), token: 'not-a-token' }, deps),
      answer(request(testKeyRing(), bannerClaims({ auctionId: 'foreign' })), deps),
      answer(request(ring, bannerClaims({ auctionId: 'beacon' }), 'f=b'), deps),
    ]);
    assert.deepEqual(
      answers.map((sent) => sent.kind),
      ['pixel', 'pixel', 'pixel', 'pixel', 'noContent'],
    );
    assert.deepEqual(ledger.countEvents(), { total: 5, counted: 2 });
    ledger.close();
  });

  it('answers 503 when the commit queue is full, recording nothing for that notice', async () => {
    const ring = testKeyRing();
    const { deps, ledger } = depsOn('full.db', ring, 1);
    const answers = await Promise.all([
      answer(request(ring, bannerClaims({ auctionId: 'queued' })), deps),
      answer(request(ring, bannerClaims({ auctionId: 'refused' })), deps),
    ]);
    assert.deepEqual(
      answers.map((sent) => sent.kind),
      ['pixel', 'unavailable'],
    );
    assert.deepEqual(ledger.countEvents(), { total: 1, counted: 1 });
    ledger.close();
  });
});
