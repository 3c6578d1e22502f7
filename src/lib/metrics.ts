/** Where counters are added: the registry itself, or a thread that forwards to it. */
export type CounterSink = Pick<Metrics, 'inc'>;

/** A minimal Prometheus registry: counters, gauges and histograms with labels, text exposition. */
export class Metrics {
  private readonly families = new Map<string, Family>();

  /** Adds `value` (default 1) to a counter. */
  inc(name: string, help: string, labels: Labels = {}, value = 1): void {
    const series = this.series(name, help, 'counter', labels);
    series.value += value;
  }

  /** Observes a value into a histogram (one series, without labels) with the given upper bounds. */
  observe(name: string, help: string, value: number, buckets: readonly number[]): void {
    this.observeEach(name, help, [value], buckets);
  }

  /** Observes each of `values` into a histogram, as {@link observe} does one. */
  observeEach(name: string, help: string, values: readonly number[], buckets: readonly number[]): void {
    const series = this.histogramSeries(name, help, buckets);
    for (const value of values) {
      for (const bucket of series.buckets ?? []) if (value <= bucket.bound) bucket.count++;
      series.value += value;
    }
    series.count = (series.count ?? 0) + values.length;
  }

  /**
   * Shows a histogram series with zero counts before its first observation, so that its first
   * increase is seen. The buckets must be those later observations use.
   */
  histogram(name: string, help: string, buckets: readonly number[]): void {
    this.histogramSeries(name, help, buckets);
  }

  /**
   * Registers a gauge series whose value `read` answers at each scrape. Series of one name with
   * different labels form one family; registering the same labels again replaces the reader.
   */
  gauge(name: string, help: string, read: () => number, labels: Labels = {}): void {
    this.series(name, help, 'gauge', labels).read = read;
  }

  /** The Prometheus text exposition format (0.0.4). */
  render(): string {
    const lines: string[] = [];
    for (const [name, family] of this.families) {
      lines.push(`# HELP ${name} ${escapeHelp(family.help)}`, `# TYPE ${name} ${family.type}`);
      for (const [labelText, series] of family.series) {
        if (family.type !== 'histogram') {
          lines.push(`${name}${labelText} ${series.read?.() ?? series.value}`);
          continue;
        }
        // A histogram has one series, without labels (`observe` takes none).
        for (const bucket of series.buckets ?? []) {
          lines.push(`${name}_bucket{le="${bucket.bound}"} ${bucket.count}`);
        }
        lines.push(`${name}_bucket{le="+Inf"} ${series.count ?? 0}`);
        lines.push(`${name}_sum ${series.value}`, `${name}_count ${series.count ?? 0}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  private histogramSeries(name: string, help: string, buckets: readonly number[]): Series {
    const series = this.series(name, help, 'histogram', {});
    series.buckets ??= buckets.map((bound) => ({ bound, count: 0 }));
    return series;
  }

  private series(name: string, help: string, type: Family['type'], labels: Labels): Series {
    let family = this.families.get(name);
    if (family === undefined) {
      family = { help, type, series: new Map() };
      this.families.set(name, family);
    }
    const labelText = formatLabels(labels);
    let series = family.series.get(labelText);
    if (series === undefined) {
      series = { value: 0 };
      family.series.set(labelText, series);
    }
    return series;
  }
}

/** Label names and values of one series. */
export type Labels = Readonly<Record<string, string>>;

interface Series {
  /** A counter's total or a histogram's sum of observations. */
  value: number;
  /** A gauge's reader, called at each render. */
  read?: () => number;
  count?: number;
  buckets?: { bound: number; count: number }[];
}

interface Family {
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  series: Map<string, Series>;
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([key, value]) => `${key}="${value.replace(/["\\\n]/g, (char) => (char === '\n' ? '\\n' : `\\${char}`))}"`).join(',')}}`;
}

/** HELP text escaped as the text format requires: a backslash or a newline would break the line. */
function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (char) => (char === '\n' ? '\\n' : '\\\\'));
}
