// docs/grafana-dashboard.json cannot drift from the code: every metric its panels query exists in
// a gateway's or a runner's registry, and every codeexec metric has a panel. Also: it is a
// dashboard Grafana imports (the Prometheus data source an input and a variable, a lang variable).
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { exposedMetrics, metricNamesIn } from './promql-names.js';

interface Target {
  expr: string;
  refId: string;
  datasource: { type: string; uid: string };
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
}

interface Dashboard {
  __inputs: { name: string; type: string; pluginId: string }[];
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}

const dashboard = JSON.parse(
  await readFile(new URL('./grafana-dashboard.json', import.meta.url), 'utf8'),
) as Dashboard;
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
const DATA_SOURCE = { type: 'prometheus', uid: '${datasource}' };
const panels = dashboard.panels.filter((panel) => panel.type !== 'row');
const exprs = panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target })));

describe('metricNamesIn', () => {
  it.each([
    ['sum by (status) (rate(codeexec_jobs_total{lang=~"$lang"}[$__rate_interval]))', ['codeexec_jobs_total']],
    [
      'histogram_quantile(0.95, sum by (le, op) (rate(x_seconds_bucket{op="a{b}"}[5m])))',
      ['x_seconds_bucket'],
    ],
    ['(sum by (lang) (a) == 0) and on (lang) (sum by (lang) (b) > 0 or c offset 1h)', ['a', 'b', 'c']],
    ['sum(rate(a[10m])) without (instance) / ignoring (x) group_left b', ['a', 'b']],
    ['absent(up) + 1e3', ['up']],
  ])('%s → %j', (expr, names) => {
    expect(metricNamesIn(expr)).toEqual(names);
  });
});

describe('docs/grafana-dashboard.json', () => {
  it('imports into Grafana: schema 39, a Prometheus input and data source variable, a lang variable', () => {
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.uid).toBeTruthy();
    expect(dashboard.__inputs).toContainEqual(
      expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }),
    );
    const variables = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(variables.lang).toMatchObject({ type: 'query' });
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('has a query on every panel, each on the data source variable', () => {
    for (const panel of panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      expect(panel.datasource, panel.title).toEqual(DATA_SOURCE);
    }
    for (const { panel, target } of exprs) {
      expect(target.datasource, panel.title).toEqual(DATA_SOURCE);
      expect(metricNamesIn(target.expr).length, `${panel.title}: ${target.expr}`).toBeGreaterThan(0);
    }
  });

  it('queries only metrics that the gateway or the runner expose', async () => {
    const { gateway, runner } = await exposedMetrics();
    const unknown = exprs.flatMap(({ panel, target }) =>
      metricNamesIn(target.expr)
        .filter((name) => !gateway.has(name) && !runner.has(name))
        .map((name) => `${panel.title}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it('shows every codeexec metric of the gateway and the runner', async () => {
    const { gatewayFamilies, runnerFamilies } = await exposedMetrics();
    const used = new Set(exprs.flatMap(({ target }) => metricNamesIn(target.expr)));
    const shown = (family: string) =>
      ['', '_bucket', '_count', '_sum'].some((suffix) => used.has(`${family}${suffix}`));
    expect([...gatewayFamilies, ...runnerFamilies].filter((family) => !shown(family))).toEqual([]);
  });

  it('can tell the gateway from the runner by name alone (no codeexec metric is in both)', async () => {
    const { gatewayFamilies, runnerFamilies } = await exposedMetrics();
    expect(gatewayFamilies.filter((name) => runnerFamilies.includes(name))).toEqual([]);
    expect(gatewayFamilies).toContain('codeexec_runner_slots');
    expect(runnerFamilies).toContain('codeexec_runner_job_slots');
  });
});
