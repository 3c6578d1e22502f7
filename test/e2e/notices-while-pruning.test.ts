import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { everyBillingRecord } from '../support/billing-pages.js';
import { CHROME } from '../support/user-agents.js';
import { until } from '../support/until.js';
import { addOldNotices, oldNoticesKept } from '../support/old-notices.js';
import { DAY_MS, HOUR_MS, hourStartMs } from '../../src/lib/time.js';
import { numberedBannerWins } from '../support/win-body.js';

/**
 * Notices and reports while a pruning pass runs, over real HTTP: the restarted server prunes
 * 600 000 raw notices past the retention (written into its ledger while it was stopped) as it
 * starts, and meanwhile every notice fired at it is answered, counted once or recorded as a
 * duplicate, and a report over the whole retention is answered too.
 */

const OLD_NOTICES = 600_000;
const WINS = 300;
const WORKERS = 16;

let tally: TestServer;
const iso = (ms: number) => new Date(ms).toISOString();

async function fire(url: string, userAgent = CHROME): Promise<number> {
  const response = await fetch(url, { headers: { 'user-agent': userAgent } });
  await response.arrayBuffer();
  return response.status;
}

before(async () => {
  tally = await startServer();
});

after(async () => {
  await tally?.dispose();
});

describe('a pruning pass', () => {
  it('loses, doubles and refuses no notice fired meanwhile, and lets reports be read', async () => {
    const nowMs = Date.now();
    const wins = numberedBannerWins(WINS + 1, 2, () => nowMs);
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
    assert.equal(registered.status, 200, JSON.stringify(registered.body));
    const [botWin, ...urls] = (registered.body.results as any[]).map(
      (result) => result.noticeUrls.adm as string,
    );
    // A notice that did not count, whose dims the old notices take.
    assert.equal(await fire(botWin ?? '', 'Googlebot/2.1 (+http://www.google.com/bot.html)'), 200);
    await tally.stop();
    addOldNotices(tally.dataDir, OLD_NOTICES, nowMs);
    await tally.restart();
    const keptAtFirstNotice = oldNoticesKept(tally.dataDir, OLD_NOTICES);

    const window = `from=${iso(hourStartMs(nowMs) - 399 * DAY_MS)}&to=${iso(hourStartMs(nowMs) + HOUR_MS)}`;
    const reportStatuses: number[] = [];
    let firing = true;
    const reading = (async () => {
      while (firing) {
        const report = await api(tally, tally.adminKey, 'GET', `/v1/reports?${window}&groupBy=day,outcome`);
        reportStatuses.push(report.status);
      }
    })();
    const statuses = new Map<number, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        for (let index = next++; index < WINS * 2; index = next++) {
          const status = await fire(urls[index % WINS] ?? '');
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    firing = false;
    await reading;
    const keptAfterNotices = oldNoticesKept(tally.dataDir, OLD_NOTICES);
    assert.equal(
      keptAtFirstNotice > keptAfterNotices && keptAfterNotices < OLD_NOTICES,
      true,
      `the pass ran while the notices came: ${keptAtFirstNotice} old notices kept as they began, ${keptAfterNotices} after`,
    );
    assert.deepEqual([...statuses], [[200, WINS * 2]]);
    assert.deepEqual([...new Set(reportStatuses)], [200]);

    await until(() => Promise.resolve(oldNoticesKept(tally.dataDir, OLD_NOTICES) === 0), 'the pass ending');
    const report = await api(tally, tally.adminKey, 'GET', `/v1/reports?${window}&groupBy=outcome,reason`);
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.deepEqual(
      (report.body.rows as any[]).map((row) => [row.outcome, row.reason, row.events, row.priceMicros]),
      [
        ['counted', '', WINS, WINS * 2_000_000],
        ['not_counted', 'duplicate', WINS, 0],
        ['not_counted', 'invalid_traffic', 1, 0],
      ],
    );
    const records = await everyBillingRecord(tally, tally.adminKey, 'limit=1000');
    assert.equal(new Set(records.map((record) => record.auctionId)).size, WINS);
    assert.equal(records.length, WINS);
  });
});
