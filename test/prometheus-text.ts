// Reads a Prometheus text exposition for tests: with a real parser (parse-prometheus-text-format)
// for families, types and samples, and a histogram's `_count` lines read directly (the parser
// folds the buckets of labelled histograms together and drops their `_count` and `_sum`).
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export interface Exposition {
  readonly text: string;
  /** The family's type as the text declares it (COUNTER, GAUGE, HISTOGRAM), or undefined. */
  type(name: string): string | undefined;
  /** The sample of `name` whose labels include `labels`; 0 when there is none. */
  value(name: string, labels?: Record<string, string>): number;
  /** Every sample of `name`, with its labels. */
  samples(name: string): { labels: Record<string, string>; value: number }[];
  /** A histogram's observation count for these labels (its `_count` line); 0 when absent. */
  count(name: string, labels?: Record<string, string>): number;
}

export function readExposition(text: string): Exposition {
  const families = parsePrometheusTextFormat(text);
  const family = (name: string) => families.find((f) => f.name === name);
  const matches = (have: Record<string, string> | undefined, want: Record<string, string>) =>
    Object.entries(want).every(([k, v]) => have?.[k] === v);
  return {
    text,
    type: (name) => family(name)?.type,
    value(name, labels = {}) {
      const sample = family(name)?.metrics.find((m) => matches(m.labels, labels));
      return Number(sample?.value ?? 0);
    },
    samples(name) {
      return (family(name)?.metrics ?? []).map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) }));
    },
    count(name, labels = {}) {
      const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
      const line = text
        .split('\n')
        .find(
          (l) =>
            (l.startsWith(`${name}_count{`) || l.startsWith(`${name}_count `)) &&
            want.every((pair) => l.includes(pair)),
        );
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    },
  };
}

/** GET `url` (a /metrics endpoint), expecting 200 and the text format, and read it. */
export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Exposition> {
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  const type = res.headers.get('content-type') ?? '';
  if (!/^text\/plain; version=0\.0\.4/.test(type)) throw new Error(`GET ${url}: content-type ${type}`);
  return readExposition(await res.text());
}
