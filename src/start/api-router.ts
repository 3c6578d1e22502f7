import type { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import type { SqliteCatalogStore } from '../adapters/sqlite/catalog.js';
import type { SqliteLedger } from '../adapters/sqlite/ledger.js';
import type { CatalogSnapshot } from '../catalog-snapshot.js';
import type { Config } from '../config.js';
import { billingRecordRoutes } from '../control/billing-records.js';
import { catalogRoutes } from '../control/catalog/index.js';
import { deliveryRoutes } from '../control/deliveries.js';
import { exportRoutes } from '../control/export.js';
import { Router } from '../control/router.js';
import { reportCatalog } from '../control/report-id-warnings.js';
import type { ReportThread } from '../control/report-thread/report-thread.js';
import { reportRoutes } from '../control/reports.js';
import { knownIds } from '../control/unknown-ids.js';
import type { WinThreads } from '../control/win-thread/win-thread.js';
import { winRoutes } from '../control/wins.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';
import { publicRoutes } from './public-routes.js';

/** What the routes of the API and the public ones serve from. */
export interface ApiSources {
  config: Config;
  metrics: Metrics;
  /** Why `/readyz` answers 503, or `undefined` when Tally is ready. */
  unreadyReason: () => string | undefined;
  /** Counts the outbox for a scrape of `/metrics`. */
  countOutbox: () => Promise<void>;
  wins: WinThreads;
  reports: ReportThread;
  catalog: SqliteCatalogStore;
  catalogSnapshot: CatalogSnapshot;
  ledger: SqliteLedger;
  accounts: SqliteAccountStore;
  /** How far back the billing records' served windows read. */
  ttlCeilingSeconds: number;
  log: Logger;
}

/** The router of every request that is not a notice or tracker hit: the public routes and the API. */
export function apiRouter(api: ApiSources): Router {
  const { config, catalog } = api;
  const router = new Router();
  router.add(
    ...publicRoutes(api.metrics, api.unreadyReason, api.countOutbox, config.metricsKey),
    ...winRoutes(api.wins, config.maxBodyBytes, api.log),
    ...reportRoutes(api.reports, reportCatalog(catalog), config.reportMaxRows),
    ...deliveryRoutes(api.ledger),
    ...billingRecordRoutes(api.reports, api.ttlCeilingSeconds * 1000, knownIds(catalog)),
  );
  router.add(...catalogRoutes(catalog, api.accounts, () => api.catalogSnapshot.current()));
  router.add(
    ...exportRoutes(catalog, () => api.catalogSnapshot.current(), config.publicUrl, {
      smtpUrl: config.smtpUrl,
      from: config.mailFrom,
    }),
  );
  return router;
}
