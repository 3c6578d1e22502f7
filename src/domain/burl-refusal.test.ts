import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPublicAddress } from '../billing/egress.js';
import { burlRefusal, targetRefusal } from './burl-refusal.js';

describe('the burls the relay refuses', () => {
  it('refuses a burl the URL parser refuses, though it starts with http://', () => {
    for (const url of [
      'http://dsp .example/bill',
      'http://dsp\u0000.example/bill',
      'http://dsp%20.example/bill',
      'http://dsp.example:65536/bill',
      'http://dsp.example:${PORT}/bill',
      'http://[::1/bill',
      'http://1.2.3.999/bill',
      'https://',
      '//dsp.example/bill',
      'dsp.example/bill',
    ]) {
      assert.deepEqual(burlRefusal(url, isPublicAddress), { kind: 'not_a_url' }, JSON.stringify(url));
    }
  });

  it('refuses port 0, in any spelling, which no server listens on', () => {
    for (const url of [
      'http://dsp.example:0/bill',
      'https://dsp.example:000/bill',
      'http://[2001:db8::1]:0/',
    ]) {
      assert.deepEqual(
        burlRefusal(url, () => true),
        { kind: 'port_zero' },
        url,
      );
    }
    assert.equal(
      burlRefusal('http://dsp.example:80/bill', () => true),
      undefined,
      'port 80 is called',
    );
  });

  it('refuses a scheme other than http or https', () => {
    assert.deepEqual(burlRefusal('ftp://dsp.example/bill', isPublicAddress), {
      kind: 'scheme',
      scheme: 'ftp:',
    });
    assert.deepEqual(
      burlRefusal('javascript:alert(1)', () => true),
      { kind: 'scheme', scheme: 'javascript:' },
    );
  });

  it('refuses a host that is an address the policy refuses, named as the URL parser writes it', () => {
    for (const [url, address] of [
      ['http://10.0.0.5/bill', '10.0.0.5'],
      ['http://0x7f.1/bill', '127.0.0.1'],
      ['http://2130706433/bill', '127.0.0.1'],
      ['http://[::1]:8080/bill', '::1'],
      ['http://[fe80::1]/bill', 'fe80::1'],
      ['http://[::ffff:127.0.0.1]/bill', '::ffff:7f00:1'],
      ['http://dsp.example@169.254.169.254/bill', '169.254.169.254'],
      ['http://127.0.0.1./bill', '127.0.0.1'],
    ] as const) {
      assert.deepEqual(burlRefusal(url, isPublicAddress), { kind: 'address', address }, url);
    }
    assert.equal(
      burlRefusal('http://10.0.0.5/bill', () => true),
      undefined,
      'allowed by the policy',
    );
  });

  it('calls what the URL parser reads as an http(s) URL with a host name or an allowed address: names are looked up only when called', () => {
    for (const url of [
      'https://dsp.example/bill?p=${AUCTION_PRICE}',
      ' HTTPS://dsp.example/bill ',
      'http:/dsp.example/bill',
      'https://dsp.example/bi\r\nll p\u0001',
      'https://user:secret@dsp.example/bill',
      'http://localhost/bill',
      'http://198.51.99.7/bill',
      'http://[2606:4700::1111]/bill',
    ]) {
      assert.equal(burlRefusal(url, isPublicAddress), undefined, JSON.stringify(url));
    }
  });

  it('judges a redirect’s target it parsed by the same scheme and address rules', () => {
    assert.deepEqual(targetRefusal(new URL('/next', 'http://10.0.0.5/bill'), isPublicAddress), {
      kind: 'address',
      address: '10.0.0.5',
    });
    assert.deepEqual(targetRefusal(new URL('mailto:billing@dsp.example'), isPublicAddress), {
      kind: 'scheme',
      scheme: 'mailto:',
    });
    assert.equal(targetRefusal(new URL('https://dsp.example/next'), isPublicAddress), undefined);
  });
});
