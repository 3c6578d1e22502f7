import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { DELIVERY_HOST_SQL, deliveryHost, hostSpellings } from './delivery-host.js';

const URLS: readonly [string, string][] = [
  ['https://DSP.example/bill?p=1', 'dsp.example'],
  // As SQLite's lower() does, only ASCII letters are lower-cased.
  ['https://DSP.ÉXAMPLE/bill', 'dsp.Éxample'],
  ['https://dsp.example:8443/bill', 'dsp.example:8443'],
  ['https://dsp.example?p=${AUCTION_PRICE}', 'dsp.example'],
  ['https://dsp.example#x', 'dsp.example'],
  ['https://dsp.example', 'dsp.example'],
  ['http://user:pw@dsp.example/b', 'user:pw@dsp.example'],
  ['http://[2001:db8::1]:8080/b', '[2001:db8::1]:8080'],
  ['https:///path', ''],
  ['not a url', ''],
];

describe('the host a delivery calls', () => {
  it('is the URL’s authority, its ASCII letters lower-cased, in JavaScript and in SQL alike', () => {
    const db = new Database(':memory:');
    const inSql = db.prepare(`SELECT ${DELIVERY_HOST_SQL} AS host FROM (SELECT ? AS url)`).pluck();
    for (const [url, host] of URLS) {
      assert.equal(deliveryHost(url), host, url);
      assert.equal(inSql.get(url), host, `${url} in SQL`);
    }
    db.close();
  });
});

describe('the spellings of a host a burl may use', () => {
  it('brackets an IPv6 address, and gives an international name in Unicode and punycode, each with and without its final dot', () => {
    assert.deepEqual(hostSpellings('::1'), ['[::1]']);
    assert.deepEqual(hostSpellings('[::1]:8080'), ['[::1]:8080']);
    assert.deepEqual(hostSpellings('dsp.example.'), ['dsp.example', 'dsp.example.']);
    assert.deepEqual(hostSpellings('dsp.example:8443'), ['dsp.example:8443', 'dsp.example.:8443']);
    assert.deepEqual(hostSpellings('xn--bcher-kva.example'), [
      'xn--bcher-kva.example',
      'xn--bcher-kva.example.',
      'bücher.example',
      'bücher.example.',
    ]);
    // Each spelling is one deliveryHost keeps for a burl written that way.
    for (const url of ['https://[::1]/b', 'https://bücher.example/b', 'https://xn--bcher-kva.example./b'])
      assert.ok(
        [...hostSpellings('::1'), ...hostSpellings('xn--bcher-kva.example')].includes(deliveryHost(url)),
        url,
      );
  });
});
