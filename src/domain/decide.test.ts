import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideNotice } from './decide.js';
import { decideHit } from './decide-hit.js';
import type { HitRequest } from './hit-request.js';
import { defaultIvtFilter } from './ivt-filter.js';
import { NOT_COUNTED_REASONS } from './outcome.js';
import type { NoticeClaims } from './token.js';
import { generateKey, openToken, sealToken } from './token.js';
import { bannerClaims, testKeyRing } from '../../test/support/claims.js';
import { CHROME } from '../../test/support/user-agents.js';

const ring = testKeyRing();
const AUCTION_MS = Date.UTC(2026, 10, 22, 10, 0, 0);

const webBanner = bannerClaims({ priceMicros: 1_500_000, auctionTimeMs: AUCTION_MS });

const browser: HitRequest = {
  method: 'GET',
  headers: { 'user-agent': CHROME },
  remoteAddress: '198.51.100.1',
};

function decide(claims: NoticeClaims, secondsAfterAuction: number, request = browser, query = '') {
  const opened = openToken(sealToken(claims, ring), ring);
  return decideNotice(
    opened,
    request,
    new URLSearchParams(query),
    AUCTION_MS + secondsAfterAuction * 1000,
    defaultIvtFilter(),
  ).outcome;
}

describe('deciding a notice', () => {
  it('counts a web banner notice 600 s after the auction', () => {
    assert.deepEqual(decide(webBanner, 600), { outcome: 'counted' });
  });

  it('does not count a web banner notice 601 s after the auction', () => {
    assert.deepEqual(decide(webBanner, 601), { outcome: 'not_counted', reason: 'late' });
  });

  it('counts a web video notice up to 1 h and an app video notice up to 3 h', () => {
    const webVideo = {
      ...webBanner,
      kind: 'vast',
      method: 'vast',
      format: 'video',
      ttlSeconds: 3600,
    } as const;
    assert.equal(decide(webVideo, 3600).outcome, 'counted');
    assert.deepEqual(decide(webVideo, 3601), { outcome: 'not_counted', reason: 'late' });
    const appVideo = { ...webVideo, channel: 'app', ttlSeconds: 10800 } as const;
    assert.equal(decide(appVideo, 10800).outcome, 'counted');
    assert.deepEqual(decide(appVideo, 10801), { outcome: 'not_counted', reason: 'late' });
  });

  it('records a notice of another method as not the billing method', () => {
    assert.deepEqual(decide({ ...webBanner, kind: 'loaded' }, 1), {
      outcome: 'not_counted',
      reason: 'not_billing_method',
    });
  });

  it('never counts a test win', () => {
    assert.deepEqual(decide({ ...webBanner, test: true }, 1), { outcome: 'not_counted', reason: 'preview' });
  });

  it('never counts a render whose macros were filled with AUDIT, or a preview flag', () => {
    assert.deepEqual(decide(webBanner, 1, browser, 'ts=AUDIT'), {
      outcome: 'not_counted',
      reason: 'preview',
    });
    assert.deepEqual(decide(webBanner, 1, browser, 'preview=1'), {
      outcome: 'not_counted',
      reason: 'preview',
    });
  });

  it('does not count prefetches, HEAD requests or bots', () => {
    assert.deepEqual(
      decide(webBanner, 1, { ...browser, headers: { ...browser.headers, 'sec-purpose': 'prefetch' } }),
      { outcome: 'not_counted', reason: 'prefetch' },
    );
    assert.deepEqual(decide(webBanner, 1, { ...browser, method: 'HEAD' }), {
      outcome: 'not_counted',
      reason: 'invalid_traffic',
      rule: 'head_request',
    });
    assert.deepEqual(decide(webBanner, 1, { ...browser, headers: { 'user-agent': 'curl/8.0' } }), {
      outcome: 'not_counted',
      reason: 'invalid_traffic',
      rule: 'bot_user_agent',
    });
  });

  it("counts app and CTV notices and burls fired by apps', players' and servers' HTTP stacks, which the bot list flags, but not declared robots", () => {
    const appVideo = {
      ...webBanner,
      kind: 'vast',
      method: 'vast',
      format: 'video',
      channel: 'app',
      ttlSeconds: 10800,
    } as const;
    const ctvVideo = { ...appVideo, channel: 'ctv' } as const;
    const appNative = {
      ...webBanner,
      kind: 'native',
      method: 'native',
      format: 'native',
      channel: 'app',
      ttlSeconds: 300,
    } as const;
    const burl = { ...webBanner, kind: 'burl', method: 'burl', ttlSeconds: 10800 } as const;
    const agent = (userAgent: string) => ({ ...browser, headers: { 'user-agent': userAgent } });
    const botRule = { outcome: 'not_counted', reason: 'invalid_traffic', rule: 'bot_user_agent' };
    for (const [claims, userAgent] of [
      [appNative, 'okhttp/4.12.0'],
      [appVideo, 'ExoPlayerLib/2.18.1'],
      // Media3, ExoPlayer's successor, by its default agent.
      [appVideo, 'AndroidXMedia3/1.1.1'],
      // GStreamer's HTTP source, the players of set-top boxes and older smart TVs.
      [ctvVideo, 'GStreamer souphttpsrc 1.22.0 libsoup/3.4.2'],
      [ctvVideo, 'GStreamer souphttpsrc (compatible; LG NetCast.TV-2013) libsoup/2.40.3'],
      [appVideo, 'GoogleInteractiveMediaAds/3.29.0 (Linux; U; Android 12)'],
      [appVideo, 'UnityPlayer/2021.3.1f1 (UnityWebRequest/1.0, libcurl/7.80.0-DEV)'],
      [ctvVideo, 'okhttp/3.12.1'],
      [ctvVideo, 'Lavf/58.29.100'],
      [ctvVideo, 'AppleTV6,2/11.1'],
      [appNative, 'Fox%20News/5.1 CFNetwork/1410.0.3 Darwin/22.6.0'],
      [burl, 'Go-http-client/1.1'],
      [burl, 'Apache-HttpClient/4.5.13 (Java/11)'],
      [burl, 'curl/8.0'],
    ] as const) {
      assert.deepEqual(
        decide(claims, 1, agent(userAgent)),
        { outcome: 'counted' },
        `${claims.channel} ${claims.kind} by ${userAgent}`,
      );
    }
    // A browser renders web markup: there the same stacks are bots, as are declared robots anywhere.
    assert.deepEqual(decide(webBanner, 1, agent('okhttp/4.12.0')), botRule);
    assert.deepEqual(decide(appVideo, 1, agent('Googlebot/2.1 (+http://www.google.com/bot.html)')), botRule);
    assert.deepEqual(decide(burl, 1, agent('curl/8.0 (compatible; MyCrawler/1.0)')), botRule);
  });

  it('counts a notice whose preview parameter is not 1', () => {
    assert.deepEqual(decide(webBanner, 1, browser, 'preview=0'), { outcome: 'counted' });
  });

  it('takes only the exact value AUDIT for an ad-quality render, not a value that merely resembles it', () => {
    for (const query of ['ts=audit', 'ts=AUDITED', 'ts=NOAUDIT']) {
      assert.deepEqual(decide(webBanner, 1, browser, query), { outcome: 'counted' }, query);
    }
  });

  it('records invalid traffic before a notice of another method: a HEAD request on the load notice is head_request', () => {
    assert.deepEqual(decide({ ...webBanner, kind: 'loaded' }, 1, { ...browser, method: 'HEAD' }), {
      outcome: 'not_counted',
      reason: 'invalid_traffic',
      rule: 'head_request',
    });
  });

  it('records a late notice of another method as not the billing method, not as late', () => {
    assert.deepEqual(decide({ ...webBanner, kind: 'loaded' }, 601), {
      outcome: 'not_counted',
      reason: 'not_billing_method',
    });
  });

  it('counts a notice exactly at the TTL and not one a millisecond after it', () => {
    const decideAt = (msAfterAuction: number) =>
      decideNotice(
        openToken(sealToken(webBanner, ring), ring),
        browser,
        new URLSearchParams(),
        AUCTION_MS + msAfterAuction,
        defaultIvtFilter(),
      ).outcome;
    assert.deepEqual(decideAt(600_000), { outcome: 'counted' });
    assert.deepEqual(decideAt(600_001), { outcome: 'not_counted', reason: 'late' });
  });

  it('takes AUDIT in any query parameter for an ad-quality render, not only in the first', () => {
    assert.deepEqual(decide(webBanner, 1, browser, 'w=300&h=250&ts=AUDIT'), {
      outcome: 'not_counted',
      reason: 'preview',
    });
  });

  it('returns the opened claims and the device beside a counted decision, for the ledger', () => {
    const decision = decideNotice(
      openToken(sealToken(webBanner, ring), ring),
      browser,
      new URLSearchParams(),
      AUCTION_MS + 1000,
      defaultIvtFilter(),
    );
    assert.deepEqual(decision.outcome, { outcome: 'counted' });
    assert.deepEqual(decision.claims, webBanner);
    assert.deepEqual(decision.device, {
      ip: '198.51.100.1',
      userAgent: CHROME,
      userAgentTooLong: false,
    });
  });

  it("screens the load pixel of a web banner billed on the publisher's burl as a browser's: an app HTTP stack there is a bot", () => {
    const loaded = { ...webBanner, kind: 'loaded', method: 'burl', ttlSeconds: 10800 } as const;
    assert.deepEqual(decide(loaded, 1, { ...browser, headers: { 'user-agent': 'okhttp/4.12.0' } }), {
      outcome: 'not_counted',
      reason: 'invalid_traffic',
      rule: 'bot_user_agent',
    });
  });

  it('gives only reasons that the list of not-counted reasons (reports, API schema) holds', () => {
    const outcomes = [
      decide(webBanner, 601),
      decide({ ...webBanner, kind: 'loaded' }, 1),
      decide({ ...webBanner, test: true }, 1),
      decide(webBanner, 1, { ...browser, headers: { ...browser.headers, 'sec-purpose': 'prefetch' } }),
      decide(webBanner, 1, { ...browser, method: 'HEAD' }),
      decideNotice(openToken('garbage', ring), browser, new URLSearchParams(), AUCTION_MS, defaultIvtFilter())
        .outcome,
      decideHit(undefined, browser, defaultIvtFilter()).outcome,
      decideHit({ state: 'inactive', lineItem: { state: 'active' } }, browser, defaultIvtFilter()).outcome,
      decideHit({ state: 'active', lineItem: { state: 'inactive' } }, browser, defaultIvtFilter()).outcome,
    ];
    const reasons = outcomes.map((outcome) =>
      outcome.outcome === 'not_counted' ? outcome.reason : 'counted',
    );
    assert.deepEqual(reasons, [
      'late',
      'not_billing_method',
      'preview',
      'prefetch',
      'invalid_traffic',
      'invalid_token',
      'unknown_tracker',
      'inactive_tracker',
      'inactive_line_item',
    ]);
    const listed: readonly string[] = NOT_COUNTED_REASONS;
    for (const reason of [...reasons, 'duplicate']) assert.ok(listed.includes(reason), reason);
  });

  it('answers invalid_token, without throwing, for a token naming a key id the ring lacks', () => {
    const other = { signingKeyId: 9, keys: new Map([[9, generateKey()]]) };
    const opened = openToken(sealToken(webBanner, other), ring);
    assert.deepEqual(opened, { ok: false, error: 'unknown_key' });
    const decision = decideNotice(opened, browser, new URLSearchParams(), AUCTION_MS, defaultIvtFilter());
    assert.deepEqual(decision.outcome, { outcome: 'not_counted', reason: 'invalid_token' });
    assert.equal(decision.claims, undefined);
  });

  it('records a test win or a preview as preview before screening the request: a bot fetching it is still a preview', () => {
    const bot = { ...browser, headers: { 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' } };
    assert.deepEqual(decide({ ...webBanner, test: true }, 1, { ...bot, method: 'HEAD' }), {
      outcome: 'not_counted',
      reason: 'preview',
    });
    assert.deepEqual(decide(webBanner, 1, bot, 'preview=1'), { outcome: 'not_counted', reason: 'preview' });
  });

  it('answers invalid_token for garbage, a changed byte and a foreign key, without throwing', () => {
    const token = sealToken(webBanner, ring);
    const foreign = testKeyRing();
    const changed = token.slice(0, 30) + (token[30] === 'A' ? 'B' : 'A') + token.slice(31);
    for (const candidate of ['', 'garbage', changed, token.slice(0, -4), sealToken(webBanner, foreign)]) {
      const decision = decideNotice(
        openToken(candidate, ring),
        browser,
        new URLSearchParams(),
        AUCTION_MS,
        defaultIvtFilter(),
      );
      assert.deepEqual(decision.outcome, { outcome: 'not_counted', reason: 'invalid_token' });
      assert.equal(decision.claims, undefined);
    }
  });
});
