import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { countWinWithBurl } from '../support/billed-win.js';
import { freePort, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { until } from '../support/until.js';

/** js-yaml has no types of its own: only `load` is used, which answers what the YAML holds. */
const { load } = createRequire(import.meta.url)('js-yaml') as { load: (text: string) => unknown };

const REPO = new URL('../../', import.meta.url).pathname;
const RULES_FILE = 'docs/prometheus-alerts.yml';
const RULE_TESTS_FILE = 'test/prometheus/alerts.test.yml';
/** What to do when Prometheus' commands are not installed: these tests never skip. */
const INSTALL = "install Debian's prometheus package (apt-get install -y prometheus), as .ci/run does";

/** Runs a command of Debian's prometheus package in the repository; fails, saying to install it, when it is missing. */
function runPrometheusCommand(command: string, args: string[]): { code: number | null; output: string } {
  const run = spawnSync(command, args, { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  if ((run.error as NodeJS.ErrnoException | null)?.code === 'ENOENT')
    assert.fail(`no ${command}: ${INSTALL}`);
  assert.equal(run.error, undefined, `${command} ${args.join(' ')} did not run: ${String(run.error)}`);
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

/** One alerting rule of the rule file, as much of it as these tests read. */
interface Rule {
  alert: string;
}

/** One test case of the promtool rule tests: an alert evaluated at a time, and the alerts expected firing. */
interface AlertRuleTest {
  alertname: string;
  exp_alerts?: unknown[];
}

describe('promtool on docs/prometheus-alerts.yml', () => {
  it('accepts the rule file (promtool check rules)', () => {
    const checked = runPrometheusCommand('promtool', ['check', 'rules', RULES_FILE]);
    assert.equal(checked.code, 0, checked.output);
    const alerts = (
      load(readFileSync(join(REPO, RULES_FILE), 'utf8')) as { groups: { rules: Rule[] }[] }
    ).groups.flatMap((group) => group.rules);
    assert.match(checked.output, new RegExp(`SUCCESS: ${alerts.length} rules found`));
  });

  it('refuses a rule whose expression is no PromQL, so that its acceptance of the shipped one means something', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-promtool-'));
    try {
      const broken = join(dir, 'broken.yml');
      writeFileSync(
        broken,
        'groups:\n  - name: broken\n    rules:\n      - alert: TallyBroken\n        expr: rate(tally_ready) > 0\n',
      );
      const checked = runPrometheusCommand('promtool', ['check', 'rules', broken]);
      assert.equal(checked.code, 1);
      assert.match(checked.output, /expected type range vector in call to function "rate"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes its unit tests, each alert firing on the series it is written for and silent on a healthy Tally (promtool test rules)', () => {
    const tested = runPrometheusCommand('promtool', ['test', 'rules', RULE_TESTS_FILE]);
    assert.equal(tested.code, 0, tested.output);
    assert.match(tested.output, /SUCCESS/);
  });

  it('has unit tests of every alert, both firing and silent', () => {
    const alerts = (
      load(readFileSync(join(REPO, RULES_FILE), 'utf8')) as { groups: { rules: Rule[] }[] }
    ).groups
      .flatMap((group) => group.rules)
      .map((rule) => rule.alert);
    const cases = (
      load(readFileSync(join(REPO, RULE_TESTS_FILE), 'utf8')) as {
        tests: { alert_rule_test: AlertRuleTest[] }[];
      }
    ).tests.flatMap((test) => test.alert_rule_test);
    const firing = new Set(cases.filter((c) => (c.exp_alerts ?? []).length > 0).map((c) => c.alertname));
    const silent = new Set(cases.filter((c) => (c.exp_alerts ?? []).length === 0).map((c) => c.alertname));
    assert.deepEqual(
      alerts.filter((alert) => !firing.has(alert)),
      [],
      'alerts with no test that fires them',
    );
    assert.deepEqual(
      alerts.filter((alert) => !silent.has(alert)),
      [],
      'alerts with no test they stay silent in',
    );
  });
});

/** What Prometheus' HTTP API answers under `data`. */
async function prometheusApi(path: string): Promise<any> {
  const answer = await fetch(`${prometheusUrl}/api/v1/${path}`);
  const body = (await answer.json()) as { status: string; data: unknown };
  assert.equal(body.status, 'success', JSON.stringify(body));
  return body.data;
}

let tally: TestServer;
let prometheus: ChildProcess | undefined;
let prometheusOutput = '';
let prometheusUrl: string;
let prometheusDir: string;

describe('a real Prometheus scraping a real Tally with docs/prometheus-alerts.yml', () => {
  before(async () => {
    tally = await startServer({});
    prometheusDir = mkdtempSync(join(tmpdir(), 'tally-prometheus-'));
    const config = join(prometheusDir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: [${JSON.stringify(join(REPO, RULES_FILE))}]`,
        'scrape_configs:',
        `  - job_name: tally`,
        `    static_configs: [{ targets: ['127.0.0.1:${tally.port}'] }]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    const args = [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(prometheusDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ];
    prometheus = spawn('prometheus', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const spawned = await Promise.race([
      once(prometheus, 'spawn').then(() => undefined),
      once(prometheus, 'error').then(([error]) => error as NodeJS.ErrnoException),
    ]);
    if (spawned?.code === 'ENOENT') assert.fail(`no prometheus: ${INSTALL}`);
    assert.equal(spawned, undefined);
    prometheus.stdout?.on('data', (chunk: Buffer) => (prometheusOutput += chunk.toString()));
    prometheus.stderr?.on('data', (chunk: Buffer) => (prometheusOutput += chunk.toString()));
    await until(
      () =>
        fetch(`${prometheusUrl}/-/ready`).then(
          (answer) => answer.ok,
          () => false,
        ),
      'Prometheus ready',
    );
  });

  after(async () => {
    if (prometheus !== undefined && prometheus.exitCode === null) {
      prometheus.kill('SIGTERM');
      await once(prometheus, 'exit');
    }
    await tally?.dispose();
    if (prometheusDir !== undefined) rmSync(prometheusDir, { recursive: true, force: true });
  });

  it('scrapes Tally, loads every rule healthy, and fires none on a healthy Tally', async () => {
    const target = await until(async () => {
      const targets = await prometheusApi('targets');
      const [active] = targets.activeTargets;
      return active?.health === 'up' && active;
    }, `Tally's target up in Prometheus: ${prometheusOutput}`);
    assert.equal(target.scrapeUrl, `${tally.url}/metrics`);
    const rules = await until(async () => {
      const loaded = (await prometheusApi('rules')).groups.flatMap((group: any) => group.rules);
      // Each evaluated after a scrape: tally_build_info is there. The times are compared as times:
      // Go writes them RFC 3339 without trailing zeros (`…:31.12Z`), which sorts after `…:31.123Z`.
      const scrapedMs = Date.parse(target.lastScrape);
      return loaded.every((rule: any) => Date.parse(rule.lastEvaluation) > scrapedMs) && loaded;
    }, 'every rule evaluated after a scrape');
    const alerts = (
      load(readFileSync(join(REPO, RULES_FILE), 'utf8')) as { groups: { rules: Rule[] }[] }
    ).groups
      .flatMap((group) => group.rules)
      .map((rule) => rule.alert);
    // Prometheus lists the groups by name.
    assert.deepEqual(
      rules.map((rule: any) => [rule.name, rule.health, rule.lastError ?? '']).sort(),
      alerts.map((alert) => [alert, 'ok', '']).sort(),
    );
    const firing = (await prometheusApi('alerts')).alerts.filter((alert: any) => alert.state === 'firing');
    assert.deepEqual(firing, []);
  });

  it('fires TallyBurlDeliveriesDead once a DSP burl delivery goes dead', async () => {
    // Port 0 cannot be called: the delivery is dead at its first attempt.
    await countWinWithBurl(tally, 'prometheus-dead-1', 'http://127.0.0.1:0/bill');
    const alert = await until(async () => {
      const { alerts } = await prometheusApi('alerts');
      return alerts.find(
        (found: any) => found.labels.alertname === 'TallyBurlDeliveriesDead' && found.state === 'firing',
      );
    }, 'TallyBurlDeliveriesDead firing');
    assert.deepEqual(alert.labels, {
      alertname: 'TallyBurlDeliveriesDead',
      instance: `127.0.0.1:${tally.port}`,
      job: 'tally',
      severity: 'warning',
      status: 'dead',
    });
    assert.match(alert.annotations.summary, /^1(\.\d+)? DSP burl deliveries went dead in 15 minutes$/);
  });
});
