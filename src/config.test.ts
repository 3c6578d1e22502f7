import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from './config.js';

describe('configuration', () => {
  it('has working defaults', () => {
    const parsed = parseConfig({});
    assert.ok(parsed.ok);
    assert.equal(parsed.config.port, 8080);
    assert.equal(parsed.config.publicUrl, 'http://127.0.0.1:8080');
    assert.equal(parsed.config.retentionDays, 100);
    assert.equal(parsed.config.sqliteSynchronous, 'FULL');
    assert.equal(parsed.config.burlPrivateNetworks, 'deny');
  });

  it('reports every problem at once, including malformed entries inside rules and price keys', () => {
    const parsed = parseConfig({
      TALLY_PORT: '99999',
      TALLY_RULES: '{"*":[null,{"format":"banner","channel":"web","method":"adm","ttlSeconds":0}],"p":3}',
      TALLY_PRICE_KEYS: '{"s1":null,"s2":{"encryptionKey":"x"}}',
      TALLY_TOKEN_KEYS: '1:tooshort',
      TALLY_ADMIN_KEY: 'short',
      TALLY_BURL_PRIVATE_NETWORKS: 'sometimes',
    });
    assert.equal(parsed.ok, false);
    const errors = parsed.ok ? [] : parsed.errors;
    assert.equal(errors.length, 9, errors.join('\n'));
    for (const name of [
      'port',
      'rules.*',
      'rules.p',
      'priceKeys.s1',
      'priceKeys.s2',
      'tokenKeys',
      'adminKey',
      'burlPrivateNetworks',
    ]) {
      assert.ok(
        errors.some((error) => error.startsWith(name)),
        `${name} in ${errors.join('\n')}`,
      );
    }
  });

  it('keeps rule and price-key lookups to what was configured, whatever the publisher id or seat', () => {
    const parsed = parseConfig({
      TALLY_RULES: '{"pub-1":[{"format":"banner","channel":"web","method":"adm","ttlSeconds":900}]}',
    });
    assert.ok(parsed.ok);
    assert.equal(parsed.config.rules.get('pub-1')?.[0]?.ttlSeconds, 900);
    for (const name of ['constructor', 'toString', '__proto__']) {
      assert.equal(parsed.config.rules.get(name), undefined);
      assert.equal(parsed.config.priceKeys.get(name), undefined);
    }
  });

  it('refuses a config file naming a setting that does not exist, and lists the ones that do', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      writeFileSync(path, JSON.stringify({ retentionDays: 30, retentionDay: 7 }));
      const parsed = parseConfig({ TALLY_CONFIG: path });
      assert.ok(!parsed.ok);
      assert.equal(parsed.errors.length, 1);
      assert.match(
        parsed.errors[0] ?? '',
        /"retentionDay" is not a setting; the settings are .*retentionDays/,
      );
      writeFileSync(path, JSON.stringify({ retentionDays: 30, publicUrl: 'https://tally.example.com' }));
      assert.ok(parseConfig({ TALLY_CONFIG: path }).ok);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
