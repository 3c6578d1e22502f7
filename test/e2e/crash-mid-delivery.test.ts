import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CHROME } from '../support/user-agents.js';

/**
 * Long enough that no call held by the DSP ends by Tally's time limit before the kill; and that its
 * lease (twice the time limit) outlasts the wait for the call again after the restart.
 */
const BURL_TIMEOUT_MS = 120_000;

/** A DSP that holds every burl call open while `holding`, and answers 200 otherwise. */
let dsp: Server;
let dspUrl: string;
let holding = true;
const calls: IncomingHttpHeaders[] = [];
const held: ServerResponse[] = [];
let tally: TestServer;

before(async () => {
  dsp = createServer((req, res) => {
    calls.push(req.headers);
    if (holding) held.push(res);
    else res.writeHead(200).end('ok');
  });
  await new Promise<void>((resolve) => dsp.listen(0, '127.0.0.1', resolve));
  dspUrl = `http://127.0.0.1:${(dsp.address() as AddressInfo).port}`;
  tally = await startServer({ TALLY_BURL_TIMEOUT_MS: String(BURL_TIMEOUT_MS) });
});

after(async () => {
  await tally?.dispose();
  for (const res of held) res.destroy();
  await new Promise<void>((resolve) => dsp.close(() => resolve()));
});

async function until(done: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`${what}:\n${tally.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Registers banner wins for the auction ids, each with a burl to the DSP; their `adm` notice URLs. */
async function register(auctionIds: string[]): Promise<string[]> {
  const wins = auctionIds.map((id) => ({
    request: { id, imp: [{ id: '1', banner: {} }], site: {} },
    seat: 'seat-crash',
    bid: {
      id: 'b',
      impid: '1',
      price: 1,
      adm: '<p>ad</p>',
      burl: `${dspUrl}/bill?auction=${id}`,
    },
  }));
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
  assert.equal(registered.status, 200);
  return registered.body.results.map((result: any) => result.noticeUrls.adm as string);
}

async function fire(url: string): Promise<void> {
  const response = await fetch(url, { headers: { 'user-agent': CHROME } });
  await response.arrayBuffer();
  assert.equal(response.status, 200);
}

/** The ledger's counted events and deliveries of `auctionId`, read with the server dead or alive. */
function ledgerOf(auctionId: string) {
  const db = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
  try {
    const counted = db
      .prepare(`SELECT COUNT(*) FROM events WHERE auction_id = ? AND outcome = 'counted'`)
      .pluck()
      .get(auctionId);
    const deliveries = db
      .prepare(
        `SELECT id, status, attempts, delivered_ms AS deliveredMs FROM deliveries WHERE dedupe_key LIKE ?`,
      )
      .all(`%\u001f${auctionId}\u001f%`);
    return { counted, deliveries };
  } finally {
    db.close();
  }
}

describe('a SIGKILL while a burl call is in flight, then a restart', () => {
  it('sends a burl again whose call was in flight at the kill, under its delivery id, and marks it delivered only on the 2xx after the restart, billed once', async () => {
    const [url] = await register(['in-flight']);
    await fire(url ?? '');
    await until(() => held.length === 1, 'the DSP never got the burl call');
    const first = calls[0];
    await tally.kill();
    // The call's answer, a 2xx, comes after the kill: the dead server never read it.
    held.shift()?.writeHead(200).end('ok');

    const atKill = ledgerOf('in-flight');
    assert.deepEqual(atKill.deliveries, [
      { id: Number(first?.['x-tally-delivery-id']), status: 'pending', attempts: 1, deliveredMs: null },
    ]);
    assert.equal(atKill.counted, 1);

    holding = false;
    await tally.restart();
    // Its lease, written as the call began, is the killed process's: ended at the start, the call is
    // made again at once, as a retry, not 4 min later when the lease would have run out.
    await until(() => calls.length === 2, 'the burl in flight at the kill was not sent again within 30 s');
    assert.match(tally.output(), /"burl_leases_ended"[^\n]*"deliveries":1/);
    const again = calls[1];
    assert.equal(again?.['x-tally-delivery-id'], first?.['x-tally-delivery-id']);
    assert.equal(again?.['x-tally-attempt'], '2');
    await until(
      () => (ledgerOf('in-flight').deliveries[0] as { status: string }).status === 'delivered',
      'the delivery answered 200 was never marked delivered',
    );

    // The notice again, after the restart: the same impression, not billed or sent a second time.
    await fire(url ?? '');
    const afterRestart = ledgerOf('in-flight');
    assert.equal(afterRestart.counted, 1);
    assert.equal(afterRestart.deliveries.length, 1);
  });
});
