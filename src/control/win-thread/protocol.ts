import type { RuleOverride } from '../../domain/rules.js';
import type { PriceKeys } from '../../domain/price-crypto.js';

/**
 * What the wins thread is started with: everything instrumenting a win reads. It travels by
 * structured clone: buffers arrive as `Uint8Array`s.
 */
export interface WinSettings {
  tokenKeys: { id: number; key: Uint8Array }[];
  signingKeyId: number;
  publicUrl: string;
  rules: [publisherId: string, overrides: RuleOverride[]][];
  priceKeys: [seat: string, keys: PriceKeys][];
}

/** One `POST /v1/wins` call: the caller's account and the body as sent. */
export interface WinsRequest {
  accountId: number;
  body: string;
}
