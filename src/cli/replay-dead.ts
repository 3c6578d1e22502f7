import { parseArgs } from 'node:util';
import type { AccountStore } from '../ports/accounts.js';
import type { DeadDeliveryFilter, Ledger } from '../ports/ledger.js';
import { parseBurlHost } from '../domain/delivery-host.js';

/** The usage line of `tally replay-dead`. */
export const REPLAY_DEAD_USAGE =
  'tally replay-dead [--account <id>] [--host <host>] [--from <ISO time>] [--to <ISO time>] [--dry-run]';

/** The options of `tally replay-dead` that take a value. */
const VALUED_OPTIONS = ['--account', '--host', '--from', '--to'];
/** The options `tally replay-dead` takes. */
const REPLAY_OPTIONS = [...VALUED_OPTIONS, '--dry-run'];

/** What `tally replay-dead` was asked: which dead deliveries, and whether only to count them. */
interface ReplayRequest {
  filter: DeadDeliveryFilter;
  dryRun: boolean;
}

/**
 * What is wrong with an option's value in `args`, which parseArgs refused, in one line (parseArgs
 * says it in three): a valued option last, or followed by an option rather than a value (a value
 * beginning with `-` is given as `--from=<value>`), or `--dry-run=…`; else parseArgs' `message`.
 */
function optionValueProblem(args: string[], message: string): string {
  for (let index = 0; index < args.length && args[index] !== '--'; index++) {
    const arg = args[index] ?? '';
    if (arg.startsWith('--dry-run=')) return '--dry-run takes no value: give --dry-run alone';
    if (!VALUED_OPTIONS.includes(arg)) continue;
    const next = args[index + 1];
    if (next === undefined) return `${arg} needs a value`;
    if (next.startsWith('-'))
      return `${arg} needs a value, and ${JSON.stringify(next)} after it is an option (give a value beginning with - as ${arg}=<value>)`;
    index++;
  }
  return oneLine(message);
}

/** `text` on one line: a log scraper reads a line per error. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

/**
 * Reads the options of `tally replay-dead`: `--account` (an account id), `--host` (the host the
 * burl calls, with or without its port, spelt any way a URL may spell it), `--from` and `--to`
 * (ISO times bounding when the impression counted: from inclusive, to exclusive) and `--dry-run`;
 * or what is wrong with them.
 */
export function parseReplayRequest(
  args: string[],
): { ok: true; request: ReplayRequest } | { ok: false; error: string } {
  let values;
  let positionals;
  let tokens;
  try {
    ({ values, positionals, tokens } = parseArgs({
      args,
      options: {
        account: { type: 'string' },
        host: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        'dry-run': { type: 'boolean' },
      },
      strict: true,
      allowPositionals: true,
      tokens: true,
    }));
  } catch (error) {
    // parseArgs' own message for an unknown option advises passing it after `--` as an argument,
    // which this command refuses too: name the options it takes instead.
    const unknown = args.find(
      (arg) => arg.startsWith('-') && !REPLAY_OPTIONS.includes(arg.replace(/=.*/s, '')),
    );
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE')
      return { ok: false, error: optionValueProblem(args, (error as Error).message) };
    if (code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || unknown === undefined)
      return { ok: false, error: oneLine((error as Error).message) };
    return {
      ok: false,
      error: `unknown option ${JSON.stringify(unknown)}: the options are ${REPLAY_OPTIONS.join(', ')}`,
    };
  }
  const problems: string[] = positionals
    .slice(0, 1)
    .map((extra) => `unexpected argument ${JSON.stringify(extra)}`);
  // parseArgs keeps the last value of an option given twice: `--host a --host b` would replay b's alone.
  const valued = tokens.flatMap((token) =>
    token.kind === 'option' && token.value !== undefined ? [token] : [],
  );
  for (const name of new Set(valued.map((token) => token.name))) {
    const given = valued.filter((token) => token.name === name).map((token) => JSON.stringify(token.value));
    if (given.length > 1)
      problems.push(
        `--${name} is given ${given.length} times (${given.join(', ')}): give it once, and run the command once for each`,
      );
  }
  const filter: DeadDeliveryFilter = {};
  if (values.account !== undefined) {
    if (/^[1-9]\d{0,14}$/.test(values.account)) filter.accountId = Number(values.account);
    else problems.push(`--account ${JSON.stringify(values.account)} must be an account id, such as 1`);
  }
  if (values.host !== undefined) {
    const host = parseBurlHost(values.host);
    if (host === undefined)
      problems.push(
        `--host ${JSON.stringify(values.host)} is no host a URL can name: give the burl's host, such as dsp.example, dsp.example:8443 or 192.0.2.1, without a scheme or path`,
      );
    else filter.host = host;
  }
  for (const bound of ['from', 'to'] as const) {
    const text = values[bound];
    if (text === undefined) continue;
    const ms = isoTimeMs(text);
    if (ms === undefined)
      problems.push(
        `--${bound} ${JSON.stringify(text)} must be an ISO date or time with its zone, such as 2026-12-04 or 2026-12-04T10:00:00Z`,
      );
    else if (bound === 'from') filter.createdFromMs = ms;
    else filter.createdToMs = ms;
  }
  if (
    filter.createdFromMs !== undefined &&
    filter.createdToMs !== undefined &&
    filter.createdFromMs >= filter.createdToMs
  )
    problems.push('--from must be before --to');
  if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  return { ok: true, request: { filter, dryRun: values['dry-run'] === true } };
}

/**
 * The time of an ISO date (`2026-12-04`, 00:00 UTC) or date-time with its zone
 * (`2026-12-04T10:00:00Z`, `…T10:00:00.5+01:00`), or `undefined` unless it names a real day and
 * time: `Date.parse` reads 2026-02-30 as 2 March, and 24:00 as the next day.
 */
function isoTimeMs(text: string): number | undefined {
  const match =
    /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,3})?(?:Z|[+-](\d{2}):(\d{2})))?$/.exec(
      text,
    );
  if (match === null) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0, zoneHour = 0, zoneMinute = 0] = match
    .slice(1)
    .map((part) => (part === undefined ? undefined : Number(part)));
  const dayMs = Date.UTC(year ?? 0, (month ?? 1) - 1, day ?? 1);
  if (new Date(dayMs).getUTCDate() !== day || new Date(dayMs).getUTCMonth() !== (month ?? 1) - 1)
    return undefined;
  if (hour > 23 || minute > 59 || second > 59 || zoneHour > 23 || zoneMinute > 59) return undefined;
  return Date.parse(text);
}

/**
 * Why `tally replay-dead` refuses `filter` on the ledger at `dbPath`, or `undefined`: its
 * `--account` names no account there. A mistyped id would replay none and say "0 dead
 * deliveries", as if that account had none dead.
 */
export function unknownAccountRefusal(
  filter: DeadDeliveryFilter,
  accounts: Pick<AccountStore, 'getAccount'>,
  dbPath: string,
): string | undefined {
  const { accountId } = filter;
  if (accountId === undefined || accounts.getAccount(accountId) !== undefined) return undefined;
  return (
    `Tally has no account ${accountId} in ${dbPath}, so nothing was replayed: give --account the id ` +
    'of an existing account (tally list-accounts lists them), or set TALLY_DATA_DIR to the data ' +
    'directory of the server that holds it\n'
  );
}

/**
 * Dead deliveries a replay makes pending again in one transaction: each step holds the ledger's
 * write lock a few ms, where one transaction making millions pending held it for many seconds,
 * longer than the server's counting thread waits for it (`busy_timeout`, 5 s), failing its
 * batches: every notice meanwhile answered 503. A delivery costs about 10 µs with its indexes
 * (and a step its commit's fsync, 2-3 ms): on a ledger of 100 000 dead deliveries, steps of 250
 * held the lock about 5 ms (median), steps of 1000 about 11 ms and of 5000 about 55 ms.
 */
export const REPLAY_ROWS_PER_STEP = 250;

/** The shortest pause between two steps of a replay, in ms. */
const MIN_PAUSE_MS = 5;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Makes the dead deliveries `request` picks pending again (or, with `dryRun`, counts them) and
 * says what was done, in {@link REPLAY_ROWS_PER_STEP} deliveries a step, each its own
 * transaction, with a pause after each as long as it took: a counting thread waiting for the
 * write lock (its busy handler retrying every few ms) takes it between two steps, rather than
 * finding it taken again each time.
 */
export async function replayDeadInSteps(
  ledger: Pick<Ledger, 'deadDeliveries' | 'replayDead'>,
  request: ReplayRequest,
  nowMs: number,
  deadlineMs: number,
  pause: (ms: number) => Promise<void> = sleep,
): Promise<string> {
  const dead = ledger.deadDeliveries(request.filter);
  const deliveries = (count: number) => (count === 1 ? '1 dead delivery' : `${count} dead deliveries`);
  if (request.dryRun)
    return `${deliveries(dead.length)} would be pending again (--dry-run: nothing was changed)\n`;
  let replayed = 0;
  for (let start = 0; start < dead.length; start += REPLAY_ROWS_PER_STEP) {
    const startedMs = performance.now();
    replayed += ledger.replayDead(dead.slice(start, start + REPLAY_ROWS_PER_STEP), nowMs, deadlineMs);
    if (start + REPLAY_ROWS_PER_STEP < dead.length)
      await pause(Math.max(MIN_PAUSE_MS, performance.now() - startedMs));
  }
  return `${deliveries(replayed)} ${replayed === 1 ? 'is' : 'are'} pending again\n`;
}
