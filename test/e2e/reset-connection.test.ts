import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CHROME } from '../support/user-agents.js';
import { ledgerEventsOf } from '../support/ledger-events.js';

/** Notices sent, each on a connection of its own reset right after it. */
const NOTICES = 40;

let tally: TestServer;

before(async () => {
  // The tests' own address is on the block list: every notice they send comes from a blocked peer.
  tally = await startServer({ TALLY_IVT_BLOCKED_IPS: '127.0.0.0/8' });
});

after(async () => {
  await tally?.dispose();
});

/** Registers one web banner win per auction id; answers their adm notices' paths, in order. */
async function noticePaths(auctionIds: readonly string[]): Promise<string[]> {
  const wins = auctionIds.map((id) => ({
    request: { id, imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: { publisher: { id: 'pub' } } },
    seat: 'seat-reset',
    bid: { id: `bid-${id}`, impid: '1', price: 1, adm: '<div>ad</div>' },
  }));
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  return registered.body.results.map((result: any) => new URL(result.noticeUrls.adm).pathname);
}

/** Writes `request` on a new connection and resets the connection (TCP RST) at once, reading nothing. */
function sendAndReset(request: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(tally.port, '127.0.0.1', () => {
      socket.write(request);
      socket.resetAndDestroy();
      resolve();
    });
    socket.on('error', () => resolve());
  });
}

/** What the ledger recorded for these auctions, as `<outcome>/<reason>/<IVT rule> <device IP>`. */
function recorded(auctionIds: readonly string[]): string[] {
  return ledgerEventsOf(tally.dataDir, auctionIds).map(
    (row) => `${row.outcome}/${row.reason}/${row.ivt_rule} ${row.device_ip}`,
  );
}

describe('a notice from a blocked address on a connection reset right after it', () => {
  it('is screened against the IP block list like any other, on the notice lane and node:http alike, never counted', async () => {
    const auctionIds = Array.from({ length: NOTICES }, (_, index) => `reset-${index}`);
    const paths = await noticePaths(auctionIds);
    await Promise.all(
      paths.map((path, index) =>
        sendAndReset(
          // GETs the notice lane serves, and POSTs (a beacon's) it hands to node:http.
          index % 2 === 0
            ? `GET ${path} HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\n\r\n`
            : `POST ${path} HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\nContent-Length: 0\r\n\r\n`,
        ),
      ),
    );
    // A notice answered after them: those read before it are committed by then, as batches commit
    // in order.
    const [sentinel] = await noticePaths(['reset-sentinel']);
    const answer = await fetch(`${tally.url}${sentinel}`, { headers: { 'user-agent': CHROME } });
    await answer.arrayBuffer();
    assert.equal(answer.status, 200);

    const blocked = 'not_counted/invalid_traffic/blocked_ip 127.0.0.1';
    assert.deepEqual(recorded(['reset-sentinel']), [blocked]);
    // A connection reset before the server took it is closed unread: its notice is not recorded.
    assert.deepEqual(
      recorded(auctionIds).filter((outcome) => outcome !== blocked),
      [],
    );
  });
});
