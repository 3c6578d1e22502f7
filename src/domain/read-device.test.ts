import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildIvtFilter } from './ivt-filter.js';
import { MAX_USER_AGENT_BYTES, readDevice } from './read-device.js';
import { hitRequest } from '../../test/support/hit-requests.js';

/**
 * The device address read from the `X-Forwarded-For` a request from `peer` sends, with
 * 10.0.0.0/24 trusted (Tally's load balancer, an SSAI server).
 */
function forwardedDevice(peer: string): (forwarded: string) => string {
  const built = buildIvtFilter([], [], ['10.0.0.0/24']);
  assert.ok(built.ok, built.ok ? '' : JSON.stringify(built.errors));
  return (forwarded) =>
    readDevice(hitRequest({ 'x-forwarded-for': forwarded }, 'GET', peer), built.filter).ip;
}

describe('reading the device a request speaks for', () => {
  it('keeps whole UTF-8 characters of a User-Agent it cuts, its headers read as latin1 a byte a character', () => {
    // "é" is two bytes, C3 A9, read as two latin1 characters: a cut between them leaves both out.
    const twoByte = Buffer.from('é').toString('latin1');
    const split = `${'x'.repeat(MAX_USER_AGENT_BYTES - 1)}${twoByte}tail`;
    assert.equal(
      readDevice(hitRequest({ 'user-agent': split })).userAgent,
      'x'.repeat(MAX_USER_AGENT_BYTES - 1),
    );
    const whole = `${'x'.repeat(MAX_USER_AGENT_BYTES - 2)}${twoByte}tail`;
    assert.equal(
      readDevice(hitRequest({ 'user-agent': whole })).userAgent,
      whole.slice(0, MAX_USER_AGENT_BYTES),
    );
  });

  it('takes the client a trusted proxy appended to X-Forwarded-For as the device, not the address the client wrote first', () => {
    const built = buildIvtFilter([], [], ['10.0.0.0/24']);
    assert.ok(built.ok, built.ok ? '' : JSON.stringify(built.errors));
    const forwarded = { 'x-forwarded-for': '8.8.8.8, 198.51.100.23' };
    // Behind Tally's load balancer: the client wrote 8.8.8.8, the balancer appended what it saw.
    assert.equal(readDevice(hitRequest(forwarded, 'GET', '10.0.0.2'), built.filter).ip, '198.51.100.23');
    // Through two trusted hops, the last hop that is not one.
    const twice = { 'x-forwarded-for': '8.8.8.8, 198.51.100.23, 10.0.0.9' };
    assert.equal(readDevice(hitRequest(twice, 'GET', '10.0.0.2'), built.filter).ip, '198.51.100.23');
    // From a peer not trusted, the client as it names itself, as before.
    assert.equal(readDevice(hitRequest(forwarded, 'GET', '203.0.113.4'), built.filter).ip, '8.8.8.8');
    // X-Device-IP, as a server names the device, comes first either way.
    const named = { ...forwarded, 'x-device-ip': '192.0.2.77' };
    assert.equal(readDevice(hitRequest(named, 'GET', '10.0.0.2'), built.filter).ip, '192.0.2.77');
  });

  it('takes no address a client wrote before an X-Forwarded-For entry a trusted proxy appended that is no address (unknown), but the peer', () => {
    const device = forwardedDevice('10.0.0.2');
    assert.equal(device('198.51.100.9, unknown'), '10.0.0.2');
    assert.equal(device('198.51.100.9, unknown, 10.0.0.5'), '10.0.0.2', 'through another trusted proxy');
    assert.equal(device('198.51.100.9, _hidden'), '10.0.0.2', 'an obfuscated identifier (RFC 7239)');
    assert.equal(device('198.51.100.9,'), '10.0.0.2', 'an empty entry');
    assert.equal(device('198.51.100.9, 999.0.0.1'), '10.0.0.2', 'no address');
    // The entry a trusted proxy appended, when it is an address, is the device's, whatever precedes it.
    assert.equal(device('unknown, 198.51.100.23'), '198.51.100.23');
    assert.equal(device('unknown, 198.51.100.23, 10.0.0.5'), '198.51.100.23');
  });

  it('takes the first X-Forwarded-For hop when every one from a trusted peer is trusted, as nginx’s real_ip_recursive and Express’s trust proxy do, not the peer', () => {
    const device = forwardedDevice('10.0.0.1');
    // An SSAI server in the trusted range, behind Tally's trusted load balancer.
    assert.equal(device('10.0.0.7'), '10.0.0.7');
    assert.equal(device('10.0.0.7, 10.0.0.5'), '10.0.0.7', 'through another trusted proxy');
    assert.equal(device('10.0.0.7:4711, 10.0.0.5'), '10.0.0.7', 'written with a port');
    const hops = (count: number) =>
      Array.from({ length: count }, (_, index) => `10.0.0.${index + 10}`).join(', ');
    assert.equal(device(hops(16)), '10.0.0.10', 'the most hops read');
    // Past them, hops the walk does not read come first: the peer, as of any hop there.
    assert.equal(device(hops(17)), '10.0.0.1');
  });

  it('falls back to the first X-Forwarded-For hop when X-Device-IP is absent', () => {
    const req = hitRequest({ 'x-forwarded-for': '192.0.2.44, 10.0.0.1' });
    assert.equal(readDevice(req).ip, '192.0.2.44');
  });

  it('reads an IPv4 device behind a dual-stack socket or an IPv4-mapped header as its IPv4 address', () => {
    assert.equal(readDevice(hitRequest({}, 'GET', '::ffff:203.0.113.5')).ip, '203.0.113.5');
    assert.equal(readDevice(hitRequest({ 'x-device-ip': '::ffff:192.0.2.7' })).ip, '192.0.2.7');
    assert.equal(readDevice(hitRequest({ 'x-forwarded-for': '::ffff:192.0.2.8, 10.0.0.1' })).ip, '192.0.2.8');
  });

  it('reads a device address however the header spells it as the one spelling a DSP is relayed: RFC 5952, no zone id', () => {
    const spellings: [string, string][] = [
      ['2001:DB8:0:0:0:0:0:5', '2001:db8::5'],
      ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
      ['[2001:DB8::5]:443', '2001:db8::5'],
      ['fe80::1%eth0', 'fe80::1'],
      ['::FFFF:192.0.2.9', '192.0.2.9'],
      ['::ffff:c000:20a', '192.0.2.10'],
      ['2001:db8::5', '2001:db8::5'],
    ];
    for (const [header, ip] of spellings) {
      assert.equal(readDevice(hitRequest({ 'x-device-ip': header })).ip, ip, header);
      assert.equal(readDevice(hitRequest({ 'x-forwarded-for': `${header}, 10.0.0.1` })).ip, ip, header);
    }
  });

  it('reads any header value without throwing, and keeps a device address from it only in its one spelling', () => {
    const alphabet = [...'0123456789abcdefABCDEF:.%[]/ ,x'];
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 60 }),
      fc.ipV6().map((ip) => `${ip.toUpperCase()}%eth0`),
      fc.ipV6().map((ip) => `[${ip}%25eth0]:443`),
      fc.ipV4().map((ip) => `::FFFF:${ip}`),
      fc.ipV4(),
    );
    const peer = '198.51.100.7';
    fc.assert(
      fc.property(text, (value) => {
        const spellings: Record<string, string>[] = [
          { 'x-device-ip': value },
          { 'x-forwarded-for': `${value}, 10.0.0.1` },
        ];
        for (const headers of spellings) {
          const { ip } = readDevice(hitRequest(headers));
          if (ip === peer) continue;
          assert.notEqual(isIP(ip), 0, `${JSON.stringify(value)} gave ${ip}`);
          assert.equal(readDevice(hitRequest({ 'x-device-ip': ip })).ip, ip, `${ip} is its own spelling`);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('takes the device address from X-Device-IP over X-Forwarded-For', () => {
    const req = hitRequest({ 'x-device-ip': '192.0.2.10', 'x-forwarded-for': '192.0.2.20, 10.0.0.1' });
    assert.equal(readDevice(req).ip, '192.0.2.10');
  });

  it('ignores a malformed X-Device-IP and uses the peer address', () => {
    const req = hitRequest({ 'x-device-ip': 'not-an-ip' }, 'GET', '198.51.100.9');
    assert.equal(readDevice(req).ip, '198.51.100.9');
  });
});
