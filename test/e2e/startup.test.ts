import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { api, runCli, startServer } from '../support/server.js';

describe('starting Tally', () => {
  it('generates an administrator key on first start, prints it once, and stores only its hash', async () => {
    const tally = await startServer({ TALLY_ADMIN_KEY: '' });
    try {
      const key =
        /Administrator API key \(shown once, store it now\): (tally_[\w-]+)/.exec(tally.output())?.[1] ?? '';
      assert.notEqual(key, '');
      assert.equal((await api(tally, key, 'GET', '/v1/deliveries')).status, 200);
      await tally.stop();
      await tally.restart();
      assert.doesNotMatch(tally.output(), /Administrator API key/);
      assert.equal((await api(tally, key, 'GET', '/v1/deliveries')).status, 200);
    } finally {
      await tally.dispose();
    }
  });

  it('keeps a revoked TALLY_ADMIN_KEY revoked across a restart instead of failing to start', async () => {
    const tally = await startServer();
    try {
      const second = await api(tally, tally.adminKey, 'POST', '/v1/api-keys', {
        name: 'second admin',
        role: 'admin',
      });
      assert.equal(second.status, 201);
      const keys = await api(tally, second.body.key, 'GET', '/v1/api-keys');
      const envKey = keys.body.items.find((item: any) => item.name === 'TALLY_ADMIN_KEY');
      assert.equal((await api(tally, second.body.key, 'DELETE', `/v1/api-keys/${envKey.id}`)).status, 204);
      await tally.stop();
      await tally.restart();
      assert.equal((await api(tally, tally.adminKey, 'GET', '/v1/deliveries')).status, 401);
      assert.equal((await api(tally, second.body.key, 'GET', '/v1/deliveries')).status, 200);
    } finally {
      await tally.dispose();
    }
  });

  it('refuses to start on bad configuration, listing every problem at once', async () => {
    const result = await runCli(['serve'], {
      TALLY_PORT: 'eighty',
      TALLY_PUBLIC_URL: 'tally.example.com',
      TALLY_IVT_BLOCKED_IPS: '10.0.0.0/99',
      TALLY_SQLITE_SYNCHRONOUS: 'SOMETIMES',
    });
    assert.equal(result.code, 2);
    for (const name of ['port', 'publicUrl', 'ivtBlockedIps', 'sqliteSynchronous'])
      assert.match(result.stderr, new RegExp(name));
  });

  it('prints its help', async () => {
    const result = await runCli(['--help'], {});
    assert.equal(result.code, 0);
    assert.match(result.stdout, /serve/);
    assert.match(result.stdout, /replay-dead/);
    assert.match(result.stdout, /create-account/);
  });

  it('stops on SIGTERM after draining, and says so in its log', async () => {
    const tally = await startServer();
    await tally.stop();
    assert.match(tally.output(), /"event":"stopped"/);
    await tally.dispose();
  });
});
