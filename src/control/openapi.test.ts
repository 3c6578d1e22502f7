import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { SqliteCatalogStore } from '../adapters/sqlite/catalog.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { catalogRoutes } from './catalog/index.js';
import { deliveryRoutes } from './deliveries.js';
import { exportRoutes } from './export.js';
import { OPENAPI_DOCUMENT } from './openapi.js';
import { reportRoutes } from './reports.js';
import { winRoutes } from './wins.js';

/** Routes are only listed here, never called: their dependencies need not work. */
const never = (): never => {
  throw new Error('not called when listing routes');
};

describe('the OpenAPI document served at /docs', () => {
  it('describes every route of the API and the tracker hits, with its method', () => {
    const db = openSqlite(':memory:');
    const routes = [
      ...winRoutes({ register: never }, 1024),
      ...reportRoutes({ report: never }, never, 1),
      ...deliveryRoutes(new SqliteLedger(db)),
      ...catalogRoutes(new SqliteCatalogStore(db), new SqliteAccountStore(db)),
      ...exportRoutes(new SqliteCatalogStore(db), 'https://tally.example', { smtpUrl: undefined, from: '' }),
      // Served in front of the router (src/hot/trackers.ts).
      { method: 'GET', path: '/imptr' },
      { method: 'GET', path: '/clktr' },
    ];
    db.close();
    const paths = OPENAPI_DOCUMENT.paths as Record<string, Record<string, unknown> | undefined>;
    const missing = routes
      .map((route) => ({ method: route.method.toLowerCase(), path: route.path.replace(/:(\w+)/g, '{$1}') }))
      .filter(({ method, path }) => paths[path]?.[method] === undefined)
      .map(({ method, path }) => `${method.toUpperCase()} ${path}`);
    assert.deepEqual(missing, []);
  });
});
