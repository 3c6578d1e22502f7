import type { RuleOverride } from '../../domain/rules.js';
import type { ThreadKeys } from '../../thread-keys.js';

/**
 * What the wins thread is started with: everything instrumenting a win reads (it travels by
 * structured clone).
 */
export interface WinSettings extends ThreadKeys {
  publicUrl: string;
  rules: [publisherId: string, overrides: RuleOverride[]][];
}

/** One `POST /v1/wins` call: the caller's account, the body as sent, and when it arrived. */
export interface WinsRequest {
  accountId: number;
  body: string;
  /** The auction time of the wins that give none. */
  receivedMs: number;
}
