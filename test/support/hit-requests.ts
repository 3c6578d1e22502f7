import type { HitRequest } from '../../src/domain/hit-request.js';
import { CHROME } from './user-agents.js';

/**
 * A hit or notice as the IVT screening reads it: from a desktop Chrome at a public address, by
 * `GET`, unless `headers`, `method` or `remoteAddress` say otherwise.
 */
export function hitRequest(
  headers: Record<string, string> = {},
  method = 'GET',
  remoteAddress = '198.51.100.7',
): HitRequest {
  return { method, headers: { 'user-agent': CHROME, ...headers }, remoteAddress };
}
