import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NoticeRequest } from '../domain/notice-request.js';
import { COUNTED, invalidTraffic, notCounted } from '../domain/outcome.js';
import type { Recorded, Submission } from '../ports/recorder.js';
import { exchangeEvent } from '../../test/support/events.js';
import { decodeBatch, decodeResults, encodeBatch, encodeResults } from './wire.js';

function notice(overrides: Partial<NoticeRequest> = {}): Submission {
  return {
    notice: {
      token: 'AQ-token_value',
      query: 'f=b&x=%20y',
      method: 'GET',
      headers: { 'user-agent': 'Mozilla/5.0 (X11)', 'x-forwarded-for': '198.51.100.7, 10.0.0.1' },
      remoteAddress: '::ffff:127.0.0.1',
      receivedMs: 1_764_000_000_123,
      ...overrides,
    },
  };
}

describe('thread wire format', () => {
  it('gives back every notice of a batch as it was, headers included, in order', () => {
    const batch = [notice(), notice({ headers: {}, query: '' }), notice({ method: 'HEAD', token: '' })];
    assert.deepEqual(decodeBatch(encodeBatch(batch)), batch);
  });

  it('gives back a notice whose fields hold the separators, and the notices beside it intact', () => {
    const batch = [
      notice({ query: 'a=\u0000b' }),
      notice({ headers: { 'user-agent': 'bot\u0001agent' } }),
      notice({ token: 'tok\u0000\u0001en', remoteAddress: '\u0001' }),
      notice(),
    ];
    assert.deepEqual(decodeBatch(encodeBatch(batch)), batch);
  });

  it('gives back tracker hit events (decided on the HTTP thread) beside notices', () => {
    const batch: Submission[] = [
      { event: exchangeEvent({ receivedMs: 5, dedupe: { key: 'k\u0001\u0000', expiresMs: 9 } }) },
      notice(),
    ];
    assert.deepEqual(decodeBatch(encodeBatch(batch)), batch);
  });

  it('gives back an empty batch as empty', () => {
    assert.deepEqual(decodeBatch(encodeBatch([])), []);
  });

  it('gives back every kind of outcome, and redirects, in order', () => {
    const results: Recorded[] = [
      { outcome: COUNTED, redirectTo: '' },
      { outcome: COUNTED, redirectTo: 'https://dsp.test/win?p=1.25&id=a' },
      { outcome: notCounted('duplicate'), redirectTo: '' },
      { outcome: notCounted('late'), redirectTo: '' },
      { outcome: invalidTraffic('bot_user_agent'), redirectTo: '' },
      { outcome: invalidTraffic('blocked_ip'), redirectTo: '' },
    ];
    assert.deepEqual(decodeResults(encodeResults(results)), results);
    assert.deepEqual(decodeResults(encodeResults([])), []);
  });

  it('gives back results whose redirect holds a separator', () => {
    const results: Recorded[] = [
      { outcome: COUNTED, redirectTo: 'https://dsp.test/\u0001' },
      { outcome: notCounted('preview'), redirectTo: '' },
    ];
    assert.deepEqual(decodeResults(encodeResults(results)), results);
  });
});
