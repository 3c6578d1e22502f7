import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { BurlHost } from './delivery-host.js';
import { callsHost, DELIVERY_HOST_SQL, deliveryHost, parseBurlHost } from './delivery-host.js';

/** A burl, the host the relay groups its calls by, and the one migration 13 wrote for it. */
const URLS: readonly [string, string, string][] = [
  ['https://DSP.example/bill?p=1', 'https://dsp.example', 'dsp.example'],
  // As SQLite's lower() does, only ASCII letters are lower-cased.
  ['HTTPS://DSP.ÉXAMPLE/bill', 'https://dsp.Éxample', 'dsp.Éxample'],
  ['https://dsp.example:8443/bill', 'https://dsp.example:8443', 'dsp.example:8443'],
  ['https://dsp.example:443/bill', 'https://dsp.example', 'dsp.example:443'],
  ['http://dsp.example:443/bill', 'http://dsp.example:443', 'dsp.example:443'],
  ['http://dsp.example:80/bill', 'http://dsp.example', 'dsp.example:80'],
  ['https://dsp.example?p=${AUCTION_PRICE}', 'https://dsp.example', 'dsp.example'],
  ['https://dsp.example#x', 'https://dsp.example', 'dsp.example'],
  ['https://dsp.example', 'https://dsp.example', 'dsp.example'],
  ['http://user:pw@dsp.example/b', 'http://dsp.example', 'user:pw@dsp.example'],
  ['http://us@r:p@w@DSP.example:81/b', 'http://dsp.example:81', 'us@r:p@w@dsp.example:81'],
  ['http://[2001:db8::1]:8080/b', 'http://[2001:db8::1]:8080', '[2001:db8::1]:8080'],
  ['https:///path', '', ''],
  ['https://user@/path', '', 'user@'],
  ['not a url', '', ''],
];

describe('the host a delivery calls', () => {
  it('is the URL’s scheme, host and port, without user name, password or the scheme’s own port, its ASCII letters lower-cased', () => {
    for (const [url, host] of URLS) assert.equal(deliveryHost(url), host, url);
  });

  it('was the URL’s authority as written, its ASCII letters lower-cased, for the deliveries migration 13 gave one', () => {
    const db = new Database(':memory:');
    const inSql = db.prepare(`SELECT ${DELIVERY_HOST_SQL} AS host FROM (SELECT ? AS url)`).pluck();
    for (const [url, , host] of URLS) assert.equal(inSql.get(url), host, `${url} in SQL`);
    db.close();
  });
});

describe('the host tally replay-dead picks burls by', () => {
  it('is read as URL parsing reads a host: lower case, punycode, IPv4 in dotted decimal, IPv6 compressed, without a final dot or user name', () => {
    const cases: [string, BurlHost][] = [
      ['DSP.Example.', { hostname: 'dsp.example' }],
      ['admin@dsp.example:8443', { hostname: 'dsp.example', port: 8443 }],
      ['bücher.example', { hostname: 'xn--bcher-kva.example' }],
      ['127.1', { hostname: '127.0.0.1' }],
      ['0x7f.0.0.1:80', { hostname: '127.0.0.1', port: 80 }],
      ['127.0.0.1.', { hostname: '127.0.0.1' }],
      ['[::FFFF:127.0.0.1]', { hostname: '[::ffff:7f00:1]' }],
      ['::ffff:127.0.0.1', { hostname: '[::ffff:7f00:1]' }],
      ['[2001:db8::1]:8080', { hostname: '[2001:db8::1]', port: 8080 }],
    ];
    for (const [text, host] of cases) assert.deepEqual(parseBurlHost(text), host, text);
  });

  it('is none for what no URL can name as its host', () => {
    for (const text of [
      '',
      'https://dsp.example',
      'dsp.example/bill',
      'dsp example',
      'dsp.example:https',
      'dsp.example:65536',
      '999.1.1.1',
      '[zz]',
      '[::1',
      'a%b.example',
      'dsp.example:80:80',
    ])
      assert.equal(parseBurlHost(text), undefined, text);
  });

  it('is called by a burl whose host URL parsing reads alike, on the port given, a burl naming none calling its scheme’s', () => {
    const host: BurlHost = { hostname: '127.0.0.1' };
    for (const url of ['http://127.1/b', 'HTTPS://user@0x7F.0.0.1.:8443/b', 'http://2130706433/b'])
      assert.equal(callsHost(url, host), true, url);
    for (const url of ['http://127.0.0.2/b', 'not a url', 'http://[::ffff:127.0.0.1]/b'])
      assert.equal(callsHost(url, host), false, url);
    const on443: BurlHost = { hostname: 'dsp.example', port: 443 };
    for (const url of ['https://dsp.example./b', 'https://dsp.example:443/b', 'http://dsp.example:443/b'])
      assert.equal(callsHost(url, on443), true, url);
    for (const url of ['http://dsp.example/b', 'https://dsp.example:8443/b'])
      assert.equal(callsHost(url, on443), false, url);
  });
});
