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

  it('reads word settings whatever their case, as SQLite and the relay switch alike', () => {
    const parsed = parseConfig({ TALLY_SQLITE_SYNCHRONOUS: 'normal', TALLY_BURL_PRIVATE_NETWORKS: 'Allow' });
    assert.ok(parsed.ok);
    assert.equal(parsed.config.sqliteSynchronous, 'NORMAL');
    assert.equal(parsed.config.burlPrivateNetworks, 'allow');
  });

  it('refuses port 0 without a public URL, which could not name the port it picks', () => {
    const parsed = parseConfig({ TALLY_PORT: '0' });
    assert.ok(!parsed.ok);
    assert.deepEqual(parsed.errors, [
      'port: 0 picks a free port, which notice URLs cannot name: set publicUrl too, or a port',
    ]);
    const given = parseConfig({ TALLY_PORT: '0', TALLY_PUBLIC_URL: 'https://tally.example' });
    assert.ok(given.ok);
    assert.equal(given.config.publicUrl, 'https://tally.example');
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

  it('refuses an admin key no Bearer header could carry: spaces, control or non-ASCII characters', () => {
    for (const key of [
      ' '.repeat(17),
      'sixteen-chars-ok with space',
      'sixteen-chars-ok\t',
      'sixteen-chars-ok-é',
    ]) {
      const parsed = parseConfig({ TALLY_ADMIN_KEY: key });
      assert.equal(parsed.ok, false, JSON.stringify(key));
      assert.match(parsed.ok ? '' : (parsed.errors[0] ?? ''), /^adminKey: .*printable ASCII/);
    }
    assert.ok(parseConfig({ TALLY_ADMIN_KEY: 'Sixteen~chars/ok+=' }).ok);
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

  it('takes integer settings from the environment only as decimal digits, each within its range', () => {
    const parsed = parseConfig({
      TALLY_PORT: '  ',
      TALLY_RETENTION_DAYS: '0x50',
      TALLY_COMMIT_MAX_BATCH: '1e3',
      TALLY_COMMIT_MAX_DELAY_MS: '-0',
      TALLY_COMMIT_MAX_QUEUE: ' 100',
      TALLY_BURL_RETRY_SECONDS: '10.0',
      TALLY_BURL_CONCURRENCY: '+8',
      TALLY_MAX_BODY_BYTES: '2048 ',
    });
    assert.ok(!parsed.ok);
    assert.deepEqual(parsed.errors, [
      'port: TALLY_PORT="  " must be a decimal integer from 0 to 65535',
      'retentionDays: TALLY_RETENTION_DAYS="0x50" must be a decimal integer from 1 to 3650',
      'commitMaxBatch: TALLY_COMMIT_MAX_BATCH="1e3" must be a decimal integer from 1 to 100000',
      'commitMaxDelayMs: TALLY_COMMIT_MAX_DELAY_MS="-0" must be a decimal integer from 0 to 1000',
      'commitMaxQueue: TALLY_COMMIT_MAX_QUEUE=" 100" must be a decimal integer from 1 to 10000000',
      'burlRetrySeconds: TALLY_BURL_RETRY_SECONDS="10.0" must be a decimal integer from 1 to 3600',
      'burlConcurrency: TALLY_BURL_CONCURRENCY="+8" must be a decimal integer from 1 to 1024',
      'maxBodyBytes: TALLY_MAX_BODY_BYTES="2048 " must be a decimal integer from 1024 to 1073741824',
    ]);
    const valid = parseConfig({
      TALLY_PORT: '8081',
      TALLY_RETENTION_DAYS: '030',
      TALLY_COMMIT_MAX_DELAY_MS: '0',
    });
    assert.ok(valid.ok);
    assert.deepEqual(
      [valid.config.port, valid.config.retentionDays, valid.config.commitMaxDelayMs],
      [8081, 30, 0],
    );
  });

  it('takes integer settings from the config file only as JSON integers, reporting every other value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      writeFileSync(
        path,
        JSON.stringify({
          port: null,
          retentionDays: true,
          commitMaxBatch: [],
          commitMaxQueue: '100',
          burlRetrySeconds: 1.5,
          burlConcurrency: {},
          maxBodyBytes: 1e300,
        }),
      );
      const parsed = parseConfig({ TALLY_CONFIG: path });
      assert.ok(!parsed.ok);
      const range = (name: string, value: string, min: number, max: number) =>
        `${name}: ${value} in the TALLY_CONFIG file must be an integer from ${min} to ${max}, written as a JSON number`;
      assert.deepEqual(parsed.errors, [
        range('port', 'null', 0, 65535),
        range('retentionDays', 'true', 1, 3650),
        range('commitMaxBatch', '[]', 1, 100_000),
        range('commitMaxQueue', '"100"', 1, 10_000_000),
        range('burlRetrySeconds', '1.5', 1, 3600),
        range('burlConcurrency', '{}', 1, 1024),
        range('maxBodyBytes', '1e+300', 1024, 1024 * 1024 * 1024),
      ]);
      writeFileSync(path, JSON.stringify({ port: 8081, retentionDays: 30 }));
      const valid = parseConfig({ TALLY_CONFIG: path });
      assert.ok(valid.ok);
      assert.deepEqual([valid.config.port, valid.config.retentionDays], [8081, 30]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a rule whose ttlSeconds is not an integer from 1 to 7 days, such as 1e300', () => {
    const rule = (ttlSeconds: unknown) => ({ format: 'banner', channel: 'web', method: 'adm', ttlSeconds });
    const parsed = parseConfig({
      TALLY_RULES: JSON.stringify({ '*': [rule(1e300), rule(604_801), rule(0), rule(2.5), rule('600')] }),
    });
    assert.ok(!parsed.ok);
    assert.equal(parsed.errors.length, 5, parsed.errors.join('\n'));
    for (const error of parsed.errors)
      assert.match(error, /^rules\.\*: .* a ttlSeconds that is an integer from 1 to 604800 \(7 days\)$/);
    const longest = parseConfig({ TALLY_RULES: JSON.stringify({ '*': [rule(1), rule(604_800)] }) });
    assert.ok(longest.ok);
    assert.deepEqual(
      longest.config.rules.get('*')?.map((override) => override.ttlSeconds),
      [1, 604_800],
    );
  });

  it('refuses an override giving a format a method Tally cannot instrument for it, under which nothing would count', () => {
    const parsed = parseConfig({
      TALLY_RULES: JSON.stringify({
        '*': [
          { format: 'video', channel: 'app', method: 'omid', ttlSeconds: 10_800 },
          { format: 'native', channel: 'web', method: 'adm', ttlSeconds: 600 },
        ],
        'pub-1': [
          { format: 'video', channel: 'app', method: 'vast', ttlSeconds: 7200 },
          { format: 'banner', channel: 'web', method: 'omid', ttlSeconds: 3600 },
          { format: 'native', channel: 'ctv', method: 'burl', ttlSeconds: 3600 },
        ],
      }),
    });
    assert.ok(!parsed.ok);
    assert.equal(parsed.errors.length, 2, parsed.errors.join('\n'));
    assert.match(
      parsed.errors[0] ?? '',
      /^rules\.\*: .* gives video a method Tally cannot instrument for it: use vast, burl$/,
    );
    assert.match(
      parsed.errors[1] ?? '',
      /^rules\.\*: .* gives native a method Tally cannot instrument for it: use native, burl$/,
    );
  });

  it('refuses token keys that repeat a key id, naming the id, rather than dropping one of the keys', () => {
    const keyA = Buffer.alloc(32, 1).toString('base64');
    const keyB = Buffer.alloc(32, 2).toString('base64');
    const keyC = Buffer.alloc(32, 3).toString('base64');
    const parsed = parseConfig({ TALLY_TOKEN_KEYS: `1:${keyA},2:${keyC},1:${keyB}` });
    assert.ok(!parsed.ok);
    assert.deepEqual(parsed.errors, [
      'tokenKeys: key id 1 is listed twice; give each key an id of its own (the last key listed signs)',
    ]);
    const distinct = parseConfig({ TALLY_TOKEN_KEYS: `1:${keyA},2:${keyB}` });
    assert.ok(distinct.ok);
    assert.deepEqual(
      distinct.config.tokenKeys?.map((entry) => entry.id),
      [1, 2],
    );
  });

  it('takes token key ids only as decimal numbers from 0 to 255', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    for (const id of ['0x1', ' ', '', '1e2', '-1', '256', '1.0']) {
      const parsed = parseConfig({ TALLY_TOKEN_KEYS: `${id}:${key}` });
      assert.ok(!parsed.ok, `key id ${JSON.stringify(id)} was accepted`);
      assert.match(parsed.errors.join('\n'), /tokenKeys: .* must be <id 0-255>:<32-byte key in base64>/);
    }
    const parsed = parseConfig({ TALLY_TOKEN_KEYS: `0:${key},255:${key}` });
    assert.ok(parsed.ok);
  });
});
