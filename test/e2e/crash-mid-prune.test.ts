import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { everyBillingRecord } from '../support/billing-pages.js';
import { CHROME } from '../support/user-agents.js';
import { until } from '../support/until.js';
import { addOldNotices, oldNoticesKept } from '../support/old-notices.js';
import { HOUR_MS, hourStartMs } from '../../src/lib/time.js';
import { numberedBannerWins } from '../support/win-body.js';

/**
 * A Tally killed (SIGKILL) while it prunes: each pruning step is its own transaction, so the
 * restarted server finds every billing record and every hourly rollup as they were, and prunes
 * on from where the killed one stopped. The ledger is given 300 000 raw notices past the
 * retention (written into it while the server is stopped, before its own events), so that a pass
 * lasts long enough to be killed in; the kill is tried again, restart after restart, until one
 * lands while raw notices past the retention remain.
 */

const OLD_NOTICES = 300_000;

let tally: TestServer;
const iso = (ms: number) => new Date(ms).toISOString();

const oldNotices = () => oldNoticesKept(tally.dataDir, OLD_NOTICES);

before(async () => {
  tally = await startServer();
});

after(async () => {
  await tally?.dispose();
});

describe('a crash while pruning', () => {
  it('loses no billing record and no rollup, and the restarted server prunes on', async () => {
    const nowMs = Date.now();
    const wins = numberedBannerWins(30, 1.25, (index) => nowMs - index * 10_000);
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
    assert.equal(registered.status, 200, JSON.stringify(registered.body));
    for (const result of registered.body.results as any[]) {
      const url = result.noticeUrls.adm as string;
      for (const userAgent of ['Googlebot/2.1', CHROME, CHROME]) {
        const response = await fetch(url, { headers: { 'user-agent': userAgent } });
        await response.arrayBuffer();
        assert.equal(response.status, 200);
      }
    }
    const window = `from=${iso(hourStartMs(nowMs) - 3 * HOUR_MS)}&to=${iso(hourStartMs(nowMs) + HOUR_MS)}`;
    const report = async () => {
      const answer = await api(
        tally,
        tally.adminKey,
        'GET',
        `/v1/reports?${window}&groupBy=hour,outcome,reason`,
      );
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.rows as unknown[];
    };
    const reported = await report();
    const records = await everyBillingRecord(tally, tally.adminKey, 'limit=1000');
    assert.equal(records.length, 30);

    await tally.stop();
    const movedBy = addOldNotices(tally.dataDir, OLD_NOTICES, nowMs);

    let killedMidPass = false;
    for (let attempt = 0; attempt < 10 && !killedMidPass; attempt++) {
      const left = oldNotices();
      await tally.restart();
      await until(() => Promise.resolve(oldNotices() < left), 'a pruning step');
      await tally.kill();
      killedMidPass = oldNotices() > 0;
    }
    assert.equal(killedMidPass, true, 'a kill landed while raw notices past the retention remained');

    await tally.restart();
    await until(() => Promise.resolve(oldNotices() === 0), 'every raw notice past the retention pruned');
    assert.deepEqual(await report(), reported);
    assert.deepEqual(
      await everyBillingRecord(tally, tally.adminKey, 'limit=1000'),
      records.map((record) => ({
        ...record,
        id: record.id + movedBy,
      })),
    );
  });
});
