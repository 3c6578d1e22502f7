import type { KeyRing, NoticeClaims } from '../../src/domain/token.js';
import { generateKey } from '../../src/domain/token.js';
import { T0 } from './events.js';

/** A key ring with one fresh key (id 1). */
export function testKeyRing(): KeyRing {
  return { signingKeyId: 1, keys: new Map([[1, generateKey()]]) };
}

/** The claims of a web banner's `adm` notice won at `T0` for 1.25 USD, with `overrides` applied. */
export function bannerClaims(overrides: Partial<NoticeClaims> = {}): NoticeClaims {
  return {
    kind: 'adm',
    accountId: 1,
    auctionId: 'auction-1',
    impId: '1',
    bidId: 'bid-1',
    seat: 'seat-1',
    adId: '',
    bidResponseId: '',
    priceMicros: 1_250_000,
    bidMicros: 0,
    currency: 'USD',
    format: 'banner',
    channel: 'web',
    method: 'adm',
    ttlSeconds: 600,
    auctionTimeMs: T0,
    publisherId: 'pub-1',
    test: false,
    dspBurl: '',
    ...overrides,
  };
}
