import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canInstrument, DEFAULT_RULES, longestTtlSeconds, RulesTable, rulesByPublisher } from './rules.js';

const none = { omidSupported: false, publisherBurl: false };

describe('counting rules', () => {
  const rules = new RulesTable();

  it('counts a web banner on the adm pixel within 600 s', () => {
    assert.deepEqual(rules.choose('banner', 'web', none), {
      format: 'banner',
      channel: 'web',
      method: 'adm',
      ttlSeconds: 600,
    });
  });

  it('prefers OMID for an app banner when the app supports it, with a 3 h TTL', () => {
    const rule = rules.choose('banner', 'app', { omidSupported: true, publisherBurl: true });
    assert.equal(rule.method, 'omid');
    assert.equal(rule.ttlSeconds, 10800);
  });

  it('uses the publisher burl for an app banner without OMID, with a 3 h TTL', () => {
    const rule = rules.choose('banner', 'app', { omidSupported: false, publisherBurl: true });
    assert.equal(rule.method, 'burl');
    assert.equal(rule.ttlSeconds, 10800);
  });

  it('falls back to the adm pixel for an app banner with neither OMID nor burl, 600 s', () => {
    assert.deepEqual(rules.choose('banner', 'app', none), {
      format: 'banner',
      channel: 'app',
      method: 'adm',
      ttlSeconds: 600,
    });
  });

  it('counts video on web on the VAST impression within 1 h and on app and CTV within 3 h', () => {
    assert.equal(rules.choose('video', 'web', none).ttlSeconds, 3600);
    assert.equal(rules.choose('video', 'app', none).ttlSeconds, 10800);
    assert.equal(rules.choose('video', 'ctv', none).ttlSeconds, 10800);
    assert.equal(rules.choose('video', 'app', none).method, 'vast');
  });

  it('counts audio as video', () => {
    assert.deepEqual(
      { ...rules.choose('audio', 'web', none), format: 'video' },
      rules.choose('video', 'web', none),
    );
  });

  it('counts native on its impression trackers within 300 s on web and app', () => {
    assert.deepEqual(rules.choose('native', 'web', none), {
      format: 'native',
      channel: 'web',
      method: 'native',
      ttlSeconds: 300,
    });
    assert.equal(rules.choose('native', 'app', none).ttlSeconds, 300);
  });

  it('ignores OMID for formats other than app banners', () => {
    assert.equal(rules.choose('video', 'app', { omidSupported: true, publisherBurl: false }).method, 'vast');
    assert.equal(rules.choose('banner', 'web', { omidSupported: true, publisherBurl: false }).method, 'adm');
  });

  it('bills any format on the publisher burl when the publisher fires it (e.g. SSAI video), 3 h', () => {
    const rule = rules.choose('video', 'ctv', { omidSupported: false, publisherBurl: true });
    assert.deepEqual(rule, { format: 'video', channel: 'ctv', method: 'burl', ttlSeconds: 10800 });
  });

  it('lets an override replace one TTL and leave the others', () => {
    const custom = new RulesTable([{ format: 'banner', channel: 'web', method: 'adm', ttlSeconds: 900 }]);
    assert.equal(custom.choose('banner', 'web', none).ttlSeconds, 900);
    assert.equal(custom.choose('native', 'web', none).ttlSeconds, 300);
  });

  it("chooses the README table's method and TTL for every format and channel without OMID or burl", () => {
    const expected = {
      banner: { web: ['adm', 600], app: ['adm', 600], ctv: ['adm', 600] },
      video: { web: ['vast', 3600], app: ['vast', 10800], ctv: ['vast', 10800] },
      audio: { web: ['vast', 3600], app: ['vast', 10800], ctv: ['vast', 10800] },
      native: { web: ['native', 300], app: ['native', 300], ctv: ['native', 300] },
    } as const;
    for (const [format, byChannel] of Object.entries(expected)) {
      for (const [channel, [method, ttlSeconds]] of Object.entries(byChannel)) {
        assert.deepEqual(
          rules.choose(format as keyof typeof expected, channel as 'web', none),
          { format, channel, method, ttlSeconds },
          `${format} ${channel}`,
        );
      }
    }
  });

  it('bills every format on every channel on the publisher burl for 3 h when the publisher fires it', () => {
    for (const format of ['banner', 'video', 'audio', 'native'] as const) {
      for (const channel of ['web', 'app', 'ctv'] as const) {
        assert.deepEqual(
          rules.choose(format, channel, { omidSupported: false, publisherBurl: true }),
          { format, channel, method: 'burl', ttlSeconds: 10800 },
          `${format} ${channel}`,
        );
      }
    }
  });

  it('has no two default rows for the same format, channel and method', () => {
    const keys = DEFAULT_RULES.map((rule) => `${rule.format}/${rule.channel}/${rule.method}`);
    assert.equal(new Set(keys).size, keys.length);
  });
});

describe('methods Tally can instrument', () => {
  it("instruments each format's own notification and the publisher burl, and OMID for banners only", () => {
    const own = { banner: 'adm', video: 'vast', audio: 'vast', native: 'native' } as const;
    for (const format of ['banner', 'video', 'audio', 'native'] as const) {
      for (const method of ['adm', 'omid', 'burl', 'vast', 'native'] as const) {
        const expected =
          method === own[format] || method === 'burl' || (method === 'omid' && format === 'banner');
        assert.equal(canInstrument(format, method), expected, `${format} ${method}`);
      }
    }
  });
});

describe('rules by publisher', () => {
  const adm = (ttlSeconds: number) =>
    ({ format: 'banner', channel: 'web', method: 'adm', ttlSeconds }) as const;
  const vast = (ttlSeconds: number) =>
    ({ format: 'video', channel: 'web', method: 'vast', ttlSeconds }) as const;

  it("gives a publisher its own overrides on top of everyone's, and every other publisher everyone's", () => {
    const rulesFor = rulesByPublisher(
      new Map([
        ['*', [adm(900), vast(1800)]],
        ['pub-7', [adm(1200)]],
      ]),
    );
    assert.equal(rulesFor('pub-7').choose('banner', 'web', none).ttlSeconds, 1200);
    assert.equal(rulesFor('pub-7').choose('video', 'web', none).ttlSeconds, 1800);
    assert.equal(rulesFor('pub-8').choose('banner', 'web', none).ttlSeconds, 900);
    assert.equal(rulesFor('').choose('video', 'web', none).ttlSeconds, 1800);
  });

  it('uses the default rules when there are no overrides', () => {
    assert.equal(rulesByPublisher(new Map())('pub-1').choose('banner', 'web', none).ttlSeconds, 600);
  });

  it("gives the longest TTL of the defaults and every publisher's overrides, a longer one of any publisher included", () => {
    assert.equal(longestTtlSeconds([]), 3 * 3600);
    assert.equal(longestTtlSeconds([[adm(900)], [vast(1800)]]), 3 * 3600);
    assert.equal(longestTtlSeconds([[adm(900)], [vast(6 * 3600)]]), 6 * 3600);
  });
});
