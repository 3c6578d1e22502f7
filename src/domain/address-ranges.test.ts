import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Subnet } from './address-ranges.js';
import { AddressRanges } from './address-ranges.js';

/** IPv4 addresses near one another, so that ranges drawn overlap, nest and hold them. */
const ipv4 = fc
  .tuple(fc.constantFrom(10, 203), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 }))
  .map(([first, third, fourth]) => `${first}.0.${third}.${fourth}`);
/** IPv6 addresses near one another, in the spellings `net.isIP` accepts. */
const ipv6 = fc
  .tuple(
    fc.constantFrom('2001:db8', 'fe80:0'),
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 0xffff }),
  )
  .chain(([head, group, last]) =>
    fc.constantFrom(
      `${head}::${group.toString(16)}:${last.toString(16)}`,
      `${head}:0:0:0:0:${group.toString(16)}:${last.toString(16).toUpperCase()}`,
      `${head}::${group}:${last >> 8}.${last & 0xff}.0.1`,
    ),
  );
/** IPv4 addresses spelt IPv4-mapped: `::ffff:a.b.c.d` and `::ffff:hhhh:hhhh`. */
const mapped = ipv4.chain((address) => {
  const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number);
  const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  return fc.constantFrom(`::ffff:${address}`, `::ffff:${hex}`, `0:0:0:0:0:ffff:${hex}`);
});
const address = fc.oneof(ipv4, ipv6, mapped);
const subnet: fc.Arbitrary<Subnet> = fc
  .oneof(
    fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })),
    fc.tuple(fc.oneof(ipv6, mapped), fc.integer({ min: 0, max: 128 })),
    fc.tuple(fc.oneof(ipv6, mapped), fc.integer({ min: 90, max: 128 })),
    fc.tuple(ipv4, fc.integer({ min: 20, max: 32 })),
  )
  .map(([address, prefixBits]) => ({ address, prefixBits }));

function blockListOf(subnets: readonly Subnet[]): BlockList {
  const list = new BlockList();
  for (const { address, prefixBits } of subnets) {
    list.addSubnet(address, prefixBits, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

describe('AddressRanges', () => {
  it('holds exactly the addresses net.BlockList holds for the same subnets, IPv4 and IPv6 spellings alike (property)', () => {
    fc.assert(
      fc.property(
        fc.array(subnet, { maxLength: 12 }),
        fc.array(address, { maxLength: 20 }),
        (subnets, probes) => {
          const ranges = new AddressRanges(subnets);
          const reference = blockListOf(subnets);
          for (const probe of probes) {
            const expected = reference.check(probe, isIP(probe) === 6 ? 'ipv6' : 'ipv4');
            assert.equal(ranges.has(probe), expected, `${probe} in ${JSON.stringify(subnets)}`);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('merges overlapping and nested ranges into disjoint ones', () => {
    const ranges = new AddressRanges([
      { address: '10.0.0.0', prefixBits: 8 },
      { address: '10.1.0.0', prefixBits: 16 },
      { address: '203.0.113.0', prefixBits: 24 },
      { address: '203.0.113.128', prefixBits: 25 },
      { address: '2001:db8::', prefixBits: 32 },
    ]);
    assert.equal(ranges.rangeCount, 3);
    assert.equal(ranges.has('10.255.255.255'), true, 'the last address of 10.0.0.0/8');
    assert.equal(ranges.has('11.0.0.0'), false, 'the address after 10.0.0.0/8');
    assert.equal(ranges.has('203.0.113.200'), true, 'an address of the nested 203.0.113.128/25');
  });

  it('counts an address listed twice, or listed again as the last address of its range, as one range', () => {
    const twice = new AddressRanges([
      { address: '192.0.2.7', prefixBits: 32 },
      { address: '192.0.2.7', prefixBits: 32 },
    ]);
    const lastOfRange = new AddressRanges([
      { address: '10.0.0.0', prefixBits: 24 },
      { address: '10.0.0.255', prefixBits: 32 },
    ]);
    assert.deepEqual([twice.rangeCount, lastOfRange.rangeCount], [1, 1]);
  });

  it('refuses with a RangeError a prefix outside its family or not whole, and an address that is none', () => {
    for (const subnet of [
      { address: '10.0.0.0', prefixBits: -1 },
      { address: '10.0.0.0', prefixBits: 33 },
      { address: '2001:db8::', prefixBits: 129 },
      { address: '10.0.0.0', prefixBits: 8.5 },
      { address: '10.0.0', prefixBits: 8 },
    ]) {
      assert.throws(() => new AddressRanges([subnet]), RangeError, JSON.stringify(subnet));
    }
  });

  it('reads an IPv6 address without its zone, and text that is no address as outside', () => {
    const ranges = new AddressRanges([{ address: 'fe80::', prefixBits: 64 }]);
    assert.equal(ranges.has('fe80::1%eth0'), true, 'fe80::1 is in fe80::/64 whatever its zone');
    const ipv4 = new AddressRanges([{ address: '192.0.2.0', prefixBits: 24 }]);
    assert.equal(ipv4.has('::ffff:192.0.2.1%eth0'), true, 'an IPv4-mapped address with a zone');
    for (const text of ['', 'fe80', 'not an address', '999.0.0.1', 'fe80::1/64']) {
      assert.equal(ranges.has(text), false, JSON.stringify(text));
    }
  });

  it('holds nothing when empty', () => {
    const ranges = new AddressRanges([]);
    assert.deepEqual([ranges.rangeCount, ranges.has('10.0.0.1'), ranges.has('::1')], [0, false, false]);
  });

  it('holds every address for ::/0, and every IPv4 address for 0.0.0.0/0 or ::ffff:0:0/96', () => {
    const all = new AddressRanges([{ address: '::', prefixBits: 0 }]);
    assert.deepEqual(
      [all.has('::'), all.has('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), all.has('1.2.3.4')],
      [true, true, true],
    );
    for (const ipv4Subnet of [
      { address: '0.0.0.0', prefixBits: 0 },
      { address: '::ffff:0:0', prefixBits: 96 },
    ]) {
      const ranges = new AddressRanges([ipv4Subnet]);
      const answers = [ranges.has('0.0.0.0'), ranges.has('255.255.255.255'), ranges.has('::1')];
      assert.deepEqual(answers, [true, true, false], JSON.stringify(ipv4Subnet));
    }
  });
});
