import type { WinEnvironment } from '../domain/win.js';
import { instrumentWin } from '../domain/win.js';
import { requireRole, requireUnscoped } from './auth.js';
import type { Route } from './http.js';
import { ApiError, readJson, sendJson } from './http.js';

/** Most wins accepted in one call. */
export const MAX_WINS_PER_CALL = 10_000;

/** `POST /v1/wins`: instruments each win; one bad win never fails the others. */
export function winRoutes(env: (accountId: number) => WinEnvironment, maxBodyBytes: number): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/wins',
      async handler(ctx) {
        requireRole(ctx.principal, 'editor');
        requireUnscoped(ctx.principal);
        const body = (await readJson(ctx.req, maxBodyBytes)) as { wins?: unknown };
        if (!Array.isArray(body?.wins)) {
          throw new ApiError(
            400,
            'VALIDATION_FAILED',
            'the body must be {"wins": [ {request, seat, bid, …} ]}',
          );
        }
        if (body.wins.length > MAX_WINS_PER_CALL) {
          throw new ApiError(
            400,
            'VALIDATION_FAILED',
            `send at most ${MAX_WINS_PER_CALL} wins per call; this had ${body.wins.length}`,
          );
        }
        const winEnv = env(ctx.principal.accountId);
        const results = (body.wins as unknown[]).map((win) => {
          if (typeof win !== 'object' || win === null || Array.isArray(win)) {
            return {
              ok: false,
              error: {
                code: 'VALIDATION_FAILED',
                message: 'each win must be an object {request, seat, bid, …}',
              },
            };
          }
          return instrumentWin(win, winEnv);
        });
        sendJson(ctx.res, 200, { results }, ctx.requestId);
      },
    },
  ];
}
