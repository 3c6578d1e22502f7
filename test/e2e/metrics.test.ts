import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { API_ERROR_CODES } from '../../src/control/openapi.js';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { startDsp } from '../support/dsp.js';
import type { FakeDsp } from '../support/dsp.js';
import { CHROME } from '../support/user-agents.js';
import { rawExchange } from '../support/raw-http.js';
import { until } from '../support/until.js';

/** One sample line of the exposition: its metric name, labels and value. */
interface Sample {
  name: string;
  labels: Map<string, string>;
  value: number;
}

/** One metric family: its `# TYPE`, `# HELP` and samples, in the order given. */
interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  assert.match(text, /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/, `not a Prometheus float: ${line}`);
  return Number(text);
}

/** Reads a `"…"` label value at `at` (its opening quote), unescaping `\\`, `\"` and `\n`. */
function readQuoted(line: string, at: number): { value: string; end: number } {
  assert.equal(line[at], '"', `a label value must be quoted: ${line}`);
  let value = '';
  for (let i = at + 1; i < line.length; i++) {
    const char = line[i];
    if (char === '"') return { value, end: i + 1 };
    if (char === '\n') assert.fail(`a raw newline in a label value: ${line}`);
    if (char === '\\') {
      const next = line[++i];
      if (next === '\\') value += '\\';
      else if (next === '"') value += '"';
      else if (next === 'n') value += '\n';
      else assert.fail(`an invalid escape \\${next} in a label value: ${line}`);
    } else value += char;
  }
  return assert.fail(`an unterminated label value: ${line}`);
}

/** The family a sample belongs to: `x_bucket`, `x_sum` and `x_count` are histogram `x`'s. */
function familyOf(name: string, families: Map<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && families.get(base)?.type === 'histogram') return base;
  }
  return name;
}

/**
 * Parses the Prometheus text exposition format (0.0.4) strictly: every family has one `# TYPE`
 * (before its samples) and one `# HELP`, its samples are together, names and escapes are valid,
 * counters are named `…_total`, no series appears twice, and histograms are complete (cumulative
 * `le` buckets ending at `+Inf`, equal to `_count`, and a `_sum`).
 */
function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: string | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    assert.notEqual(line, '', 'no empty lines');
    const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (comment !== null) {
      const [, kind, name = '', rest = ''] = comment;
      assert.match(name, METRIC_NAME, line);
      const family = families.get(name) ?? { type: '', help: '', samples: [] };
      assert.ok(family.samples.length === 0, `# ${kind} after the samples of ${name}`);
      if (kind === 'TYPE') {
        assert.equal(family.type, '', `a second # TYPE for ${name}`);
        assert.ok(TYPES.has(rest), `an unknown type: ${line}`);
        family.type = rest;
      } else {
        assert.equal(family.help, '', `a second # HELP for ${name}`);
        assert.doesNotMatch(rest.replace(/\\[\\n]/g, ''), /\\/, `an invalid escape in HELP: ${line}`);
        family.help = rest.replace(/\\(\\|n)/g, (_match, char: string) => (char === 'n' ? '\n' : '\\'));
      }
      families.set(name, family);
      if (current !== name) assert.ok(!seen.has(name), `the lines of ${name} are not together`);
      seen.add(name);
      current = name;
      continue;
    }
    assert.ok(!line.startsWith('#'), `an unknown comment: ${line}`);
    const nameEnd = line.search(/[{ ]/);
    assert.ok(nameEnd > 0, `a sample without a value: ${line}`);
    const name = line.slice(0, nameEnd);
    assert.match(name, METRIC_NAME, line);
    const labels = new Map<string, string>();
    let at = nameEnd;
    if (line[at] === '{') {
      at++;
      while (line[at] !== '}') {
        const equals = line.indexOf('=', at);
        assert.ok(equals > at, `a label without a value: ${line}`);
        const labelName = line.slice(at, equals);
        assert.match(labelName, LABEL_NAME, line);
        assert.ok(!labels.has(labelName), `label ${labelName} twice: ${line}`);
        const { value, end } = readQuoted(line, equals + 1);
        labels.set(labelName, value);
        at = end;
        if (line[at] === ',') at++;
        else assert.equal(line[at], '}', `labels must be separated by commas: ${line}`);
      }
      at++;
    }
    const fields = line.slice(at).split(' ');
    assert.equal(fields[0], '', `one space before the value: ${line}`);
    assert.ok(fields.length === 2 || fields.length === 3, `a value and at most a timestamp: ${line}`);
    const value = parseValue(fields[1] ?? '', line);
    const familyName = familyOf(name, families);
    const family = families.get(familyName);
    assert.ok(family !== undefined && family.type !== '', `a sample before its # TYPE: ${line}`);
    assert.equal(current, familyName, `the lines of ${familyName} are not together`);
    const series = `${name}${JSON.stringify([...labels].sort())}`;
    assert.ok(!seen.has(series), `a series twice: ${line}`);
    seen.add(series);
    if (family.type === 'counter') assert.ok(value >= 0, `a negative counter: ${line}`);
    family.samples.push({ name, labels, value });
  }
  for (const [name, family] of families) {
    assert.notEqual(family.type, '', `${name} has no # TYPE`);
    assert.notEqual(family.help, '', `${name} has no # HELP`);
    if (family.type === 'counter') assert.match(name, /_total$/, `counter ${name} is named …_total`);
    if (family.type === 'histogram') checkHistogram(name, family);
  }
  return families;
}

/** The labels of a sample other than `le`, as one key. */
function seriesKey(labels: Map<string, string>): string {
  return JSON.stringify([...labels].filter(([name]) => name !== 'le').sort());
}

function checkHistogram(name: string, family: Family): void {
  const keys = new Set(family.samples.map((sample) => seriesKey(sample.labels)));
  for (const key of keys) {
    const of = (suffix: string) =>
      family.samples.filter(
        (sample) => sample.name === `${name}${suffix}` && seriesKey(sample.labels) === key,
      );
    const buckets = of('_bucket');
    assert.ok(buckets.length > 0, `${name}${key} has no buckets`);
    let bound = -Infinity;
    let count = 0;
    for (const bucket of buckets) {
      const le = bucket.labels.get('le');
      assert.ok(le !== undefined, `${name}_bucket without le`);
      const next = parseValue(le, `${name}_bucket le="${le}"`);
      assert.ok(next > bound, `${name} buckets not in increasing le order`);
      assert.ok(bucket.value >= count, `${name} buckets not cumulative at le="${le}"`);
      bound = next;
      count = bucket.value;
    }
    assert.equal(bound, Infinity, `${name}${key} has no le="+Inf" bucket`);
    const [total] = of('_count');
    assert.equal(total?.value, count, `${name}_count is the +Inf bucket`);
    assert.equal(of('_sum').length, 1, `${name}${key} has one _sum`);
  }
}

/** The value of the one sample of `name` whose labels include `labels`; 0 when there is none. */
function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const matching = [...families.values()]
    .flatMap((family) => family.samples)
    .filter(
      (sample) =>
        sample.name === name &&
        Object.entries(labels).every(([key, value]) => sample.labels.get(key) === value),
    );
  assert.ok(matching.length <= 1, `${name} ${JSON.stringify(labels)} names one series`);
  return matching[0]?.value ?? 0;
}

let tally: TestServer;
let dsp: FakeDsp;

before(async () => {
  dsp = await startDsp();
  // A failed burl is retried only after an hour: it is attempted once during the test.
  // The commit queue's limit is shown as given, not as its default (50 000).
  tally = await startServer({ TALLY_BURL_RETRY_SECONDS: '3600', TALLY_COMMIT_MAX_QUEUE: '30000' });
});

after(async () => {
  await tally?.dispose();
  await dsp?.close();
});

async function fire(url: string): Promise<void> {
  const response = await fetch(url, { headers: { 'user-agent': CHROME }, redirect: 'manual' });
  await response.arrayBuffer();
  assert.equal(response.ok, true, `${url} answered ${response.status}`);
}

async function scrape(): Promise<{ text: string; families: Map<string, Family> }> {
  const response = await fetch(`${tally.url}/metrics`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await response.text();
  return { text, families: parseExposition(text) };
}

/** The requests answered 400 without being read, as `/metrics` counts them now. */
async function unreadMalformed(): Promise<number> {
  return valueOf((await scrape()).families, 'tally_unread_requests_total', { status: '400' });
}

/** How many `request_aborted` lines Tally has logged so far. */
function abortedLogged(): number {
  return tally.output().split('"event":"request_aborted"').length - 1;
}

/** A wins call whose client gives up mid-upload: a head the API reads and routes, a body cut short. */
function cutShortWinsCall(): string {
  return (
    'POST /v1/wins HTTP/1.1\r\nHost: tally\r\n' +
    `Authorization: Bearer ${tally.adminKey}\r\nContent-Type: application/json\r\n` +
    'Content-Length: 100\r\n\r\n{"wins":'
  );
}

describe('/metrics', () => {
  it('shows the counters, histograms and outbox gauge from the start, before any notice, so that their first increase is seen', async () => {
    const { families } = await scrape();
    assert.equal(families.get('tally_commit_queue_depth')?.type, 'gauge');
    assert.equal(families.get('tally_commit_queue_limit')?.type, 'gauge');
    assert.equal(valueOf(families, 'tally_commit_queue_limit'), 30_000, 'TALLY_COMMIT_MAX_QUEUE');
    const zero = (name: string, labels: Record<string, string> = {}) => {
      const series = families
        .get(name)
        ?.samples.filter((sample) =>
          Object.entries(labels).every(([key, value]) => sample.labels.get(key) === value),
        );
      assert.deepEqual(
        series?.map((sample) => sample.value),
        [0],
        `${name} ${JSON.stringify(labels)} is shown at 0`,
      );
      assert.equal(families.get(name)?.type, 'counter');
    };
    zero('tally_commit_failures_total');
    for (const impressionType of ['exchange', 'external_impression', 'external_click']) {
      for (const reason of ['queue_full', 'not_committed', 'not_synced', 'failed']) {
        zero('tally_notices_refused_total', { impression_type: impressionType, reason });
      }
      zero('tally_notices_total', { outcome: 'counted', reason: '', impression_type: impressionType });
    }
    // A surge of these is a sealing key lost: notices of wins sealed with it can no longer be read.
    zero('tally_notices_total', {
      outcome: 'not_counted',
      reason: 'invalid_token',
      impression_type: 'exchange',
    });
    for (const status of ['delivered', 'retry', 'dead']) zero('tally_burl_deliveries_total', { status });
    zero('tally_tracker_ancost_ignored_total');
    for (const key of ['api', 'metrics']) zero('tally_api_auth_failures_total', { key });
    // Tally's own failures and refusals, which alerts are written on.
    for (const code of ['INTERNAL', 'MAIL_FAILED', 'UNAVAILABLE']) zero('tally_api_errors_total', { code });
    for (const status of ['400', '408', '417', '431']) zero('tally_unread_requests_total', { status });
    for (const target of ['notice', 'tracker', 'connect'])
      zero('tally_refused_method_requests_total', { target });
    const histogramBounds = {
      tally_commit_batch_size: ['1', '8', '32', '128', '512', '2048', '8192', '32768', '131072', '+Inf'],
      // In seconds, Prometheus' base unit.
      tally_commit_latency_seconds: [
        '0.0005',
        '0.001',
        '0.002',
        '0.005',
        '0.01',
        '0.025',
        '0.05',
        '0.1',
        '0.25',
        '0.5',
        '1',
        '2.5',
        '5',
        '10',
        '+Inf',
      ],
      // Seconds too, with a bucket at the 20 ms an answer should take at most.
      tally_notice_commit_wait_seconds: [
        '0.0005',
        '0.001',
        '0.002',
        '0.005',
        '0.01',
        '0.02',
        '0.05',
        '0.1',
        '0.25',
        '0.5',
        '1',
        '2.5',
        '5',
        '10',
        '+Inf',
      ],
    };
    for (const [name, bounds] of Object.entries(histogramBounds)) {
      const histogram = families.get(name);
      assert.equal(histogram?.type, 'histogram', `${name} is shown`);
      assert.deepEqual(
        histogram?.samples.flatMap((sample) => sample.labels.get('le') ?? []),
        bounds,
        `${name}'s buckets`,
      );
      assert.deepEqual(
        histogram?.samples.filter((sample) => sample.value !== 0),
        [],
        `${name} is at 0 in every bucket, _sum and _count`,
      );
    }
    assert.deepEqual(
      families
        .get('tally_burl_outbox')
        ?.samples.map((sample) => [sample.name, Object.fromEntries(sample.labels), sample.value]),
      ['pending', 'delivered', 'dead', 'redirected'].map((status) => ['tally_burl_outbox', { status }, 0]),
    );
    assert.equal(families.get('tally_burl_outbox')?.type, 'gauge');
    assert.equal(families.get('tally_burl_relay_lag_seconds')?.type, 'gauge');
    assert.equal(valueOf(families, 'tally_burl_relay_lag_seconds'), 0);
    assert.equal(families.get('tally_burl_oldest_pending_age_seconds')?.type, 'gauge');
    assert.equal(valueOf(families, 'tally_burl_oldest_pending_age_seconds'), 0, 'none pending');
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.deepEqual(
      families
        .get('tally_build_info')
        ?.samples.map((sample) => [sample.name, Object.fromEntries(sample.labels), sample.value]),
      [['tally_build_info', { version }, 1]],
      'the version serving, as a label of a gauge at 1',
    );
    assert.equal(families.get('tally_build_info')?.type, 'gauge');
    assert.equal(families.get('tally_ready')?.type, 'gauge');
    assert.equal(valueOf(families, 'tally_ready'), 1, 'ready, as /readyz answers 200');
  });

  it('names in the README exactly the metric families it shows', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const paragraph = readme.split('\n\n').find((text) => text.startsWith('`/metrics` gives'));
    assert.ok(paragraph !== undefined, 'the README has a paragraph starting "`/metrics` gives"');
    const documented = new Set(paragraph.match(/tally_[a-z_]+/g));
    const { families } = await scrape();
    assert.deepEqual([...documented].sort(), [...families.keys()].sort());
  });

  it('says in the HELP of the commit metrics that they are per batch handed to the counting thread, which merges the batches queued while one commits into one transaction', async () => {
    const { families } = await scrape();
    assert.deepEqual(
      ['tally_commit_batch_size', 'tally_commit_failures_total', 'tally_commit_latency_seconds'].map(
        (name) => [name, families.get(name)?.help],
      ),
      [
        [
          'tally_commit_batch_size',
          'Events per batch handed to the counting thread (which commits the batches queued while it commits one together, in one transaction)',
        ],
        [
          'tally_commit_failures_total',
          'Batches handed to the counting thread whose commit failed (their events were answered 503); each counts, also when several failed in one transaction',
        ],
        [
          'tally_commit_latency_seconds',
          'Time from handing one batch to the counting thread to its commit, in seconds, with any wait for the transaction before it',
        ],
      ],
    );
  });

  it('counts notices by outcome and reason, commits, queue depth and burl deliveries by status, as they happened', async () => {
    const win = (id: string, path: string) => ({
      request: { id, imp: [{ id: '1', banner: {} }], site: {} },
      seat: 'seat-1',
      bid: {
        id: `bid-${id}`,
        impid: '1',
        price: 1,
        adm: '<p>ad</p>',
        burl: `${dsp.url}${path}?a=\${AUCTION_ID}`,
      },
    });
    dsp.failNext('/fail', 1000);
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', {
      wins: [win('metrics-ok', '/bill'), win('metrics-fail', '/fail')],
    });
    assert.equal(registered.status, 200, JSON.stringify(registered.body));
    const [ok, failing] = registered.body.results;
    assert.equal(ok.ok, true, JSON.stringify(ok));
    assert.equal(failing.ok, true, JSON.stringify(failing));
    await fire(ok.noticeUrls[ok.method]);
    await fire(ok.noticeUrls[ok.method]); // a duplicate
    await fire(failing.noticeUrls[failing.method]);
    await fire(`${tally.url}/n/not-a-token`);

    // The burls are relayed in the background, the outbox counted at most once a second.
    let families = (await scrape()).families;
    for (
      let poll = 0;
      poll < 300 &&
      (valueOf(families, 'tally_burl_deliveries_total', { status: 'retry' }) < 1 ||
        valueOf(families, 'tally_burl_deliveries_total', { status: 'delivered' }) < 1 ||
        valueOf(families, 'tally_burl_outbox', { status: 'delivered' }) < 1 ||
        valueOf(families, 'tally_burl_outbox', { status: 'pending' }) > 1);
      poll++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      families = (await scrape()).families;
    }

    const types = Object.fromEntries([...families].map(([name, family]) => [name, family.type]));
    assert.deepEqual(types, {
      tally_commit_failures_total: 'counter',
      tally_notices_refused_total: 'counter',
      tally_burl_deliveries_total: 'counter',
      tally_commit_queue_depth: 'gauge',
      tally_commit_queue_limit: 'gauge',
      tally_commit_in_flight_events: 'gauge',
      tally_commit_oldest_wait_seconds: 'gauge',
      tally_commit_fault: 'gauge',
      tally_burl_outbox: 'gauge',
      tally_burl_relay_lag_seconds: 'gauge',
      tally_burl_oldest_pending_age_seconds: 'gauge',
      tally_build_info: 'gauge',
      tally_data_disk_free_bytes: 'gauge',
      tally_ready: 'gauge',
      tally_connections_dropped_total: 'counter',
      tally_connections_open: 'gauge',
      tally_commit_batch_size: 'histogram',
      tally_commit_latency_seconds: 'histogram',
      tally_notice_commit_wait_seconds: 'histogram',
      tally_notices_total: 'counter',
      tally_tracker_ancost_ignored_total: 'counter',
      tally_api_auth_failures_total: 'counter',
      tally_api_errors_total: 'counter',
      tally_unread_requests_total: 'counter',
      tally_refused_method_requests_total: 'counter',
    });
    const notices = families.get('tally_notices_total')?.samples ?? [];
    assert.deepEqual(
      notices.map((sample) => [Object.fromEntries(sample.labels), sample.value]),
      [
        [{ outcome: 'counted', reason: '', impression_type: 'exchange' }, 2],
        [{ outcome: 'counted', reason: '', impression_type: 'external_impression' }, 0],
        [{ outcome: 'counted', reason: '', impression_type: 'external_click' }, 0],
        [{ outcome: 'not_counted', reason: 'invalid_token', impression_type: 'exchange' }, 1],
        [{ outcome: 'not_counted', reason: 'duplicate', impression_type: 'exchange' }, 1],
      ],
    );
    // Every notice was committed in some batch; every batch was timed.
    assert.equal(valueOf(families, 'tally_commit_batch_size_sum'), 4);
    const batches = valueOf(families, 'tally_commit_batch_size_count');
    assert.ok(batches >= 1 && batches <= 4, `${batches} batches`);
    assert.equal(valueOf(families, 'tally_commit_latency_seconds_count'), batches);
    const latencySeconds = valueOf(families, 'tally_commit_latency_seconds_sum');
    assert.ok(latencySeconds > 0, `the commits took some time; got ${latencySeconds} seconds`);
    // Every committed notice was timed from its queueing, for at least its own commit.
    assert.equal(valueOf(families, 'tally_notice_commit_wait_seconds_count'), 4);
    const waitedSeconds = valueOf(families, 'tally_notice_commit_wait_seconds_sum');
    assert.ok(
      waitedSeconds >= latencySeconds,
      `waited ${waitedSeconds} s, the commits took ${latencySeconds} s`,
    );
    assert.equal(valueOf(families, 'tally_commit_queue_depth'), 0);
    assert.equal(valueOf(families, 'tally_commit_in_flight_events'), 0);
    assert.equal(valueOf(families, 'tally_commit_oldest_wait_seconds'), 0);
    assert.equal(valueOf(families, 'tally_commit_fault', { kind: 'disk_full' }), 0);
    assert.equal(valueOf(families, 'tally_burl_deliveries_total', { status: 'delivered' }), 1);
    assert.equal(valueOf(families, 'tally_burl_deliveries_total', { status: 'retry' }), 1);
    assert.equal(valueOf(families, 'tally_burl_deliveries_total', { status: 'dead' }), 0);
    assert.equal(valueOf(families, 'tally_burl_outbox', { status: 'pending' }), 1);
    assert.equal(valueOf(families, 'tally_burl_outbox', { status: 'delivered' }), 1);
    assert.equal(valueOf(families, 'tally_burl_outbox', { status: 'dead' }), 0);
    assert.equal(valueOf(families, 'tally_commit_failures_total'), 0);
    assert.deepEqual(
      dsp.hits.map((hit) => `${hit.path}?${hit.query.toString()}`),
      ['/bill?a=metrics-ok'],
    );
  });

  it('counts by status the requests it answered without reading them, GET * among them, which no ledger or report holds', async () => {
    const unread = async (status: string) =>
      valueOf((await scrape()).families, 'tally_unread_requests_total', { status });
    const [malformedBefore, tooLargeBefore] = [await unread('400'), await unread('431')];
    const refusals = [
      // A control character in a tracker hit's target: node:http cannot read it.
      ['GET /imptr?id=1&site=a\x01b HTTP/1.1\r\nHost: tally\r\n\r\n', /^HTTP\/1\.1 400 /],
      // A notice naming two hosts: refused before it is read as a notice.
      ['GET /n/x HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n', /^HTTP\/1\.1 400 /],
      [`GET /n/x HTTP/1.1\r\nHost: tally\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
      // The asterisk form names no resource: only OPTIONS may send it.
      ['GET * HTTP/1.1\r\nHost: tally\r\nConnection: close\r\n\r\n', /^HTTP\/1\.1 400 /],
      // OPTIONS * is read and answered: not counted.
      ['OPTIONS * HTTP/1.1\r\nHost: tally\r\nConnection: close\r\n\r\n', /^HTTP\/1\.1 204 /],
    ] as const;
    for (const [request, answer] of refusals) assert.match(await rawExchange(tally.url, request), answer);
    assert.equal(await unread('400'), malformedBefore + 3);
    assert.equal(await unread('431'), tooLargeBefore + 1);
  });

  it('counts as unread the requests refused 417 for an expectation it does not meet, a notice and an API call among them, and not as API errors', async () => {
    const counts = async (): Promise<[number, number]> => {
      const { families } = await scrape();
      return [
        valueOf(families, 'tally_unread_requests_total', { status: '417' }),
        valueOf(families, 'tally_api_errors_total', { code: 'EXPECTATION_FAILED' }),
      ];
    };
    const [unreadBefore, errorsBefore] = await counts();
    const refusals = [
      // A notice refused so is recorded nowhere: no ledger, log or report holds it.
      'GET /n/x HTTP/1.1\r\nHost: tally\r\nExpect: bogus\r\nConnection: close\r\n\r\n',
      'POST /v1/wins HTTP/1.1\r\nHost: tally\r\nExpect: 100-continue, bogus\r\nContent-Length: 2\r\nConnection: close\r\n\r\n',
    ];
    for (const request of refusals) {
      assert.match(await rawExchange(tally.url, request), /^HTTP\/1\.1 417 /);
    }
    assert.deepEqual(await counts(), [unreadBefore + 2, errorsBefore]);
  });

  it('does not count as unread an API call whose client ends its connection midway through the body, which the API read and logs as request_aborted, but still counts a hit so cut short', async () => {
    const [before, abortedBefore] = [await unreadMalformed(), abortedLogged()];
    // A wins client giving up mid-upload: its head was read and routed, its body cut short.
    await rawExchange(tally.url, cutShortWinsCall(), { halfClose: true });
    await until(() => Promise.resolve(abortedLogged() > abortedBefore), 'request_aborted logged');
    assert.equal(await unreadMalformed(), before, 'a call the API read is no request Tally could not read');
    // A hit whose chunked body is cut short is still one: served only once its body is read whole,
    // it is recorded and logged nowhere.
    await rawExchange(
      tally.url,
      'POST /imptr?id=1&cachebuster=cut HTTP/1.1\r\nHost: tally\r\n' +
        `User-Agent: ${CHROME}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab`,
      { halfClose: true },
    );
    assert.equal(await unreadMalformed(), before + 1, 'a hit cut short midway through its body is unread');
  });

  it('does not count as unread an API call pipelined behind a beacon still being answered whose client ends its connection midway through the body the API reads', async () => {
    const [before, abortedBefore] = [await unreadMalformed(), abortedLogged()];
    // A beacon node:http serves (recorded, its answer waiting for its commit), then a wins call
    // whose client gives up mid-upload.
    await rawExchange(
      tally.url,
      `POST /n/not-a-token?f=b HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\nContent-Length: 2\r\n\r\n{}` +
        cutShortWinsCall(),
      { halfClose: true },
    );
    await until(() => Promise.resolve(abortedLogged() > abortedBefore), 'request_aborted logged');
    assert.equal(await unreadMalformed(), before, 'a call the API read is no request Tally could not read');
  });

  it('counts as unread an API call cut short midway through a body its route never reads, which no log holds', async () => {
    const [before, loggedBefore] = [await unreadMalformed(), abortedLogged()];
    // A report reads no body: it is still being run on the report thread when the body ends short.
    const answer = await rawExchange(
      tally.url,
      'GET /v1/reports?from=2026-01-01&to=2026-01-02 HTTP/1.1\r\nHost: tally\r\n' +
        `Authorization: Bearer ${tally.adminKey}\r\nContent-Length: 100\r\n\r\nabc`,
      { halfClose: true },
    );
    assert.match(answer, /^HTTP\/1\.1 400 [^]*"MALFORMED_REQUEST"/, answer);
    assert.equal(await unreadMalformed(), before + 1, 'a call no route read the body of is unread');
    assert.equal(abortedLogged(), loggedBefore, 'no request_aborted is logged for it');
  });

  it('counts by code the API calls answered with an error, an unknown path and a missing key among them, and no request it could not read', async () => {
    const errors = async () => {
      const { families } = await scrape();
      return ['NOT_FOUND', 'UNAUTHENTICATED', 'VALIDATION_FAILED', 'MALFORMED_REQUEST'].map((code) =>
        valueOf(families, 'tally_api_errors_total', { code }),
      );
    };
    const before = await errors();
    assert.equal((await api(tally, tally.adminKey, 'GET', '/v1/no-such-thing')).status, 404);
    assert.equal((await fetch(`${tally.url}/v1/advertisers`)).status, 401);
    const refused = await api(tally, tally.adminKey, 'POST', '/v1/advertisers', { name: '' });
    assert.equal(refused.status, 400);
    // Counted in tally_unread_requests_total alone: no route of the API read it.
    assert.match(
      await rawExchange(
        tally.url,
        'GET /v1/advertisers HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n',
      ),
      /^HTTP\/1\.1 400 /,
    );
    assert.deepEqual(
      (await errors()).map((value, index) => value - (before[index] ?? 0)),
      [1, 1, 1, 0],
    );
  });

  it('agrees with the ledger after a known load: notices by outcome and reason as its events, outbox and attempts as its deliveries, the age of the oldest pending delivery from its creation, no counter going back between scrapes', async () => {
    const agedFromMs = Date.now() - 3_600_000;
    const scrapes: Map<string, Family>[] = [(await scrape()).families];
    dsp.failNext('/down', 1000);
    const wins = Array.from({ length: 6 }, (_, index) => ({
      request: { id: `agree-${index}`, imp: [{ id: '1', banner: {} }], site: {} },
      seat: `seat-agree-${index}`,
      bid: {
        id: `bid-agree-${index}`,
        impid: '1',
        price: 1,
        adm: '<p>ad</p>',
        burl: `${dsp.url}${index < 4 ? '/paid' : '/down'}?a=\${AUCTION_ID}`,
      },
    }));
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
    assert.equal(registered.status, 200, JSON.stringify(registered.body));
    const urls: string[] = registered.body.results.map(
      (result: { noticeUrls: Record<string, string>; method: string }) => result.noticeUrls[result.method],
    );
    // 6 notices, 3 of them fired again (duplicates), and 2 that name no win.
    for (const url of [
      ...urls,
      ...urls.slice(0, 3),
      `${tally.url}/n/nothing-1`,
      `${tally.url}/n/nothing-2`,
    ]) {
      await fire(url);
      scrapes.push((await scrape()).families);
    }
    const ledger = new Database(join(tally.dataDir, 'tally.db'));
    try {
      const notices = scrapes.at(-1)?.get('tally_notices_total')?.samples ?? [];
      const events = ledger
        .prepare(
          "SELECT outcome, coalesce(reason, '') AS reason, impression_type AS impressionType, count(*) AS n FROM events GROUP BY 1, 2, 3",
        )
        .all() as { outcome: string; reason: string; impressionType: string; n: number }[];
      const asKey = (outcome = '', reason = '', impressionType = '') =>
        `${outcome}/${reason}/${impressionType}`;
      assert.deepEqual(
        Object.fromEntries(
          notices
            .filter((sample) => sample.value > 0)
            .map((sample) => [
              asKey(
                sample.labels.get('outcome'),
                sample.labels.get('reason'),
                sample.labels.get('impression_type'),
              ),
              sample.value,
            ])
            .sort(),
        ),
        Object.fromEntries(
          events.map((row) => [asKey(row.outcome, row.reason, row.impressionType), row.n]).sort(),
        ),
      );
      // The two failing burls were tried once and wait an hour: their deadline is moved to now,
      // so that their next attempt kills them.
      const dueMs = Date.now();
      await until(async () => {
        const families = (await scrape()).families;
        scrapes.push(families);
        return valueOf(families, 'tally_burl_deliveries_total', { status: 'retry' }) >= 3;
      }, 'the failed attempts of both failing burls counted');
      ledger
        .prepare(
          "UPDATE deliveries SET due_ms = ?, deadline_ms = ? WHERE status = 'pending' AND url LIKE '%/down?%'",
        )
        .run(dueMs, dueMs);
      await until(async () => {
        const families = (await scrape()).families;
        scrapes.push(families);
        return (
          valueOf(families, 'tally_burl_deliveries_total', { status: 'dead' }) === 2 &&
          valueOf(families, 'tally_burl_outbox', { status: 'pending' }) === 1
        );
      }, 'both failing burls dead');
      // The one left pending (retried in an hour) as if it had been kept for an hour.
      ledger.prepare("UPDATE deliveries SET created_ms = ? WHERE status = 'pending'").run(agedFromMs);
    } finally {
      ledger.close();
    }
    // Counted again now, for the outbox gauge counted at most once a second.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const last = (await scrape()).families;
    scrapes.push(last);
    const ageSeconds = valueOf(last, 'tally_burl_oldest_pending_age_seconds');
    const mostSeconds = (Date.now() - agedFromMs) / 1000;
    assert.ok(
      ageSeconds >= 3600 && ageSeconds <= mostSeconds,
      `the pending delivery kept an hour is ${ageSeconds} s old, at most ${mostSeconds}`,
    );
    const deliveries: { status: string; attempts: number }[] = [];
    for (let after = ''; ;) {
      const page = await api(tally, tally.adminKey, 'GET', `/v1/deliveries?limit=1000${after}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      deliveries.push(...page.body.deliveries);
      if (page.body.next === undefined || page.body.next === null) break;
      after = `&afterId=${page.body.next}`;
    }
    for (const status of ['pending', 'delivered', 'dead', 'redirected']) {
      assert.equal(
        valueOf(last, 'tally_burl_outbox', { status }),
        deliveries.filter((delivery) => delivery.status === status).length,
        `tally_burl_outbox{status="${status}"} is GET /v1/deliveries' count`,
      );
    }
    const attempts = ['delivered', 'retry', 'dead'].map((status) =>
      valueOf(last, 'tally_burl_deliveries_total', { status }),
    );
    assert.equal(
      attempts.reduce((sum, value) => sum + value, 0),
      deliveries.reduce((sum, delivery) => sum + delivery.attempts, 0),
      `every attempt the deliveries count is in tally_burl_deliveries_total (${attempts.join(', ')})`,
    );
    assert.equal(attempts[0], deliveries.filter((delivery) => delivery.status === 'delivered').length);
    assert.equal(attempts[2], deliveries.filter((delivery) => delivery.status === 'dead').length);
    // No counter series, histogram bucket, _sum or _count goes back from one scrape to the next.
    for (let index = 1; index < scrapes.length; index++) {
      for (const [name, family] of scrapes[index - 1] ?? []) {
        if (family.type === 'gauge') continue;
        for (const sample of family.samples) {
          const now = valueOf(scrapes[index] ?? new Map(), sample.name, Object.fromEntries(sample.labels));
          assert.ok(now >= sample.value, `${name} ${sample.name} went from ${sample.value} to ${now}`);
        }
      }
    }
  });
  it('takes no label value from what a request sends: after notices, hits and requests whose paths, queries and headers hold quotes, backslashes, newlines and control characters, every label is one of a known set and the exposition stays valid', async () => {
    const counted = (families: Map<string, Family>) => ({
      invalidTokens: valueOf(families, 'tally_notices_total', { reason: 'invalid_token' }),
      unknownTrackers:
        valueOf(families, 'tally_notices_total', {
          reason: 'unknown_tracker',
          impression_type: 'external_impression',
        }) +
        valueOf(families, 'tally_notices_total', {
          reason: 'unknown_tracker',
          impression_type: 'external_click',
        }),
      unread: valueOf(families, 'tally_unread_requests_total', { status: '400' }),
    });
    const before = counted((await scrape()).families);
    const odd = 'a"b\\c\nd';
    const encoded = encodeURIComponent(odd);
    for (const url of [
      `${tally.url}/n/${encoded}?f=${encoded}`,
      `${tally.url}/n/%22%5C?f=b`,
      `${tally.url}/imptr?id=${encoded}&cachebuster=${encoded}&ancost=${encoded}`,
      `${tally.url}/clktr?code=${encoded}&redir=${encoded}`,
    ]) {
      for (const method of ['GET', 'HEAD', 'POST', 'PUT']) {
        const response = await fetch(url, {
          method,
          headers: { 'user-agent': `${CHROME} "\\`, 'x-device-user-agent': odd.replace('\n', ' ') },
          redirect: 'manual',
        });
        await response.arrayBuffer();
      }
    }
    for (const request of [
      'GET /n/a\x01"b HTTP/1.1\r\nHost: tally\r\n\r\n',
      'GET /imptr?id="\\ HTTP/1.1\r\nHost: tally\r\nUser-Agent: "\\\r\nConnection: close\r\n\r\n',
      'GET /v1/%22%5C HTTP/1.1\r\nHost: tally\r\nConnection: close\r\n\r\n',
      'GE"T /n/x HTTP/1.1\r\nHost: tally\r\n\r\n',
    ]) {
      await rawExchange(tally.url, request);
    }
    const { families } = await scrape();
    // Each was served: 2 notices and 2 hits by GET, HEAD and POST (PUT is refused unrecorded), one
    // hit sent raw, and 2 requests that could not be read.
    assert.deepEqual(counted(families), {
      invalidTokens: before.invalidTokens + 6,
      unknownTrackers: before.unknownTrackers + 7,
      unread: before.unread + 2,
    });
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const known: Record<string, (value: string) => boolean> = {
      outcome: (value) => ['counted', 'not_counted'].includes(value),
      reason: (value) =>
        [
          '',
          ...['late', 'duplicate', 'invalid_traffic', 'prefetch', 'preview', 'not_billing_method'],
          ...['invalid_token', 'unknown_tracker', 'inactive_line_item', 'inactive_tracker'],
          ...['no_landing_page', 'queue_full', 'not_committed', 'not_synced', 'failed'],
        ].includes(value),
      impression_type: (value) => ['exchange', 'external_impression', 'external_click'].includes(value),
      status: (value) =>
        ['delivered', 'retry', 'dead', 'pending', 'redirected', '400', '408', '417', '431'].includes(value),
      kind: (value) => value === 'disk_full',
      target: (value) => ['notice', 'tracker', 'connect'].includes(value),
      key: (value) => ['api', 'metrics'].includes(value),
      // The API's error codes: `GET /v1/%22%5C` is answered 404 NOT_FOUND.
      code: (value) => Object.hasOwn(API_ERROR_CODES, value),
      version: (value) => value === version,
      le: (value) => value === '+Inf' || /^\d+(\.\d+)?$/.test(value),
    };
    const unknown = [...families.values()]
      .flatMap((family) => family.samples)
      .flatMap((sample) =>
        [...sample.labels]
          .filter(([name, value]) => known[name]?.(value) !== true)
          .map(([name, value]) => `${sample.name}{${name}=${JSON.stringify(value)}}`),
      );
    assert.deepEqual(unknown, []);
  });
});
