import { requireAccountWide } from './auth.js';
import { BodyBudget } from './body-budget.js';
import type { Route } from './router.js';
import { ApiError, busyRefusal, retryLater } from './api-error.js';
import { readJsonText } from './json-body.js';
import { sendJsonText } from './send.js';
import type { WinRegistrar } from './win-thread/win-thread.js';
import { WinsAbandonedError, WinsBusyError } from './win-thread/win-thread.js';
import type { Logger } from '../lib/log.js';
import { callerGone } from './caller-gone.js';

/**
 * How many bodies of the largest size allowed (`TALLY_MAX_BODY_BYTES`) `POST /v1/wins` reads at
 * once, across calls: so a lone call of that size always fits, and 50 callers uploading at once
 * hold 64 MiB at the default limit, not 800.
 */
export const WINS_BODIES_AT_ONCE = 4;

/**
 * `POST /v1/wins`: instruments each win; one bad win never fails the others. The body is read
 * here and handed, unparsed, to `registrar` (the wins threads), which parses and instruments it;
 * a thread that fails the call is logged (`wins_unavailable`) and answered 503. The bodies being
 * read at once are bounded by `budget` ({@link WINS_BODIES_AT_ONCE} bodies of `maxBodyBytes` by
 * default): a call that does not fit is answered 503, to retry.
 */
export function winRoutes(
  registrar: WinRegistrar,
  maxBodyBytes: number,
  log: Logger,
  budget = new BodyBudget(WINS_BODIES_AT_ONCE * maxBodyBytes),
): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/wins',
      async handler(ctx) {
        const receivedMs = Date.now();
        requireAccountWide(ctx.principal, 'editor');
        const body = await budget.read(ctx.req, maxBodyBytes, () =>
          readJsonText(
            ctx.req,
            maxBodyBytes,
            'split the wins over several calls (or raise TALLY_MAX_BODY_BYTES)',
            // Bytes that are not UTF-8 inside a win refuse that win alone (`registerWins`).
            'marked',
          ),
        );
        ctx.requireLiveKey();
        const abandoned = callerGone(ctx.res);
        let answer;
        try {
          answer = await registrar.register({
            accountId: ctx.principal.accountId,
            body,
            receivedMs,
            abandoned,
          });
        } catch (error) {
          if (error instanceof WinsBusyError) throw busyRefusal(error.message);
          // Its caller went away while it waited: there is nobody to answer, and nothing failed.
          if (error instanceof WinsAbandonedError) return;
          log.error('wins_unavailable', { requestId: ctx.requestId, error: String(error) });
          throw retryLater('UNAVAILABLE', 'the wins could not be registered just now; retry the call');
        }
        if (!answer.ok) throw new ApiError(answer.status, answer.code, answer.message);
        const { jsonBytes } = answer;
        sendJsonText(
          ctx.res,
          200,
          Buffer.from(jsonBytes.buffer, jsonBytes.byteOffset, jsonBytes.byteLength),
          ctx.requestId,
        );
      },
    },
  ];
}
