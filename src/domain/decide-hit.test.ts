import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decideHit,
  deviceLessTrackerKeyToday,
  MAX_KEPT_CACHEBUSTER_LENGTH,
  trackerDedupeKey,
} from './decide-hit.js';
import { buildIvtFilter, defaultIvtFilter } from './ivt-filter.js';
import { hitRequest } from '../../test/support/hit-requests.js';
import { CHROME } from '../../test/support/user-agents.js';

const ACTIVE = { state: 'active' } as const;
const INACTIVE = { state: 'inactive' } as const;
const BOT = { outcome: 'not_counted', reason: 'invalid_traffic', rule: 'bot_user_agent' } as const;
/** What Android apps and video players fire with, each of which the bot list takes for a bot. */
const ANDROID_PLAYER_AGENTS = [
  'okhttp/4.12.0',
  'Dalvik/2.1.0',
  'ExoPlayerLib/2.19.1',
  'com.google.android.exoplayer2/2.18.1 (Linux;Android 13) ExoPlayerLib/2.18.1',
];

describe('decideHit', () => {
  it('counts a browser hit on an active tracker', () => {
    const decision = decideHit(ACTIVE, hitRequest(), defaultIvtFilter());
    assert.deepEqual(decision.outcome, { outcome: 'counted' });
    assert.deepEqual(decision.device, {
      ip: '198.51.100.7',
      userAgent: CHROME,
      userAgentTooLong: false,
    });
  });

  it('does not count a hit on an unknown tracker', () => {
    assert.deepEqual(decideHit(undefined, hitRequest(), defaultIvtFilter()).outcome, {
      outcome: 'not_counted',
      reason: 'unknown_tracker',
    });
  });

  it('does not count a hit on an inactive tracker', () => {
    assert.deepEqual(decideHit(INACTIVE, hitRequest(), defaultIvtFilter()).outcome, {
      outcome: 'not_counted',
      reason: 'inactive_tracker',
    });
  });

  it('does not count a hit on an active tracker of an inactive line item, before invalid traffic', () => {
    const pausedLine = { state: 'active', lineItem: { state: 'inactive' } } as const;
    const bot = hitRequest({ 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' });
    for (const hit of [hitRequest(), bot]) {
      assert.deepEqual(decideHit(pausedLine, hit, defaultIvtFilter()).outcome, {
        outcome: 'not_counted',
        reason: 'inactive_line_item',
      });
    }
    assert.deepEqual(
      decideHit({ state: 'active', lineItem: { state: 'active' } }, hitRequest(), defaultIvtFilter()).outcome,
      { outcome: 'counted' },
    );
  });

  it('names an inactive tracker before its inactive line item', () => {
    assert.deepEqual(
      decideHit({ state: 'inactive', lineItem: { state: 'inactive' } }, hitRequest(), defaultIvtFilter())
        .outcome,
      { outcome: 'not_counted', reason: 'inactive_tracker' },
    );
  });

  it('reports an unknown or inactive tracker before invalid traffic', () => {
    const bot = hitRequest({ 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' });
    assert.deepEqual(decideHit(undefined, bot, defaultIvtFilter()).outcome, {
      outcome: 'not_counted',
      reason: 'unknown_tracker',
    });
    assert.deepEqual(decideHit(INACTIVE, bot, defaultIvtFilter()).outcome, {
      outcome: 'not_counted',
      reason: 'inactive_tracker',
    });
  });

  it('does not count a preview render, after an unknown or inactive tracker and before invalid traffic', () => {
    const bot = hitRequest({ 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' });
    const PREVIEW = { outcome: 'not_counted', reason: 'preview' } as const;
    assert.deepEqual(decideHit(ACTIVE, hitRequest(), defaultIvtFilter(), true).outcome, PREVIEW);
    assert.deepEqual(decideHit(ACTIVE, bot, defaultIvtFilter(), true).outcome, PREVIEW);
    assert.deepEqual(decideHit(undefined, hitRequest(), defaultIvtFilter(), true).outcome, {
      outcome: 'not_counted',
      reason: 'unknown_tracker',
    });
    assert.deepEqual(decideHit(INACTIVE, hitRequest(), defaultIvtFilter(), true).outcome, {
      outcome: 'not_counted',
      reason: 'inactive_tracker',
    });
  });

  it('does not count a known crawler', () => {
    const bot = hitRequest({ 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' });
    assert.deepEqual(decideHit(ACTIVE, bot, defaultIvtFilter()).outcome, {
      outcome: 'not_counted',
      reason: 'invalid_traffic',
      rule: 'bot_user_agent',
    });
  });

  it('does not count a prefetch', () => {
    assert.deepEqual(
      decideHit(ACTIVE, hitRequest({ 'sec-purpose': 'prefetch' }), defaultIvtFilter()).outcome,
      {
        outcome: 'not_counted',
        reason: 'prefetch',
      },
    );
  });

  it('does not count a HEAD request', () => {
    assert.deepEqual(decideHit(ACTIVE, hitRequest({}, 'HEAD'), defaultIvtFilter()).outcome, {
      outcome: 'not_counted',
      reason: 'invalid_traffic',
      rule: 'head_request',
    });
  });

  it("screens a hit on a tracker fired by browsers (the default) as a browser's: the HTTP libraries apps and servers use are bots here", () => {
    for (const userAgent of ['okhttp/4.12.0', 'curl/8.0', 'Go-http-client/1.1']) {
      assert.deepEqual(
        decideHit(ACTIVE, hitRequest({ 'user-agent': userAgent }), defaultIvtFilter()).outcome,
        { outcome: 'not_counted', reason: 'invalid_traffic', rule: 'bot_user_agent' },
        userAgent,
      );
    }
  });

  it("counts the Android and player HTTP stacks' hits on an app tracker, and not on a browser tracker", () => {
    const appTracker = { state: 'active', firedBy: 'app' } as const;
    const browserTracker = { state: 'active', firedBy: 'browser' } as const;
    for (const userAgent of ANDROID_PLAYER_AGENTS) {
      const hit = hitRequest({ 'user-agent': userAgent });
      assert.deepEqual(
        decideHit(appTracker, hit, defaultIvtFilter()).outcome,
        { outcome: 'counted' },
        userAgent,
      );
      assert.deepEqual(decideHit(browserTracker, hit, defaultIvtFilter()).outcome, BOT, userAgent);
      assert.deepEqual(decideHit(ACTIVE, hit, defaultIvtFilter()).outcome, BOT, userAgent);
    }
  });

  it('screens an app tracker hit for everything but the app HTTP stacks: robots, HEAD, prefetch, empty agents, patterns, blocked IPs', () => {
    const appTracker = { state: 'active', firedBy: 'app' } as const;
    for (const userAgent of [
      'okhttp/4.12.0 (compatible; Examplebot/1.0)',
      'Googlebot/2.1 (+http://www.google.com/bot.html)',
    ]) {
      assert.deepEqual(
        decideHit(appTracker, hitRequest({ 'user-agent': userAgent }), defaultIvtFilter()).outcome,
        BOT,
        userAgent,
      );
    }
    const invalid = (rule: string) => ({ outcome: 'not_counted', reason: 'invalid_traffic', rule });
    const okhttp = { 'user-agent': 'okhttp/4.12.0' };
    assert.deepEqual(
      decideHit(appTracker, hitRequest(okhttp, 'HEAD'), defaultIvtFilter()).outcome,
      invalid('head_request'),
    );
    assert.deepEqual(
      decideHit(appTracker, hitRequest({ ...okhttp, 'sec-purpose': 'prefetch' }), defaultIvtFilter()).outcome,
      { outcome: 'not_counted', reason: 'prefetch' },
    );
    assert.deepEqual(
      decideHit(appTracker, hitRequest({ 'user-agent': '' }), defaultIvtFilter()).outcome,
      invalid('empty_user_agent'),
    );
    const built = buildIvtFilter(['^okhttp/'], ['203.0.113.0/24']);
    assert.ok(built.ok, built.ok ? '' : JSON.stringify(built.errors));
    assert.deepEqual(
      decideHit(appTracker, hitRequest(okhttp), built.filter).outcome,
      invalid('blocked_user_agent'),
    );
    const player = { 'user-agent': 'ExoPlayerLib/2.19.1' };
    assert.deepEqual(
      decideHit(appTracker, hitRequest({ ...player, 'x-device-ip': '203.0.113.9' }), built.filter).outcome,
      invalid('blocked_ip'),
    );
  });

  it("judges an SSAI server's hit on an app tracker by the device it names in X-Device-User-Agent", () => {
    const appTracker = { state: 'active', firedBy: 'app' } as const;
    const relayed = (deviceAgent: string) =>
      hitRequest({
        'user-agent': 'Example-Stitcher/1.0',
        'x-device-user-agent': deviceAgent,
        'x-device-ip': '198.51.100.20',
      });
    assert.deepEqual(decideHit(appTracker, relayed('Dalvik/2.1.0'), defaultIvtFilter()).outcome, {
      outcome: 'counted',
    });
    assert.deepEqual(decideHit(ACTIVE, relayed('Dalvik/2.1.0'), defaultIvtFilter()).outcome, BOT);
    assert.deepEqual(decideHit(appTracker, relayed('Googlebot/2.1'), defaultIvtFilter()).outcome, BOT);
  });

  it('applies the configured IP block list to the device address', () => {
    const built = buildIvtFilter([], ['203.0.113.0/24']);
    assert.ok(built.ok, built.ok ? '' : JSON.stringify(built.errors));
    const decision = decideHit(ACTIVE, hitRequest({ 'x-forwarded-for': '203.0.113.9' }), built.filter);
    assert.deepEqual(decision.outcome, {
      outcome: 'not_counted',
      reason: 'invalid_traffic',
      rule: 'blocked_ip',
    });
    assert.equal(decision.device.ip, '203.0.113.9');
  });
});

/** The device of the dedupe tests' hits, but where a test names two. */
const DEVICE = { ip: '198.51.100.7', userAgent: CHROME };
/** The part of a key that names {@link DEVICE}: the SHA-256 of its address and agent. */
const DEVICE_DIGEST = createHash('sha256').update(`198.51.100.7\u001f${CHROME}`).digest('base64url');

describe('tracker dedupe', () => {
  it('keeps the same cachebuster fired by two devices apart, and by one device the same', () => {
    // A timestamp macro (`[timestamp]`, seconds) gives every page served in a second one cachebuster.
    const laptop = { ip: '198.51.100.7', userAgent: CHROME };
    const phone = { ip: '203.0.113.40', userAgent: CHROME };
    const otherBrowser = { ip: '198.51.100.7', userAgent: `${CHROME} Edg/120.0` };
    assert.notEqual(
      trackerDedupeKey('impression', 12, '1765094400', laptop),
      trackerDedupeKey('impression', 12, '1765094400', phone),
    );
    assert.notEqual(
      trackerDedupeKey('impression', 12, '1765094400', laptop),
      trackerDedupeKey('impression', 12, '1765094400', otherBrowser),
    );
    assert.equal(
      trackerDedupeKey('impression', 12, '1765094400', laptop),
      trackerDedupeKey('impression', 12, '1765094400', { ...laptop }),
    );
  });

  it('keeps impressions, clicks, trackers and cachebusters apart', () => {
    const keys = new Set([
      trackerDedupeKey('impression', 12, 'abc', DEVICE),
      trackerDedupeKey('click', 12, 'abc', DEVICE),
      trackerDedupeKey('impression', 13, 'abc', DEVICE),
      trackerDedupeKey('impression', 12, 'abd', DEVICE),
      trackerDedupeKey('impression', 1, '2\u001fabc', DEVICE),
    ]);
    assert.equal(keys.size, 5);
  });

  it('keeps a tracker id apart from a cachebuster that continues its digits', () => {
    assert.notEqual(
      trackerDedupeKey('impression', 1, '2abc', DEVICE),
      trackerDedupeKey('impression', 12, 'abc', DEVICE),
    );
    assert.notEqual(trackerDedupeKey('click', 11, '1x', DEVICE), trackerDedupeKey('click', 111, 'x', DEVICE));
  });

  it('keeps a cachebuster of up to 64 characters as it is, and a longer one as its SHA-256, apart from any kept as it is', () => {
    const kept = 'c'.repeat(MAX_KEPT_CACHEBUSTER_LENGTH);
    assert.equal(
      trackerDedupeKey('impression', 7, kept, DEVICE),
      `imptr\u001f7\u001f${kept}\u001f${DEVICE_DIGEST}`,
    );
    const long = 'c'.repeat(16_000);
    const key = trackerDedupeKey('click', 7, long, DEVICE);
    const digest = createHash('sha256').update(long).digest('base64url');
    assert.equal(key, `clktr#\u001f7\u001f${digest}\u001f${DEVICE_DIGEST}`);
    assert.equal(trackerDedupeKey('click', 7, long, DEVICE), key, 'the same cachebuster, the same key');
    assert.notEqual(
      trackerDedupeKey('click', 7, `${long.slice(1)}d`, DEVICE),
      key,
      'another cachebuster, another key',
    );
    assert.notEqual(
      trackerDedupeKey('click', 7, digest, DEVICE),
      key,
      'a cachebuster spelling the digest is another',
    );
  });

  it('never collides with the exchange impression keys, which start with x', () => {
    assert.doesNotMatch(trackerDedupeKey('impression', 1, 'a', DEVICE), /^x/);
    assert.doesNotMatch(trackerDedupeKey('click', 1, 'a', DEVICE), /^x/);
  });

  it('reads the device only for a tracker key of the older form, naming no device, and leaves every other key alone', () => {
    const unread = () => {
      throw new Error('the device was read');
    };
    const exchangeKey = 'x\u001f1\u001fauction\u001fimp\u001fbid\u001fseat';
    for (const key of [
      trackerDedupeKey('impression', 7, 'cb1', DEVICE),
      trackerDedupeKey('click', 7, 'c'.repeat(MAX_KEPT_CACHEBUSTER_LENGTH + 1), DEVICE),
      exchangeKey,
      'imptr\u001f0\u001fcb1',
    ])
      assert.equal(deviceLessTrackerKeyToday(key, unread), undefined, key);
    assert.equal(
      deviceLessTrackerKeyToday('clktr\u001f7\u001fcb1', () => DEVICE),
      trackerDedupeKey('click', 7, 'cb1', DEVICE),
    );
  });
});
