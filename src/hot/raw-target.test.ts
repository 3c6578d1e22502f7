import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRawBytes, targetIncomplete, endsTarget, withRawTargetEncoded } from './raw-target.js';

/** A string's UTF-8 bytes as latin1 characters, as the notice lane decodes a head. */
function latin1(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

describe('reading raw bytes of a request target as their percent-escapes', () => {
  it('writes each byte of 0x80 and above as %XX in upper case, and leaves ASCII as it is', () => {
    assert.equal(
      encodeRawBytes(latin1('/n/t?site=café&city=Zürich')),
      '/n/t?site=caf%C3%A9&city=Z%C3%BCrich',
    );
    assert.equal(encodeRawBytes('/n/t?x=\x80\xff'), '/n/t?x=%80%FF');
    assert.equal(encodeRawBytes('/n/t?x=%C3%A9'), '/n/t?x=%C3%A9');
  });

  it('encodes the target of the first request line alone: not the method, version, headers, body or the next request', () => {
    const request = Buffer.from(
      latin1('GET /imptr?site=café HTTP/1.1\r\nHost: t\r\nX-Name: café\r\n\r\nGET /imptr?é HTTP/1.1\r\n\r\n'),
      'latin1',
    );
    assert.equal(
      withRawTargetEncoded(request).toString('latin1'),
      latin1(
        'GET /imptr?site=caf%C3%A9 HTTP/1.1\r\nHost: t\r\nX-Name: café\r\n\r\nGET /imptr?é HTTP/1.1\r\n\r\n',
      ),
    );
  });

  it('encodes the target of a head that has not all arrived, up to where it stops', () => {
    assert.equal(
      withRawTargetEncoded(Buffer.from('GET /imptr?site=caf\xc3', 'latin1')).toString('latin1'),
      'GET /imptr?site=caf%C3',
    );
  });

  it('stops at a control character, space or DEL, which stay as sent for node:http to refuse', () => {
    for (const [sent, given] of [
      ['GET /a\xe9\x00\xe9 HTTP/1.1\r\n', 'GET /a%E9\x00\xe9 HTTP/1.1\r\n'],
      ['GET /a\xe9\r\n\xe9', 'GET /a%E9\r\n\xe9'],
      ['GET /a\xe9\x7f\xe9 HTTP/1.1\r\n', 'GET /a%E9\x7f\xe9 HTTP/1.1\r\n'],
      ['GET /a\xe9\t\xe9 HTTP/1.1\r\n', 'GET /a%E9\t\xe9 HTTP/1.1\r\n'],
      ['GET /a\x01\xe9 HTTP/1.1\r\n', 'GET /a\x01\xe9 HTTP/1.1\r\n'],
    ] as const) {
      assert.equal(withRawTargetEncoded(Buffer.from(sent, 'latin1')).toString('latin1'), given, sent);
    }
  });

  it('answers the very bytes it was given when there is nothing to encode or no method before the target', () => {
    for (const sent of [
      'GET /imptr?id=1 HTTP/1.1\r\nX-A: \xe9\r\n\r\n',
      '\x16\x03\x01\x02\x00\x20\xfc\x03',
      ' /\xe9 HTTP/1.1\r\n',
      'G\xc9T /\xe9 HTTP/1.1\r\n',
      'GET\r\n /\xe9 HTTP/1.1\r\n',
      'GET',
    ]) {
      const bytes = Buffer.from(sent, 'latin1');
      assert.equal(withRawTargetEncoded(bytes), bytes, JSON.stringify(sent));
    }
  });

  it('tells the start of a request that stops before its target ended, inside it or its method, from one whose target ended or that has none', () => {
    const bytes = (text: string) => Buffer.from(text, 'latin1');
    assert.equal(targetIncomplete(bytes('POST /imptr?site=caf\xc3')), true);
    assert.equal(targetIncomplete(bytes('GET http://tally.test/imptr?x=')), true);
    assert.equal(targetIncomplete(bytes('POST ')), true);
    assert.equal(targetIncomplete(bytes('POST /imptr?x=\xc3\xa9 HTT')), false);
    assert.equal(targetIncomplete(bytes('POST /imptr?x=\r')), false);
    assert.equal(targetIncomplete(bytes('POST /imptr?x=\x7f')), false);
    // A method node:http knows, still arriving: its target is still to come.
    assert.equal(targetIncomplete(bytes('POS')), true);
    assert.equal(targetIncomplete(bytes('OPTIONS')), true);
    // Bytes that begin with no method node:http knows: there is no target to wait for.
    assert.equal(targetIncomplete(bytes('FOO')), false);
    assert.equal(targetIncomplete(bytes('POSTX')), false);
    assert.equal(targetIncomplete(bytes('\x16\x03\x01 \x02')), false);
    assert.equal(endsTarget(bytes('\xa9&x=1')), false);
    assert.equal(endsTarget(bytes('\xa9 HTTP/1.1')), true);
    assert.equal(endsTarget(bytes('\xa9\r\n')), true);
  });
});
