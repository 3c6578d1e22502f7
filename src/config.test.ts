import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from './config.js';
import type { Config } from './config.js';
import { priceKeyName } from './domain/price-crypto.js';
import { shown } from './lib/shown.js';

/**
 * Fails naming the errors where `parseConfig` refused the configuration. (A bare
 * `assert.ok(parsed.ok)` lets Node 20 look for the failing expression in this file's source,
 * which can take many minutes on TypeScript: the run then ends at its limit, naming no test.)
 */
function assertAccepted(
  parsed: ReturnType<typeof parseConfig>,
): asserts parsed is { ok: true; config: Config } {
  if (!parsed.ok) assert.fail(`the configuration was refused: ${parsed.errors.join('; ')}`);
}

/** Fails where `parseConfig` accepted a configuration the test expects it to refuse. */
function assertRefused(
  parsed: ReturnType<typeof parseConfig>,
): asserts parsed is { ok: false; errors: string[] } {
  if (parsed.ok) assert.fail('the configuration was accepted, where it should have been refused');
}

describe('configuration', () => {
  it('defaults to port 8080 and a public URL on it, 100 days of retention, FULL sync, and no burls to private networks', () => {
    const parsed = parseConfig({});
    assertAccepted(parsed);
    assert.equal(parsed.config.port, 8080);
    assert.equal(parsed.config.publicUrl, 'http://127.0.0.1:8080');
    assert.equal(parsed.config.retentionDays, 100);
    assert.equal(parsed.config.sqliteSynchronous, 'FULL');
    assert.equal(parsed.config.burlPrivateNetworks, 'deny');
  });

  it('names, in every refusal of a value, the variable that gave it, or the TALLY_CONFIG file', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    /** A bad value of each setting, as a variable would give it (JSON settings: their JSON). */
    const badValues: [string, string][] = [
      ['port', '-1'],
      ['host', 'local host'],
      ['publicUrl', 'ftp://tally.example'],
      ['dataDir', ' data'],
      ['adminKey', 'short'],
      ['metricsKey', 'short'],
      ['tokenKeys', 'one'],
      ['tokenKeys', `1:${key},1:${key}`],
      ['priceKeys', '[]'],
      ['priceKeys', '{"s1": {"encryptionKey": "x"}}'],
      ['priceKeys', '{"s1": {"owner": 1}}'],
      ['rules', '[]'],
      ['rules', '{"*": 5}'],
      ['rules', '{"*": [{"format": "banner"}]}'],
      ['rules', '{"": []}'],
      ['ivtUserAgents', '(unclosed'],
      ['ivtUserAgents', '[1, 2]'],
      ['ivtBlockedIps', '1.2.3.400'],
      ['ivtTrustedNotifiers', '10.0.0.0/33'],
      ['ivtBlockedIpsFile', '/nonexistent/blocked.txt'],
      ['retentionDays', '0'],
      ['sqliteSynchronous', 'SOMETIMES'],
      ['commitMaxBatch', '0'],
      ['burlPrivateNetworks', 'maybe'],
      ['maxBodyBytes', '1'],
      ['sendTimeoutSeconds', '0'],
      ['shutdownGraceSeconds', '3601'],
      ['minFreeDiskMb', '-1'],
      ['maxConnections', '0'],
      ['smtpUrl', 'http://mail.example'],
      ['mailFrom', 'nobody'],
    ];
    const envNameOf = (name: string) => `TALLY_${name.replace(/[A-Z]/g, (char) => `_${char}`).toUpperCase()}`;
    const jsonSettings = new Set(['priceKeys', 'rules']);
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      for (const [name, value] of badValues) {
        const fromEnv = parseConfig({ [envNameOf(name)]: value });
        assertRefused(fromEnv);
        for (const error of fromEnv.errors)
          assert.match(error, new RegExp(envNameOf(name)), `${name}=${value}`);
        // In the file, a JSON setting is its JSON, an integer a JSON number.
        const fileValue: unknown = jsonSettings.has(name)
          ? JSON.parse(value)
          : /^-?[0-9]+$/.test(value)
            ? Number(value)
            : value;
        writeFileSync(path, JSON.stringify({ [name]: fileValue }));
        const fromFile = parseConfig({ TALLY_CONFIG: path });
        assertRefused(fromFile);
        for (const error of fromFile.errors)
          assert.match(error, /TALLY_CONFIG file/, `${name}: ${JSON.stringify(fileValue)} in the file`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names which of a seat's price keys is missing or not base64, rather than asking for both, and every field a seat's entry takes", () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const refusals = (entry: unknown): string[] => {
      const parsed = parseConfig({ TALLY_PRICE_KEYS: JSON.stringify({ s1: entry }) });
      assertRefused(parsed);
      return parsed.errors;
    };
    assert.deepEqual(refusals({ encryptionKey: key }), [
      'priceKeys.s1: in TALLY_PRICE_KEYS, integrityKey is missing: give the key the DSP handed out, in (web-safe) base64',
    ]);
    assert.deepEqual(refusals({ encryptionKey: key, integrityKey: 'not base64!' }), [
      'priceKeys.s1: in TALLY_PRICE_KEYS, integrityKey is not (web-safe) base64: give the key as the DSP handed it out',
    ]);
    assert.deepEqual(refusals('abc'), [
      'priceKeys.s1: in TALLY_PRICE_KEYS, the entry must be {"encryptionKey": "<base64>", "integrityKey": "<base64>", "accountId"?: <id>, "seat"?: "<seat>"}, not "abc"',
    ]);
    const notAnObject = parseConfig({ TALLY_PRICE_KEYS: '[]' });
    assertRefused(notAnObject);
    // Naming every field an entry takes, `seat` as well, as the entry's own refusal does.
    assert.deepEqual(notAnObject.errors, [
      'priceKeys: TALLY_PRICE_KEYS must be {"<seat>": {"encryptionKey": "<base64>", "integrityKey": "<base64>", "accountId"?: <id>, "seat"?: "<seat>"}}',
    ]);
    assert.deepEqual(refusals({ encryptionKey: 42, integrityKey: '' }), [
      'priceKeys.s1: in TALLY_PRICE_KEYS, encryptionKey is not (web-safe) base64: give the key as the DSP handed it out',
      'priceKeys.s1: in TALLY_PRICE_KEYS, integrityKey is not (web-safe) base64: give the key as the DSP handed it out',
    ]);
  });

  it('reads word settings whatever their case, as SQLite and the relay switch alike', () => {
    const parsed = parseConfig({ TALLY_SQLITE_SYNCHRONOUS: 'normal', TALLY_BURL_PRIVATE_NETWORKS: 'Allow' });
    assertAccepted(parsed);
    assert.equal(parsed.config.sqliteSynchronous, 'NORMAL');
    assert.equal(parsed.config.burlPrivateNetworks, 'allow');
  });

  it('refuses a host that is neither an IP address nor a host name, before anything is opened, in one error: not again for the default public URL built on it', () => {
    for (const host of ['999.1.1.1', 'local host', '-tally.example', 'tally..example', '1.2.3']) {
      const parsed = parseConfig({ TALLY_HOST: host });
      assert.ok(!parsed.ok, host);
      assert.match(parsed.errors[0] ?? '', /^host: .* is neither an IP address nor a host name/, host);
      // The public URL was not set: its default, built on that host, is no second problem to fix.
      assert.equal(parsed.errors.length, 1, parsed.errors.join('\n'));
    }
    const given = parseConfig({ TALLY_HOST: 'local host', TALLY_PUBLIC_URL: 'ftp://tally.example' });
    assertRefused(given);
    assert.match(
      given.errors[1] ?? '',
      /^publicUrl: TALLY_PUBLIC_URL="ftp:\/\/tally\.example" must begin http:\/\/ or https:\/\//,
    );
    for (const host of [
      '127.0.0.1',
      '::1',
      '0.0.0.0',
      'localhost.',
      'tally_web',
      'tally-1.internal.example',
    ]) {
      const parsed = parseConfig({ TALLY_HOST: host });
      assert.ok(parsed.ok && parsed.config.host === host, host);
    }
  });

  it('refuses port 0 without a public URL, which could not name the port it picks', () => {
    const parsed = parseConfig({ TALLY_PORT: '0' });
    assertRefused(parsed);
    assert.deepEqual(parsed.errors, [
      'port: TALLY_PORT="0" picks a free port, which notice URLs cannot name: set TALLY_PUBLIC_URL (publicUrl in the TALLY_CONFIG file) too, or another port',
    ]);
    const given = parseConfig({ TALLY_PORT: '0', TALLY_PUBLIC_URL: 'https://tally.example' });
    assertAccepted(given);
    assert.equal(given.config.publicUrl, 'https://tally.example');
    // Any other port browsers fetch from, the lowest included, is one notice URLs can name.
    const lowest = parseConfig({ TALLY_PORT: '2' });
    assertAccepted(lowest);
    assert.equal(lowest.config.port, 2);
  });

  it('refuses a commit batch above the queue and a per-host relay concurrency above the total when both are given, as the cap would win unseen', () => {
    const parsed = parseConfig({
      TALLY_COMMIT_MAX_BATCH: '5000',
      TALLY_COMMIT_MAX_QUEUE: '4999',
      TALLY_BURL_HOST_CONCURRENCY: '100',
      TALLY_BURL_CONCURRENCY: '99',
    });
    assertRefused(parsed);
    assert.deepEqual(parsed.errors, [
      'commitMaxBatch: TALLY_COMMIT_MAX_BATCH="5000" is more than commitMaxQueue, TALLY_COMMIT_MAX_QUEUE="4999", and a batch is taken from the queue, so it never holds more: lower it or raise commitMaxQueue',
      'burlHostConcurrency: TALLY_BURL_HOST_CONCURRENCY="100" is more than burlConcurrency, TALLY_BURL_CONCURRENCY="99", and the calls to one host are among all the calls in flight: lower it or raise burlConcurrency',
    ]);
    const equal = parseConfig({
      TALLY_COMMIT_MAX_BATCH: '5000',
      TALLY_COMMIT_MAX_QUEUE: '5000',
      TALLY_BURL_HOST_CONCURRENCY: '99',
      TALLY_BURL_CONCURRENCY: '99',
    });
    assertAccepted(equal);
    // A default above a given cap is the operator's smaller limit at work, not a mistake.
    const defaultsAbove = parseConfig({ TALLY_COMMIT_MAX_QUEUE: '100', TALLY_BURL_CONCURRENCY: '8' });
    assertAccepted(defaultsAbove);
    assert.equal(defaultsAbove.config.commitMaxBatch, 2048);
    // A limit that is itself refused is reported once, not compared with its default.
    const invalid = parseConfig({ TALLY_COMMIT_MAX_BATCH: 'many', TALLY_COMMIT_MAX_QUEUE: '100' });
    assertRefused(invalid);
    assert.deepEqual(invalid.errors, [
      'commitMaxBatch: TALLY_COMMIT_MAX_BATCH="many" must be a decimal integer from 1 to 100000',
    ]);
  });

  it('refuses a public URL on a port browsers block, and takes that port to listen on behind a public URL on another', () => {
    for (const port of ['1', '6000', '10080']) {
      const parsed = parseConfig({ TALLY_PORT: port });
      assertRefused(parsed);
      assert.deepEqual(parsed.errors, [
        `publicUrl: TALLY_PUBLIC_URL is not set (nor publicUrl in the TALLY_CONFIG file), and its default, "http://127.0.0.1:${port}" (the host and TALLY_PORT="${port}"), names port ${port}, which browsers refuse to fetch from (the Fetch standard's blocked ports), so no notice would reach it: set TALLY_PUBLIC_URL to the http(s) URL notices reach Tally at, such as https://tally.example.com, or listen on another port`,
      ]);
    }
    const given = parseConfig({ TALLY_PUBLIC_URL: 'https://tally.example:6667/t' });
    assertRefused(given);
    assert.match(given.errors.join('\n'), /^publicUrl: .* names port 6667, which browsers refuse/);
    const proxied = parseConfig({ TALLY_PORT: '10080', TALLY_PUBLIC_URL: 'https://tally.example' });
    assertAccepted(proxied);
    assert.equal(proxied.config.port, 10080);
    // Port 80 written out is the http default, which the URL parser drops.
    const explicitDefault = parseConfig({ TALLY_PUBLIC_URL: 'http://tally.example:80' });
    assertAccepted(explicitDefault);
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
    assert.equal(errors.length, 10, errors.join('\n'));
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
    assertAccepted(parseConfig({ TALLY_ADMIN_KEY: 'Sixteen~chars/ok+=' }));
  });

  it('says of a key refused for the line break ending it, as a secret mounted from a file has, to remove it', () => {
    const parsed = parseConfig({
      TALLY_ADMIN_KEY: 'admin-key-of-32-characters-long!\n',
      TALLY_METRICS_KEY: ' metrics-key-0123456789',
    });
    assertRefused(parsed);
    assert.deepEqual(parsed.errors, [
      'adminKey: TALLY_ADMIN_KEY must be at least 16 characters, each a printable ASCII character other than a space; it begins or ends with white space (a line break from the file it was read from?): remove it',
      'metricsKey: TALLY_METRICS_KEY must be at least 16 characters, each a printable ASCII character other than a space; it begins or ends with white space (a line break from the file it was read from?): remove it',
    ]);
  });

  it('keeps rule and price-key lookups to what was configured, whatever the publisher id or seat', () => {
    const parsed = parseConfig({
      TALLY_RULES: '{"pub-1":[{"format":"banner","channel":"web","method":"adm","ttlSeconds":900}]}',
    });
    assertAccepted(parsed);
    assert.equal(parsed.config.rules.get('pub-1')?.[0]?.ttlSeconds, 900);
    for (const name of ['constructor', 'toString', '__proto__']) {
      assert.equal(parsed.config.rules.get(name), undefined);
      assert.equal(parsed.config.priceKeys.get(name), undefined);
    }
  });

  it('refuses a setting, or a member of a JSON setting, given twice in the config file or a variable, naming it and never a key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    const encryptionKey = Buffer.alloc(32, 1).toString('base64');
    const integrityKey = Buffer.alloc(32, 2).toString('base64');
    const seat = (key: string) => `{"encryptionKey": "${key}", "integrityKey": "${integrityKey}"}`;
    try {
      const path = join(dir, 'tally.json');
      // JSON.parse keeps the last of each: port 8081, and the second seat s1's keys alone.
      writeFileSync(
        path,
        `{"port": 8080, "retentionDays": 30, "port": 8081, "priceKeys": {"s1": ${seat(encryptionKey)}, "s1": ${seat(integrityKey)}}}`,
      );
      const parsed = parseConfig({ TALLY_CONFIG: path });
      assertRefused(parsed);
      assert.deepEqual(parsed.errors, [
        `TALLY_CONFIG: port is given twice in ${path}; give each setting once (a JSON reader keeps only one of them)`,
        `TALLY_CONFIG: priceKeys.s1 is given twice in ${path}; give each setting once (a JSON reader keeps only one of them)`,
      ]);
      const fromEnv = parseConfig({
        TALLY_PRICE_KEYS: `{"s1": ${seat(encryptionKey)}, "s1": ${seat(integrityKey)}}`,
        TALLY_RULES: '{"*": [], "*": []}',
      });
      assertRefused(fromEnv);
      assert.deepEqual(fromEnv.errors, [
        'rules: TALLY_RULES gives ["*"] twice; give each once (a JSON reader keeps only one of them)',
        'priceKeys: TALLY_PRICE_KEYS gives s1 twice; give each once (a JSON reader keeps only one of them)',
      ]);
      for (const error of [...parsed.errors, ...fromEnv.errors]) {
        assert.doesNotMatch(error, new RegExp(`${encryptionKey}|${integrityKey}`.replace(/[+/=]/g, '\\$&')));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("points a variable's name in the config file to the setting's name there, as an operator moving variables into the file writes them", () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      writeFileSync(path, JSON.stringify({ TALLY_PORT: 8081, TALLY_PUBLIC_URL: 'https://tally.example' }));
      const parsed = parseConfig({ TALLY_CONFIG: path });
      assertRefused(parsed);
      assert.deepEqual(
        parsed.errors.map((error) => error.replace(/; the settings are .*/, '')),
        [
          'TALLY_CONFIG: "TALLY_PORT" is not a setting (did you mean port? the file names each setting as its variable without TALLY_, camelCased)',
          'TALLY_CONFIG: "TALLY_PUBLIC_URL" is not a setting (did you mean publicUrl? the file names each setting as its variable without TALLY_, camelCased)',
        ],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a config file naming a setting that does not exist, and lists the ones that do', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      writeFileSync(path, JSON.stringify({ retentionDays: 30, retentionDay: 7 }));
      const parsed = parseConfig({ TALLY_CONFIG: path });
      assertRefused(parsed);
      assert.equal(parsed.errors.length, 1);
      assert.match(
        parsed.errors[0] ?? '',
        /^TALLY_CONFIG: "retentionDay" is not a setting \(did you mean retentionDays\?\); the settings are .*retentionDays/,
      );
      writeFileSync(path, JSON.stringify({ retentionDays: 30, publicUrl: 'https://tally.example.com' }));
      assertAccepted(parseConfig({ TALLY_CONFIG: path }));
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
      TALLY_SEND_TIMEOUT_SECONDS: '0.5',
      TALLY_SHUTDOWN_GRACE_SECONDS: '10s',
    });
    assertRefused(parsed);
    assert.deepEqual(parsed.errors, [
      'port: TALLY_PORT="  " must be a decimal integer from 0 to 65535',
      'retentionDays: TALLY_RETENTION_DAYS="0x50" must be a decimal integer from 1 to 3650',
      'commitMaxBatch: TALLY_COMMIT_MAX_BATCH="1e3" must be a decimal integer from 1 to 100000',
      'commitMaxDelayMs: TALLY_COMMIT_MAX_DELAY_MS="-0" must be a decimal integer from 0 to 1000',
      'commitMaxQueue: TALLY_COMMIT_MAX_QUEUE=" 100" must be a decimal integer from 1 to 10000000',
      'burlRetrySeconds: TALLY_BURL_RETRY_SECONDS="10.0" must be a decimal integer from 1 to 3600',
      'burlConcurrency: TALLY_BURL_CONCURRENCY="+8" must be a decimal integer from 1 to 1024',
      'maxBodyBytes: TALLY_MAX_BODY_BYTES="2048 " must be a decimal integer from 1024 to 268435456',
      'sendTimeoutSeconds: TALLY_SEND_TIMEOUT_SECONDS="0.5" must be a decimal integer from 1 to 3600',
      'shutdownGraceSeconds: TALLY_SHUTDOWN_GRACE_SECONDS="10s" must be a decimal integer from 1 to 3600',
    ]);
    const valid = parseConfig({
      TALLY_PORT: '8081',
      TALLY_RETENTION_DAYS: '030',
      TALLY_COMMIT_MAX_DELAY_MS: '0',
    });
    assertAccepted(valid);
    assert.deepEqual(
      [valid.config.port, valid.config.retentionDays, valid.config.commitMaxDelayMs],
      [8081, 30, 0],
    );
  });

  it("cuts a long integer variable's value in its refusal, as every other setting's, rather than repeating it whole", () => {
    const parsed = parseConfig({ TALLY_RETENTION_DAYS: '9'.repeat(100_000) });
    assertRefused(parsed);
    assert.deepEqual(parsed.errors, [
      `retentionDays: TALLY_RETENTION_DAYS="${'9'.repeat(63)}… (100000 characters) must be a decimal integer from 1 to 3650`,
    ]);
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
          sendTimeoutSeconds: 0,
          shutdownGraceSeconds: '10',
        }),
      );
      const parsed = parseConfig({ TALLY_CONFIG: path });
      assertRefused(parsed);
      const range = (name: string, value: string, min: number, max: number) =>
        `${name}: ${value} in the TALLY_CONFIG file must be an integer from ${min} to ${max}, written as a JSON number`;
      assert.deepEqual(parsed.errors, [
        range('port', 'null', 0, 65535),
        range('retentionDays', 'true', 1, 3650),
        range('commitMaxBatch', '[]', 1, 100_000),
        range('commitMaxQueue', '"100"', 1, 10_000_000),
        range('burlRetrySeconds', '1.5', 1, 3600),
        range('burlConcurrency', '{}', 1, 1024),
        range('maxBodyBytes', '1e+300', 1024, 256 * 1024 * 1024),
        range('sendTimeoutSeconds', '0', 1, 3600),
        range('shutdownGraceSeconds', '"10"', 1, 3600),
      ]);
      writeFileSync(path, JSON.stringify({ port: 8081, retentionDays: 30 }));
      const valid = parseConfig({ TALLY_CONFIG: path });
      assertAccepted(valid);
      assert.deepEqual([valid.config.port, valid.config.retentionDays], [8081, 30]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a config file's value JSON cannot repeat as read (1e400, 2^53 + 1, nested past the stack) in words, as a configuration error", () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
      const rule = `{"format":${deep},"channel":"web","method":"adm","ttlSeconds":600}`;
      writeFileSync(
        path,
        `{"port": 1e400, "retentionDays": 9007199254740993, "winThreads": ${deep}, "host": ${deep}, "rules": {"*": [${rule}, ${deep}]}}`,
      );
      const parsed = parseConfig({ TALLY_CONFIG: path });
      assertRefused(parsed);
      const deepArray = 'an array nested too deeply to repeat';
      assert.deepEqual(parsed.errors, [
        'port: a number out of range in the TALLY_CONFIG file must be an integer from 0 to 65535, written as a JSON number',
        `host: ${deepArray} in the TALLY_CONFIG file must be a string`,
        `rules.*: in the TALLY_CONFIG file's rules, an object nested too deeply to repeat needs a known format: ${deepArray} is none of banner, video, audio, native`,
        `rules.*: in the TALLY_CONFIG file's rules, ${deepArray} needs to be {"format","channel","method","ttlSeconds"}`,
        'retentionDays: a number past 2^53 - 1 in size (JSON readers round it) in the TALLY_CONFIG file must be an integer from 1 to 3650, written as a JSON number',
        `winThreads: ${deepArray} in the TALLY_CONFIG file must be an integer from 1 to 64, written as a JSON number`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a rule whose ttlSeconds is not an integer from 1 to 7 days, such as 1e300', () => {
    const rule = (ttlSeconds: unknown) => ({ format: 'banner', channel: 'web', method: 'adm', ttlSeconds });
    const parsed = parseConfig({
      TALLY_RULES: JSON.stringify({ '*': [rule(1e300), rule(604_801), rule(0), rule(2.5), rule('600')] }),
    });
    assertRefused(parsed);
    assert.equal(parsed.errors.length, 5, parsed.errors.join('\n'));
    for (const error of parsed.errors)
      assert.match(error, /^rules\.\*: .* a ttlSeconds that is an integer from 1 to 604800 \(7 days\)$/);
    const longest = parseConfig({ TALLY_RULES: JSON.stringify({ '*': [rule(1), rule(604_800)] }) });
    assertAccepted(longest);
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
    assertRefused(parsed);
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
    assertRefused(parsed);
    assert.deepEqual(parsed.errors, [
      'tokenKeys: key id 1 is listed twice in TALLY_TOKEN_KEYS; give each key an id of its own (the last key listed signs)',
    ]);
    const distinct = parseConfig({ TALLY_TOKEN_KEYS: `1:${keyA},2:${keyB}` });
    assertAccepted(distinct);
    assert.deepEqual(
      distinct.config.tokenKeys?.map((entry) => entry.id),
      [1, 2],
    );
  });

  it('names a malformed token key entry by its place and what is wrong with it, never showing the key', () => {
    const key = Buffer.alloc(33, 7).toString('base64');
    const parsed = parseConfig({ TALLY_TOKEN_KEYS: `${Buffer.alloc(32, 1).toString('base64')},1:${key}` });
    assertRefused(parsed);
    assert.deepEqual(parsed.errors, [
      'tokenKeys: entry 1 of TALLY_TOKEN_KEYS must be <id 0-255>:<32-byte key in base64> (its id is not a decimal number from 0 to 255)',
      'tokenKeys: entry 2 of TALLY_TOKEN_KEYS must be <id 0-255>:<32-byte key in base64> (its key is 33 bytes)',
    ]);
  });

  it('takes token key ids only as decimal numbers from 0 to 255', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    for (const id of ['0x1', ' ', '', '1e2', '-1', '256', '1.0']) {
      const parsed = parseConfig({ TALLY_TOKEN_KEYS: `${id}:${key}` });
      assert.ok(!parsed.ok, `key id ${JSON.stringify(id)} was accepted`);
      assert.match(
        parsed.errors.join('\n'),
        /tokenKeys: entry 1 of TALLY_TOKEN_KEYS must be <id 0-255>:<32-byte key in base64>/,
      );
    }
    const parsed = parseConfig({ TALLY_TOKEN_KEYS: `0:${key},255:${key}` });
    assertAccepted(parsed);
  });

  it('defaults every setting left unset to its documented value', () => {
    const parsed = parseConfig({});
    assertAccepted(parsed);
    const { ivtFilter, rules, priceKeys, ...config } = parsed.config;
    assert.deepEqual(config, {
      port: 8080,
      host: '0.0.0.0',
      dataDir: resolve('./data'),
      publicUrl: 'http://127.0.0.1:8080',
      adminKey: undefined,
      metricsKey: undefined,
      tokenKeys: undefined,
      retentionDays: 100,
      commitMaxBatch: 2048,
      commitMaxDelayMs: 0,
      commitMaxQueue: 50_000,
      sqliteSynchronous: 'FULL',
      burlRetrySeconds: 10,
      burlTimeoutMs: 10_000,
      burlConcurrency: 256,
      burlHostConcurrency: 64,
      burlPrivateNetworks: 'deny',
      maxBodyBytes: 16 * 1024 * 1024,
      winThreads: 2,
      reportMaxRows: 100_000,
      sendTimeoutSeconds: 30,
      shutdownGraceSeconds: 10,
      minFreeDiskMb: 512,
      maxConnections: 10_000,
      smtpUrl: undefined,
      mailFrom: 'tally@localhost',
      overriddenInFile: [],
    });
    assert.deepEqual([ivtFilter.userAgentPatterns, ivtFilter.blockedIps.rangeCount], [[], 0]);
    assert.deepEqual([rules.size, priceKeys.size], [0, 0]);
  });

  it('takes each integer setting at both ends of its range and refuses one past either end', () => {
    const ranges: [string, string, number, number][] = [
      ['port', 'TALLY_PORT', 0, 65535],
      ['retentionDays', 'TALLY_RETENTION_DAYS', 1, 3650],
      ['commitMaxBatch', 'TALLY_COMMIT_MAX_BATCH', 1, 100_000],
      ['commitMaxDelayMs', 'TALLY_COMMIT_MAX_DELAY_MS', 0, 1000],
      ['commitMaxQueue', 'TALLY_COMMIT_MAX_QUEUE', 1, 10_000_000],
      ['burlRetrySeconds', 'TALLY_BURL_RETRY_SECONDS', 1, 3600],
      ['burlTimeoutMs', 'TALLY_BURL_TIMEOUT_MS', 100, 120_000],
      ['burlConcurrency', 'TALLY_BURL_CONCURRENCY', 1, 1024],
      ['burlHostConcurrency', 'TALLY_BURL_HOST_CONCURRENCY', 1, 1024],
      ['maxBodyBytes', 'TALLY_MAX_BODY_BYTES', 1024, 256 * 1024 * 1024],
      ['winThreads', 'TALLY_WIN_THREADS', 1, 64],
      ['reportMaxRows', 'TALLY_REPORT_MAX_ROWS', 1, 10_000_000],
      ['sendTimeoutSeconds', 'TALLY_SEND_TIMEOUT_SECONDS', 1, 3600],
      ['shutdownGraceSeconds', 'TALLY_SHUTDOWN_GRACE_SECONDS', 1, 3600],
      ['minFreeDiskMb', 'TALLY_MIN_FREE_DISK_MB', 0, 1_073_741_824],
      ['maxConnections', 'TALLY_MAX_CONNECTIONS', 1, 1_048_576],
    ];
    // A public URL, which port 0 needs.
    const env = { TALLY_PUBLIC_URL: 'https://tally.example' };
    for (const [name, variable, min, max] of ranges) {
      for (const value of [min, max]) {
        const parsed = parseConfig({ ...env, [variable]: String(value) });
        assert.ok(parsed.ok, `${variable}=${value}: ${parsed.ok ? '' : parsed.errors.join('\n')}`);
        assert.equal(parsed.config[name as keyof typeof parsed.config], value, variable);
      }
      for (const value of [min - 1, max + 1].filter((value) => value >= 0)) {
        const parsed = parseConfig({ ...env, [variable]: String(value) });
        assert.ok(!parsed.ok, `${variable}=${value} was accepted`);
        assert.deepEqual(parsed.errors, [
          `${name}: ${variable}="${value}" must be a decimal integer from ${min} to ${max}`,
        ]);
      }
    }
  });

  it('takes an empty environment variable, or an empty TALLY_CONFIG, as unset', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      writeFileSync(path, JSON.stringify({ port: 8081, publicUrl: 'https://file.example' }));
      const parsed = parseConfig({ TALLY_CONFIG: path, TALLY_PORT: '', TALLY_PUBLIC_URL: '' });
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
      assert.deepEqual([parsed.config.port, parsed.config.publicUrl], [8081, 'https://file.example']);
      const none = parseConfig({ TALLY_CONFIG: '', TALLY_PORT: '', TALLY_DATA_DIR: '' });
      assert.ok(none.ok, none.ok ? '' : none.errors.join('\n'));
      assert.deepEqual([none.config.port, none.config.dataDir], [8080, resolve('./data')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes settings from the environment over the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      writeFileSync(path, JSON.stringify({ port: 8081, host: '127.0.0.1', mailFrom: 'file@example.com' }));
      const parsed = parseConfig({
        TALLY_CONFIG: path,
        TALLY_PORT: '8082',
        TALLY_MAIL_FROM: 'env@example.com',
      });
      assertAccepted(parsed);
      assert.deepEqual(
        [parsed.config.port, parsed.config.host, parsed.config.mailFrom],
        [8082, '127.0.0.1', 'env@example.com'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a config file that is not a JSON object, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      for (const text of ['[]', 'null', '"port"', '{"port":']) {
        writeFileSync(path, text);
        const parsed = parseConfig({ TALLY_CONFIG: path });
        assert.ok(!parsed.ok, `${text} was accepted`);
        assert.equal(parsed.errors.length, 1, parsed.errors.join('\n'));
        assert.ok(
          parsed.errors[0]?.startsWith(`TALLY_CONFIG: cannot read ${path} as a JSON object`),
          `${text}: the error names the file it cannot read as a JSON object: ${parsed.errors[0]}`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says where a config file stops being JSON by line and column, quoting none of the file, which holds keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    const key = 'tally_OORQ7YSf3iqjZ161wipV6RP_MnJ8cjTp';
    try {
      const path = join(dir, 'tally.json');
      // A template that left out the quotes: V8 quotes the text around the unexpected token.
      writeFileSync(path, `{\n  "port": 8081,\n  "adminKey": ${key}\n}\n`);
      const parsed = parseConfig({ TALLY_CONFIG: path });
      assertRefused(parsed);
      assert.deepEqual(parsed.errors, [
        `TALLY_CONFIG: cannot read ${path} as a JSON object (SyntaxError: Unexpected token 'a' at line 3, column 16)`,
      ]);
      // A short file is quoted whole.
      writeFileSync(path, `[${key}]`);
      const short = parseConfig({ TALLY_CONFIG: path });
      assertRefused(short);
      assert.deepEqual(short.errors, [
        `TALLY_CONFIG: cannot read ${path} as a JSON object (SyntaxError: Unexpected token 'a' at line 1, column 3)`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a config file saved with a UTF-8 byte order mark, as Windows editors save one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      writeFileSync(path, `\uFEFF${JSON.stringify({ port: 8081 })}`);
      const parsed = parseConfig({ TALLY_CONFIG: path });
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
      assert.equal(parsed.config.port, 8081);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts port 0 when the config file gives the public URL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      writeFileSync(path, JSON.stringify({ publicUrl: 'https://tally.example' }));
      const parsed = parseConfig({ TALLY_CONFIG: path, TALLY_PORT: '0' });
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
      assert.equal(parsed.config.port, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a text setting the config file gives as another JSON type', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      writeFileSync(path, JSON.stringify({ host: 8080, mailFrom: null }));
      const parsed = parseConfig({ TALLY_CONFIG: path });
      assertRefused(parsed);
      assert.deepEqual(parsed.errors, [
        'host: 8080 in the TALLY_CONFIG file must be a string',
        'mailFrom: null in the TALLY_CONFIG file must be a string',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('repeats a number the config file gives as the number it is, not as a string, in a refusal that names the value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      writeFileSync(path, JSON.stringify({ port: 0, commitMaxBatch: 10, commitMaxQueue: 5 }));
      const parsed = parseConfig({ TALLY_CONFIG: path });
      assertRefused(parsed);
      assert.deepEqual(parsed.errors, [
        'port: 0 in the TALLY_CONFIG file picks a free port, which notice URLs cannot name: set TALLY_PUBLIC_URL (publicUrl in the TALLY_CONFIG file) too, or another port',
        'commitMaxBatch: 10 in the TALLY_CONFIG file is more than commitMaxQueue, 5 in the TALLY_CONFIG file, and a batch is taken from the queue, so it never holds more: lower it or raise commitMaxQueue',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses "" for any setting in the config file, once each, rather than leave a default in force (a ledger where Tally starts, a public /metrics)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      writeFileSync(
        path,
        JSON.stringify({ dataDir: '', metricsKey: '', publicUrl: '', rules: '', ivtBlockedIps: '' }),
      );
      const parsed = parseConfig({ TALLY_CONFIG: path });
      assertRefused(parsed);
      assert.deepEqual(
        [...parsed.errors].sort(),
        ['dataDir', 'ivtBlockedIps', 'metricsKey', 'publicUrl', 'rules'].map(
          (name) =>
            `${name}: "" in the TALLY_CONFIG file gives no value: give one, or leave ${name} out for its default`,
        ),
      );
      // The variable wins over the file, whose value is then not read.
      writeFileSync(path, JSON.stringify({ dataDir: '' }));
      const fromEnv = parseConfig({ TALLY_CONFIG: path, TALLY_DATA_DIR: '/srv/tally' });
      assertAccepted(fromEnv);
      assert.equal(fromEnv.config.dataDir, '/srv/tally');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a data directory that begins or ends with white space, an env file’s stray space, which would name a new, empty ledger', () => {
    for (const [value, shownValue] of [
      ['data ', '"data "'],
      [' /srv/tally', '" /srv/tally"'],
      ['/srv/tally\t', '"/srv/tally\\t"'],
    ]) {
      const parsed = parseConfig({ TALLY_DATA_DIR: value });
      assertRefused(parsed);
      assert.deepEqual(parsed.errors, [
        `dataDir: TALLY_DATA_DIR=${shownValue} begins or ends with white space: give the data directory's path without it`,
      ]);
    }
    const inside = parseConfig({ TALLY_DATA_DIR: '/srv/my tally' });
    assertAccepted(inside);
    assert.equal(inside.config.dataDir, '/srv/my tally');
  });

  it('reads lists as comma-separated text, trimmed and without empty entries, or as JSON arrays of strings', () => {
    const parsed = parseConfig({
      TALLY_IVT_USER_AGENTS: ' crawler-x , ,scanner-y ,',
      TALLY_IVT_BLOCKED_IPS: '["203.0.113.0/24","2001:db8::/32"]',
    });
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
    assert.deepEqual(
      parsed.config.ivtFilter.userAgentPatterns.map((pattern) => pattern.source),
      ['crawler-x', 'scanner-y'],
    );
    assert.equal(parsed.config.ivtFilter.blockedIps.rangeCount, 2);
    assert.equal(
      parsed.config.ivtFilter.blockedIps.has('203.0.113.7'),
      true,
      '203.0.113.7 is in the blocked 203.0.113.0/24',
    );
    const trailing = parseConfig({ TALLY_IVT_BLOCKED_IPS: '203.0.113.0/24,' });
    assert.ok(trailing.ok, trailing.ok ? '' : trailing.errors.join('\n'));
    assert.equal(trailing.config.ivtFilter.blockedIps.rangeCount, 1);
    const trusted = parseConfig({ TALLY_IVT_TRUSTED_NOTIFIERS: '198.51.100.0/28, 2001:db8::1' });
    assert.ok(trusted.ok, trusted.ok ? '' : trusted.errors.join('\n'));
    assert.equal(trusted.config.ivtFilter.trustedNotifiers.rangeCount, 2);
    assert.equal(
      trusted.config.ivtFilter.trustedNotifiers.has('198.51.100.9'),
      true,
      '198.51.100.9 is in the trusted 198.51.100.0/28',
    );
    assert.equal(
      trusted.config.ivtFilter.trustedNotifiers.has('198.51.100.16'),
      false,
      '198.51.100.16 is past the trusted 198.51.100.0/28',
    );
  });

  it('reads a comma-separated list whose first pattern is a character class as patterns, not as JSON', () => {
    const parsed = parseConfig({ TALLY_IVT_USER_AGENTS: '[Bb]ot-x,crawler' });
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
    assert.deepEqual(
      parsed.config.ivtFilter.userAgentPatterns.map((pattern) => pattern.source),
      ['[Bb]ot-x', 'crawler'],
    );
  });

  it('refuses a list begun as a JSON array of strings that is not JSON, saying where it stops by line and column, rather than read it as a comma-separated list', () => {
    const parsed = parseConfig({
      TALLY_IVT_USER_AGENTS: '["crawler-x", "scanner-y"',
      TALLY_IVT_BLOCKED_IPS: '[ "203.0.113.0/24",\n  198.51.100.0/24]',
      TALLY_IVT_TRUSTED_NOTIFIERS: '["198.51.100.7",]',
    });
    assertRefused(parsed);
    assert.deepEqual(parsed.errors, [
      "ivtBlockedIps: TALLY_IVT_BLOCKED_IPS begins as a JSON array of strings but is not JSON (SyntaxError: Expected ',' or ']' after array element in JSON at line 2, column 9): mend the JSON, or give a comma-separated list",
      "ivtUserAgents: TALLY_IVT_USER_AGENTS begins as a JSON array of strings but is not JSON (SyntaxError: Expected ',' or ']' after array element in JSON at line 1, column 26): mend the JSON, or give a comma-separated list",
      "ivtTrustedNotifiers: TALLY_IVT_TRUSTED_NOTIFIERS begins as a JSON array of strings but is not JSON (SyntaxError: Unexpected token ']' at line 1, column 17): mend the JSON, or give a comma-separated list",
    ]);
  });

  it('blocks the addresses of TALLY_IVT_BLOCKED_IPS_FILE, one a line with # comments, beside TALLY_IVT_BLOCKED_IPS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'datacenters.txt');
      writeFileSync(path, '\uFEFF# data centres\r\n198.51.100.0/24\r\n\n  2001:db8::/32  # v6\n192.0.2.7\n');
      const parsed = parseConfig({
        TALLY_IVT_BLOCKED_IPS_FILE: path,
        TALLY_IVT_BLOCKED_IPS: '203.0.113.0/24',
      });
      assertAccepted(parsed);
      const blocked = parsed.config.ivtFilter.blockedIps;
      const answers = ['198.51.100.9', '2001:db8::1', '192.0.2.7', '203.0.113.1', '192.0.2.8'].map((ip) => [
        ip,
        blocked.has(ip),
      ]);
      assert.deepEqual(answers, [
        ['198.51.100.9', true],
        ['2001:db8::1', true],
        ['192.0.2.7', true],
        ['203.0.113.1', true],
        ['192.0.2.8', false],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names, for a relative TALLY_CONFIG or TALLY_IVT_BLOCKED_IPS_FILE it cannot read, the path it looked at, from the directory Tally starts in', () => {
    const parsed = parseConfig({
      TALLY_CONFIG: 'etc/no-tally.json',
      TALLY_IVT_BLOCKED_IPS_FILE: 'no-blocked.txt ',
    });
    assertRefused(parsed);
    const config = resolve('etc/no-tally.json');
    const blocked = resolve('no-blocked.txt ');
    assert.deepEqual(parsed.errors, [
      `TALLY_CONFIG: cannot read etc/no-tally.json ("${config}", read from the directory Tally starts in) as a JSON object (Error: ENOENT: no such file or directory, open 'etc/no-tally.json')`,
      `ivtBlockedIpsFile: cannot read no-blocked.txt  ("${blocked}", read from the directory Tally starts in), named by TALLY_IVT_BLOCKED_IPS_FILE (Error: ENOENT: no such file or directory, open 'no-blocked.txt '); give the path of a file of one address or CIDR a line`,
    ]);
  });

  it('refuses a TALLY_IVT_BLOCKED_IPS_FILE it cannot read, or its bad lines by number, the first ten of them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const missing = parseConfig({ TALLY_IVT_BLOCKED_IPS_FILE: join(dir, 'none.txt') });
      assertRefused(missing);
      assert.match(
        missing.errors.join('\n'),
        /^ivtBlockedIpsFile: cannot read .*none\.txt, named by TALLY_IVT_BLOCKED_IPS_FILE \(.*ENOENT/,
      );
      const path = join(dir, 'list.txt');
      const badLines = Array.from({ length: 12 }, (_, index) => `10.0.0.${index}/33`);
      writeFileSync(path, ['10.0.0.0/8', 'nonsense # a comment', ...badLines].join('\n'));
      const bad = parseConfig({ TALLY_IVT_BLOCKED_IPS_FILE: path });
      assertRefused(bad);
      assert.equal(bad.errors.length, 11, bad.errors.join('\n'));
      assert.equal(
        bad.errors[0],
        `ivtBlockedIpsFile: line 2 of ${path}: "nonsense" is not an IPv4/IPv6 address or CIDR (e.g. 203.0.113.0/24, 2001:db8::/32)`,
      );
      assert.match(bad.errors[9] ?? '', /^ivtBlockedIpsFile: line 11 of .*: "10\.0\.0\.8\/33" is not/);
      assert.equal(bad.errors[10], `ivtBlockedIpsFile: 3 more lines of ${path} are no address or CIDR`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a comma-separated User-Agent list with a comma inside a pattern's (…), […] or {…}, which the list would split there, pointing to a JSON array", () => {
    for (const value of ['crawler,bot{2,}', '(spider,scraper)bot', '[a,b]ot']) {
      const parsed = parseConfig({ TALLY_IVT_USER_AGENTS: value });
      assertRefused(parsed);
      assert.deepEqual(parsed.errors, [
        `ivtUserAgents: TALLY_IVT_USER_AGENTS=${shown(value)} holds a comma inside a pattern's (…), […] or {…}, where a comma-separated list would split it: give the patterns as a JSON array of strings, such as ["crawler","bot{2,}"]`,
      ]);
    }
    const asJson = parseConfig({ TALLY_IVT_USER_AGENTS: '["crawler","bot{2,}"]' });
    assertAccepted(asJson);
    // Commas between patterns split them as before.
    assertAccepted(parseConfig({ TALLY_IVT_USER_AGENTS: '[Bb]ot-x,crawler,(x|y)z' }));
  });

  it('refuses a list that is a JSON array of anything but strings, or a bad entry in one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      writeFileSync(path, JSON.stringify({ ivtUserAgents: [1], ivtBlockedIps: 'x' }));
      const parsed = parseConfig({ TALLY_CONFIG: path });
      assertRefused(parsed);
      assert.equal(
        parsed.errors[0],
        "ivtUserAgents: the TALLY_CONFIG file's ivtUserAgents must be a list of strings: a JSON array of strings, or a comma-separated list in one string",
      );
      assert.match(
        parsed.errors[1] ?? '',
        /^ivtBlockedIps: in the TALLY_CONFIG file's ivtBlockedIps, blocked IP entry "x" is not/,
      );
      assert.equal(parsed.errors.length, 2, parsed.errors.join('\n'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const eachList = parseConfig({
      TALLY_IVT_USER_AGENTS: '(unclosed',
      TALLY_IVT_BLOCKED_IPS: 'nonsense',
      TALLY_IVT_TRUSTED_NOTIFIERS: '10.0.0.0/33',
    });
    assertRefused(eachList);
    assert.deepEqual(
      eachList.errors.map((error) => error.split(':')[0]),
      ['ivtUserAgents', 'ivtBlockedIps', 'ivtTrustedNotifiers'],
    );
    const notStrings = parseConfig({ TALLY_IVT_USER_AGENTS: '[1, 2]' });
    assertRefused(notStrings);
    assert.deepEqual(notStrings.errors, [
      'ivtUserAgents: TALLY_IVT_USER_AGENTS must be a JSON array of strings or a comma-separated list',
    ]);
  });

  it('refuses rules or price keys that are not JSON, saying where they stop by line and column and quoting none of the value, which may hold keys', () => {
    const key = 'tally_OORQ7YSf3iqjZ161wipV6RP_MnJ8cjTp';
    const parsed = parseConfig({
      TALLY_RULES: '{\n  "a": 1 2}',
      TALLY_PRICE_KEYS: `{"s1": ${key}}`,
    });
    assertRefused(parsed);
    assert.deepEqual(parsed.errors, [
      "rules: TALLY_RULES must be JSON (SyntaxError: Expected ',' or '}' after property value in JSON at line 2, column 10)",
      "priceKeys: TALLY_PRICE_KEYS must be JSON (SyntaxError: Unexpected token 'a' at line 1, column 9)",
    ]);
    const cut = parseConfig({ TALLY_RULES: '{', TALLY_PRICE_KEYS: `{"s1": "${key}` });
    assertRefused(cut);
    assert.deepEqual(cut.errors, [
      "rules: TALLY_RULES must be JSON (SyntaxError: Expected property name or '}' in JSON at line 1, column 2)",
      'priceKeys: TALLY_PRICE_KEYS must be JSON (SyntaxError: Unterminated string in JSON at line 1, column 47)',
    ]);
  });

  it('drops the trailing slashes of the public URL and refuses one notice URLs could not be built on: no http(s), no host, a bad port, a user, a query, a fragment, white space or a control character', () => {
    const parsed = parseConfig({ TALLY_PUBLIC_URL: 'https://tally.example.com//' });
    assertAccepted(parsed);
    assert.equal(parsed.config.publicUrl, 'https://tally.example.com');
    const proxied = parseConfig({ TALLY_PUBLIC_URL: 'http://[::1]:8080/tally' });
    assert.equal(proxied.ok && proxied.config.publicUrl, 'http://[::1]:8080/tally');
    const refusals: [string, RegExp][] = [
      ['https:///n', /must begin http:\/\/ or https:\/\/ and a host/],
      ['ftp://tally.example.com', /must begin http:\/\/ or https:\/\/ and a host/],
      ['http://exa mple.com', /is not a URL/],
      ['http://tally.example:99999', /is not a URL/],
      // The URL parser takes port 0, which the URLs Tally hands out would name.
      ['https://tally.example:0', /names port 0, which no notice can reach \(a port is 1 to 65535\)/],
      ['http://[::1]:00/tally', /names port 0/],
      ['https://user:pass@tally.example', /must hold no user name or password/],
      ['http://127.0.0.1:8080?x=', /must have no query/],
      ['http://127.0.0.1:8080#a', /must have no fragment/],
      // The URL parser drops these, but notice URLs are built on the text as given.
      ['https://tally.example.com ', /holds white space or a control character/],
      ['https://tally.example.com/\t', /holds white space or a control character/],
      ['https://tally.example\ncom', /holds white space or a control character/],
      ['https://tally.example.com/p\u0000', /holds white space or a control character/],
    ];
    for (const [url, problem] of refusals) {
      const refused = parseConfig({ TALLY_PUBLIC_URL: url });
      assert.ok(!refused.ok, `${url} was accepted`);
      assert.match(refused.errors.join('\n'), /^publicUrl: /);
      assert.match(refused.errors.join('\n'), problem, url);
    }
  });

  it("refuses a public URL whose path holds a character URLs percent-encode, which would end a VAST CDATA section (]]>) or an attribute, and keeps RFC 3986's path characters", () => {
    const kept = "https://tally.example.com/~t_x-1.2/a;b=c,d!$&'()*+@:%20e";
    const parsed = parseConfig({ TALLY_PUBLIC_URL: kept });
    assertAccepted(parsed);
    assert.equal(parsed.config.publicUrl, kept);
    for (const [url, character] of [
      ['https://tally.example.com/a]]>b', ']'],
      ['https://tally.example.com/<p>', '<'],
      ['https://tally.example.com/"x"', '"'],
      ['https://tally.example.com/a{b}', '{'],
      ['https://tally.example.com/a|b', '|'],
      ['https://tally.example.com/a\\b', '\\'],
      ['https://tally.example.com/a^b', '^'],
      ['https://tally.example.com/a`b', '`'],
      ['https://tally.example.com/café', 'é'],
    ]) {
      const refused = parseConfig({ TALLY_PUBLIC_URL: url });
      assertRefused(refused);
      assert.deepEqual(refused.errors, [
        `publicUrl: TALLY_PUBLIC_URL=${JSON.stringify(url)} holds ${JSON.stringify(character)} in its path, which URLs percent-encode (write it as %XX): give the http(s) URL notices reach Tally at, such as https://tally.example.com`,
      ]);
    }
    const badEscape = parseConfig({ TALLY_PUBLIC_URL: 'https://tally.example.com/a%2g' });
    assertRefused(badEscape);
    assert.match(
      badEscape.errors.join('\n'),
      /holds a % in its path that begins no %XX escape \(write % as %25\)/,
    );
  });

  it('refuses a public URL whose host holds a character no host name does, or a backslash the URL parser reads as a slash, and keeps IPv6 literals', () => {
    for (const kept of [
      'https://[2001:db8::1]:8443/tally%2Fv1',
      'http://[::1]',
      'https://Tally.Example.com:8443',
    ]) {
      const parsed = parseConfig({ TALLY_PUBLIC_URL: kept });
      assertAccepted(parsed);
      assert.equal(parsed.config.publicUrl, kept);
    }
    const problems = (url: string) => {
      const refused = parseConfig({ TALLY_PUBLIC_URL: url });
      assertRefused(refused);
      return refused.errors;
    };
    const refusal = (url: string, problem: string) =>
      `publicUrl: TALLY_PUBLIC_URL=${JSON.stringify(url)} ${problem}: give the http(s) URL notices reach Tally at, such as https://tally.example.com`;
    for (const [url, character] of [
      ['https://a"b.example.com', '"'],
      ['https://tally.example.com`', '`'],
      ['https://{tally}.example.com', '{'],
    ] as const)
      assert.deepEqual(problems(url), [
        refusal(url, `holds ${JSON.stringify(character)} in its host, which no host name holds`),
      ]);
    assert.deepEqual(problems('https://café.example.com/n'), [
      refusal(
        'https://café.example.com/n',
        'holds "é" in its host, which URLs write in ASCII: write the host as xn--caf-dma.example.com',
      ),
    ]);
    assert.deepEqual(problems('https://tally.example.com\\a"b'), [
      refusal(
        'https://tally.example.com\\a"b',
        'holds "\\\\" in its path, which URLs percent-encode (write it as %XX)',
      ),
    ]);
  });

  it('builds the default public URL on the one host Tally listens on, and on 127.0.0.1 when it listens on every interface', () => {
    const publicUrl = (host: string) => {
      const parsed = parseConfig({ TALLY_HOST: host, TALLY_PORT: '9000' });
      assert.ok(parsed.ok, host);
      return parsed.config.publicUrl;
    };
    assert.deepEqual(['0.0.0.0', '::', '::1', '10.1.2.3', 'tally.internal'].map(publicUrl), [
      'http://127.0.0.1:9000',
      'http://127.0.0.1:9000',
      'http://[::1]:9000',
      'http://10.1.2.3:9000',
      'http://tally.internal:9000',
    ]);
  });

  it('refuses a TALLY_ environment variable that is no setting, as a misspelt one would leave its default in force', () => {
    const parsed = parseConfig({
      TALLY_RETENTION_DAY: '30',
      TALLY_SQLITE_SYNCRONOUS: 'NORMAL',
      TALLY_CHROMIUM: '/x',
    });
    assertRefused(parsed);
    assert.equal(parsed.errors.length, 2);
    assert.match(
      parsed.errors[0] ?? '',
      /^"TALLY_RETENTION_DAY" is not a setting \(did you mean TALLY_RETENTION_DAYS\?\); the settings are .*TALLY_RETENTION_DAYS/,
    );
    assert.match(
      parsed.errors[1] ?? '',
      /^"TALLY_SQLITE_SYNCRONOUS" is not a setting \(did you mean TALLY_SQLITE_SYNCHRONOUS\?\); /,
    );
    assertAccepted(
      parseConfig({ TALLY_CONFIG: '', TALLY_CHROMIUM: '/usr/bin/chromium', OTHER_SETTING: 'x' }),
    );
    const far = parseConfig({ TALLY_DEBUG: '1' });
    assertRefused(far);
    assert.match(far.errors[0] ?? '', /^"TALLY_DEBUG" is not a setting; the settings are /);
  });

  it('points a misspelt shutdown grace or send timeout, as a variable or in the config file, to the setting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const path = join(dir, 'tally.json');
      writeFileSync(path, JSON.stringify({ sendTimeoutSecond: 60 }));
      const parsed = parseConfig({ TALLY_CONFIG: path, TALLY_SHUTDOWN_GRACE_SECS: '25' });
      assertRefused(parsed);
      assert.deepEqual(
        parsed.errors.map((error) => error.replace(/; the settings are .*/, '')),
        [
          'TALLY_CONFIG: "sendTimeoutSecond" is not a setting (did you mean sendTimeoutSeconds?)',
          '"TALLY_SHUTDOWN_GRACE_SECS" is not a setting (did you mean TALLY_SHUTDOWN_GRACE_SECONDS?)',
        ],
      );
      writeFileSync(path, JSON.stringify({ sendTimeoutSeconds: 60 }));
      const valid = parseConfig({ TALLY_CONFIG: path, TALLY_SHUTDOWN_GRACE_SECONDS: '25' });
      assertAccepted(valid);
      assert.deepEqual([valid.config.sendTimeoutSeconds, valid.config.shutdownGraceSeconds], [60, 25]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a TALLY_ variable spelt in lower or mixed case, which the environment keeps apart from the setting, naming the setting', () => {
    const parsed = parseConfig({ tally_port: '9000', Tally_Data_Dir: '/srv/tally' });
    assertRefused(parsed);
    assert.deepEqual(
      parsed.errors.map((error) =>
        /^(.*?) is not a setting \(did you mean (\w+)\?\); /.exec(error)?.slice(1),
      ),
      [
        ['"Tally_Data_Dir"', 'TALLY_DATA_DIR'],
        ['"tally_port"', 'TALLY_PORT'],
      ],
    );
  });

  it('refuses an admin key shorter than 16 characters and takes one of exactly 16', () => {
    const short = parseConfig({ TALLY_ADMIN_KEY: 'fifteen-chars-x' });
    assertRefused(short);
    assert.match(short.errors[0] ?? '', /^adminKey: TALLY_ADMIN_KEY must be at least 16 characters/);
    const exact = parseConfig({ TALLY_ADMIN_KEY: 'sixteen-chars-xy' });
    assertAccepted(exact);
    assert.equal(exact.config.adminKey, 'sixteen-chars-xy');
  });

  it('refuses a metrics key shorter than 16 characters or holding a space, and takes one of exactly 16', () => {
    for (const key of ['fifteen-chars-x', 'sixteen chars xy']) {
      const refused = parseConfig({ TALLY_METRICS_KEY: key });
      assert.ok(!refused.ok, key);
      assert.match(refused.errors[0] ?? '', /^metricsKey: TALLY_METRICS_KEY must be at least 16 characters/);
      assert.ok(!refused.errors[0]?.includes(key), 'the key is not shown');
    }
    const exact = parseConfig({ TALLY_METRICS_KEY: 'sixteen-chars-xy' });
    assertAccepted(exact);
    assert.equal(exact.config.metricsKey, 'sixteen-chars-xy');
  });

  it('names a secret setting the config file gives as no string by where it is, never showing its value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    const tokenKey = Buffer.alloc(32, 7).toString('base64');
    const secrets = {
      adminKey: ['admin-secret-0123456789'],
      metricsKey: { bearer: 'metrics-secret-0123456789' },
      tokenKeys: [`1:${tokenKey}`],
      smtpUrl: ['smtp://user:mail-secret-0123@mail.example:587'],
    };
    try {
      const path = join(dir, 'tally.json');
      writeFileSync(path, JSON.stringify(secrets));
      const parsed = parseConfig({ TALLY_CONFIG: path });
      assertRefused(parsed);
      assert.deepEqual(parsed.errors, [
        "adminKey: the TALLY_CONFIG file's adminKey must be a string",
        "metricsKey: the TALLY_CONFIG file's metricsKey must be a string",
        "smtpUrl: the TALLY_CONFIG file's smtpUrl must be a string",
        "tokenKeys: the TALLY_CONFIG file's tokenKeys must be a string",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown SQLite synchronous mode', () => {
    const parsed = parseConfig({ TALLY_SQLITE_SYNCHRONOUS: 'OFF' });
    assertRefused(parsed);
    assert.deepEqual(parsed.errors, [
      'sqliteSynchronous: TALLY_SQLITE_SYNCHRONOUS="OFF" must be FULL or NORMAL',
    ]);
  });

  it('takes an smtp:// or smtps:// mail URL naming a host and refuses anything else', () => {
    for (const url of ['smtp://user:pass@mail.example:587', 'smtps://user:pass@mail.example:465']) {
      const parsed = parseConfig({ TALLY_SMTP_URL: url });
      assert.ok(parsed.ok, url);
      assert.equal(parsed.config.smtpUrl, url);
    }
    // Named, never shown: the URL holds the mail password.
    for (const url of [
      'http://user:s3cret@mail.example:587',
      'smtp://',
      'smtps://user:s3cret@:465',
      'smtp://mail.example:99999',
      'smtp:mail.example',
    ]) {
      const refused = parseConfig({ TALLY_SMTP_URL: url });
      assert.ok(!refused.ok, url);
      assert.deepEqual(
        refused.errors,
        [
          'smtpUrl: TALLY_SMTP_URL must look like smtp://user:pass@host:587, or smtps://user:pass@host:465 for TLS from the start',
        ],
        url,
      );
    }
  });

  it('takes a mail sender only as an address, bare or after a name, which an SMTP envelope can carry', () => {
    for (const from of [
      'tally@localhost',
      'a.b+c@tally.example',
      'Tally <tally@tally.example>',
      '"Tally, Ad Ops" <tally@tally.example>',
      'Tallé <tally@tally.example>',
    ]) {
      const parsed = parseConfig({ TALLY_MAIL_FROM: from });
      assert.ok(parsed.ok, from);
      assert.equal(parsed.config.mailFrom, from);
    }
    // Each would have gone out with an empty envelope sender (a bounce's) and no From: header,
    // or, split at the comma, from two senders.
    for (const from of [
      'Tally Ad Ops',
      'tally',
      '<>',
      'Tally, Ad Ops <tally@tally.example>',
      'tally@tally.example\r\nBcc: x@y.example',
      // No space, control character, bracket, comma, comment or second @ in an address, nor text
      // after the bracketed one, nor a name with an unclosed quote.
      'tally ops@tally.example',
      'tally\u007f@tally.example',
      'tally@ops@tally.example',
      '<tally@tally.example',
      'ad,ops@tally.example',
      'tally(ops)@tally.example',
      'Tally <tally@tally.example> Ad Ops',
      'Tally "Ad Ops <tally@tally.example>',
    ]) {
      const parsed = parseConfig({ TALLY_MAIL_FROM: from });
      assert.ok(!parsed.ok, from);
      assert.deepEqual(parsed.errors, [
        `mailFrom: TALLY_MAIL_FROM=${shown(from)} must be the address tag exports are mailed from, e.g. tally@example.com or Tally <tally@example.com>`,
      ]);
    }
  });

  it('refuses a token key that is not strict base64, naming the entry and what is wrong, with every other error', () => {
    // 0xfb bytes: base64 `+/v7…+w=`, base64url `-_v7…-w`; `x` for the last `w` sets a bit past
    // the last byte.
    const key = Buffer.alloc(32, 0xfb).toString('base64');
    const refusals: [string, string][] = [
      [
        `${key.slice(0, 5)}|${key.slice(6)}`,
        'character 6 of its key is not base64 (A-Z, a-z, 0-9, + and /, or - and _)',
      ],
      [
        `${key.slice(0, 10)} ${key.slice(10)}`,
        'character 11 of its key is not base64 (A-Z, a-z, 0-9, + and /, or - and _)',
      ],
      [`"${key}"`, 'character 1 of its key is not base64 (A-Z, a-z, 0-9, + and /, or - and _)'],
      [`${key}=`, 'its key ends in 2 "=" where base64 of its length has 1'],
      [
        `${key.slice(0, -2)}x=`,
        'the last character of its key holds bits past its last byte: a character was mistyped',
      ],
      [key.slice(0, -3), 'its key is cut short or has a character too many'],
      [`${key}:${key}`, 'it has more than one ":"'],
    ];
    for (const [text, problem] of refusals) {
      const parsed = parseConfig({ TALLY_TOKEN_KEYS: `1:${text}`, TALLY_PORT: 'eighty' });
      assertRefused(parsed);
      assert.deepEqual(parsed.errors, [
        'port: TALLY_PORT="eighty" must be a decimal integer from 0 to 65535',
        `tokenKeys: entry 1 of TALLY_TOKEN_KEYS must be <id 0-255>:<32-byte key in base64> (${problem})`,
      ]);
    }
    const bytes = Buffer.alloc(32, 0xfb);
    for (const text of [key, key.replace(/=+$/, ''), bytes.toString('base64url')]) {
      const parsed = parseConfig({ TALLY_TOKEN_KEYS: `1:${text}` });
      assertAccepted(parsed);
      assert.deepEqual(parsed.config.tokenKeys, [{ id: 1, key: bytes }]);
    }
  });

  it('takes token keys only of exactly 32 bytes, and keeps them in the order listed, the last signing', () => {
    for (const length of [31, 33]) {
      const parsed = parseConfig({ TALLY_TOKEN_KEYS: `1:${Buffer.alloc(length, 1).toString('base64')}` });
      assert.ok(!parsed.ok, `a ${length}-byte key was accepted`);
    }
    const keyA = Buffer.alloc(32, 1);
    const keyB = Buffer.alloc(32, 2);
    const parsed = parseConfig({
      TALLY_TOKEN_KEYS: `7:${keyA.toString('base64')}, 3:${keyB.toString('base64')}`,
    });
    assertAccepted(parsed);
    assert.deepEqual(parsed.config.tokenKeys, [
      { id: 7, key: keyA },
      { id: 3, key: keyB },
    ]);
  });

  it('refuses rules that are not an object of lists, or name an unknown format, channel or method', () => {
    const refused = parseConfig({ TALLY_RULES: '[]' });
    assertRefused(refused);
    assert.match(refused.errors[0] ?? '', /^rules: TALLY_RULES must be \{/);
    const rule = { format: 'banner', channel: 'web', method: 'adm', ttlSeconds: 600 };
    const parsed = parseConfig({
      TALLY_RULES: JSON.stringify({
        '*': [
          { ...rule, format: 'popup' },
          { ...rule, channel: 'dooh' },
          { ...rule, method: 'pixel' },
        ],
      }),
    });
    assertRefused(parsed);
    // Each naming the field and the values it takes: the README's table describes the methods.
    assert.deepEqual(parsed.errors, [
      'rules.*: in TALLY_RULES, {"format":"popup","channel":"web","method":"adm","ttlSeconds":600} needs a known format: "popup" is none of banner, video, audio, native',
      'rules.*: in TALLY_RULES, {"format":"banner","channel":"dooh","method":"adm","ttlSeconds":600} needs a known channel: "dooh" is none of web, app, ctv',
      'rules.*: in TALLY_RULES, {"format":"banner","channel":"web","method":"pixel","ttlSeconds":600} needs a known method: "pixel" is none of adm, omid, burl, vast, native',
    ]);
    const bare = parseConfig({ TALLY_RULES: JSON.stringify({ '*': [{ format: 'banner' }, 'adm'] }) });
    assertRefused(bare);
    assert.deepEqual(bare.errors, [
      'rules.*: in TALLY_RULES, {"format":"banner"} needs a known channel: none is given (web, app, ctv); a known method: none is given (adm, omid, burl, vast, native); a ttlSeconds that is an integer from 1 to 604800 (7 days)',
      'rules.*: in TALLY_RULES, "adm" needs to be {"format","channel","method","ttlSeconds"}',
    ]);
  });

  it('refuses a rule with a field it does not read, which would otherwise apply the rule wider than meant', () => {
    const rule = { format: 'banner', channel: 'web', method: 'adm', ttlSeconds: 600 };
    const parsed = parseConfig({
      TALLY_RULES: JSON.stringify({
        '*': [
          { ...rule, placementId: 7 },
          { ...rule, ttlSecond: 60 },
        ],
      }),
    });
    assertRefused(parsed);
    assert.deepEqual(parsed.errors, [
      'rules.*: in TALLY_RULES, {"format":"banner","channel":"web","method":"adm","ttlSeconds":600,"placementId":7} has an unknown field "placementId" (a rule has only format, channel, method, ttlSeconds; it applies to the publisher it is listed under)',
      'rules.*: in TALLY_RULES, {"format":"banner","channel":"web","method":"adm","ttlSeconds":600,"ttlSecond":60} has an unknown field "ttlSecond": did you mean ttlSeconds?',
    ]);
  });

  it('names omid among the methods a banner may use when refusing one it cannot', () => {
    const parsed = parseConfig({
      TALLY_RULES: JSON.stringify({
        '*': [{ format: 'banner', channel: 'web', method: 'vast', ttlSeconds: 600 }],
      }),
    });
    assertRefused(parsed);
    assert.match(
      parsed.errors[0] ?? '',
      /gives banner a method Tally cannot instrument for it: use adm, burl or omid$/,
    );
  });

  it('takes price keys per seat in base64 and refuses a list in their place', () => {
    const key = (fill: number) => Buffer.alloc(32, fill).toString('base64');
    const parsed = parseConfig({
      TALLY_PRICE_KEYS: JSON.stringify({ s1: { encryptionKey: key(1), integrityKey: key(2) } }),
    });
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
    assert.deepEqual(parsed.config.priceKeys.get(priceKeyName(1, 's1')), {
      encryptionKey: Buffer.alloc(32, 1),
      integrityKey: Buffer.alloc(32, 2),
    });
    const refused = parseConfig({ TALLY_PRICE_KEYS: '[]' });
    assertRefused(refused);
    assert.match(refused.errors[0] ?? '', /^priceKeys: TALLY_PRICE_KEYS must be \{/);
  });

  it('refuses rules under an empty publisher id, which wins naming no publisher would take unsaid', () => {
    const rule = { format: 'banner', channel: 'web', method: 'adm', ttlSeconds: 900 };
    const refused = parseConfig({ TALLY_RULES: JSON.stringify({ '': [rule], '*': [rule] }) });
    assertRefused(refused);
    assert.deepEqual(refused.errors, [
      'rules."": in TALLY_RULES, "" names no publisher id: wins naming no publisher count by the "*" rules, those for every publisher; put these under "*" or under a publisher\'s id',
    ]);
  });

  it('refuses price keys that are not 32 bytes, pointing a key written in hex to base64', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const hexKey = Buffer.alloc(32, 7).toString('hex');
    const short = Buffer.alloc(16, 7).toString('base64');
    const refused = parseConfig({
      TALLY_PRICE_KEYS: JSON.stringify({
        hex: { encryptionKey: hexKey, integrityKey: key },
        short: { encryptionKey: key, integrityKey: short },
      }),
    });
    assert.equal(refused.ok, false, 'keys of the wrong length are refused');
    assert.deepEqual(refused.ok ? [] : refused.errors, [
      "priceKeys.hex: in TALLY_PRICE_KEYS, encryptionKey is 48 bytes; Google's price encryption keys are 32 bytes, and this one is written in hex: give it in base64 (e.g. `xxd -r -p | base64`)",
      "priceKeys.short: in TALLY_PRICE_KEYS, integrityKey is 16 bytes; Google's price encryption keys are 32 bytes, written in base64 as 43 or 44 characters: copy the whole key as the exchange issued it",
    ]);
  });

  it('points a price key written in capital hex digits to base64 as it does one in small ones', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const refused = parseConfig({
      TALLY_PRICE_KEYS: JSON.stringify({
        dsp: { encryptionKey: key, integrityKey: Buffer.alloc(32, 0xab).toString('hex').toUpperCase() },
      }),
    });
    assertRefused(refused);
    assert.deepEqual(refused.errors, [
      "priceKeys.dsp: in TALLY_PRICE_KEYS, integrityKey is 48 bytes; Google's price encryption keys are 32 bytes, and this one is written in hex: give it in base64 (e.g. `xxd -r -p | base64`)",
    ]);
  });

  it("names a seat's keys of the wrong length alone, not calling the seat's next keys a repeat of keys it refused", () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const refused = parseConfig({
      TALLY_PRICE_KEYS: JSON.stringify({
        short: { seat: 'dsp', encryptionKey: key, integrityKey: Buffer.alloc(16, 7).toString('base64') },
        whole: { seat: 'dsp', encryptionKey: key, integrityKey: key },
      }),
    });
    assertRefused(refused);
    assert.deepEqual(refused.errors, [
      "priceKeys.short: in TALLY_PRICE_KEYS, integrityKey is 16 bytes; Google's price encryption keys are 32 bytes, written in base64 as 43 or 44 characters: copy the whole key as the exchange issued it",
    ]);
  });

  it("keeps a seat's price keys for the operator's account unless they name another, one seat's in each account apart", () => {
    const key = (fill: number) => Buffer.alloc(32, fill).toString('base64');
    const parsed = parseConfig({
      TALLY_PRICE_KEYS: JSON.stringify({
        dsp: { encryptionKey: key(1), integrityKey: key(2) },
        'dsp-for-2': { seat: 'dsp', accountId: 2, encryptionKey: key(3), integrityKey: key(4) },
      }),
    });
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
    assert.deepEqual(parsed.config.priceKeys.get(priceKeyName(1, 'dsp'))?.encryptionKey, Buffer.alloc(32, 1));
    assert.deepEqual(parsed.config.priceKeys.get(priceKeyName(2, 'dsp'))?.encryptionKey, Buffer.alloc(32, 3));
    assert.equal(parsed.config.priceKeys.get(priceKeyName(3, 'dsp')), undefined);
    assert.equal(parsed.config.priceKeys.get(priceKeyName(1, 'dsp-for-2')), undefined);
    const refused = parseConfig({
      TALLY_PRICE_KEYS: JSON.stringify({
        a: { accountId: 0, encryptionKey: key(1), integrityKey: key(2) },
        b: { seat: '', encryptionKey: key(1), integrityKey: key(2) },
        c: { encryptionKey: key(1), integrityKey: key(2) },
        d: { seat: 'c', accountId: 1, encryptionKey: key(1), integrityKey: key(2) },
        e: { accountID: 2, encryptionKey: key(1), integrityKey: key(2) },
        f: { owner: 2, encryptionKey: key(1), integrityKey: key(2) },
      }),
    });
    assertRefused(refused);
    assert.deepEqual(refused.errors, [
      'priceKeys.a: in TALLY_PRICE_KEYS, accountId must be an account id (a whole number from 1), not 0',
      'priceKeys.b: in TALLY_PRICE_KEYS, seat must be the seat\'s id as wins name it, not ""',
      'priceKeys.d: in TALLY_PRICE_KEYS, seat "c" of account 1 already has keys',
      'priceKeys.e: in TALLY_PRICE_KEYS, unknown field "accountID": did you mean accountId?',
      'priceKeys.f: in TALLY_PRICE_KEYS, unknown field "owner" (fields: encryptionKey, integrityKey, accountId, seat)',
    ]);
  });
});
