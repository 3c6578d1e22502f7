import type { InstrumentedWin, RejectedWin, WinEnvironment } from '../domain/win.js';
import { instrumentWin } from '../domain/win.js';
import { asId, asObject } from '../domain/openrtb.js';
import type { ErrorCode } from './api-error.js';
import { ApiError } from './api-error.js';
import {
  duplicateMemberError,
  MAX_BODY_DEPTH,
  nestsDeeperThan,
  notUtf8Error,
  parseJsonBodyWithDuplicates,
  tooDeepError,
  unpairedSurrogate,
  unpairedSurrogateError,
} from './json-body.js';
import type { DuplicateMember } from '../domain/duplicate-members.js';
import { eachDuplicateMember } from '../domain/duplicate-members.js';
import { hasMarkedBytes, markedByteIn } from '../lib/marked-utf8.js';
import { jsonKind, shownName, shownSent } from '../lib/shown.js';

/** Most wins accepted in one call. */
export const MAX_WINS_PER_CALL = 10_000;

/**
 * Most characters (UTF-16 code units, as V8 counts a string) of JSON one call answers: each win's
 * markup and notice URLs count, and a win whose result would pass it is refused alone
 * (`ANSWER_TOO_LARGE`), as one string of JSON can hold no more than about 512 MiB, and building a
 * larger answer took gigabytes of memory first.
 */
const MAX_ANSWER_CHARS = 128 * 1024 * 1024;

/** The answer to a `POST /v1/wins` body: the results as JSON text, or what to fix. */
export type WinsAnswer =
  { ok: true; json: string } | { ok: false; status: number; code: ErrorCode; message: string };

/**
 * Parses a `POST /v1/wins` body and instruments each win, in input order; one bad win never
 * fails the others (a win nesting objects and arrays past `MAX_BODY_DEPTH` from the body's top,
 * naming a member twice in one of its objects, or holding a string with an unpaired surrogate
 * escape or with bytes that are not UTF-8, which the body comes with marked
 * (`decodeMarkingBadBytes`), is refused alone; a body that is not JSON, or is too deep, names a
 * member twice or holds such a string outside the wins, or has no wins array is refused whole); a
 * second winning bid for an imp another win of the call won, outside an ad pod, is warned of. A
 * win that Tally fails on is refused alone, with `INTERNAL`, and handed to `onFault`; one whose
 * result would take the answer past `maxAnswerChars` is refused alone, with `ANSWER_TOO_LARGE`.
 * Never throws on bad input.
 */
export function registerWins(
  body: string,
  env: WinEnvironment,
  onFault: (error: unknown) => void,
  maxAnswerChars = MAX_ANSWER_CHARS,
): WinsAnswer {
  // Bytes that are not UTF-8 come marked (`decodeMarkingBadBytes`): inside a win's strings they
  // refuse that win alone; anywhere else, the body. The body is looked through for them only where
  // something is refused that they would explain.
  let marked: boolean | undefined;
  const badBytes = (): boolean => (marked ??= hasMarkedBytes(body));
  let parsed: unknown;
  try {
    parsed = parseJsonBodyWithDuplicates(body, 'caller');
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const refusal = badBytes() ? notUtf8Error('the body') : error;
    return refused(refusal.status, refusal.code, refusal.message);
  }
  // A member named twice inside a win refuses that win alone; anywhere else, the body.
  const duplicateInWin = new Map<number, DuplicateMember>();
  for (const duplicate of eachDuplicateMember(body)) {
    const index = /^wins\[(\d+)\]/.exec(duplicate.path)?.[1];
    if (index === undefined) {
      const error = duplicateMemberError('the body', duplicate);
      return refused(error.status, error.code, error.message);
    }
    if (!duplicateInWin.has(Number(index))) duplicateInWin.set(Number(index), duplicate);
  }
  const wins = (parsed as { wins?: unknown } | null)?.wins;
  // Nesting too deep or an unpaired surrogate inside a win refuses that win alone (`resultOf`);
  // anywhere else, the body.
  const outsideWins = Array.isArray(wins) ? { ...(parsed as object), wins: [] } : parsed;
  if (nestsDeeperThan(outsideWins, MAX_BODY_DEPTH)) {
    const error = tooDeepError('the body');
    return refused(error.status, error.code, error.message);
  }
  const outside = unpairedSurrogate(outsideWins);
  if (outside !== undefined) {
    const error = badBytes() ? notUtf8Error('the body') : unpairedSurrogateError('the body', outside);
    return refused(error.status, error.code, error.message);
  }
  const extra = Array.isArray(wins)
    ? Object.keys(parsed as object).find((field) => field !== 'wins')
    : undefined;
  if (!Array.isArray(wins) || extra !== undefined) {
    const found =
      extra === undefined
        ? ` (${notAWinsBody(parsed, wins)})`
        : `, without other fields (this had ${JSON.stringify(extra)})`;
    return refused(
      400,
      'VALIDATION_FAILED',
      `the body must be {"wins": [ {request, seat, bid, …} ]}${found}`,
    );
  }
  if (wins.length > MAX_WINS_PER_CALL) {
    return refused(
      400,
      'VALIDATION_FAILED',
      `send at most ${MAX_WINS_PER_CALL} wins per call; this had ${wins.length}`,
    );
  }
  /** The first win registered for each imp of an auction outside an ad pod: its index, bid and price. */
  const firstWinners = new Map<string, { index: number; bid: string; price: number | undefined }>();
  // Each result is written as JSON once made, so that the answer's size is known as it grows.
  const results: string[] = [];
  const envelope = ['{"results":[', ']}'] as const;
  let answerChars = envelope[0].length + envelope[1].length;
  (wins as unknown[]).forEach((win, index) => {
    const separatorChars = results.length > 0 ? 1 : 0;
    const instrumented = resultOf(win, duplicateInWin.get(index), badBytes, env, onFault);
    const imp = instrumented.ok ? wonImp(win) : undefined;
    if (instrumented.ok && imp !== undefined) {
      const first = firstWinners.get(imp.key);
      if (first === undefined) firstWinners.set(imp.key, { index, ...imp });
      else if (first.bid !== imp.bid) instrumented.warnings.push(secondWinnerWarning(first.index));
      else if (first.price !== imp.price)
        instrumented.warnings.push(repricedBidWarning(first.index, first.price, imp.price));
    }
    let result = JSON.stringify(instrumented);
    if (answerChars + separatorChars + result.length > maxAnswerChars) {
      result = JSON.stringify(
        refusedWin(
          'ANSWER_TOO_LARGE',
          `this win's markup would take the answer past ${maxAnswerChars} characters; send it in another call (the other wins are answered)`,
        ),
      );
    }
    answerChars += separatorChars + result.length;
    results.push(result);
  });
  return { ok: true, json: `${envelope[0]}${results.join(',')}${envelope[1]}` };
}

/**
 * The imp a win won, as a key of its auction and imp, its bid as a key of its id and seat (one
 * impression: the same bid registered twice counts once) and the clearing price it is billed at
 * (`clearingPrice`, else `bid.price`); `undefined` when the imp is an ad pod's
 * (its video or audio names a `podid`, `podseq` or `slotinpod`, or a dynamic pod's `poddur` or
 * `maxseq`, which OpenRTB 2.6 sends without a `podid`; or the bid a `slotinpod`), whose slots, or
 * ads, each have a winner.
 */
function wonImp(win: unknown): { key: string; bid: string; price: number | undefined } | undefined {
  const { request, bid, seat, clearingPrice } = (asObject(win) ?? {}) as {
    request?: unknown;
    bid?: unknown;
    seat?: unknown;
    clearingPrice?: unknown;
  };
  const auctionId = asId(asObject(request)?.id);
  const impId = asId(asObject(bid)?.impid);
  if (auctionId === undefined || impId === undefined || inAdPod(asObject(request), asObject(bid), impId))
    return undefined;
  return {
    key: JSON.stringify([auctionId, impId]),
    bid: JSON.stringify([asId(asObject(bid)?.id), asId(seat)]),
    price: [clearingPrice, asObject(bid)?.price].find((price): price is number => typeof price === 'number'),
  };
}

/**
 * The fields of a video or audio object that make its imp an ad pod's: a structured pod's slot
 * (`podid`, `podseq`, `slotinpod`) or a dynamic pod, which takes several ads (`poddur`, `maxseq`).
 */
const POD_FIELDS = ['podid', 'podseq', 'slotinpod', 'poddur', 'maxseq'] as const;

/** Whether the won imp is part of an ad pod, by its media object or the bid. */
function inAdPod(
  request: Record<string, unknown> | undefined,
  bid: Record<string, unknown> | undefined,
  impId: string,
): boolean {
  if (bid?.slotinpod !== undefined) return true;
  const imps = Array.isArray(request?.imp) ? (request.imp as unknown[]) : [];
  const imp = imps.map(asObject).find((candidate) => asId(candidate?.id) === impId);
  return [asObject(imp?.video), asObject(imp?.audio)].some((media) =>
    POD_FIELDS.some((field) => media?.[field] !== undefined),
  );
}

/** The warning on a second winning bid for one imp. */
function secondWinnerWarning(firstIndex: number): string {
  return `wins[${firstIndex}] of this call won the same imp of the same auction with another bid: an imp outside an ad pod has one winner, and each of these wins is billed when its notice counts`;
}

/** The warning on the same bid registered again in one call at another clearing price. */
function repricedBidWarning(
  firstIndex: number,
  firstPrice: number | undefined,
  price: number | undefined,
): string {
  return `wins[${firstIndex}] of this call registered this same bid (auction, imp, bid id and seat) at a clearing price of ${String(firstPrice)}, this one at ${String(price)}: both are one impression, counted once, at the price of the registration whose notice counts first; send the bid once, at the price it cleared at`;
}

/** Deepest nesting of a win's objects and arrays: the body's, less its own object and `wins` array. */
const WIN_DEPTH = MAX_BODY_DEPTH - 2;

/** One win's result: instrumented, or refused with what to fix. */
function resultOf(
  win: unknown,
  duplicate: DuplicateMember | undefined,
  badBytes: () => boolean,
  env: WinEnvironment,
  onFault: (error: unknown) => void,
): InstrumentedWin | RejectedWin {
  // Walked by nothing before: code that recurses (`JSON.stringify`) would overflow the stack.
  if (nestsDeeperThan(win, WIN_DEPTH)) {
    const { code, message } = tooDeepError('this win', ", counted from the body's top");
    return refusedWin(code, message);
  }
  if (duplicate !== undefined) {
    const { code, message } = duplicateMemberError('this win', duplicate);
    return refusedWin(code, message);
  }
  // A marked byte is a lone surrogate too: found so, it is told apart from an escape.
  const surrogate = unpairedSurrogate(win);
  if (surrogate !== undefined) {
    const badByte = badBytes() ? markedByteIn(surrogate) : undefined;
    const { code, message } =
      badByte === undefined
        ? unpairedSurrogateError('this win', surrogate)
        : notUtf8Error('this win', badByte);
    return refusedWin(code, message);
  }
  if (typeof win !== 'object' || win === null || Array.isArray(win)) {
    return refusedWin(
      'VALIDATION_FAILED',
      `each win must be an object {request, seat, bid, …}, not ${shownSent(win)}`,
    );
  }
  try {
    return instrumentWin(win, env);
  } catch (error) {
    // A fault in Tally (instrumenting never throws on bad input): this win alone is refused.
    onFault(error);
    return refusedWin(
      'INTERNAL',
      'Tally failed on this win (a fault in Tally, logged as win_failed); the other wins are unaffected',
    );
  }
}

/** One win's result when it is refused before it is instrumented, as `instrumentWin` refuses one. */
function refusedWin(code: ErrorCode | 'ANSWER_TOO_LARGE', message: string): RejectedWin {
  return { ok: false, error: { code, message } };
}

function refused(status: number, code: ErrorCode, message: string): WinsAnswer {
  return { ok: false, status, code, message };
}

/** What a body without a `wins` array sent instead, for the message refusing it. */
function notAWinsBody(body: unknown, wins: unknown): string {
  if (wins !== undefined) return `"wins" is ${jsonKind(wins)}, not an array`;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return `this is ${jsonKind(body)}`;
  const fields = Object.keys(body).map(shownName);
  if (fields.length === 0) return 'this had no fields';
  return `this had ${fields.slice(0, 3).join(', ')}${fields.length > 3 ? '…' : ''} and no "wins"`;
}
