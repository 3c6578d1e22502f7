import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics } from './metrics.js';

describe('Metrics text exposition', () => {
  it('escapes backslashes, double quotes and newlines in label values', () => {
    const metrics = new Metrics();
    metrics.inc('t_total', 'help', { value: 'a\\b"c\nd' });
    assert.equal(
      metrics.render(),
      '# HELP t_total help\n# TYPE t_total counter\nt_total{value="a\\\\b\\"c\\nd"} 1\n',
    );
  });

  it('escapes backslashes and newlines in HELP text, which would otherwise end the line or break the parse', () => {
    const metrics = new Metrics();
    metrics.gauge('g', 'a C:\\path\nand a second line', () => 1);
    assert.equal(metrics.render(), '# HELP g a C:\\\\path\\nand a second line\n# TYPE g gauge\ng 1\n');
  });

  it('renders histogram buckets cumulatively, with +Inf, _sum and _count', () => {
    const metrics = new Metrics();
    for (const value of [0.5, 3, 100]) metrics.observe('h', 'help', value, [1, 5]);
    assert.equal(
      metrics.render(),
      [
        '# HELP h help',
        '# TYPE h histogram',
        'h_bucket{le="1"} 1',
        'h_bucket{le="5"} 2',
        'h_bucket{le="+Inf"} 3',
        'h_sum 103.5',
        'h_count 3',
        '',
      ].join('\n'),
    );
  });

  it('observes a list of values at once as it observes each in turn', () => {
    const each = new Metrics();
    for (const value of [0.5, 3, 100, 5]) each.observe('h', 'help', value, [1, 5]);
    const atOnce = new Metrics();
    atOnce.observeEach('h', 'help', [0.5, 3], [1, 5]);
    atOnce.observeEach('h', 'help', [], [1, 5]);
    atOnce.observeEach('h', 'help', [100, 5], [1, 5]);
    assert.equal(atOnce.render(), each.render());
    assert.match(atOnce.render(), /^h_count 4$/m);
  });

  it('renders gauges of one name with different labels as one family, each read at render', () => {
    const metrics = new Metrics();
    const outbox = { pending: 1, dead: 0 };
    for (const status of ['pending', 'dead'] as const) {
      metrics.gauge('g', 'help', () => outbox[status], { status });
    }
    outbox.pending = 7;
    assert.equal(
      metrics.render(),
      '# HELP g help\n# TYPE g gauge\ng{status="pending"} 7\ng{status="dead"} 0\n',
    );
  });

  it('shows a histogram with zero counts in every bucket before its first observation', () => {
    const metrics = new Metrics();
    metrics.histogram('h', 'help', [1, 5]);
    assert.equal(
      metrics.render(),
      [
        '# HELP h help',
        '# TYPE h histogram',
        'h_bucket{le="1"} 0',
        'h_bucket{le="5"} 0',
        'h_bucket{le="+Inf"} 0',
        'h_sum 0',
        'h_count 0',
        '',
      ].join('\n'),
    );
    metrics.observe('h', 'help', 3, [1, 5]);
    assert.match(metrics.render(), /h_bucket\{le="1"\} 0\nh_bucket\{le="5"\} 1\n/);
  });

  it('counts an observation equal to a bucket’s bound in that bucket', () => {
    const metrics = new Metrics();
    metrics.observe('h', 'help', 5, [1, 5, 10]);
    assert.match(metrics.render(), /\nh_bucket\{le="1"\} 0\nh_bucket\{le="5"\} 1\nh_bucket\{le="10"\} 1\n/);
  });

  it('adds the amount given to a counter, 1 when none is', () => {
    const metrics = new Metrics();
    metrics.inc('c_total', 'help', { seat: 's1' }, 5);
    metrics.inc('c_total', 'help', { seat: 's1' });
    metrics.inc('c_total', 'help', { seat: 's2' });
    assert.equal(
      metrics.render(),
      '# HELP c_total help\n# TYPE c_total counter\nc_total{seat="s1"} 6\nc_total{seat="s2"} 1\n',
    );
  });
});
