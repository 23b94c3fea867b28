// For the tests of the monitoring docs (grafana-dashboard.json, alerts.yml): the metric names a
// PromQL expression reads, and what fresh gateway and runner metrics registries expose, so a
// dashboard or a rule that names a metric the code does not have fails a test.
import { GatewayMetrics } from '../gateway/metrics/gateway-metrics.js';
import { RunnerMetrics } from '../runner/metrics/runner-metrics.js';
import { type Registry, seriesNames } from '../shared/prometheus.js';

/** PromQL's keywords: words that are neither a metric nor a function. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);

/**
 * The metric names `expr` selects. Strings, label matchers, ranges and grouping label lists are
 * dropped first; of the words left, one followed by `(` is a function, and the rest are metrics.
 */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\b/g, ' ')
    .replace(/\b\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|s|m|h|d|w|y)?\b/gi, ' ');
  const names = new Set<string>();
  for (const match of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = match[0];
    const rest = bare.slice((match.index ?? 0) + word.length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
}

export interface Exposed {
  /** Every series name a query may use (histograms' `_bucket`, `_count`, `_sum`), by exporter. */
  gateway: Set<string>;
  runner: Set<string>;
  /** The families (a histogram by its own name) of codeexec's own metrics, by exporter. */
  gatewayFamilies: string[];
  runnerFamilies: string[];
}

/** What a gateway's and a runner's metrics expose, from fresh registries fed nothing. */
export async function exposedMetrics(): Promise<Exposed> {
  const gateway = new GatewayMetrics({
    events: { on: () => () => {} },
    registry: { all: () => [].values() },
    queuedByLanguage: () => new Map(),
    clientSockets: () => 0,
    fleet: { id: 'docs', members: async () => [] },
    log: { warn: () => {} },
  });
  const runner = new RunnerMetrics({
    events: { on: () => () => {} },
    name: 'docs',
    version: '0',
    stock: () => [],
    slots: () => ({ total: 1, used: 0 }),
  });
  try {
    return {
      gateway: await seriesNames(gateway.registry),
      runner: await seriesNames(runner.registry),
      gatewayFamilies: await ownFamilies(gateway.registry),
      runnerFamilies: await ownFamilies(runner.registry),
    };
  } finally {
    gateway.close();
    runner.close();
  }
}

async function ownFamilies(registry: Registry): Promise<string[]> {
  return (await registry.getMetricsAsJSON())
    .map((m) => m.name)
    .filter((name) => name.startsWith('codeexec_'));
}
