import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Outcome } from '../domain/outcome.js';
import { COUNTED, duplicateOfRedirect, invalidTraffic, notCounted } from '../domain/outcome.js';
import type { EventRecord } from '../ports/ledger.js';
import { EMPTY_DIMENSIONS } from '../ports/ledger.js';
import { exchangeEvent } from '../../test/support/events.js';
import { decodeBatch, decodeOutcomes, encodeBatch, encodeOutcomes } from './wire.js';

const OUTCOMES: Outcome[] = [
  COUNTED,
  notCounted('duplicate'),
  notCounted('late'),
  notCounted('invalid_token'),
  invalidTraffic('bot_user_agent'),
  invalidTraffic('blocked_ip'),
];

/** A counted exchange notice with its claim and a burl delivery, as the HTTP thread decides one. */
function billedNotice(overrides: Partial<EventRecord> = {}): EventRecord {
  return exchangeEvent({
    dedupe: { key: 'x\u001f1\u001fa\u001f1\u001fb\u001fseat', expiresMs: 1_764_000_300_000 },
    delivery: { url: 'https://dsp.test/win?p=1.25&id=a', deadlineMs: 1_764_010_000_000 },
    ...overrides,
  });
}

/** A tracker hit: every number a dimension can carry, and a missing cachebuster. */
const TRACKER_HIT: EventRecord = exchangeEvent({
  outcome: notCounted('inactive_tracker'),
  dims: {
    ...EMPTY_DIMENSIONS,
    accountId: 7,
    impressionType: 'external_click',
    advertiserId: 11,
    lineItemId: 12,
    trackerId: 13,
    placementId: 14,
    paymentRuleId: 15,
    cachebusterMissing: true,
  },
  priceMicros: 0,
  mediaCostMicros: 2_500,
  revenueMicros: 3_750,
});

describe('thread wire format', () => {
  it('gives back every event of a batch as it was, claims, deliveries (redirected or not), tracker dimensions and a VAST error code included, in order', () => {
    const batch = [
      billedNotice(),
      exchangeEvent(),
      TRACKER_HIT,
      exchangeEvent({ outcome: notCounted('invalid_token'), dims: { ...EMPTY_DIMENSIONS, accountId: 1 } }),
      billedNotice({ outcome: invalidTraffic('head_request'), delivery: undefined }),
      billedNotice({ delivery: { url: 'https://dsp.test/win?p=1', deadlineMs: 3, redirected: true } }),
      exchangeEvent({
        outcome: notCounted('not_billing_method'),
        dims: { ...exchangeEvent().dims, kind: 'vast_error', vastError: 303 },
      }),
    ];
    // An absent claim or delivery stays absent (not a property holding undefined).
    delete batch[4]?.delivery;
    assert.deepEqual(decodeBatch(encodeBatch(batch)), batch);
  });

  it('writes each event whose fields hold no separator field by field, not as JSON, with a VAST error code or none', () => {
    const vastError = (code: number | null) =>
      exchangeEvent({
        outcome: notCounted('not_billing_method'),
        dims: { ...exchangeEvent().dims, kind: 'vast_error', vastError: code },
      });
    for (const event of [billedNotice(), TRACKER_HIT, vastError(303), vastError(null)]) {
      const written = encodeBatch([event]);
      assert.equal(written[0], 'f', written);
      assert.deepEqual(decodeBatch(written), [event]);
    }
  });

  it('gives back an event whose fields hold the separators, and the events beside it intact', () => {
    const batch = [
      billedNotice({ userAgent: 'bot\u0001agent' }),
      exchangeEvent({ deviceIp: '\u0000' }),
      billedNotice({ dedupe: { key: 'k\u0001\u0000', expiresMs: 9 } }),
      billedNotice(),
    ];
    assert.deepEqual(decodeBatch(encodeBatch(batch)), batch);
  });

  it('gives back strings with spaces and control characters at their ends as they were, a burl’s URL and the device’s included', () => {
    const edges = (text: string) => ` \t${text}\r\n `;
    const batch = [
      billedNotice({
        deviceIp: edges('203.0.113.9'),
        userAgent: edges('Mozilla/5.0'),
        dims: { ...billedNotice().dims, auctionId: edges('a'), seat: edges('seat'), currency: edges('USD') },
        dedupe: { key: edges('key'), expiresMs: 1 },
        delivery: { url: edges('https://dsp.test/win?p=1'), deadlineMs: 2 },
      }),
    ];
    assert.deepEqual(decodeBatch(encodeBatch(batch)), batch);
  });

  it('gives back any event, whatever its strings hold (property)', () => {
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const integer = fc.maxSafeNat();
    const eventArb = fc.record({
      receivedMs: integer,
      servedHourMs: integer,
      outcome: fc.constantFrom(...OUTCOMES),
      dims: fc.record({
        accountId: integer,
        impressionType: fc.constantFrom(
          'exchange' as const,
          'external_impression' as const,
          'external_click' as const,
        ),
        kind: text,
        format: text,
        channel: text,
        method: text,
        seat: text,
        publisher: text,
        auctionId: text,
        impId: text,
        bidId: text,
        currency: text,
        advertiserId: integer,
        lineItemId: integer,
        trackerId: integer,
        placementId: integer,
        paymentRuleId: integer,
        cachebusterMissing: fc.boolean(),
        vastError: fc.option(integer, { nil: null }),
      }),
      priceMicros: integer,
      mediaCostMicros: integer,
      revenueMicros: integer,
      deviceIp: text,
      userAgent: text,
      dedupe: fc.option(fc.record({ key: text, expiresMs: integer }), { nil: undefined }),
      delivery: fc.option(
        fc.record(
          { url: text, deadlineMs: integer, redirected: fc.constant(true as const) },
          { requiredKeys: ['url', 'deadlineMs'] },
        ),
        { nil: undefined },
      ),
    });
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 4 }), (generated) => {
        const batch = generated.map((event) => {
          // Plain objects, as the HTTP thread builds them (fast-check's may lack a prototype).
          const written: EventRecord = structuredClone(event);
          if (event.dedupe === undefined) delete written.dedupe;
          if (event.delivery === undefined) delete written.delivery;
          return written;
        });
        assert.deepEqual(decodeBatch(encodeBatch(batch)), batch);
      }),
    );
  });

  it('gives back an empty batch as empty', () => {
    assert.deepEqual(decodeBatch(encodeBatch([])), []);
  });

  it('gives back every kind of outcome, in order', () => {
    const outcomes = [
      ...OUTCOMES,
      COUNTED,
      notCounted('duplicate'),
      duplicateOfRedirect(1_796_416_913_582),
      {
        ...duplicateOfRedirect(1_796_416_913_582),
        location: 'https://dsp.example/b?price=1.25&auction=a%20b#f',
      },
      notCounted('late'),
    ];
    assert.deepEqual(decodeOutcomes(encodeOutcomes(outcomes)), outcomes);
    assert.deepEqual(decodeOutcomes(encodeOutcomes([])), []);
  });
});
