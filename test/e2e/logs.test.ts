import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { api, serveOnFreePort } from '../support/server.js';
import type { ReadyServe } from '../support/server.js';
import { startDsp } from '../support/dsp.js';
import { CHROME } from '../support/user-agents.js';
import { until } from '../support/until.js';

const TOKEN_KEY = Buffer.alloc(32, 0x5a).toString('base64');
const PRICE_ENCRYPTION_KEY = Buffer.alloc(32, 0x3c).toString('base64');
const PRICE_INTEGRITY_KEY = Buffer.alloc(32, 0x7e).toString('base64');
const METRICS_KEY = 'metrics-secret-0123456789';
const BURL_PASSWORD = 'burl-password-0123456789';

/** Stops a `tally serve` with SIGTERM and waits for it to exit. */
async function stop(started: ReadyServe): Promise<void> {
  const exited = once(started.serve.child, 'exit');
  started.serve.child.kill('SIGTERM');
  await exited;
}

/** Each stdout line, parsed: every one must be a JSON object with a time and a level. */
function logLines(stdout: string): Record<string, unknown>[] {
  assert.match(stdout, /\n$/, 'the log ends with a whole line');
  return stdout
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      const parsed: unknown = JSON.parse(line);
      assert.equal(typeof parsed, 'object', line);
      const entry = parsed as Record<string, unknown>;
      assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, line);
      assert.match(String(entry.level), /^(info|warn|error)$/, line);
      assert.equal(typeof entry.event, 'string', line);
      return entry;
    });
}

describe('the log', () => {
  it('is one JSON object a line, each with its time and level, and never holds a key, a burl password or the generated admin key', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-logs-'));
    const dsp = await startDsp();
    const env = {
      TALLY_BURL_PRIVATE_NETWORKS: 'allow',
      TALLY_BURL_RETRY_SECONDS: '3600',
      TALLY_TOKEN_KEYS: `1:${TOKEN_KEY}`,
      TALLY_METRICS_KEY: METRICS_KEY,
      TALLY_PRICE_KEYS: JSON.stringify({
        'seat-logs': { encryptionKey: PRICE_ENCRYPTION_KEY, integrityKey: PRICE_INTEGRITY_KEY },
      }),
    };
    let started: ReadyServe | undefined;
    let restarted: ReadyServe | undefined;
    try {
      started = await serveOnFreePort(dataDir, env);
      const printed = /Administrator API key \(shown once, store it now\): (\S+)/.exec(
        started.serve.output(),
      );
      const adminKey = printed?.[1] ?? '';
      assert.notEqual(adminKey, '', 'the generated admin key is printed at the first start');
      assert.equal(started.serve.stdout().includes(adminKey), false, 'the admin key is on stderr alone');
      const tally = { url: started.url };
      dsp.failNext('/down', 1000);
      const registered = await api(tally, adminKey, 'POST', '/v1/wins', {
        wins: ['/down', '/paid'].map((path, index) => ({
          request: { id: `logs-${index}`, imp: [{ id: '1', banner: {} }], site: {} },
          seat: 'seat-logs',
          bid: {
            id: `bid-logs-${index}`,
            impid: '1',
            price: 1,
            adm: '<p>ad</p>',
            burl: `${dsp.url.replace('//', `//dsp-user:${BURL_PASSWORD}@`)}${path}?a=\${AUCTION_ID}`,
          },
        })),
      });
      assert.equal(registered.status, 200, JSON.stringify(registered.body));
      for (const result of registered.body.results) {
        const response = await fetch(result.noticeUrls[result.method], {
          headers: { 'user-agent': CHROME },
          redirect: 'manual',
        });
        await response.arrayBuffer();
      }
      const unauthorized = await fetch(`${started.url}/metrics`, {
        headers: { authorization: 'Bearer wrong' },
      });
      assert.equal(unauthorized.status, 401);
      // The failing burl is killed (its deadline moved to now), which logs burl_dead with its error.
      await until(async () => {
        const deliveries = await api(tally, adminKey, 'GET', '/v1/deliveries?status=pending');
        return deliveries.body.deliveries.length === 1 && deliveries.body.deliveries[0].attempts === 1;
      }, 'the failing burl tried once');
      const ledger = new Database(join(dataDir, 'tally.db'));
      ledger
        .prepare("UPDATE deliveries SET due_ms = ?, deadline_ms = ? WHERE status = 'pending'")
        .run(Date.now(), Date.now());
      ledger.close();
      await until(() => Promise.resolve(started?.serve.stdout().includes('"burl_dead"')), 'burl_dead logged');
      await stop(started);
      restarted = await serveOnFreePort(dataDir, env);
      await stop(restarted);

      const everything = `${started.serve.output()}${restarted.serve.output()}`;
      const secrets = {
        TOKEN_KEY,
        PRICE_ENCRYPTION_KEY,
        PRICE_INTEGRITY_KEY,
        METRICS_KEY,
        BURL_PASSWORD,
      };
      for (const [name, secret] of Object.entries(secrets))
        assert.equal(everything.includes(secret), false, `${name} is printed nowhere`);
      assert.equal(
        everything.split(adminKey).length - 1,
        1,
        'the generated admin key is printed once, at the first start alone',
      );
      const events = [...logLines(started.serve.stdout()), ...logLines(restarted.serve.stdout())].map(
        (entry) => entry.event,
      );
      for (const event of ['admin_key_created', 'listening', 'burl_dead', 'stopped'])
        assert.ok(events.includes(event), `${event} is logged (${events.join(', ')})`);
    } finally {
      if (started !== undefined && started.serve.child.exitCode === null) await stop(started);
      if (restarted !== undefined && restarted.serve.child.exitCode === null) await stop(restarted);
      await dsp.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
