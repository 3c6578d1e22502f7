import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { defaultIvtFilter } from '../domain/ivt-filter.js';
import { NO_REDIRECT_ALLOWLIST } from '../domain/tracker-hit.js';
import { COUNTED, notCounted } from '../domain/outcome.js';
import type { PriceKeys } from '../domain/price-crypto.js';
import type { NoticeRequest } from '../domain/notice-request.js';
import type { KeyRing, NoticeClaims } from '../domain/token.js';
import { sealToken } from '../domain/token.js';
import type { EventRecord } from '../ports/ledger.js';
import { EMPTY_DIMENSIONS } from '../ports/ledger.js';
import { noticeEvent } from './notice-event.js';
import { impressionKey } from '../domain/impression-key.js';
import type { NoticeEnvironment } from './notice-event.js';
import { arbitraryClaims } from '../../test/support/arbitrary-claims.js';
import { bannerClaims, testKeyRing } from '../../test/support/claims.js';
import { T0 } from '../../test/support/events.js';
import { CHROME } from '../../test/support/user-agents.js';

/**
 * Decides a browser's GET of the notice of `claims` sealed with `sealRing`, with `request`
 * overriding the request, its token opened with `openRing`.
 */
function decided(
  claims: NoticeClaims,
  sealRing: KeyRing,
  request: Partial<NoticeRequest> = {},
  openRing: KeyRing = sealRing,
  env: Partial<NoticeEnvironment> = {},
) {
  return noticeEvent(
    {
      token: sealToken(claims, sealRing),
      query: '',
      method: 'GET',
      headers: { 'user-agent': CHROME },
      remoteAddress: '198.51.100.7',
      receivedMs: T0 + 1000,
      ...request,
    },
    {
      keyRing: openRing,
      ivtFilter: defaultIvtFilter(),
      priceKeysFor: () => undefined,
      redirectAllowlist: () => NO_REDIRECT_ALLOWLIST,
      ...env,
    },
  );
}

describe('noticeEvent', () => {
  it('never throws, whatever the request and whatever an authentic token claims (it runs on the HTTP thread)', () => {
    const ring = testKeyRing();
    const priceKeys: PriceKeys = { encryptionKey: Buffer.alloc(32, 1), integrityKey: Buffer.alloc(32, 2) };
    const text = fc.string({ unit: 'binary', maxLength: 20 });
    const integer = fc.oneof(
      fc.constantFrom(0, Number.MAX_SAFE_INTEGER),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    );
    const burl = fc
      .array(
        fc.oneof(
          text,
          fc.constantFrom(
            '${AUCTION_PRICE}',
            '${AUCTION_PRICE:BF}',
            '${AUCTION_ID}',
            '${AUCTION_MBR}',
            'https://dsp.test/b?p=',
          ),
        ),
        { maxLength: 5 },
      )
      .map((parts) => parts.join(''));
    const claims = arbitraryClaims(text, integer, burl);
    const request = fc.record({
      token: fc.oneof(
        text,
        claims.map((sealed) => sealToken(sealed, ring)),
      ),
      query: text,
      method: fc.constantFrom('GET', 'HEAD', 'POST', ''),
      headers: fc.dictionary(
        fc.constantFrom(
          'user-agent',
          'x-device-ip',
          'x-device-user-agent',
          'x-forwarded-for',
          'sec-purpose',
          'purpose',
        ),
        text,
      ),
      remoteAddress: fc.oneof(text, fc.constantFrom('127.0.0.1', '::ffff:10.0.0.1', '2001:db8::1')),
      receivedMs: integer,
    });
    const env = {
      keyRing: ring,
      ivtFilter: defaultIvtFilter(),
      priceKeysFor: () => priceKeys,
      redirectAllowlist: () => NO_REDIRECT_ALLOWLIST,
    };
    fc.assert(
      fc.property(request, (facts) => {
        const { event } = noticeEvent(facts, env);
        assert.equal(event.receivedMs, facts.receivedMs);
      }),
      { numRuns: 3000 },
    );
  });

  it('fills the relayed burl of a counted notice with its market bid ratio and impression time', () => {
    const ring = testKeyRing();
    const claims = bannerClaims({
      priceMicros: 1_000_000,
      bidMicros: 1_250_000,
      dspBurl: 'https://dsp.example/bill?p=${AUCTION_PRICE}&mbr=${AUCTION_MBR}&ts=${AUCTION_IMP_TS}',
    });
    const receivedMs = T0 + 5_000;
    const { event } = decided(claims, ring, { remoteAddress: '203.0.113.9', receivedMs });
    assert.equal(event.outcome.outcome, 'counted');
    assert.equal(event.delivery?.url, `https://dsp.example/bill?p=1&mbr=0.8&ts=${receivedMs}`);
  });

  it('relays a burl until three hours after the auction, or after the notice when the TTL is longer', () => {
    const ring = testKeyRing();
    const HOUR_MS = 3_600_000;
    const deadlineOf = (ttlSeconds: number, receivedMs: number) =>
      decided(bannerClaims({ ttlSeconds, dspBurl: 'https://dsp.example/bill' }), ring, {
        remoteAddress: '203.0.113.9',
        receivedMs,
      }).event.delivery?.deadlineMs;
    // bannerClaims are won at T0.
    assert.equal(deadlineOf(600, T0 + 5_000), T0 + 3 * HOUR_MS);
    assert.equal(deadlineOf(3 * 3600, T0 + 2 * HOUR_MS), T0 + 3 * HOUR_MS);
    // A day's TTL (a TALLY_RULES override): a notice 20 hours on gets three hours of its own.
    assert.equal(deadlineOf(24 * 3600, T0 + 20 * HOUR_MS), T0 + 23 * HOUR_MS);
  });

  it('records the ids, clearing price, currency and device the notice gives, by the hour served, with a claim lasting the TTL from the auction', () => {
    const ring = testKeyRing();
    const claims = bannerClaims({
      accountId: 7,
      auctionId: 'auc',
      impId: 'imp-2',
      bidId: 'bid-3',
      seat: 'seat-4',
      publisherId: 'pub-9',
      // Cleared at 2.34 on a bid of 2.50: the clearing price is what the impression bills.
      priceMicros: 2_340_000,
      bidMicros: 2_500_000,
      currency: 'EUR',
      ttlSeconds: 3600,
    });
    // Won at T0 (10:30 UTC), received 45 minutes later, in the next hour.
    const receivedMs = T0 + 45 * 60_000;
    const { event, redirectIfCounted } = decided(claims, ring, {
      headers: { 'user-agent': CHROME, 'x-device-ip': '203.0.113.50' },
      receivedMs,
    });
    assert.equal(redirectIfCounted, '');
    assert.deepEqual(event, {
      receivedMs,
      servedHourMs: T0 - 30 * 60_000,
      outcome: COUNTED,
      dims: {
        ...EMPTY_DIMENSIONS,
        accountId: 7,
        impressionType: 'exchange',
        kind: 'adm',
        format: 'banner',
        channel: 'web',
        method: 'adm',
        seat: 'seat-4',
        publisher: 'pub-9',
        auctionId: 'auc',
        impId: 'imp-2',
        bidId: 'bid-3',
        currency: 'EUR',
      },
      priceMicros: 2_340_000,
      mediaCostMicros: 0,
      revenueMicros: 0,
      deviceIp: '203.0.113.50',
      userAgent: CHROME,
      dedupe: { key: 'x\u001f7\u001fauc\u001fimp-2\u001fbid-3\u001fseat-4', expiresMs: T0 + 3_600_000 },
    });
  });

  it('records the format, channel, method and notice kind the token claims', () => {
    const ring = testKeyRing();
    const claims = bannerClaims({
      kind: 'vast',
      format: 'video',
      channel: 'ctv',
      method: 'vast',
      ttlSeconds: 10_800,
    });
    const { event } = decided(claims, ring);
    const { kind, format, channel, method } = event.dims;
    assert.deepEqual(
      { kind, format, channel, method },
      { kind: 'vast', format: 'video', channel: 'ctv', method: 'vast' },
    );
  });

  it('names the impression of a notice that did not count, so that its ledger row says which impression it was for', () => {
    const ring = testKeyRing();
    const claims = bannerClaims({ accountId: 7, auctionId: 'auc-head' });
    const { event } = decided(claims, ring, { method: 'HEAD' });
    assert.equal(event.outcome.outcome, 'not_counted');
    assert.equal(event.dedupe?.key, impressionKey(claims));
  });

  it('opens the token of a URL a client appended a query to with & instead of ?, or a / to, and reads that query with any after the ?', () => {
    const ring = testKeyRing();
    const claims = bannerClaims();
    const token = sealToken(claims, ring);
    for (const [path, query] of [
      [`${token}&cb=123`, ''],
      [`${token}/`, 'cb=1'],
      [`${token}/&cb=123`, 'x=1'],
    ]) {
      const { event } = decided(claims, ring, { token: path, query });
      assert.deepEqual(event.outcome, COUNTED, path);
    }
    // The query appended so is read as any other: a preview render is still one.
    const preview = decided(claims, ring, { token: `${token}&preview=1` });
    assert.deepEqual(preview.event.outcome, notCounted('preview'));
    // With a query after a `?` that follows it, both are read: neither is dropped for the other.
    for (const [appended, query] of [
      ['cb=1', 'preview=1'],
      ['preview=1', 'cb=1'],
    ]) {
      const both = decided(claims, ring, { token: `${token}&${appended}`, query });
      assert.deepEqual(both.event.outcome, notCounted('preview'), `${appended} then ?${query}`);
    }
    assert.equal(decided(claims, ring, { token: `${token}&cb=1`, query: 'f=b' }).beacon, true);
    assert.deepEqual(
      decided(claims, ring, { token: `${token}x&cb=1` }).event.outcome,
      notCounted('invalid_token'),
    );
  });

  it('opens a token whose characters a client wrote as percent-escapes (%2D for -), as the same URL, and no other escape', () => {
    const ring = testKeyRing();
    const claims = bannerClaims();
    const token = sealToken(claims, ring);
    const escapeAll = (text: string) =>
      [...text].map((character) => `%${character.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
    for (const path of [escapeAll(token), escapeAll(token).toLowerCase(), `${escapeAll(token)}&cb=1`]) {
      assert.deepEqual(decided(claims, ring, { token: path }).event.outcome, COUNTED, path);
    }
    // An escape of a character no token holds stays one, and the token does not open.
    assert.deepEqual(
      decided(claims, ring, { token: `${token}%2F` }).event.outcome,
      notCounted('invalid_token'),
    );
  });

  it('keeps the VAST error code of a vast_error notice alone, none for an unreplaced macro, and answers alike', () => {
    const ring = testKeyRing();
    const video = { format: 'video', method: 'vast', channel: 'web' } as const;
    const vastError = bannerClaims({ ...video, kind: 'vast_error' });
    const impression = bannerClaims({ ...video, kind: 'vast' });
    const noticeOf = (claims: NoticeClaims, query: string) => decided(claims, ring, { query });
    assert.equal(noticeOf(vastError, 'e=303').event.dims.vastError, 303);
    // Appended with & rather than ? by a player: read as the query it meant.
    assert.equal(
      decided(vastError, ring, { token: `${sealToken(vastError, ring)}&e=405` }).event.dims.vastError,
      405,
    );
    for (const query of ['e=[ERRORCODE]', 'e=%5BERRORCODE%5D', 'e=abc', '', 'e=303&e=303']) {
      assert.equal(noticeOf(vastError, query).event.dims.vastError, null, query);
    }
    // Another notice's e is not a VAST error code.
    assert.equal(noticeOf(impression, 'e=303').event.dims.vastError, null);
    assert.equal(
      decided(vastError, testKeyRing(), { query: 'e=303' }, ring).event.dims.vastError,
      null,
      'a forged token',
    );
    const answer = ({ event, ...rest }: ReturnType<typeof noticeOf>) => ({ ...rest, outcome: event.outcome });
    assert.deepEqual(answer(noticeOf(vastError, 'e=303')), answer(noticeOf(vastError, 'e=abc')));
  });

  it('reports a notice whose token does not open to the operator account, with no claim and no burl', () => {
    // Sealed with one ring, opened with another.
    const { event, redirectIfCounted } = decided(
      bannerClaims({ accountId: 7, dspBurl: 'https://dsp.example/bill' }),
      testKeyRing(),
      {},
      testKeyRing(),
    );
    assert.deepEqual(event.outcome, notCounted('invalid_token'));
    assert.deepEqual(event.dims, { ...EMPTY_DIMENSIONS, accountId: 1 });
    assert.equal(event.dedupe, undefined);
    assert.equal(event.delivery, undefined);
    assert.equal(redirectIfCounted, '');
  });

  /**
   * The URL the event queues in the outbox, `''` when none; a redirect is kept as a `redirected`
   * delivery of the very URL the publisher is sent to.
   */
  function outboxUrl(event: EventRecord, redirect: string): string {
    if (event.delivery?.redirected !== true) return event.delivery?.url ?? '';
    assert.deepEqual(event.delivery, { url: redirect, deadlineMs: event.receivedMs, redirected: true });
    return '';
  }

  it('answers Tally’s burl with a redirect only to a printable http(s) burl without credentials, relaying any other through the outbox', () => {
    const ring = testKeyRing();
    const relayOf = (dspBurl: string) => {
      const claims: NoticeClaims = bannerClaims({ kind: 'burl', method: 'burl', dspBurl });
      const { event, redirectIfCounted, redirectOfRepeat } = decided(claims, ring);
      assert.equal(event.outcome.outcome, 'counted', dspBurl);
      assert.equal(event.dims.kind, 'burl', 'recorded as a notice on Tally’s burl');
      // A repeat goes to the very same URL, written the same way (and, with no redirect, nowhere).
      assert.equal(redirectOfRepeat?.(T0) ?? '', redirectIfCounted, dspBurl);
      return { redirect: redirectIfCounted, outbox: outboxUrl(event, redirectIfCounted) };
    };
    assert.deepEqual(relayOf('https://dsp.example/bill?a=1'), {
      redirect: 'https://dsp.example/bill?a=1',
      outbox: '',
    });
    // As the relay would call it: a space percent-encoded, not sent raw in a Location header.
    assert.deepEqual(relayOf('https://DSP.example/bill?kw=a b'), {
      redirect: 'https://dsp.example/bill?kw=a%20b',
      outbox: '',
    });
    // An @ in the path or query names no user.
    assert.deepEqual(relayOf('https://dsp.example/bill/@x?by=ops@dsp.example'), {
      redirect: 'https://dsp.example/bill/@x?by=ops@dsp.example',
      outbox: '',
    });
    for (const unfit of [
      'ftp://dsp.example/bill',
      'javascript:alert(1)',
      'https://dsp.example/b?x=\u007f',
      'https://dsp.example/b?x=\u001f',
      'https://dsp.example/b?x=\u00e9',
      // The DSP's credentials are for Tally's relay, which sends them as Authorization: Basic.
      'https://user:secret@dsp.example/bill',
      'https://user@dsp.example/bill',
      'https://:secret@dsp.example/bill',
    ]) {
      assert.deepEqual(relayOf(unfit), { redirect: '', outbox: unfit }, JSON.stringify(unfit));
    }
  });

  it("redirects Tally's burl only to a host the account's enabled allow-list holds, relaying any other through the outbox", () => {
    const ring = testKeyRing();
    const allowlists = new Map([[7, { enabled: true, domains: ['dsp.example'] }]]);
    const relayOf = (accountId: number, dspBurl: string) => {
      const claims = bannerClaims({ accountId, kind: 'burl', method: 'burl', dspBurl });
      const { event, redirectIfCounted } = decided(claims, ring, {}, ring, {
        redirectAllowlist: (account) => allowlists.get(account) ?? NO_REDIRECT_ALLOWLIST,
      });
      return { redirect: redirectIfCounted, outbox: outboxUrl(event, redirectIfCounted) };
    };
    const allowed = 'https://bill.dsp.example/b?p=1';
    const other = 'https://elsewhere.example/b?p=1';
    assert.deepEqual(relayOf(7, allowed), { redirect: allowed, outbox: '' });
    assert.deepEqual(relayOf(7, other), { redirect: '', outbox: other });
    assert.deepEqual(relayOf(8, other), { redirect: other, outbox: '' }, 'an account without an allow-list');
  });
});
