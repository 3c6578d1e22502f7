import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { defaultIvtFilter } from '../domain/ivt.js';
import type { NoticeRequest } from '../domain/notice-request.js';
import { COUNTED } from '../domain/outcome.js';
import type { KeyRing, NoticeClaims } from '../domain/token.js';
import { sealToken } from '../domain/token.js';
import type { Submission } from '../ports/recorder.js';
import { impressionTypeOf } from '../ports/recorder.js';
import { Counter } from './counter.js';
import { bannerClaims, testKeyRing } from '../../test/support/claims.js';
import { exchangeEvent, T0 } from '../../test/support/events.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-counter-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CHROME =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';

function notice(ring: KeyRing, claims: NoticeClaims, headers: Record<string, string> = {}): NoticeRequest {
  return {
    token: sealToken(claims, ring),
    query: '',
    method: 'GET',
    headers: { 'user-agent': CHROME, ...headers },
    remoteAddress: '198.51.100.7',
    receivedMs: T0 + 1000,
  };
}

function counterOn(name: string, ring: KeyRing): { counter: Counter; ledger: SqliteLedger } {
  const ledger = new SqliteLedger(openSqlite(join(dir, name)));
  const counter = new Counter(ledger, {
    keyRing: ring,
    ivtFilter: defaultIvtFilter(),
    priceKeysFor: () => undefined,
  });
  return { counter, ledger };
}

describe('counter', () => {
  it('decides notices and records them with decided events in one batch, answering in input order', () => {
    const ring = testKeyRing();
    const { counter, ledger } = counterOn('order.db', ring);
    const batch: Submission[] = [
      { notice: notice(ring, bannerClaims()) },
      { event: exchangeEvent({ dims: { ...exchangeEvent().dims, impressionType: 'external_impression' } }) },
      { notice: notice(ring, bannerClaims()) },
      { notice: { ...notice(ring, bannerClaims()), token: 'not-a-token' } },
      { notice: notice(ring, bannerClaims({ auctionId: 'auction-2' }), { 'user-agent': 'Googlebot/2.1' }) },
    ];
    const results = counter.record(batch);
    assert.deepEqual(
      results.map((recorded, index) => [recorded.outcome, impressionTypeOf(batch[index] as Submission)]),
      [
        [COUNTED, 'exchange'],
        [COUNTED, 'external_impression'],
        [{ outcome: 'not_counted', reason: 'duplicate' }, 'exchange'],
        [{ outcome: 'not_counted', reason: 'invalid_token' }, 'exchange'],
        [{ outcome: 'not_counted', reason: 'invalid_traffic', rule: 'bot_user_agent' }, 'exchange'],
      ],
    );
    assert.equal(ledger.countEvents().total, 5);
    ledger.close();
  });

  it('redirects a counted notice on Tally’s burl to the DSP’s burl with its price, and a duplicate nowhere', () => {
    const ring = testKeyRing();
    const { counter, ledger } = counterOn('burl.db', ring);
    const claims = bannerClaims({
      kind: 'burl',
      method: 'burl',
      dspBurl: 'https://dsp.example/bill?p=${AUCTION_PRICE}&a=${AUCTION_ID}',
    });
    const [first, second] = counter.record([
      { notice: notice(ring, claims) },
      { notice: notice(ring, claims) },
    ]);
    assert.equal(first?.redirectTo, 'https://dsp.example/bill?p=1.25&a=auction-1');
    assert.equal(second?.outcome.outcome, 'not_counted');
    assert.equal(second?.redirectTo, '');
    assert.equal(ledger.countDeliveries().pending, 0, 'a burl relayed by redirect is not queued as well');
    ledger.close();
  });
});
