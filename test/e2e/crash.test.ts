import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { startDsp } from '../support/dsp.js';
import type { FakeDsp } from '../support/dsp.js';
import { CHROME } from '../support/user-agents.js';

const WINS = 1500;
const WORKERS = 24;

let tally: TestServer;
let dsp: FakeDsp;

before(async () => {
  dsp = await startDsp();
  tally = await startServer({ TALLY_BURL_RETRY_SECONDS: '1' });
});

after(async () => {
  await tally?.dispose();
  await dsp?.close();
});

describe('a crash while notices are being fired', () => {
  it('loses no answered notice, counts none twice, and sends the pending burls after the restart', async () => {
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
    const worker = async () => {
      while (!stopFiring && next < urls.length) {
        const index = next++;
        try {
          const response = await fetch(urls[index] ?? '', { headers: { 'user-agent': CHROME } });
          await response.arrayBuffer();
          if (response.status === 200) answered.add(index);
        } catch {
          // the server died before answering: this notice was never acknowledged
        }
      }
    };
    const firing = Promise.all(Array.from({ length: WORKERS }, worker));
    for (const deadlineMs = Date.now() + 60_000; answered.size < WINS / 4;) {
      assert.ok(Date.now() < deadlineMs, `only ${answered.size} notices answered in a minute`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await tally.kill();
    stopFiring = true;
    await firing;
    assert.ok(answered.size < WINS, 'the kill happened while notices were still being fired');

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
    for (const index of answered) {
      const response = await fetch(urls[index] ?? '', { headers: { 'user-agent': CHROME } });
      await response.arrayBuffer();
    }
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
      assert.ok(billed.n >= answered.size);
    } finally {
      check.close();
    }

    const delivered = (hits: typeof dsp.hits) => new Set(hits.map((hit) => hit.query.get('auction')));
    await dsp.waitFor(
      (hits) => [...answered].every((index) => delivered(hits).has(`crash-${index}`)),
      30_000,
    );
  });
});
