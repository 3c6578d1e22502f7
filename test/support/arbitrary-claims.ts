import fc from 'fast-check';
import type { NoticeClaims } from '../../src/domain/token.js';
import { CHANNELS, FORMATS, METHODS, NOTICE_KINDS } from '../../src/domain/types.js';

/**
 * Any claims a token can carry, for property tests: every enum value, strings from `text`, integers
 * from `integer` (safe integers), and the DSP's burl from `dspBurl` (`text` unless given).
 */
export function arbitraryClaims(
  text: fc.Arbitrary<string>,
  integer: fc.Arbitrary<number>,
  dspBurl: fc.Arbitrary<string> = text,
): fc.Arbitrary<NoticeClaims> {
  return fc.record(
    {
      kind: fc.constantFrom(...NOTICE_KINDS),
      auctionId: text,
      impId: text,
      bidId: text,
      seat: text,
      adId: text,
      bidResponseId: text,
      priceMicros: integer,
      bidMicros: integer,
      currency: text,
      format: fc.constantFrom(...FORMATS),
      channel: fc.constantFrom(...CHANNELS),
      method: fc.constantFrom(...METHODS),
      ttlSeconds: integer,
      auctionTimeMs: integer,
      accountId: integer,
      publisherId: text,
      test: fc.boolean(),
      dspBurl,
    },
    { noNullPrototype: true },
  );
}
