import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { startDsp } from '../support/dsp.js';
import type { FakeDsp } from '../support/dsp.js';
import { everyBillingRecord } from '../support/billing-pages.js';
import { CHROME } from '../support/user-agents.js';
import { HOUR_MS, hourStartMs } from '../../src/lib/time.js';

const WINS = 1500;
const WORKERS = 24;

let tally: TestServer;
let dsp: FakeDsp;

before(async () => {
  dsp = await startDsp();
  // Batches wait 20 ms before they commit: a notice answered before its commit would be lost by a
  // crash in that window, which the kill below, right after an answer, falls into.
  tally = await startServer({ TALLY_BURL_RETRY_SECONDS: '1', TALLY_COMMIT_MAX_DELAY_MS: '20' });
});

after(async () => {
  await tally?.dispose();
  await dsp?.close();
});

describe('a crash while notices are being fired', () => {
  it('loses no answered notice, counts none twice, and sends the pending burls after the restart, its report and billing records holding each counted impression once', async () => {
    const wins = Array.from({ length: WINS }, (_, index) => ({
      request: { id: `crash-${index}`, imp: [{ id: '1', banner: {} }], site: {} },
      seat: 'seat-crash',
      bid: {
        id: `bid-${index}`,
        impid: '1',
        price: 0.5,
        adm: '<p>ad</p>',
        burl: `${dsp.url}/bill?auction=\${AUCTION_ID}`,
      },
    }));
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
    assert.equal(registered.status, 200);
    const urls: string[] = registered.body.results.map((result: any) => result.noticeUrls.adm);

    const answered = new Set<number>();
    let next = 0;
    let stopFiring = false;
    const pid = tally.pid();
    assert.ok(pid !== undefined, 'Tally runs as a process of its own');
    /**
     * SIGKILL, sent the moment the answer that makes a quarter of the notices answered arrives:
     * the notices answered just before are the likeliest to be lost by a server that answers
     * before its commit.
     */
    const killAfterAnswer = (): void => {
      if (stopFiring || answered.size < WINS / 4) return;
      stopFiring = true;
      process.kill(pid, 'SIGKILL');
    };
    const worker = async () => {
      while (!stopFiring && next < urls.length) {
        const index = next++;
        try {
          const response = await fetch(urls[index] ?? '', { headers: { 'user-agent': CHROME } });
          if (response.status === 200) {
            answered.add(index);
            killAfterAnswer();
          }
          await response.arrayBuffer();
        } catch {
          // the server died before answering: this notice was never acknowledged
        }
      }
    };
    // The DSP refuses every burl until the crash: each counted impression's delivery is still
    // pending when the server dies, and only a restarted server can send it.
    dsp.failNext('/bill', Number.MAX_SAFE_INTEGER);
    await Promise.all(Array.from({ length: WORKERS }, worker));
    assert.ok(stopFiring, `the server was not killed: only ${answered.size} notices were answered`);
    await tally.kill();
    assert.ok(answered.size < WINS, 'the kill happened while notices were still being fired');
    dsp.failNext('/bill', 0);
    assert.equal(dsp.hits.length, 0, 'no burl reached the DSP before the crash');

    // Read while the server is dead: what the crash left behind.
    const dead = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
    let countedAtCrash: Set<string>;
    try {
      countedAtCrash = new Set(
        dead.prepare(`SELECT auction_id FROM events WHERE outcome = 'counted'`).pluck().all() as string[],
      );
      const pending = dead.prepare(`SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status`).all() as {
        status: string;
        n: number;
      }[];
      assert.deepEqual(pending, [{ status: 'pending', n: countedAtCrash.size }]);
    } finally {
      dead.close();
    }
    for (const index of answered) assert.ok(countedAtCrash.has(`crash-${index}`), `crash-${index} counted`);

    await tally.restart();
    const db = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
    try {
      const countEvents = db.prepare(`SELECT COUNT(*) AS n FROM events WHERE auction_id = ?`);
      const countBilling = db.prepare(
        `SELECT COUNT(*) AS n FROM events WHERE auction_id = ? AND outcome = 'counted'`,
      );
      for (const index of answered) {
        const auction = `crash-${index}`;
        assert.equal(
          (countEvents.get(auction) as { n: number }).n,
          1,
          `${auction} was answered, so it is in the ledger once`,
        );
        assert.equal((countBilling.get(auction) as { n: number }).n, 1, `${auction} is billed once`);
      }
    } finally {
      db.close();
    }

    // Firing every notice again after the restart counts nothing twice.
    const again = [...answered];
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        for (let index = again.pop(); index !== undefined; index = again.pop()) {
          const response = await fetch(urls[index] ?? '', { headers: { 'user-agent': CHROME } });
          await response.arrayBuffer();
          assert.equal(response.status, 200);
        }
      }),
    );
    const check = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
    try {
      const billed = check
        .prepare(
          `SELECT COUNT(*) AS n, COUNT(DISTINCT auction_id) AS distinctAuctions FROM events WHERE outcome = 'counted'`,
        )
        .get() as {
        n: number;
        distinctAuctions: number;
      };
      assert.equal(billed.n, billed.distinctAuctions);
      assert.ok(
        billed.n >= answered.size,
        `${billed.n} counted of ${answered.size} answered before the kill`,
      );
    } finally {
      check.close();
    }

    // Every impression counted before the crash (answered or not) is billed after the restart,
    // and nothing else is.
    const delivered = (hits: typeof dsp.hits) => new Set(hits.map((hit) => hit.query.get('auction')));
    await dsp.waitFor((hits) => [...countedAtCrash].every((auction) => delivered(hits).has(auction)), 30_000);
    const counted = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
    try {
      const billedAuctions = new Set(
        counted.prepare(`SELECT auction_id FROM events WHERE outcome = 'counted'`).pluck().all() as string[],
      );
      for (const auction of delivered(dsp.hits))
        assert.ok(billedAuctions.has(auction ?? ''), `${auction} counted`);
    } finally {
      counted.close();
    }

    // Read over HTTP from the restarted server, the report and the billing records hold each
    // impression counted before the crash once, at its price, and each notice fired again after
    // it as a duplicate: the hourly rollups were written with the events, in their transaction.
    const hourMs = hourStartMs(Date.now());
    const iso = (ms: number) => new Date(ms).toISOString();
    const window = { from: iso(hourMs - 2 * HOUR_MS), to: iso(hourMs + HOUR_MS) };
    const report = await api(
      tally,
      tally.adminKey,
      'GET',
      `/v1/reports?from=${window.from}&to=${window.to}&groupBy=outcome,reason,currency`,
    );
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.deepEqual(
      report.body.rows.map((row: any) => [
        row.outcome,
        row.reason,
        row.currency,
        row.events,
        row.priceMicros,
      ]),
      [
        ['counted', '', 'USD', countedAtCrash.size, countedAtCrash.size * 500_000],
        ['not_counted', 'duplicate', '', answered.size, 0],
      ],
    );
    const records = await everyBillingRecord(
      tally,
      tally.adminKey,
      `servedFrom=${window.from}&servedTo=${window.to}&limit=1000`,
    );
    const recorded: string[] = [];
    for (const record of records) {
      assert.equal(record.priceMicros, 500_000);
      recorded.push(record.auctionId);
    }
    assert.equal(recorded.length, countedAtCrash.size, 'one billing record per impression counted');
    assert.deepEqual(new Set(recorded), countedAtCrash);
  });
});
