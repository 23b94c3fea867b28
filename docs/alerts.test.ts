// docs/alerts.yml cannot drift from the code: it is a Prometheus rule file whose every rule is
// complete, and every metric its expressions read exists in a gateway's or a runner's registry.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exposedMetrics, metricNamesIn } from './promql-names.js';

interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const file = parse(await readFile(new URL('./alerts.yml', import.meta.url), 'utf8')) as {
  groups: { name: string; rules: Rule[] }[];
};
const rules = file.groups.flatMap((group) => group.rules);

describe('docs/alerts.yml', () => {
  it('is a rule file of alerts, each with an expression, a duration, a severity and a summary', () => {
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule.alert, JSON.stringify(rule)).toMatch(/^Codeexec[A-Za-z]+$/);
      expect(rule.expr, rule.alert).toBeTruthy();
      expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
    }
    const names = rules.map((rule) => rule.alert);
    expect(new Set(names).size).toBe(names.length);
  });

  it('reads only metrics that the gateway or the runner expose', async () => {
    const { gateway, runner } = await exposedMetrics();
    const unknown = rules.flatMap((rule) =>
      metricNamesIn(rule.expr ?? '')
        .filter((name) => !gateway.has(name) && !runner.has(name))
        .map((name) => `${rule.alert}: ${name}`),
    );
    expect(unknown).toEqual([]);
    for (const rule of rules) expect(metricNamesIn(rule.expr ?? '').length, rule.alert).toBeGreaterThan(0);
  });
});
