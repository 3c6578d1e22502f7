#!/usr/bin/env node
import { join } from 'node:path';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { asDatabaseFileError, DatabaseFileError, SchemaTooNewError } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { parseConfig } from '../config.js';
import type { Config } from '../config.js';
import { DELIVERY_WINDOW_MS } from '../hot/notice-event.js';
import { KeyFileError, rotateKeyFile } from '../keys.js';
import { surviveClosedOutput } from '../lib/closed-output.js';
import { jsonLogger } from '../lib/log.js';
import type { AccountStore } from '../ports/accounts.js';
import { DataDirInUseError, LockFileError } from '../adapters/sqlite/data-dir-lock.js';
import { TALLY_VERSION } from '../version.js';
import { REPEATED_SIGNAL_MS, startTally } from '../server.js';
import { DataDirError } from '../start/data-dir.js';
import { ListenError } from '../start/hold-port.js';
import type { Tally } from '../server.js';
import { StartStoppedError } from '../start/stop-during-start.js';
import { LedgerServedUnmigratedError, openCommandLedger } from './command-ledger.js';
import { CREATE_ACCOUNT_USAGE, createAccount, readAccountName } from './create-account.js';
import { accountsText } from './list-accounts.js';
import { reportCutOffOutput } from './cut-off-output.js';
import { missingDataDir } from './missing-data-dir.js';
import { unexpectedErrorLine, unexpectedErrorText } from './unexpected-error.js';
import {
  parseReplayRequest,
  REPLAY_DEAD_USAGE,
  replayDeadInSteps,
  unknownAccountRefusal,
} from './replay-dead.js';

const HELP = `Tally — counts billable ad impressions.

Usage: tally <command>

Commands:
  serve                 start the server (configuration from TALLY_* variables, see README)
  create-account <name> create an account and print its first admin API key (shown once);
                        the name may be given as --name=<name>, and one beginning with - after --
                        (tally create-account -- -Acme)
  list-accounts         list the accounts: id, name, when created, how many live API keys
  replay-dead           make dead burl deliveries pending again (3 h from now): every one, or those
                        of --account <id>, --host <host>, counted --from/--to <ISO time>;
                        --dry-run counts them and changes nothing
  rotate-token-key      add a new signing key to <data dir>/token-keys.json; old tokens still open
                        (refused when TALLY_TOKEN_KEYS is set: append a new id:key there instead)
  help [<command>]      this text (also --help, -h), or the command's usage (also
                        tally <command> --help)
  version               the version of Tally this is (also --version, -V)

Environment: TALLY_PORT (8080), TALLY_DATA_DIR (./data), TALLY_PUBLIC_URL, TALLY_ADMIN_KEY,
TALLY_CONFIG (JSON file), and the rest listed in the README.
`;

/**
 * Why `rotate-token-key` refuses when the keys are configured, and how to rotate them there, in
 * one line (a log scraper reads a line per error).
 */
const TOKEN_KEYS_CONFIGURED =
  'Tally cannot rotate the token key here: the keys come from TALLY_TOKEN_KEYS (or tokenKeys in ' +
  'the TALLY_CONFIG file), not from token-keys.json, so nothing was written. Rotate them there: ' +
  'append <new id>:<32-byte key in base64>, an id from 0 to 255 not yet listed, e.g. ' +
  'TALLY_TOKEN_KEYS="$TALLY_TOKEN_KEYS,<new id>:$(openssl rand -base64 32)", and restart Tally. ' +
  'The last key listed signs new tokens; keep the old ones listed, so that the tokens they sealed ' +
  'still open.\n';

/** The commands. */
type Command =
  'serve' | 'create-account' | 'list-accounts' | 'replay-dead' | 'rotate-token-key' | 'help' | 'version';

/** The usage line of each command: how it is called, and the arguments it takes. */
const USAGE: Readonly<Record<Command, string>> = {
  serve: 'tally serve  (configured by TALLY_* variables, e.g. TALLY_PORT=8081 tally serve)',
  'create-account': CREATE_ACCOUNT_USAGE,
  'list-accounts': 'tally list-accounts',
  'replay-dead': REPLAY_DEAD_USAGE,
  'rotate-token-key': 'tally rotate-token-key',
  help: 'tally help [<command>]',
  version: 'tally version',
};

/** The commands, listed in the one line that refuses a missing or unknown one. */
const COMMANDS_LISTED = `${Object.keys(USAGE).join(', ')} (tally help describes each)`;

/** The names that print the help. */
const HELP_COMMANDS = new Set(['help', '--help', '-h']);
/** The commands that take no argument: one beside `--help` or `-h` is refused as without it. */
const TAKING_NO_ARGUMENT: ReadonlySet<Command> = new Set([
  'serve',
  'list-accounts',
  'rotate-token-key',
  'version',
]);

/** The names that print the version. */
const VERSION_COMMANDS = new Set(['version', '--version', '-V']);

/** How a command's cut-off stdout is told, once the command is known (not for the server). */
let output: ReturnType<typeof reportCutOffOutput> | undefined;

async function main(argv: string[]): Promise<number> {
  const [given, ...args] = argv;
  if (given === undefined) {
    process.stderr.write(`no command given: run tally <command>, one of ${COMMANDS_LISTED}\n`);
    return 2;
  }
  const command = commandNamed(given);
  if (!isCommand(command)) {
    process.stderr.write(`unknown command ${JSON.stringify(given)}: the commands are ${COMMANDS_LISTED}\n`);
    return 2;
  }
  // `tally <command> --help` and `tally help <command>` print the command's usage, and do nothing
  // (`tally help --help` too: help's own; `tally --help --version` version's, as in either order).
  const named = args[0] === undefined ? undefined : commandNamed(args[0]);
  const helpOn =
    command === 'help' ? (asksForHelp(args) ? 'help' : named) : asksForHelp(args) ? command : undefined;
  // The server goes on serving when its stdout fails (see `surviveClosedOutput`); a command says so.
  if (command !== 'serve' || helpOn !== undefined) output = reportCutOffOutput(given);
  // An argument a command does not take is refused with its usage, exit 2, whether `--help` or
  // `-h` is beside it or not (`tally list-accounts --help extra`).
  const stray = TAKING_NO_ARGUMENT.has(command)
    ? args.find((arg) => arg === 'help' || !HELP_COMMANDS.has(arg))
    : undefined;
  // replay-dead reads its options and create-account its name, those beside `--help` too; the
  // others take no argument.
  const read = helpOn === undefined ? args : withoutHelp(args);
  const replay = command === 'replay-dead' ? parseReplayRequest(read) : undefined;
  const naming = command === 'create-account' ? readAccountName(read) : undefined;
  if (
    helpOn !== undefined &&
    isCommand(helpOn) &&
    (command !== 'help' || args.length === 1) &&
    stray === undefined &&
    replay?.ok !== false &&
    naming?.ok !== false
  ) {
    process.stdout.write(`usage: ${USAGE[helpOn]}\n(tally help lists every command)\n`);
    return 0;
  }
  // Help on a name that is no command (a typo): say so and list them, as for an unknown command.
  if (command === 'help' && helpOn !== undefined && !isCommand(helpOn)) {
    process.stderr.write(
      `tally ${given}: there is no command ${JSON.stringify(helpOn)}: the commands are ${COMMANDS_LISTED}\n`,
    );
    return 2;
  }
  // `help` takes one command's name.
  const extra = TAKING_NO_ARGUMENT.has(command)
    ? stray
    : replay === undefined && naming === undefined
      ? args[command === 'help' && named !== undefined && isCommand(named) ? 1 : 0]
      : undefined;
  const wrong =
    replay?.ok === false
      ? replay.error
      : naming?.ok === false
        ? naming.error
        : extra === undefined
          ? undefined
          : `unexpected argument ${JSON.stringify(extra)}`;
  if (wrong !== undefined) {
    process.stderr.write(`tally ${given}: ${wrong} (nothing was done); usage: ${USAGE[command]}\n`);
    return 2;
  }
  if (command === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === 'version') {
    process.stdout.write(`tally ${TALLY_VERSION}\n`);
    return 0;
  }
  const parsed = parseConfig(process.env);
  if (!parsed.ok) {
    // Each error on a line of its own, saying what failed: some hold "; " themselves, so errors
    // joined in one line could not be told apart (and a log scraper reads a line per error).
    const failed = command === 'serve' ? 'Tally cannot start' : `tally ${command} cannot run`;
    process.stderr.write(
      parsed.errors.map((error) => `${failed}; fix the configuration: ${error}\n`).join(''),
    );
    return 2;
  }
  const config = parsed.config;
  // Every file Tally makes (the data directory, tally.db and its WAL, the token keys) is its
  // user's alone: they hold API key hashes, device IPs and User-Agents, and the DSPs' burls.
  process.umask(0o077);
  switch (command) {
    case 'serve':
      return serve(config);
    case 'replay-dead': {
      if (replay?.ok !== true) throw new Error('the options of replay-dead are read before this');
      return withLedger(config, async (ledger, accounts, dbPath) => {
        const { request } = replay;
        const refusal = unknownAccountRefusal(request.filter, accounts, dbPath);
        if (refusal !== undefined) {
          process.stderr.write(refusal);
          return 1;
        }
        const nowMs = Date.now();
        process.stdout.write(await replayDeadInSteps(ledger, request, nowMs, nowMs + DELIVERY_WINDOW_MS));
        return 0;
      });
    }
    case 'list-accounts':
      return withLedger(config, (_ledger, accounts) => {
        process.stdout.write(accountsText(accounts));
        return Promise.resolve(0);
      });
    case 'create-account':
      if (naming?.ok !== true) throw new Error('the name of create-account is read before this');
      return createAccount(config, naming.name, {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
      });
    case 'rotate-token-key': {
      if (config.tokenKeys !== undefined) {
        process.stderr.write(TOKEN_KEYS_CONFIGURED);
        return 1;
      }
      const missing = missingDataDir(config);
      if (missing !== undefined) {
        process.stderr.write(missing);
        return 1;
      }
      const id = rotateKeyFile(config.dataDir);
      process.stdout.write(`key ${id} now signs new tokens; restart Tally to use it\n`);
      return 0;
    }
  }
}

/**
 * The errors whose message tells the operator, in one line, what to change (a data directory, port,
 * database or key file Tally cannot use): printed as they are, without a stack.
 */
const OPERATOR_ERRORS = [
  DataDirInUseError,
  LockFileError,
  DataDirError,
  ListenError,
  SchemaTooNewError,
  DatabaseFileError,
  KeyFileError,
  LedgerServedUnmigratedError,
];

function isOperatorError(error: unknown): error is Error {
  return OPERATOR_ERRORS.some((type) => error instanceof type);
}

/** Whether `args` hold `--help` or `-h` before any `--` (after it, `--help` may be a name). */
function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return args
    .slice(0, end === -1 ? args.length : end)
    .some((arg) => HELP_COMMANDS.has(arg) && arg !== 'help');
}

/** `args` without the `--help` and `-h` before any `--`, which ask for the usage. */
function withoutHelp(args: readonly string[]): string[] {
  const end = args.indexOf('--');
  return args.filter(
    (arg, index) => (end !== -1 && index >= end) || !HELP_COMMANDS.has(arg) || arg === 'help',
  );
}

/** The command a name given for one stands for: `--help` and `-h` for help, `--version` and `-V` for version. */
function commandNamed(name: string): string {
  return HELP_COMMANDS.has(name) ? 'help' : VERSION_COMMANDS.has(name) ? 'version' : name;
}

function isCommand(name: string): name is Command {
  return Object.hasOwn(USAGE, name);
}

async function serve(config: Config): Promise<number> {
  surviveClosedOutput();
  const log = jsonLogger();
  // The handlers (SIGHUP taken as SIGTERM) are set before the start (a signal while the ledger
  // migrates stops the start once every pending migration is applied, and Tally exits 0 without
  // listening) and stay for the whole shutdown: a second SIGTERM or SIGINT (an impatient
  // operator, a supervisor repeating its signal) closes the connections still open at once,
  // rather than killing the process with whatever it was draining; batches in flight still
  // commit. One within `REPEATED_SIGNAL_MS` of the first is a copy of it, and changes nothing.
  const stopRequested = new AbortController();
  let stoppedAtMs: number | undefined;
  let tally: Tally | undefined;
  const stop = (signal: string) => {
    if (stoppedAtMs !== undefined) {
      // During the start there is nothing to close yet: it stops once its migrations are applied.
      if (tally === undefined || performance.now() - stoppedAtMs < REPEATED_SIGNAL_MS) return;
      log.warn('shutting_down_now', { signal, note: 'closing the connections still open' });
      tally.closeConnectionsNow();
      return;
    }
    stoppedAtMs = performance.now();
    stopRequested.abort(signal);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A closed terminal (`npm start` run by hand): Node's default would end the process at once.
  process.on('SIGHUP', () => stop('SIGHUP'));
  // An error no code path catches (a bug) ends the process, as Node's default does, but said in
  // the JSON log too, where log collectors look, not only as Node's lines on stderr. What was
  // answered was committed first: nothing acknowledged is lost by exiting at once.
  process.on('uncaughtException', (error, origin) => {
    log.error('failed_unexpectedly', { origin, error: unexpectedErrorText(error) });
    process.stderr.write(unexpectedErrorLine(error));
    process.exit(1);
  });
  // Documented, but silent otherwise: an operator editing the file would see no change.
  if (config.overriddenInFile.length > 0) {
    log.warn('config_file_overridden', {
      settings: config.overriddenInFile,
      note: 'each variable is set and wins over the TALLY_CONFIG file, whose value for it is not read',
    });
  }
  try {
    tally = await startTally(config, log, { stop: stopRequested.signal });
  } catch (error) {
    if (error instanceof StartStoppedError) {
      log.info('stopped_during_start', { signal: error.signal, note: 'nothing was left half-done' });
      return 0;
    }
    if (!isOperatorError(error)) throw error;
    process.stderr.write(`Tally cannot start: ${error.message}\n`);
    return 1;
  }
  const started = tally;
  log.info('listening', {
    url: started.url,
    publicUrl: config.publicUrl,
    dataDir: config.dataDir,
    version: TALLY_VERSION,
  });
  // For the operator, on stderr: stdout carries nothing but the JSON logs.
  process.stderr.write(`Tally listens on ${started.url} (notice URLs use ${config.publicUrl})\n`);
  let exitCode = 0;
  await new Promise<void>((resolve) => {
    void started.mustStop.then((why) => {
      if (stoppedAtMs !== undefined) return;
      stoppedAtMs = performance.now();
      exitCode = 1;
      log.error('shutting_down', { why });
      resolve();
    });
    // A signal while it began to listen, after its last safe point, stops it now.
    const stopNow = () => {
      log.info('shutting_down', {
        signal: String(stopRequested.signal.reason),
        graceMs: config.shutdownGraceSeconds * 1000,
      });
      resolve();
    };
    if (stopRequested.signal.aborted) stopNow();
    else stopRequested.signal.addEventListener('abort', stopNow);
  });
  const closing = started.close();
  // Another process counts into the same ledger: no request in flight is worth the grace period.
  if (exitCode !== 0) started.closeConnectionsNow();
  await closing;
  log.info('stopped');
  return exitCode;
}

/**
 * Runs `run` on the ledger in the configured data directory, its accounts and its path, and
 * returns the exit code `run` returns; refuses (exit 1) when there is no data directory or no
 * ledger there (see `missingDataDir`), rather than create an empty one in a mistyped directory and
 * report that nothing was done.
 */
async function withLedger(
  config: Config,
  run: (ledger: SqliteLedger, accounts: AccountStore, dbPath: string) => Promise<number>,
): Promise<number> {
  const missing = missingDataDir(config, { ledger: true });
  if (missing !== undefined) {
    process.stderr.write(missing);
    return 1;
  }
  const path = join(config.dataDir, 'tally.db');
  const db = await openCommandLedger(config);
  const ledger = new SqliteLedger(db);
  try {
    return await run(ledger, new SqliteAccountStore(db), path);
  } catch (error) {
    throw asDatabaseFileError(path, error);
  } finally {
    ledger.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = output?.exitCode(code) ?? code;
  },
  (error: unknown) => {
    // A data directory Tally cannot use is the operator's to sort out: the message says how.
    if (isOperatorError(error)) process.stderr.write(`Tally cannot run: ${error.message}\n`);
    else process.stderr.write(unexpectedErrorLine(error));
    process.exitCode = 1;
  },
);
