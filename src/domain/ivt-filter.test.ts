import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildIvtFilter } from './ivt-filter.js';

describe('building the invalid-traffic filter', () => {
  it('reports every bad block-list entry at once', () => {
    const built = buildIvtFilter(['(unclosed'], ['300.1.1.1/8', '10.0.0.0/33', 'nonsense']);
    assert.equal(built.ok, false);
    assert.equal(!built.ok && built.errors.length, 4);
  });

  it('refuses a User-Agent pattern that matches every agent (it matches the empty string), rather than count nothing', () => {
    for (const pattern of ['', '.*', 'bot|']) {
      const built = buildIvtFilter([pattern], []);
      assert.equal(built.ok, false, pattern);
      if (!built.ok) assert.match(built.errors[0]?.message ?? '', /matches every User-Agent/);
    }
    assert.equal(buildIvtFilter(['MyScanner', '^Wget'], []).ok, true);
  });

  it('refuses a block-list entry whose prefix length is not one to three digits, rather than block every address', () => {
    // Number('') is 0: '203.0.113.0/' read as /0 blocked every IPv4 and IPv6 notice.
    const entries = [
      '203.0.113.0/',
      '2001:db8::/',
      '203.0.113.0/0x18',
      '203.0.113.0/1e1',
      '203.0.113.0/24/8',
    ];
    const built = buildIvtFilter([], entries);
    assert.equal(built.ok, false);
    assert.equal(!built.ok && built.errors.length, entries.length);
    assert.equal(buildIvtFilter([], ['203.0.113.0/24', '2001:db8::/32', '192.0.2.1']).ok, true);
  });

  it('reports a bad trusted-notifier entry by its list', () => {
    const built = buildIvtFilter([], [], ['10.0.0.0/33']);
    assert.deepEqual(!built.ok && built.errors, [
      {
        list: 'trustedNotifiers',
        message:
          'trusted notifier entry "10.0.0.0/33" is not an IPv4/IPv6 address or CIDR (e.g. 203.0.113.0/24, 2001:db8::/32)',
      },
    ]);
  });

  it('names the list of each bad entry: User-Agent patterns, blocked IPs, trusted notifiers', () => {
    const built = buildIvtFilter(['(unclosed', '.*'], ['nonsense'], ['10.0.0.0/33']);
    assert.deepEqual(!built.ok && built.errors.map((error) => error.list), [
      'userAgents',
      'userAgents',
      'blockedIps',
      'trustedNotifiers',
    ]);
  });
});
