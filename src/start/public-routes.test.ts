import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import { Metrics } from '../lib/metrics.js';
import { publicRoutes } from './public-routes.js';
import type { ApiServer } from '../../test/support/api-server.js';
import { serveApi } from '../../test/support/api-server.js';

/** The public routes served over loopback through Tally's own API handler. */

const dir = mkdtempSync(join(tmpdir(), 'tally-public-routes-'));
const db = openSqlite(join(dir, 'tally.db'));
const metrics = new Metrics();
/** Why `/readyz` answers 503 just now, or `undefined` when Tally is ready. */
let unready: string | undefined;
let server: ApiServer;

before(async () => {
  const routes = publicRoutes(
    metrics,
    () => unready,
    () => Promise.resolve(),
    undefined,
  );
  server = await serveApi(routes, new SqliteAccountStore(db));
});

after(async () => {
  await server.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** How many calls `metrics` counted as answered with the error `code`. */
const errors = (code: string): number =>
  Number(
    new RegExp(`^tally_api_errors_total\\{code="${code}"\\} (\\d+)$`, 'm').exec(metrics.render())?.[1] ?? 0,
  );

describe('/readyz', () => {
  it('answers 503 UNAVAILABLE with the reason while Tally is not ready, counting none among the API calls answered with an error (tally_ready shows it) and logging none, then 200', async () => {
    unready = 'starting: the live dedupe claims are loading';
    for (let call = 0; call < 2; call++) {
      const answer = await fetch(`${server.base}/readyz`);
      const { error } = (await answer.json()) as { error: { code: string; message: string } };
      assert.deepEqual([answer.status, error.code, error.message], [503, 'UNAVAILABLE', unready]);
    }
    assert.equal(errors('UNAVAILABLE'), 0, "a load balancer's probes are no API errors");
    unready = undefined;
    assert.equal((await fetch(`${server.base}/readyz`)).status, 200);
    assert.equal(errors('UNAVAILABLE'), 0);
    assert.deepEqual(server.logged, [], 'not ready is the answer, no failure or refusal to log');
  });
});
