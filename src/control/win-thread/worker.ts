// The wins thread: parses `POST /v1/wins` bodies and instruments their wins (markup rewriting,
// token sealing), so that a call of thousands of wins never holds up the HTTP thread, which
// serves notices.
import { parentPort, workerData } from 'node:worker_threads';
import { addressPolicy } from '../../billing/egress.js';
import { rulesByPublisher } from '../../domain/rules.js';
import { priceKeyName } from '../../domain/price-crypto.js';
import { serveRequests } from '../../lib/request-thread.js';
import { keyRingOf, priceKeysOf } from '../../thread-keys.js';
import { registerWins } from '../register-wins.js';
import type { WinSettings, WinsReply, WinsRequest } from './protocol.js';
import { nameThisThread } from '../../lib/thread-name.js';
import { jsonLogger } from '../../lib/log.js';

if (parentPort === null) throw new Error('src/control/win-thread/worker.ts runs as a worker thread');
nameThisThread('tally-wins');
const settings = workerData as WinSettings;
const keyRing = keyRingOf(settings);
const rulesFor = rulesByPublisher(new Map(settings.rules));
const priceKeys = priceKeysOf(settings);
const allowsBurlAddress = addressPolicy(settings.burlPrivateNetworks);
const log = jsonLogger();

const utf8 = new TextEncoder();

serveRequests(
  parentPort,
  ({ accountId, body, receivedMs }: WinsRequest): WinsReply => {
    const answer = registerWins(
      body,
      {
        accountId,
        rulesFor,
        keyRing,
        publicUrl: settings.publicUrl,
        priceKeysFor: (account, seat) => priceKeys.get(priceKeyName(account, seat)),
        allowsBurlAddress,
        nowMs: receivedMs,
      },
      (error) => log.error('win_failed', { error: String(error) }),
    );
    return answer.ok ? { ok: true, jsonBytes: utf8.encode(answer.json) } : answer;
  },
  (reply) => (reply.ok ? [reply.jsonBytes.buffer] : []),
);
