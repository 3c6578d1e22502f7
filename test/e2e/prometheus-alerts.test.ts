import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** js-yaml has no types of its own: only `load` is used, which answers what the YAML holds. */
const { load } = createRequire(import.meta.url)('js-yaml') as { load: (text: string) => unknown };

/** One sample line of an exposition: its metric name and labels. */
interface Sample {
  name: string;
  labels: Map<string, string>;
}

/** The sample lines of a Prometheus text exposition (its `#` lines left out). */
function samplesOf(exposition: string): Sample[] {
  return exposition
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line);
      assert.notEqual(match, null, `a sample line: ${line}`);
      const labels = new Map<string, string>();
      for (const [, name = '', value = ''] of (match?.[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
        labels.set(
          name,
          value.replace(/\\(.)/g, (_escape, char: string) => (char === 'n' ? '\n' : char)),
        );
      }
      return { name: match?.[1] ?? '', labels };
    });
}

/**
 * The series Prometheus stores for one scrape of `samples`: each with the `job` and `instance`
 * labels the scrape adds, and the scrape's own `up`.
 */
function asScraped(samples: readonly Sample[]): Sample[] {
  const target = [
    ['job', 'tally'],
    ['instance', 'tally:8080'],
  ] as const;
  return [...samples, { name: 'up', labels: new Map() }].map((sample) => ({
    name: sample.name,
    labels: new Map([...sample.labels, ...target]),
  }));
}

/** The PromQL functions and aggregations an expression may call. */
const FUNCTIONS = new Set([
  ...['sum', 'min', 'max', 'avg', 'count', 'topk', 'bottomk', 'quantile'],
  ...['rate', 'irate', 'increase', 'delta', 'deriv', 'predict_linear', 'changes', 'resets'],
  ...['histogram_quantile', 'absent', 'absent_over_time', 'max_over_time', 'min_over_time'],
  ...['avg_over_time', 'clamp_min', 'clamp_max', 'time', 'timestamp', 'vector', 'scalar'],
]);
/** Keywords followed by a list of label names in parentheses. */
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
/** Binary operators and modifiers written as words. */
const WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset']);

/** A PromQL token: a string, a range or subquery in brackets, a number, a name, or an operator. */
const TOKEN =
  /\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\[[^\]]*\]|\d+(?:\.\d+)?(?:e[+-]?\d+)?|[a-zA-Z_:][a-zA-Z0-9_:]*|==|!=|=~|!~|>=|<=|[-+*/%^<>=(){},])/y;

function tokens(expr: string): string[] {
  const found: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expr.trimEnd().length) {
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(expr);
    assert.notEqual(match, null, `no PromQL token at ${JSON.stringify(expr.slice(at))}`);
    found.push(match?.[1] ?? '');
  }
  return found;
}

/**
 * What `expr` names that the scraped `samples` do not show, each as a sentence: a metric name, a
 * label matched on a metric (with, for `=` and `=~`, a value no sample of it has), a label grouped
 * by that no metric of the expression has, or a function PromQL does not have.
 */
function unknownNames(expr: string, samples: readonly Sample[]): string[] {
  const problems: string[] = [];
  const metrics = new Set<string>();
  const grouped: string[] = [];
  const list = tokens(expr);
  for (let index = 0; index < list.length; index++) {
    const token = list[index] ?? '';
    if (!/^[a-zA-Z_:]/.test(token) || WORDS.has(token)) continue;
    const next = list[index + 1];
    if (GROUPING.has(token)) {
      if (next !== '(') continue;
      for (index += 2; list[index] !== ')' && index < list.length; index++) {
        if (list[index] !== ',') grouped.push(list[index] ?? '');
      }
      continue;
    }
    if (next === '(' || next === 'by' || next === 'without') {
      if (!FUNCTIONS.has(token)) problems.push(`no function ${token}`);
      continue;
    }
    metrics.add(token);
    const ofMetric = samples.filter((sample) => sample.name === token);
    if (ofMetric.length === 0) problems.push(`no metric ${token}`);
    if (next !== '{') continue;
    for (index += 2; list[index] !== '}' && index < list.length; index += 3) {
      if (list[index] === ',') index++;
      if (list[index] === '}') break;
      const [label = '', op = '', quoted = '""'] = list.slice(index, index + 3);
      const value = quoted.slice(1, -1);
      const withLabel = ofMetric.filter((sample) => sample.labels.has(label));
      if (withLabel.length === 0) problems.push(`no label ${label} on ${token}`);
      else if (op === '=' && !withLabel.some((sample) => sample.labels.get(label) === value))
        problems.push(`no ${token}{${label}="${value}"}`);
      else if (
        op === '=~' &&
        !withLabel.some((sample) => new RegExp(`^(?:${value})$`).test(sample.labels.get(label) ?? ''))
      )
        problems.push(`no ${token}{${label}=~"${value}"}`);
    }
  }
  for (const label of grouped) {
    const labelled = samples.some((sample) => metrics.has(sample.name) && sample.labels.has(label));
    if (!labelled) problems.push(`no label ${label} on ${[...metrics].join(', ')}`);
  }
  return problems;
}

/** One alerting rule, as Prometheus reads it. */
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

const rulesFile = readFileSync(new URL('../../docs/prometheus-alerts.yml', import.meta.url), 'utf8');

let tally: TestServer;
let samples: Sample[];

before(async () => {
  tally = await startServer({});
  // A Tally that has served nothing yet: what alerts are written on is shown from the start.
  samples = asScraped(samplesOf(await (await fetch(`${tally.url}/metrics`)).text()));
});

after(async () => {
  await tally?.dispose();
});

describe('docs/prometheus-alerts.yml', () => {
  it('is a Prometheus rule file: groups of alerts, each with an expression, a severity, a summary and a description', () => {
    const file = load(rulesFile) as { groups: { name: string; rules: Rule[] }[] };
    const rules = file.groups.flatMap((group) => group.rules);
    const names = rules.map((rule) => rule.alert);
    assert.deepEqual(names, [...new Set(names)], 'no alert name twice');
    const malformed = rules.filter(
      (rule) =>
        !/^Tally[A-Z][A-Za-z]+$/.test(rule.alert) ||
        typeof rule.expr !== 'string' ||
        !['critical', 'warning'].includes(rule.labels?.severity) ||
        typeof rule.annotations?.summary !== 'string' ||
        typeof rule.annotations?.description !== 'string' ||
        (rule.for !== undefined && !/^\d+[smh]$/.test(rule.for)) ||
        Object.keys(rule).some((key) => !['alert', 'expr', 'for', 'labels', 'annotations'].includes(key)),
    );
    assert.deepEqual(
      malformed.map((rule) => rule.alert),
      [],
    );
  });

  it('uses only metric names, labels and label values a running Tally shows on /metrics', () => {
    const file = load(rulesFile) as { groups: { rules: Rule[] }[] };
    const problems = file.groups
      .flatMap((group) => group.rules)
      .flatMap((rule) => unknownNames(rule.expr, samples).map((problem) => `${rule.alert}: ${problem}`));
    assert.deepEqual(problems, []);
  });

  it('has alerts on commits failing, a full disk and one filling up, the queue near its limit, burls going dead or waiting, Tally not ready, connections dropped, invalid tokens and API faults', () => {
    const file = load(rulesFile) as { groups: { rules: Rule[] }[] };
    const exprs = file.groups.flatMap((group) => group.rules).map((rule) => rule.expr);
    const watched = [
      'tally_commit_failures_total',
      'tally_commit_fault{kind="disk_full"}',
      'tally_commit_queue_limit',
      'tally_burl_deliveries_total{status="dead"}',
      'tally_burl_oldest_pending_age_seconds',
      'tally_ready',
      'tally_data_disk_free_bytes',
      'tally_connections_dropped_total',
      'reason="invalid_token"',
      'tally_api_errors_total{code="INTERNAL"}',
    ];
    assert.deepEqual(
      watched.filter((text) => !exprs.some((expr) => expr.includes(text))),
      [],
    );
  });

  it('is checked by a reader that finds a misspelt metric, label, label value, grouping label or function', () => {
    assert.deepEqual(
      [
        'rate(tally_commit_failure_total[5m]) > 0',
        'tally_commit_fault{kind="disk_ful"} == 1',
        'tally_burl_outbox{state="dead"} > 0',
        'sum by (status) (rate(tally_notices_total[5m]))',
        'rates(tally_ready[5m])',
        'tally_burl_outbox{status=~"dea"}',
      ].map((expr) => unknownNames(expr, samples)),
      [
        ['no metric tally_commit_failure_total'],
        ['no tally_commit_fault{kind="disk_ful"}'],
        ['no label state on tally_burl_outbox'],
        ['no label status on tally_notices_total'],
        ['no function rates'],
        ['no tally_burl_outbox{status=~"dea"}'],
      ],
    );
  });

  it('is linked from the README paragraph on /metrics', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const paragraph = readme.split('\n\n').find((text) => text.startsWith('`/metrics` gives')) ?? '';
    assert.match(paragraph, /\[[^\]]+\]\(docs\/prometheus-alerts\.yml\)/);
  });
});
