// The only prom-client importer: what the gateway's and the runner's metrics are built from. Each
// owner makes its own registry (two gateways, or a gateway and a runner, in one process never
// share counters), with the process metrics Prometheus' own exporters have.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

/** The Prometheus text format's content type (version 0.0.4). */
export const PROMETHEUS_CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;

/** A fresh registry holding the default process and Node.js metrics (process_cpu_seconds_total, …). */
export function processRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Every series name a query may use against `registry`: a counter's or gauge's own name, and a
 * histogram's `_bucket`, `_count` and `_sum` (dashboards and alert rules are checked against it).
 */
export async function seriesNames(registry: Registry): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    // Typed as a numeric enum, but prom-client puts the type's name there.
    const type = String(metric.type);
    if (type === 'histogram') {
      for (const suffix of ['_bucket', '_count', '_sum']) names.add(`${metric.name}${suffix}`);
    } else if (type === 'summary') {
      for (const suffix of ['', '_count', '_sum']) names.add(`${metric.name}${suffix}`);
    } else {
      names.add(metric.name);
    }
  }
  return names;
}
