import { COUNTED } from '../../src/domain/outcome.js';
import type { EventRecord } from '../../src/ports/ledger.js';
import { EMPTY_DIMENSIONS } from '../../src/ports/ledger.js';
import { hourStartMs } from '../../src/lib/time.js';

/** A fixed time for ledger tests: 2026-11-22T10:30:00Z. */
export const T0 = Date.UTC(2026, 10, 22, 10, 30);

/** A counted exchange notice received at `T0` for a 1.00 impression, with `overrides` applied. */
export function exchangeEvent(overrides: Partial<EventRecord> = {}): EventRecord {
  return {
    receivedMs: T0,
    servedHourMs: hourStartMs(T0),
    outcome: COUNTED,
    dims: {
      ...EMPTY_DIMENSIONS,
      accountId: 1,
      kind: 'adm',
      format: 'banner',
      channel: 'web',
      method: 'adm',
      seat: 'seat',
      publisher: 'pub',
      auctionId: 'a',
      impId: '1',
      bidId: 'b',
      currency: 'USD',
    },
    priceMicros: 1_000_000,
    mediaCostMicros: 0,
    revenueMicros: 0,
    deviceIp: '198.51.100.1',
    userAgent: 'Mozilla/5.0',
    ...overrides,
  };
}
