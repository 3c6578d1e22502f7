import type { PrivateNetworks } from '../../billing/egress.js';
import type { RuleOverride } from '../../domain/rules.js';
import type { ThreadKeys } from '../../thread-keys.js';
import type { WinsAnswer } from '../register-wins.js';

/**
 * What the wins thread is started with: everything instrumenting a win reads (it travels by
 * structured clone).
 */
export interface WinSettings extends ThreadKeys {
  publicUrl: string;
  rules: [publisherId: string, overrides: RuleOverride[]][];
  /** `TALLY_BURL_PRIVATE_NETWORKS`: the relay's policy, by which wins' burls are warned of. */
  burlPrivateNetworks: PrivateNetworks;
}

/** One `POST /v1/wins` call: the caller's account, the body as sent, and when it arrived. */
export interface WinsRequest {
  accountId: number;
  body: string;
  /** The auction time of the wins that give none. */
  receivedMs: number;
}

/**
 * The wins thread's answer: the results as UTF-8 JSON, moved rather than copied to the HTTP thread
 * (an answer can be a hundred megabytes, which copying or encoding there would take notices'
 * time from), or what to fix.
 */
export type WinsReply = { ok: true; jsonBytes: Uint8Array<ArrayBuffer> } | Extract<WinsAnswer, { ok: false }>;
