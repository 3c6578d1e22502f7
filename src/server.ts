import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { mayNeedMigrating, openSqlite, refuseWritesWhileLocked } from './adapters/sqlite/database.js';
import { SQLITE_MIGRATIONS } from './adapters/sqlite/migrations.js';
import { migrateInThread } from './adapters/sqlite/migration-thread/migrate-in-thread.js';
import { sqliteKeyFileMemory } from './adapters/sqlite/key-file-memory.js';
import { sqliteSigningKeyMemory } from './adapters/sqlite/signing-key-memory.js';
import { SqliteAccountStore } from './adapters/sqlite/accounts.js';
import { SqliteCatalogStore } from './adapters/sqlite/catalog.js';
import { LOCK_FILE, lockDataDirWhenFree } from './adapters/sqlite/data-dir-lock.js';
import { watchLedgerFile } from './adapters/sqlite/ledger-file-watch.js';
import { SqliteLedger } from './adapters/sqlite/ledger.js';
import { CatalogSnapshot } from './catalog-snapshot.js';
import type { Config } from './config.js';
import { catalogRoutes } from './control/catalog/index.js';
import { handleApi } from './control/api-handler.js';
import { billingRecordRoutes } from './control/billing-records.js';
import { longestTtlSeconds } from './domain/rules.js';
import { raiseTtlCeiling } from './adapters/sqlite/ttl-ceiling.js';
import { deliveryRoutes } from './control/deliveries.js';
import { exportRoutes } from './control/export.js';
import { answerAsteriskForm } from './control/asterisk-form.js';
import { answerWhileStarting } from './control/starting-answer.js';
import { continueIfOwed, deferContinue } from './control/expect-continue.js';
import { ApiError, requestIdOf, Router, sendError } from './control/http.js';
import { ReportThread } from './control/report-thread/report-thread.js';
import { reportRoutes } from './control/reports.js';
import { reportCatalog } from './control/report-id-warnings.js';
import { knownIds } from './control/unknown-ids.js';
import { WinThreads } from './control/win-thread/win-thread.js';
import { winRoutes } from './control/wins.js';
import { priceKeyName } from './domain/price-crypto.js';
import { EVERY_REDIRECT_REFUSED } from './domain/tracker-hit.js';
import type { TrackerKind } from './domain/tracker-hit.js';
import { GroupCommitter } from './hot/group-commit.js';
import { countRefused } from './hot/record.js';
import { retryPolicy } from './billing/retry.js';
import { handleNotice } from './hot/notices.js';
import { NoticeLane } from './hot/notice-lane.js';
import { HIT_FAILED, hitImpressionType, laneServe } from './hot/lane-serve.js';
import { withPrefixDecoded } from './hot/target-prefix.js';
import { loggedTarget } from './hot/logged-target.js';
import { sendNoticeAnswer } from './hot/notice-answer.js';
import type { NoticeDeps } from './hot/notices.js';
import { handleTrackerHit } from './hot/trackers.js';
import type { TrackerDeps } from './hot/trackers.js';
import { HIT_METHODS } from './hot/responses.js';
import { WorkerRecorder } from './counting-thread/worker-recorder.js';
import { droppedSigningKey, loadKeyRing, refuseLostLedger } from './keys.js';
import { makeDataFilesPrivate } from './data-file-modes.js';
import type { BatchRecorder } from './ports/recorder.js';
import { threadKeys } from './thread-keys.js';
import {
  answerClientError,
  answeredAfterClose,
  answersOwed,
  endStalledConnection,
  refuseConnect,
  trackAnswer,
  UNREAD_REQUESTS_METRIC,
} from './lib/client-error.js';
import { sharedRefresh } from './lib/shared-refresh.js';
import { shown } from './lib/shown.js';
import { throttledErrorLog } from './lib/throttled-log.js';
import { hostHeaderProblem } from './lib/host-header.js';
import type { Logger } from './lib/log.js';
import { holdPort } from './lib/held-port.js';
import type { HeldPort } from './lib/held-port.js';
import { Metrics } from './lib/metrics.js';
import { DELIVERY_STATUSES } from './ports/ledger.js';
import type { OutboxState } from './control/report-thread/protocol.js';
import { priceKeysOfUnknownAccounts } from './price-key-accounts.js';
import { TALLY_VERSION } from './version.js';
import { stopPoint } from './stop-during-start.js';
import { showMetricsFromZero } from './start/metrics-from-zero.js';
import { makeDataDir } from './start/data-dir.js';
import { ListenError } from './start/hold-port.js';
import { parseRequestUrl } from './start/request-url.js';
import { responseClosingOn } from './start/closing-response.js';
import { publicRoutes } from './start/public-routes.js';
import { bootstrapAdmin } from './start/bootstrap-admin.js';

/** A running Tally. */
export interface Tally {
  server: Server;
  /** Where it listens, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /**
   * Stops accepting, answers the requests in flight (each with `Connection: close`), drains
   * in-flight batches and deliveries, closes the database and releases the data directory. The
   * connections still open {@link SHUTDOWN_GRACE_MS} after it began (a client stalled mid-request,
   * or not reading its answer) are closed then, their requests unanswered, and the burl calls
   * still in flight abandoned, their deliveries left pending for the next start.
   */
  close(): Promise<void>;
  /**
   * During `close()`, closes the connections still open and abandons the burl calls in flight now
   * rather than at the end of the grace period (a second SIGTERM); batches in flight still commit.
   * Does nothing before `close()`.
   */
  closeConnectionsNow(): void;
  /**
   * Settles, with why, when this process must stop of its own accord: another Tally process took
   * its data directory (its lock file deleted), and two would count the same impressions twice.
   */
  mustStop: Promise<string>;
}

const PRUNE_INTERVAL_MS = 3_600_000;
/** Batches with the counting thread at once: the HTTP thread keeps serving while one commits. */
const COMMITS_IN_FLIGHT = 4;
/** A batch this large goes to the counting thread without waiting for the end of the event-loop turn. */
const FLUSH_AT_SIZE = 32;
/** Idle keep-alive connections close after this long (longer than load balancers' idle timeouts). */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const HEADERS_TIMEOUT_MS = 10_000;
/**
 * How often node:http looks for requests past their head or request timeout: its default, 30 s,
 * would let an API request whose head stalls wait up to 40 s for its 408 rather than about 10 s.
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/**
 * How long an answer's bytes may stop moving before its connection is closed, as nginx's
 * `send_timeout` does (up to twice this: Node takes a write that moved since the last look for
 * progress): a client that asks and never reads would otherwise hold the connection, and the bytes
 * of the answers node:http queued for it, for good.
 */
const WRITE_STALL_TIMEOUT_MS = 30_000;
/** Largest request head read (node:http's default). */
const MAX_HEAD_BYTES = 16_384;
/** Notices one connection may pipeline before the notice lane waits for their answers. */
const MAX_PIPELINED = 32;
/**
 * How long a shutdown waits for the requests in flight and their connections to end before it
 * closes those still open (node:http stops timing out slow requests once the server closes, so
 * without this a stalled client would keep the process from ever exiting), and for the burl calls
 * in flight before it abandons them (a DSP that never answers would hold it up to
 * `TALLY_BURL_TIMEOUT_MS`, up to two minutes).
 */
export const SHUTDOWN_GRACE_MS = 10_000;

/**
 * A SIGTERM or SIGINT this soon after the one that began a shutdown is a copy of it, not an
 * operator insisting: Ctrl-C on `npm start` reaches Tally twice, from the terminal and from npm.
 */
export const REPEATED_SIGNAL_MS = 1000;
/**
 * A commit waiting this long, neither done nor failed, makes `/readyz` answer 503: a healthy one
 * takes milliseconds, and its notices wait unanswered meanwhile.
 */
const STUCK_COMMIT_MS = 2000;
/** The outbox counts `/metrics` shows are at most this old. */
const OUTBOX_COUNT_MAX_AGE_MS = 1000;

/** A notice or tracker hit being served through node:http, and which of them it is. */
interface HotServing {
  endpoint: 'notice' | TrackerKind;
  /** Settles once it is answered; rejects when it failed before it was (it was then not recorded). */
  served: Promise<void>;
}

/** Undoes one step of starting: closes what it opened, stops what it started. */
type Release = () => void | Promise<void>;

/**
 * Binds the port (first: a start that cannot listen, a {@link ListenError}, changes nothing in
 * the data directory; until the server takes it over, requests are answered as Tally starting,
 * see `answerWhileStarting`), opens the data directory, migrates the ledger on a thread of its
 * own, starts the counting thread (which owns the ledger's writes: notices, the burl dispatcher,
 * retention pruning) and the HTTP server on the port.
 * When any of that fails (the database is newer than this Tally, the key file is damaged, the
 * counting thread cannot start…), releases what was opened so far, in reverse order (the port
 * last), and throws the error. When `stop` is aborted (a SIGTERM while the ledger migrates),
 * the start stops at its next safe point, releasing alike, with a `StartStoppedError`.
 */
export async function startTally(
  config: Config,
  log: Logger,
  { stop = new AbortController().signal }: { stop?: AbortSignal } = {},
): Promise<Tally> {
  const acquired: Release[] = [];
  try {
    return await start(config, log, acquired, stop);
  } catch (error) {
    for (const release of acquired.reverse()) {
      try {
        await release();
      } catch (releaseError) {
        log.error('startup_release_failed', { error: String(releaseError) });
      }
    }
    throw error;
  }
}

/** `startTally`, pushing onto `acquired` how to release each thing it opened, as it opens it. */
async function start(config: Config, log: Logger, acquired: Release[], stop: AbortSignal): Promise<Tally> {
  // First: a start that cannot listen leaves the data directory as it was (no migration, no key
  // file, no administrator key printed).
  let port: HeldPort;
  try {
    port = await holdPort(config.port, config.host, answerWhileStarting);
  } catch (error) {
    throw new ListenError(config, error);
  }
  acquired.push(() => port.release());
  makeDataDir(config.dataDir);
  const servedBefore = existsSync(join(config.dataDir, LOCK_FILE));
  let stopForLock: (why: string) => void = () => {};
  const logUnrestoredLock = throttledErrorLog(log, 'data_dir_lock_unrestored', 60_000);
  const mustStop = new Promise<string>((resolve) => (stopForLock = resolve));
  // A command holding the lock for a moment (see `LOCK_WAIT_MS`) is waited for.
  const lock = await lockDataDirWhenFree(config.dataDir, {
    restored: () =>
      log.warn('data_dir_lock_restored', { note: 'tally.lock was deleted or replaced: a new one is held' }),
    taken: (error) => {
      log.error('data_dir_taken', { error: error.message });
      stopForLock(error.message);
    },
    unrestored: (error) => logUnrestoredLock({ error: String(error) }),
  });
  acquired.push(() => lock.release());
  await stopPoint(stop);
  const dbPath = join(config.dataDir, 'tally.db');
  await refuseLostLedger(config.dataDir, dbPath, servedBefore, config.tokenKeys !== undefined, () =>
    Promise.resolve(lock.ledgerMemory()),
  );
  // Before the ledger is opened: SQLite makes its WAL with the permissions of tally.db. The data
  // directory first: another user who may write in it may replace any file in it.
  for (const file of makeDataFilesPrivate(config.dataDir)) {
    if ('toMode' in file)
      log.warn('data_file_mode_tightened', {
        ...file,
        note: 'other users could read or write it (restored or copied under another umask): Tally keeps its data files to its own user, as it makes them',
      });
    else
      log.warn('data_file_mode_open', {
        ...file,
        note: 'other users can read or write it, and this process may not change that: make it private to the user Tally runs as (chown, chmod 600; chmod 700 the data directory)',
      });
  }
  // A ledger to create or migrate is, on a thread of its own: this one answers on the held port
  // meanwhile (`/healthz` 200, a liveness probe must not kill a migration taking minutes) and takes
  // a stop signal, which stops the start at the next stop point, the pending migrations all applied.
  // An up-to-date ledger (the usual start) needs no thread.
  if (mayNeedMigrating(dbPath)) {
    await migrateInThread({ dbPath, synchronous: config.sqliteSynchronous }, (schemaVersion) =>
      log.info('migrating_ledger', {
        fromVersion: schemaVersion,
        toVersion: SQLITE_MIGRATIONS.length,
        note: 'Tally listens once the ledger is migrated, which may take minutes on a large one: until then /healthz answers 200 starting, every other request 503',
      }),
    );
  }
  // Migrated: nothing is left to apply here.
  const db = openSqlite(dbPath, config.sqliteSynchronous);
  acquired.push(() => {
    db.close();
  });
  // A ledger lost from now on is refused at start, even with the token keys configured.
  lock.rememberLedger();
  /** Why the ledger's file is not where Tally opened it (notices are then refused), if it is not. */
  let ledgerFileProblem: string | undefined;
  const stopWatchingLedgerFile = watchLedgerFile(dbPath, {
    gone: (why) => {
      ledgerFileProblem = why;
      log.error('ledger_file_gone', {
        error: why,
        note: 'notices are answered 503 until it is back; if tally.db was deleted, restore it from a backup and restart; if its -wal or -shm was, stop Tally cleanly (SIGTERM), which writes what it committed into tally.db, and start it again',
      });
    },
    back: () => {
      ledgerFileProblem = undefined;
      log.warn('ledger_file_back', {
        note: `${dbPath} is the file Tally opened again: notices count again`,
      });
    },
  });
  acquired.push(stopWatchingLedgerFile);
  // After the migrations, before anything else is written (the key file, the TTL ceiling).
  await stopPoint(stop);
  const ledger = new SqliteLedger(db);
  // tally.lock is held: a lease left is that of a Tally killed with its burl calls in flight.
  const leasesEnded = ledger.endLeasesOfKilledProcess();
  if (leasesEnded > 0) {
    log.info('burl_leases_ended', {
      deliveries: leasesEnded,
      note: 'burl calls in flight when Tally last stopped without a clean shutdown; sent again now',
    });
  }
  const accounts = new SqliteAccountStore(db);
  const metrics = new Metrics();
  showMetricsFromZero(metrics);
  const keyRing = loadKeyRing(config.dataDir, config.tokenKeys, sqliteKeyFileMemory(db));
  // Before any win is registered with these rules: the billing records' served windows read this far.
  const ttlCeilingSeconds = raiseTtlCeiling(db, longestTtlSeconds(config.rules.values()));
  const dropped = droppedSigningKey(keyRing, sqliteSigningKeyMemory(db), Date.now());
  if (dropped !== undefined) {
    log.warn('token_key_dropped', {
      keyId: dropped.keyId,
      fingerprint: dropped.fingerprint,
      signingSince: new Date(dropped.sinceMs).toISOString(),
      note: 'the key that signed tokens until this start is not among the keys: notices of the wins it sealed are invalid_token; list it beside the new keys (TALLY_TOKEN_KEYS or token-keys.json) unless it was retired on purpose',
    });
  }
  const catalog = new SqliteCatalogStore(db);
  const catalogSnapshot = new CatalogSnapshot(catalog, { pollIntervalMs: 250 }, log);
  catalogSnapshot.start();
  acquired.push(() => catalogSnapshot.stop());

  const recorder = new WorkerRecorder(
    {
      dbPath,
      synchronous: config.sqliteSynchronous,
      dispatcher: {
        pollIntervalMs: 200,
        concurrency: config.burlConcurrency,
        hostConcurrency: config.burlHostConcurrency,
        requestTimeoutMs: config.burlTimeoutMs,
        retry: retryPolicy(config.burlRetrySeconds * 1000),
        privateNetworks: config.burlPrivateNetworks,
      },
      retentionDays: config.retentionDays,
      pruneIntervalMs: PRUNE_INTERVAL_MS,
    },
    metrics,
    log,
  );
  // A thread that failed to start is still stopped: the recorder would otherwise start another.
  acquired.push(() => recorder.close());
  await recorder.start();
  await stopPoint(stop);
  // Nothing is committed into a ledger file no restart would read.
  const guarded: BatchRecorder = {
    record: (batch) =>
      ledgerFileProblem === undefined ? recorder.record(batch) : Promise.reject(new Error(ledgerFileProblem)),
    close: () => recorder.close(),
  };
  const committer = new GroupCommitter(
    guarded,
    {
      maxBatch: config.commitMaxBatch,
      maxDelayMs: config.commitMaxDelayMs,
      maxQueue: config.commitMaxQueue,
      maxInFlight: COMMITS_IN_FLIGHT,
      flushAtSize: FLUSH_AT_SIZE,
    },
    metrics,
  );
  // Reports and billing records run on a thread of their own; the outbox gauge (a count over
  // every delivery kept), fresh for each scrape of /metrics, is counted on another, so that a
  // scrape never waits for a long report.
  const reports = new ReportThread(dbPath, 'tally-reports');
  acquired.push(() => reports.close());
  const outboxCounter = new ReportThread(dbPath, 'tally-outbox');
  acquired.push(() => outboxCounter.close());
  const outbox: OutboxState = {
    counts: { pending: 0, delivered: 0, dead: 0, redirected: 0 },
    relayLagMs: 0,
    oldestPendingAgeMs: 0,
  };
  const outboxHelp = 'DSP burl deliveries in the outbox, by status';
  for (const status of DELIVERY_STATUSES) {
    metrics.gauge('tally_burl_outbox', outboxHelp, () => outbox.counts[status], { status });
  }
  metrics.gauge('tally_build_info', 'The version of Tally serving, as a label; always 1', () => 1, {
    version: TALLY_VERSION,
  });
  metrics.gauge(
    'tally_burl_relay_lag_seconds',
    'How long the pending burl delivery longest due has waited past its due time',
    () => outbox.relayLagMs / 1000,
  );
  metrics.gauge(
    'tally_burl_oldest_pending_age_seconds',
    'How long ago the pending burl delivery kept longest was created, retries and all (0 with none pending): a DSP failing that long, or a relay that long behind',
    () => outbox.oldestPendingAgeMs / 1000,
  );
  // /metrics is public: however often it is scraped, the outbox is counted at most once at a time
  // and once a second.
  const countOutbox = sharedRefresh(async () => {
    try {
      Object.assign(outbox, await outboxCounter.outbox(Date.now()));
    } catch (error) {
      log.error('outbox_count_failed', { error: String(error) });
    }
  }, OUTBOX_COUNT_MAX_AGE_MS);
  const logUnreadAllowlist = throttledErrorLog(log, 'redirect_allowlist_unread', 1000);
  const noticeDeps: NoticeDeps = {
    committer,
    metrics,
    env: {
      keyRing,
      ivtFilter: config.ivtFilter,
      priceKeysFor: (account, seat) => config.priceKeys.get(priceKeyName(account, seat)),
      redirectAllowlist: (account) => {
        try {
          return catalogSnapshot.current().redirectAllowlist(account);
        } catch (error) {
          // The notice is still answered; the DSP's burl goes to the outbox, called from there.
          logUnreadAllowlist({ error: String(error) });
          return EVERY_REDIRECT_REFUSED;
        }
      },
    },
    nowMs: Date.now,
  };
  const wins = new WinThreads(
    {
      ...threadKeys(keyRing, config.priceKeys),
      publicUrl: config.publicUrl,
      rules: [...config.rules],
      burlPrivateNetworks: config.burlPrivateNetworks,
    },
    { threads: config.winThreads },
  );
  acquired.push(() => wins.close());
  // Now, rather than with the first call, which would wait a quarter of a second for it.
  wins.start();

  let ready = false;
  /** Set once `close()` began: every answer from then on ends its connection. */
  let shuttingDown = false;
  /** Why `/readyz` answers 503, or `undefined` when Tally is ready. */
  const unreadyReason = (): string | undefined => {
    // Public: the data directory's path stays in the log. First, as what the operator must mend:
    // the counting thread fails for the same cause (a data directory moved away).
    const ledgerGone =
      ledgerFileProblem === undefined
        ? undefined
        : `${ledgerFileProblem.replaceAll(config.dataDir, '<data dir>')}, so notices are answered 503 (logged as ledger_file_gone, with its path)`;
    const counterFailure = recorder.failure();
    // Public, as above: its error may name the ledger's path.
    if (counterFailure !== undefined) {
      const failed = `the counting thread failed (${counterFailure.replaceAll(config.dataDir, '<data dir>')}; logged as counter_failed) and is restarted: see the log`;
      return ledgerGone === undefined ? failed : `${ledgerGone}; ${failed}`;
    }
    if (!ready || !recorder.isWarm())
      return 'starting (loading the live dedupe claims from the ledger) or shutting down: retry shortly';
    if (ledgerGone !== undefined) return ledgerGone;
    if (committer.isFailing()) {
      const advice = committer.failureAdvice();
      return advice === undefined
        ? 'the ledger fails to commit (logged as commit_failed), so notices are answered 503: see the log'
        : `the ledger fails to commit (${advice}; logged as commit_failed), so notices are answered 503`;
    }
    const commitWaitingMs = committer.commitWaitingMs();
    if (commitWaitingMs >= STUCK_COMMIT_MS)
      return `a commit has waited ${(commitWaitingMs / 1000).toFixed(1)} s (the counting thread is stuck, or the disk or the ledger's write lock is held), so notices wait unanswered`;
    return undefined;
  };
  metrics.gauge(
    'tally_ready',
    'Whether Tally is ready (1: /readyz answers 200) or not (0: it answers 503, saying why: starting or stopping, the ledger failing or gone, a commit stuck, the counting thread failed)',
    () => (unreadyReason() === undefined ? 1 : 0),
  );
  const router = new Router();
  router.add(
    ...publicRoutes(metrics, unreadyReason, countOutbox, config.metricsKey),
    ...winRoutes(wins, config.maxBodyBytes, log),
    ...reportRoutes(reports, reportCatalog(catalog), config.reportMaxRows),
    ...deliveryRoutes(ledger),
    ...billingRecordRoutes(reports, ttlCeilingSeconds * 1000, knownIds(catalog)),
  );
  router.add(...catalogRoutes(catalog, accounts, () => catalogSnapshot.current()));
  router.add(
    ...exportRoutes(catalog, () => catalogSnapshot.current(), config.publicUrl, {
      smtpUrl: config.smtpUrl,
      from: config.mailFrom,
    }),
  );
  /** What `OPTIONS *` lists in `Allow`: the methods of notices and of the API, and `OPTIONS`. */
  const serverMethods = [...new Set([...HIT_METHODS, ...router.methods(), 'OPTIONS'])].join(', ');
  const trackerDeps: TrackerDeps = {
    catalog: () => catalogSnapshot.current(),
    ivtFilter: () => config.ivtFilter,
    committer,
    metrics,
    nowMs: Date.now,
  };

  /** Counts a request refused 400 before any route read it, as node:http's own 400s are. */
  const countUnreadRequest = (): void =>
    metrics.inc(UNREAD_REQUESTS_METRIC.name, UNREAD_REQUESTS_METRIC.help, { status: '400' });
  /**
   * The hot path: notices and tracker hits, served without the control plane's routing, auth
   * or URL parsing (the path is matched as sent, but for the escapes of unreserved characters in
   * its prefix, as the notice lane matches it: see `withPrefixDecoded`; tracker hits read their
   * raw query).
   */
  const serveHot = (
    req: IncomingMessage,
    res: ServerResponse,
    sentTarget: string,
  ): HotServing | undefined => {
    const target = withPrefixDecoded(sentTarget);
    const queryAt = target.indexOf('?');
    const pathname = queryAt === -1 ? target : target.slice(0, queryAt);
    if (pathname.startsWith('/n/')) {
      const query = queryAt === -1 ? '' : target.slice(queryAt + 1);
      return {
        endpoint: 'notice',
        served: whenReadWhole(req, () =>
          handleNotice(req, res, pathname.slice('/n/'.length), query, noticeDeps),
        ),
      };
    }
    if (pathname === '/imptr')
      return {
        endpoint: 'impression',
        served: whenReadWhole(req, () => handleTrackerHit('impression', req, res, trackerDeps)),
      };
    if (pathname === '/clktr')
      return {
        endpoint: 'click',
        served: whenReadWhole(req, () => handleTrackerHit('click', req, res, trackerDeps)),
      };
    return undefined;
  };

  const server = createServer(
    {
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
      maxHeaderSize: MAX_HEAD_BYTES,
      ServerResponse: responseClosingOn(() => shuttingDown),
      // Answered below, in the error envelope, rather than with node:http's bare 400.
      requireHostHeader: false,
    },
    (req, res) => {
      // A request pipelined behind an answer that ends the connection (once shutting down, the
      // first answer owed closes it) would never be answered, so it is neither served nor counted:
      // its client sends it again. (This request is not yet read whole.)
      if (answeredAfterClose(res) || (shuttingDown && answersOwed(req.socket) > 0)) {
        const message = shuttingDown
          ? 'Tally is shutting down: send the request again on a new connection'
          : 'an answer before this one closes the connection: send the request again on a new connection';
        sendError(res, new ApiError(503, 'UNAVAILABLE', message, { 'Retry-After': '1' }), requestIdOf(req));
        return;
      }
      const hostProblem = hostHeaderProblem(req.rawHeaders, req.httpVersion);
      if (hostProblem !== undefined) {
        countUnreadRequest();
        sendError(res, new ApiError(400, 'MALFORMED_REQUEST', hostProblem), requestIdOf(req));
        return;
      }
      const target = req.url ?? '/';
      const hot = serveHot(req, res, target);
      if (hot !== undefined) return answerHot(req, res, hot);
      if (target === '*') return answerAsteriskForm(req, res, serverMethods, countUnreadRequest);
      const url = parseRequestUrl(target);
      if (url === undefined) {
        const message = 'the request target is not a valid URL path: percent-encode it';
        countUnreadRequest();
        sendError(res, new ApiError(400, 'MALFORMED_REQUEST', message), requestIdOf(req));
        return;
      }
      // A target in absolute form (`http://host/n/…`, which a server must accept) or with dot
      // segments (`/v1/../n/…`) names a notice or hit once normalised as the URL parser does.
      const normalised =
        target.startsWith('/') && !target.includes('/.') ? target : url.pathname + url.search;
      const hotNormalised = normalised === target ? undefined : serveHot(req, res, normalised);
      if (hotNormalised !== undefined) return answerHot(req, res, hotNormalised);
      void handleApi(req, res, url, router, accounts, log, metrics);
    },
  );
  /**
   * Answers 503 for a notice or hit that failed (it was not recorded), counted in
   * `tally_notices_refused_total` as `failed`, and logs why.
   */
  const answerHot = (req: IncomingMessage, res: ServerResponse, hot: HotServing): void => {
    hot.served.catch((error: unknown) => {
      log.error('hit_failed', { path: loggedTarget(req.url ?? '/'), error: String(error) });
      if (res.headersSent) return;
      countRefused(metrics, hitImpressionType(hot.endpoint), 'failed');
      sendNoticeAnswer(res, HIT_FAILED, req.method === 'HEAD');
    });
  };
  const refuseExpectation = (req: IncomingMessage, res: ServerResponse): void => {
    const expectation = shown(req.headers.expect);
    const message = `Expect: ${expectation} is not supported: send the request without it (or with Expect: 100-continue)`;
    sendError(res, new ApiError(417, 'EXPECTATION_FAILED', message), requestIdOf(req));
  };
  server.on('checkExpectation', refuseExpectation);
  // node:http takes any Expect naming 100-continue among others (`100-continue, foo`) for it alone;
  // an expectation Tally does not meet beside it is refused as it would be on its own (RFC 9110
  // §10.1.1), rather than ignored.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.expect?.trim().toLowerCase() !== '100-continue') return refuseExpectation(req, res);
    // `100 Continue` goes out when an API route reads the body; a request refused before that gets
    // its final answer alone (node:http then closes the connection, whose body never comes).
    deferContinue(req, () => res.writeContinue());
    server.emit('request', req, res);
  });
  // First: the answers an error or a refusal written to the connection must wait for.
  server.prependListener('request', trackAnswer);
  server.on('clientError', (error: Error, socket) =>
    answerClientError(error, socket, MAX_HEAD_BYTES, metrics),
  );
  server.on('connect', (req: IncomingMessage, socket: Duplex) =>
    refuseConnect(socket, requestIdOf(req), HEADERS_TIMEOUT_MS),
  );
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  // A client that ends its side after its requests (half-close) still gets their answers, as the
  // notice lane gives them: node:http would drop requests in flight, counted or not.
  // (An undocumented node:http setting, there since Node 0.x: `httpAllowHalfOpen`.)
  (server as typeof server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  // Every header field of a head within MAX_HEAD_BYTES is read, as the notice lane reads them: past
  // node:http's default 2000 (raw names and values), a User-Agent or Host would go unseen.
  server.maxHeadersCount = 0;
  server.requestTimeout = 60_000;
  // node:http's sockets (the notice lane has timeouts of its own) time out once nothing moves on
  // them for this long; each step the kernel takes of an answer restarts it, but it takes those
  // that outgrow its buffers a third of its send buffer (up to 4 MB) at a time: one of several MB
  // read slower than about 50 KB/s is ended. Node has no timeout of its own for an answer the
  // client does not read.
  server.timeout = WRITE_STALL_TIMEOUT_MS;
  server.on('timeout', endStalledConnection);
  const lane = NoticeLane.install(
    server,
    laneServe(noticeDeps, trackerDeps, log),
    {
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      maxHeadBytes: MAX_HEAD_BYTES,
      maxPipelined: MAX_PIPELINED,
    },
    metrics,
  );

  let closing: Promise<void> | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  /** Set once every connection ended, during `close()`. */
  let connectionsEnded = false;
  /**
   * Destroys every connection still open: their requests in flight are never answered. Abandons
   * the burl relay's calls in flight too, which would hold the shutdown up to their time limit
   * (`TALLY_BURL_TIMEOUT_MS`): their deliveries stay pending, sent at the next start.
   */
  const closeConnectionsNow = (why: string): void => {
    if (closing === undefined) return;
    clearTimeout(graceTimer);
    recorder.abandonCalls();
    if (connectionsEnded) return;
    const laneConnections = lane.closeAllConnections();
    server.closeAllConnections();
    log.warn('connections_closed', { why, laneConnections });
  };
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ready = false;
      shuttingDown = true;
      catalogSnapshot.stop();
      // When the server never listened, this is called back at once (with an error that changes nothing).
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      lane.close();
      graceTimer = setTimeout(() => closeConnectionsNow('shutdown_grace_expired'), SHUTDOWN_GRACE_MS);
      await committer.drain();
      await closed;
      connectionsEnded = true;
      await committer.drain();
      // The grace period still bounds the burl calls in flight, which the thread waits for.
      await recorder.close();
      clearTimeout(graceTimer);
      await reports.close();
      await outboxCounter.close();
      await wins.close();
      // Closing the last connection removes the WAL and its index: that is no ledger file lost.
      stopWatchingLedgerFile();
      db.close();
      lock.release();
    })();
    return closing;
  };

  // From here on `close()` releases everything (the counting thread alone would keep the process
  // alive, holding the data directory).
  acquired.splice(0, acquired.length, () => port.release(), close);
  await port.handOver(server);
  // Only once listening: a start that failed to listen would have printed a key among its errors,
  // and the next start, finding one stored, would print none.
  bootstrapAdmin(accounts, config.adminKey, log);
  for (const { accountId, seats } of priceKeysOfUnknownAccounts(config.priceKeys, accounts))
    log.warn('price_keys_account_unknown', { accountId, seats, note: PRICE_KEYS_ACCOUNT_UNKNOWN_NOTE });
  // The last write the start makes here. From now on this connection's writes (the API's) wait for
  // another's write lock on timers (`retryWhileBusy`), never asleep on the HTTP thread.
  refuseWritesWhileLocked(db);
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  ready = true;
  return { server, url, close, closeConnectionsNow: () => closeConnectionsNow('closed_now'), mustStop };
}

/**
 * Runs `serve` (a notice or hit through node:http) at once, or, for a request whose body comes in
 * a `Transfer-Encoding`, once that body is read whole, discarded. llhttp refuses some such
 * requests only after their head was handed on (a coding other than chunked, a malformed chunk):
 * they are answered 400 (see `answerClientError`), so they must not be recorded, as they would be
 * were they served from their head. (A `Content-Length` body cannot be malformed: its notice is
 * served from its head.) `100 Continue` is sent first to a client that waits for it.
 */
function whenReadWhole(req: IncomingMessage, serve: () => Promise<void>): Promise<void> {
  if (req.headers['transfer-encoding'] === undefined) return serve();
  continueIfOwed(req);
  return new Promise((resolve, reject) => {
    req.once('end', () => {
      serve().then(resolve, reject);
    });
    req.resume();
  });
}

/** What `price_keys_account_unknown` says to do: nothing is refused, the account may come later. */
const PRICE_KEYS_ACCOUNT_UNKNOWN_NOTE =
  "TALLY_PRICE_KEYS (or the config file's priceKeys) gives keys to an account Tally does not have: " +
  'its wins get them once it is created (tally create-account); check the accountId if it should exist';
