import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** One metric family as parse-prometheus-text-format gives it. */
export interface MetricFamily {
  name: string;
  help: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

/** Scrapes `/metrics` (asserting a 200 in Prometheus' text format) and returns the raw text. */
export async function scrape(url: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(`${url}/metrics`, { headers });
  const text = await response.text();
  assert.equal(response.status, 200, text.slice(0, 500));
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return text;
}

/** The families of a scrape, by name. */
export function families(text: string): Map<string, MetricFamily> {
  return new Map((parsePrometheusTextFormat(text) as MetricFamily[]).map((family) => [family.name, family]));
}

/** The value of the sample of `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families(text).get(name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? undefined : Number(sample.value);
}

/**
 * One series of a labelled histogram. The parser keeps the labels of one series per histogram
 * family only (it merges the rest, and reads `_count`/`_sum` only without labels), so the
 * family's lines are narrowed to the series whose labels include `labels`, stripped of all
 * labels but `le`, then parsed.
 */
export function histogramSeries(text: string, name: string, labels: Record<string, string>): { buckets: Record<string, number>; count: number; sum: number } | undefined {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const series = text.split('\n')
    .filter((line) => [`${name}_bucket{`, `${name}_sum{`, `${name}_count{`].some((p) => line.startsWith(p)) && pairs.every((p) => line.includes(p)))
    .map((line) => line.replace(/\{[^}]*\}/, (set) => /le="[^"]*"/.exec(set)?.[0].replace(/^/, '{').concat('}') ?? ''));
  if (series.length === 0) return undefined;
  const [parsed] = (parsePrometheusTextFormat(`# TYPE ${name} histogram\n${series.join('\n')}\n`) as MetricFamily[])[0].metrics;
  return {
    buckets: Object.fromEntries(Object.entries(parsed.buckets ?? {}).map(([le, n]) => [le, Number(n)])),
    count: Number(parsed.count),
    sum: Number(parsed.sum),
  };
}
