import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressPolicy, isPublicAddress } from './egress.js';

describe('the burl egress policy', () => {
  it('calls public addresses and refuses this host, private, link-local, shared, reserved and multicast ones', () => {
    const publicAddresses = ['8.8.8.8', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.4.4'];
    const notPublic = [
      '127.0.0.1',
      '127.9.9.9',
      '0.0.0.0',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '198.18.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:169.254.169.254',
      'not-an-address',
    ];
    for (const address of publicAddresses) assert.equal(isPublicAddress(address), true, address);
    for (const address of notPublic) assert.equal(isPublicAddress(address), false, address);
  });

  it('lets every address through when private networks are allowed', () => {
    assert.equal(addressPolicy('allow')('127.0.0.1'), true);
    assert.equal(addressPolicy('deny')('127.0.0.1'), false);
    assert.equal(addressPolicy('deny')('8.8.8.8'), true);
  });

  it('refuses every address of each range it blocks, to its last one, and calls the public addresses beside them', () => {
    const notPublic = [
      '0.255.255.255',
      '10.255.255.255',
      '100.127.255.255',
      '127.255.255.255',
      '169.254.0.1',
      '192.0.0.1',
      '192.0.0.255',
      '192.168.255.255',
      '198.19.255.255',
      '239.255.255.255',
      '240.0.0.1',
      'fc00::1',
      'fdff:ffff::1',
      'febf::1',
      '2001:1f:ffff::1',
      '3fff:fff:ffff::1',
    ];
    const publicNeighbours = [
      '1.0.0.1',
      '11.0.0.1',
      '100.63.255.255',
      '100.128.0.1',
      '126.255.255.255',
      '128.0.0.1',
      '169.253.255.255',
      '172.15.255.255',
      '172.32.0.1',
      '192.0.1.1',
      '192.167.255.255',
      '192.169.0.1',
      '198.17.255.255',
      '198.20.0.1',
      '223.255.255.255',
      '2606:4700::1',
      '3fff:1000::1',
      '3000::1',
    ];
    for (const address of notPublic) assert.equal(isPublicAddress(address), false, address);
    for (const address of publicNeighbours) assert.equal(isPublicAddress(address), true, address);
  });

  it('refuses the documentation, benchmarking and deprecated ranges, which no DSP is on', () => {
    const notPublic = [
      '192.0.2.1',
      '198.51.100.7',
      '203.0.113.255',
      '2001:db8::1',
      '2001:2::1',
      '2001::1',
      'fec0::1',
      '100::1',
      '::10.0.0.1',
      '::8.8.8.8',
      '::ffff:0:a00:1',
      '::ffff:0:808:808',
      '192.88.99.1',
      '2001:10::1',
      '3fff:fff::1',
      '5f00::1',
    ];
    for (const address of notPublic) assert.equal(isPublicAddress(address), false, address);
  });

  it('judges a NAT64 or 6to4 address by the IPv4 address it carries, so that none reaches a private network', () => {
    const privateInside = [
      '64:ff9b::10.0.0.1',
      '64:ff9b::a00:1',
      '64:ff9b::7f00:1',
      '64:ff9b::a9fe:a9fe',
      '64:ff9b:1::c0a8:101',
      '2002:a00:1::1',
      '2002:7f00:0001:0:0:0:0:1',
      '2002:c0a8:0101::',
      // Its bytes in order: 10.1.2.3, not 1.10.3.2.
      '64:ff9b::10.1.2.3',
      // Anywhere in the local-use prefix, 64:ff9b:1::/48.
      '64:ff9b:1:ffff::1',
    ];
    const publicInside = ['64:ff9b::8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'];
    for (const address of privateInside) assert.equal(isPublicAddress(address), false, address);
    for (const address of publicInside) assert.equal(isPublicAddress(address), true, address);
  });

  it('refuses every IPv6 address outside the global unicast space, 2000::/3, which holds no public host', () => {
    const notPublic = [
      // Unallocated, or reserved by the IETF, on either side of 2000::/3.
      '1::1',
      '400::1',
      '1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      '4000::1',
      'e000::1',
      // Outside NAT64's well-known prefix, 64:ff9b::/96: no translator takes them, whatever they
      // end with (10.0.0.1, 127.0.0.1, 8.8.8.8).
      '64:ff9b::1:a00:1',
      '64:ff9b::ffff:7f00:1',
      '64:ff9b:0:1::808:808',
      '64:ff9b::1:808:808',
      // NAT64's local-use prefix, 64:ff9b:1::/48, even when it ends with a public address.
      '64:ff9b:1::808:808',
      // Near misses of the IPv4-mapped prefix, ::ffff:0:0/96, ending with 8.8.8.8.
      '::1:ffff:808:808',
      '0:0:0:1:0:ffff:808:808',
      '0:0:1::ffff:808:808',
      '0:1::ffff:808:808',
      // The dummy IPv6 prefix (RFC 9780), beside the discard-only 100::/64.
      '100:0:0:1::1',
    ];
    const globalUnicast = ['2001:4860:4860::8888', '2a00:1450:4001::1', '2606:4700:4700::1001'];
    for (const address of notPublic) assert.equal(isPublicAddress(address), false, address);
    for (const address of globalUnicast) assert.equal(isPublicAddress(address), true, address);
  });

  it('judges an IPv4-mapped address by the IPv4 address it carries, written dotted or in hexadecimal as the URL parser writes it', () => {
    // `new URL('http://[::ffff:127.0.0.1]/').hostname` is `[::ffff:7f00:1]`.
    const privateInside = [
      '::ffff:7f00:1',
      '::FFFF:7F00:1',
      '::ffff:a9fe:a9fe',
      '0:0:0:0:0:ffff:a00:1',
      '::ffff:0.0.0.0',
      // Its last two bytes in order: 192.0.2.1 (documentation), not 192.0.1.2.
      '::ffff:192.0.2.1',
    ];
    const publicInside = ['::ffff:808:808', '::ffff:8.8.8.8', '0:0:0:0:0:ffff:0808:0404'];
    for (const address of privateInside) assert.equal(isPublicAddress(address), false, address);
    for (const address of publicInside) assert.equal(isPublicAddress(address), true, address);
  });
});
