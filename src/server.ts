import type { Server } from 'node:http';
import { join } from 'node:path';
import { SqliteAccountStore } from './adapters/sqlite/accounts.js';
import { SqliteCatalogStore } from './adapters/sqlite/catalog.js';
import { openSqlite, refuseWritesWhileLocked } from './adapters/sqlite/database.js';
import { sqliteKeyFileMemory } from './adapters/sqlite/key-file-memory.js';
import { SqliteLedger } from './adapters/sqlite/ledger.js';
import { raiseTtlCeiling } from './adapters/sqlite/ttl-ceiling.js';
import { CatalogSnapshot } from './catalog-snapshot.js';
import type { Config } from './config.js';
import { ReportThread } from './control/report-thread/report-thread.js';
import { longestTtlSeconds } from './domain/rules.js';
import { loadKeyRing, refuseLostLedger } from './keys.js';
import type { Logger } from './lib/log.js';
import { Metrics } from './lib/metrics.js';
import { apiRouter } from './start/api-router.js';
import { bootstrapAdmin } from './start/bootstrap-admin.js';
import { showBuildInfo } from './start/build-info-metric.js';
import { groupCommitter } from './start/committer.js';
import { countingThread } from './start/counting-thread.js';
import { makeDataDir } from './start/data-dir.js';
import { dataDiskSpace, showDataDiskFree } from './start/data-disk-space.js';
import { holdConfiguredPort } from './start/hold-port.js';
import { noticeDepsOf, trackerDepsOf } from './start/hot-deps.js';
import { httpServing, listeningUrl } from './start/http-server.js';
import { endLeasesOfKilledProcess } from './start/killed-leases.js';
import { holdDataDir } from './start/lock-data-dir.js';
import { showMetricsFromZero } from './start/metrics-from-zero.js';
import { migrateLedgerIfNeeded } from './start/migrate-ledger.js';
import {
  emptyOutbox,
  outboxCountForScrapes,
  showOutboxAges,
  showOutboxCounts,
} from './start/outbox-gauges.js';
import { keepDataFilesPrivate } from './start/private-data-files.js';
import { showReadiness, unreadyReasonOf } from './start/readiness.js';
import type { Release } from './start/release.js';
import { rememberSigningKey } from './start/remembered-signing-key.js';
import type { ServingState } from './start/serving-state.js';
import { shutdownOf } from './start/shutdown.js';
import { warnOfPriceKeysOfUnknownAccounts } from './start/unknown-price-key-accounts.js';
import { watchLedgerFileLogged } from './start/watched-ledger-file.js';
import { winThreads } from './start/win-threads.js';
import { stopPoint } from './start/stop-during-start.js';

/** A running Tally. */
export interface Tally {
  server: Server;
  /** Where it listens, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /**
   * Stops accepting, answers the requests in flight (each with `Connection: close`), drains
   * in-flight batches and deliveries, closes the database and releases the data directory. The
   * connections still open `config.shutdownGraceSeconds` after it began (a client stalled
   * mid-request, or not reading its answer) are closed then, their requests unanswered, and the
   * burl calls still in flight abandoned, their deliveries left pending for the next start.
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

/**
 * A SIGTERM or SIGINT this soon after the one that began a shutdown is a copy of it, not an
 * operator insisting: Ctrl-C on `npm start` reaches Tally twice, from the terminal and from npm.
 */
export const REPEATED_SIGNAL_MS = 1000;

/**
 * Binds the port (first: a start that cannot listen, a `ListenError`, changes nothing in
 * the data directory; until the server takes it over, requests are answered as Tally starting,
 * see `answerWhileStarting`), opens the data directory, migrates the ledger on a thread of its
 * own, starts the counting thread (which owns the ledger's writes: notices, the burl dispatcher,
 * retention pruning) and the HTTP server on the port.
 * When any of that fails (the database is newer than this Tally, the key file is damaged, the
 * counting thread cannot start…), releases what was opened so far, in reverse order (the port
 * last), and throws the error. When `stop` is aborted (a SIGTERM while the ledger migrates),
 * the start stops once every pending migration is applied (each one transaction), releasing alike,
 * with a `StartStoppedError`.
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
  const port = await holdConfiguredPort(config);
  acquired.push(() => port.release());
  makeDataDir(config.dataDir);
  const { lock, servedBefore, mustStop } = await holdDataDir(config.dataDir, log);
  acquired.push(() => lock.release());
  await stopPoint(stop);
  const dbPath = join(config.dataDir, 'tally.db');
  await refuseLostLedger(config.dataDir, dbPath, servedBefore, config.tokenKeys !== undefined, () =>
    Promise.resolve(lock.ledgerMemory()),
  );
  // Before the ledger is opened: SQLite makes its WAL with the permissions of tally.db. The data
  // directory first: another user who may write in it may replace any file in it.
  keepDataFilesPrivate(config.dataDir, log);
  // A ledger to create or migrate is, on a thread of its own: this one answers on the held port
  // meanwhile (`/healthz` 200, a liveness probe must not kill a migration taking minutes) and takes
  // a stop signal, which stops the start at the next stop point, the pending migrations all applied.
  // An up-to-date ledger (the usual start) needs no thread.
  await migrateLedgerIfNeeded(dbPath, config.sqliteSynchronous, log);
  // Migrated: nothing is left to apply here.
  const db = openSqlite(dbPath, config.sqliteSynchronous);
  acquired.push(() => {
    db.close();
  });
  // A ledger lost from now on is refused at start, even with the token keys configured.
  lock.rememberLedger();
  const ledgerFile = watchLedgerFileLogged(dbPath, log);
  acquired.push(ledgerFile.stopWatching);
  // After the migrations, before anything else is written (the key file, the TTL ceiling).
  await stopPoint(stop);
  const ledger = new SqliteLedger(db);
  // tally.lock is held: a lease left is that of a Tally killed with its burl calls in flight.
  endLeasesOfKilledProcess(ledger, log);
  const accounts = new SqliteAccountStore(db);
  const metrics = new Metrics();
  showMetricsFromZero(metrics);
  const keyRing = loadKeyRing(config.dataDir, config.tokenKeys, sqliteKeyFileMemory(db));
  // Before any win is registered with these rules: the billing records' served windows read this far.
  const ttlCeilingSeconds = raiseTtlCeiling(db, longestTtlSeconds(config.rules.values()));
  rememberSigningKey(keyRing, db, log);
  const catalog = new SqliteCatalogStore(db);
  const catalogSnapshot = new CatalogSnapshot(catalog, { pollIntervalMs: 250 }, log);
  catalogSnapshot.start();
  acquired.push(() => catalogSnapshot.stop());

  const recorder = countingThread(config, dbPath, metrics, log);
  // A thread that failed to start is still stopped: the recorder would otherwise start another.
  acquired.push(() => recorder.close());
  await recorder.start();
  await stopPoint(stop);
  const committer = groupCommitter(config, recorder, ledgerFile, metrics);
  // Reports and billing records run on a thread of their own; the outbox gauge (a count over
  // every delivery kept), fresh for each scrape of /metrics, is counted on another, so that a
  // scrape never waits for a long report.
  const reports = new ReportThread(dbPath, 'tally-reports');
  acquired.push(() => reports.close());
  const outboxCounter = new ReportThread(dbPath, 'tally-outbox');
  acquired.push(() => outboxCounter.close());
  const outbox = emptyOutbox();
  showOutboxCounts(metrics, outbox);
  // Between the outbox's gauges, where /metrics has always listed it (in the order first shown).
  showBuildInfo(metrics);
  showOutboxAges(metrics, outbox);
  const countOutbox = outboxCountForScrapes(outboxCounter, outbox, log);
  const noticeDeps = noticeDepsOf(config, keyRing, catalogSnapshot, committer, metrics, log);
  const wins = winThreads(config, keyRing);
  acquired.push(() => wins.close());
  // Now, rather than with the first call, which would wait a quarter of a second for it.
  wins.start();

  // Read before Tally says it is ready: one restarted on a nearly full disk is never ready.
  const dataDisk = dataDiskSpace(config.dataDir, config.minFreeDiskMb, log);
  await dataDisk.check();
  dataDisk.start();
  acquired.push(() => dataDisk.stop());
  showDataDiskFree(metrics, dataDisk);
  const state: ServingState = { ready: false, shuttingDown: false };
  const unreadyReason = unreadyReasonOf({
    state,
    dataDir: config.dataDir,
    ledgerFile,
    recorder,
    committer,
    dataDisk,
  });
  showReadiness(metrics, unreadyReason);
  const router = apiRouter({
    config,
    metrics,
    unreadyReason,
    countOutbox,
    wins,
    reports,
    catalog,
    catalogSnapshot,
    ledger,
    accounts,
    ttlCeilingSeconds,
    log,
  });
  const trackerDeps = trackerDepsOf(config, catalogSnapshot, committer, metrics);
  const { server, lane } = httpServing(
    { state, noticeDeps, trackerDeps, router, accounts, metrics, log },
    { sendTimeoutMs: config.sendTimeoutSeconds * 1000, maxConnections: config.maxConnections },
  );
  const { close, closeConnectionsNow } = shutdownOf(
    {
      state,
      server,
      lane,
      catalogSnapshot,
      committer,
      recorder,
      reports,
      outboxCounter,
      wins,
      ledgerFile,
      dataDisk,
      db,
      lock,
      log,
    },
    config.shutdownGraceSeconds * 1000,
  );

  // From here on `close()` releases everything (the counting thread alone would keep the process
  // alive, holding the data directory).
  acquired.splice(0, acquired.length, () => port.release(), close);
  await port.handOver(server);
  // Only once listening: a start that failed to listen would have printed a key among its errors,
  // and the next start, finding one stored, would print none.
  bootstrapAdmin(accounts, config.adminKey, log);
  warnOfPriceKeysOfUnknownAccounts(config.priceKeys, accounts, log);
  // The last write the start makes here. From now on this connection's writes (the API's) wait for
  // another's write lock on timers (`retryWhileBusy`), never asleep on the HTTP thread.
  refuseWritesWhileLocked(db);
  const url = listeningUrl(server);
  state.ready = true;
  return { server, url, close, closeConnectionsNow: () => closeConnectionsNow('closed_now'), mustStop };
}
