/**
 * A small metrics registry that renders the Prometheus text exposition format 0.0.4: counters,
 * gauges and histograms, each with fixed label names. Modules register their own metrics on the
 * one registry the server exposes, e.g. the ingest queue's depth gauge.
 *
 * Label values must come from small closed sets (a route pattern, a status, an error code), never
 * from a raw path or a client value: each series lives in memory until the process ends, and a
 * metric refuses new series past `MAX_SERIES` rather than grow without bound.
 *
 * @example
 * const depth = metrics.gauge('lighttrail_ingest_queue_depth', 'Events waiting for commit.');
 * depth.set(queue.length);
 */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export const MAX_SERIES = 2000;

export const DEFAULT_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export type Labels = Record<string, string | number>;

export interface Counter {
  inc(labels?: Labels, amount?: number): void;
}

export interface Gauge {
  set(value: number, labels?: Labels): void;
  inc(labels?: Labels, amount?: number): void;
  dec(labels?: Labels, amount?: number): void;
}

export interface Histogram {
  observe(value: number, labels?: Labels): void;
}

export interface MetricOptions {
  labelNames?: readonly string[];
}

export interface GaugeOptions extends MetricOptions {
  /** Called just before each render, to read a value that lives elsewhere (a queue length). */
  collect?: (gauge: Gauge) => void;
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, ascending; `+Inf` is added. */
  buckets?: readonly number[];
}

export interface MetricsRegistry {
  counter(name: string, help: string, options?: MetricOptions): Counter;
  gauge(name: string, help: string, options?: GaugeOptions): Gauge;
  histogram(name: string, help: string, options?: HistogramOptions): Histogram;
  /** The whole registry in the text format, one HELP and TYPE block per metric. */
  render(): string;
}

type Kind = 'counter' | 'gauge' | 'histogram';

interface Metric {
  kind: Kind;
  name: string;
  help: string;
  labelNames: readonly string[];
  buckets: readonly number[];
  series: Map<string, Series>;
  handle?: unknown;
  collect?: () => void;
}

interface Series {
  labels: string;
  value: number;
  counts: number[];
  sum: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function createMetricsRegistry(): MetricsRegistry {
  const metrics = new Map<string, Metric>();

  /** Same name, kind and labels returns the existing handle, so two modules can share a metric. */
  const define = <H>(
    kind: Kind,
    name: string,
    help: string,
    options: HistogramOptions,
    makeHandle: (metric: Metric) => H,
  ): H => {
    const labelNames = [...(options.labelNames ?? [])];
    const existing = metrics.get(name);
    if (existing !== undefined) {
      if (existing.kind !== kind || existing.labelNames.join() !== labelNames.join()) {
        throw new TypeError(`metric ${name} already registered with another kind or labels`);
      }

      return existing.handle as H;
    }

    checkNames(name, labelNames);
    const buckets = kind === 'histogram' ? checkBuckets(options.buckets ?? DEFAULT_BUCKETS) : [];
    const metric: Metric = { kind, name, help, labelNames, buckets, series: new Map() };
    metric.handle = makeHandle(metric);
    metrics.set(name, metric);

    return metric.handle as H;
  };

  return {
    counter: (name, help, options = {}) =>
      define<Counter>('counter', name, help, options, (metric) => ({
        inc: (labels, amount = 1) => {
          if (amount < 0) throw new RangeError(`counter ${name} cannot go down`);
          add(metric, labels, amount);
        },
      })),
    gauge: (name, help, options = {}) =>
      define<Gauge>('gauge', name, help, options, (metric) => {
        const gauge: Gauge = {
          set: (value, labels) => {
            const series = seriesFor(metric, labels);
            if (series !== undefined) series.value = value;
          },
          inc: (labels, amount = 1) => add(metric, labels, amount),
          dec: (labels, amount = 1) => add(metric, labels, -amount),
        };
        const collect = options.collect;
        if (collect !== undefined) metric.collect = () => collect(gauge);

        return gauge;
      }),
    histogram: (name, help, options = {}) =>
      define<Histogram>('histogram', name, help, options, (metric) => ({
        observe: (value, labels) => observe(metric, value, labels),
      })),
    render: () => [...metrics.values()].map(renderMetric).join(''),
  };
}

function observe(metric: Metric, value: number, labels: Labels | undefined): void {
  const series = seriesFor(metric, labels);
  if (series === undefined) return;

  series.sum += value;
  series.value += 1;
  const index = metric.buckets.findIndex((bound) => value <= bound);
  if (index >= 0) series.counts[index] = (series.counts[index] ?? 0) + 1;
}

function add(metric: Metric, labels: Labels | undefined, amount: number): void {
  const series = seriesFor(metric, labels);
  if (series !== undefined) series.value += amount;
}

/** The series for these labels, created on first use; undefined once the metric is full. */
function seriesFor(metric: Metric, labels: Labels = {}): Series | undefined {
  // Runs several times per request: one pass, no intermediate arrays.
  const wrongLabels = () =>
    new TypeError(`metric ${metric.name} takes labels {${metric.labelNames.join(',')}}`);
  let given = 0;
  for (const label in labels) if (Object.hasOwn(labels, label)) given++;
  if (given !== metric.labelNames.length) throw wrongLabels();

  let text = '';
  for (const label of metric.labelNames) {
    const value = Object.hasOwn(labels, label) ? labels[label] : undefined;
    if (value === undefined) throw wrongLabels();

    text += `${text === '' ? '' : ','}${label}="${escapeLabel(String(value))}"`;
  }

  const existing = metric.series.get(text);
  if (existing !== undefined) return existing;
  if (metric.series.size >= MAX_SERIES) return undefined;

  const series: Series = { labels: text, value: 0, counts: metric.buckets.map(() => 0), sum: 0 };
  metric.series.set(text, series);

  return series;
}

function renderMetric(metric: Metric): string {
  metric.collect?.();
  const lines = [
    `# HELP ${metric.name} ${escapeHelp(metric.help)}`,
    `# TYPE ${metric.name} ${metric.kind}`,
  ];

  for (const series of metric.series.values()) {
    if (metric.kind !== 'histogram') {
      lines.push(`${metric.name}${braces(series.labels)} ${formatNumber(series.value)}`);
      continue;
    }

    let cumulative = 0;
    metric.buckets.forEach((bound, index) => {
      cumulative += series.counts[index] ?? 0;
      const le = `le="${formatNumber(bound)}"`;
      lines.push(`${metric.name}_bucket${braces(join(series.labels, le))} ${cumulative}`);
    });
    lines.push(`${metric.name}_bucket${braces(join(series.labels, 'le="+Inf"'))} ${series.value}`);
    lines.push(`${metric.name}_sum${braces(series.labels)} ${formatNumber(series.sum)}`);
    lines.push(`${metric.name}_count${braces(series.labels)} ${series.value}`);
  }

  return `${lines.join('\n')}\n`;
}

function braces(labels: string): string {
  return labels === '' ? '' : `{${labels}}`;
}

function join(labels: string, more: string): string {
  return labels === '' ? more : `${labels},${more}`;
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';

  return String(value);
}

/** Text format 0.0.4: in label values escape backslash, double quote and line feed. */
function escapeLabel(value: string): string {
  if (!/[\\"\n]/.test(value)) return value;

  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** In HELP text only backslash and line feed are escaped. */
function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function checkNames(name: string, labelNames: readonly string[]): void {
  if (!METRIC_NAME.test(name)) throw new TypeError(`bad metric name: ${name}`);

  for (const label of labelNames) {
    if (!LABEL_NAME.test(label) || label.startsWith('__') || label === 'le') {
      throw new TypeError(`bad label name for ${name}: ${label}`);
    }
  }
}

function checkBuckets(buckets: readonly number[]): readonly number[] {
  const sorted = buckets.every((bound, index) => index === 0 || bound > (buckets[index - 1] ?? 0));
  if (buckets.length === 0 || !sorted || buckets.some((bound) => !Number.isFinite(bound))) {
    throw new TypeError('histogram buckets must be finite and strictly ascending');
  }

  return [...buckets];
}
