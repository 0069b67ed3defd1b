/**
 * Compares the key figures of several `npm run bench` runs of two trees (their
 * dist/bench-results.json, copied aside after each run) as a Markdown table:
 *
 *   node dist/bench/compare-runs.js before-1.json before-2.json … -- after-1.json after-2.json …
 *
 * Each row lists every run's figure and the ratio of the medians (after ÷ before).
 */
import { readFileSync } from 'node:fs';
import { median } from './bench-report.js';

const figures: [name: string, path: string, decimals: number][] = [
  ['updateSoftware SQLite: rps ÷ bare-Fastify rps', 'updateSoftware.stores.sqlite.ratios.rps', 3],
  ['updateSoftware SQLite: server CPU µs per 202', 'updateSoftware.stores.sqlite.serverCpuMicrosPerRequest', 1],
  ['updateSoftware PostgreSQL: rps ÷ bare-Fastify rps', 'updateSoftware.stores.postgres.ratios.rps', 3],
  ['updateSoftware PostgreSQL: server CPU µs per 202', 'updateSoftware.stores.postgres.serverCpuMicrosPerRequest', 1],
  ['updateSoftware: bare Fastify server CPU µs per request (the baseline)', 'updateSoftware.bare.serverCpuMicrosPerRequest', 1],
  ['seed (SQLite, 150,000): seedDevices ÷ minimal rows, devices/s', 'seed.ratio', 4],
  ['seeding SQLite, 60,000 devices/s (update)', 'updateSoftware.stores.sqlite.seeding.devicesPerSecond', 0],
  ['seeding PostgreSQL, 60,000 devices/s (update)', 'updateSoftware.stores.postgres.seeding.devicesPerSecond', 0],
  ['list SQLite: first page cost, 1M ÷ 10k devices', 'listDevices.stores.sqlite.ratios.first.costRatio', 3],
  ['list SQLite: deep page cost, 1M ÷ 10k', 'listDevices.stores.sqlite.ratios.deep.costRatio', 3],
  ['list PostgreSQL: first page cost, 1M ÷ 10k', 'listDevices.stores.postgres.ratios.first.costRatio', 3],
  ['list PostgreSQL: deep page cost, 1M ÷ 10k', 'listDevices.stores.postgres.ratios.deep.costRatio', 3],
  ['list SQLite: first page rps at 10k', 'listDevices.stores.sqlite.small.first.rps', 0],
  ['list PostgreSQL: first page rps at 10k', 'listDevices.stores.postgres.small.first.rps', 0],
  ['list SQLite: first page rps at 1M', 'listDevices.stores.sqlite.large.first.rps', 0],
  ['list PostgreSQL: first page rps at 1M', 'listDevices.stores.postgres.large.first.rps', 0],
  ['$select (SQLite): full ÷ selected page cost', 'select.ratios.cost', 3],
  ['dispatch, 10,000 polling devices: p50 ms', 'dispatch.large.latency.p50', 2],
  ['dispatch, 10,000 polling devices: p99 ms', 'dispatch.large.latency.p99', 2],
  ['dispatch, 100 polling devices: p50 ms', 'dispatch.small.latency.p50', 2],
  ['dispatch, 100 polling devices: p99 ms', 'dispatch.small.latency.p99', 2],
];

function figure(results: unknown, path: string): number | null {
  let value: unknown = (results as { benchmarks: unknown }).benchmarks;
  for (const key of path.split('.')) value = (value as Record<string, unknown> | undefined)?.[key];
  return typeof value === 'number' ? value : null;
}

const args = process.argv.slice(2);
const split = args.indexOf('--');
if (split < 1 || split === args.length - 1) {
  console.error('usage: node dist/bench/compare-runs.js before.json … -- after.json …');
  process.exit(2);
}
const load = (files: string[]) => files.map((file) => JSON.parse(readFileSync(file, 'utf8')) as unknown);
const [before, after] = [load(args.slice(0, split)), load(args.slice(split + 1))];

console.log(`| figure | before (${before.length} runs) | after (${after.length} runs) | median after ÷ before |`);
console.log('|---|---|---|---|');
for (const [name, path, decimals] of figures) {
  const values = (runs: unknown[]) => runs.map((r) => figure(r, path)).filter((v): v is number => v !== null);
  const [b, a] = [values(before), values(after)];
  const text = (list: number[]) => list.map((v) => v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })).join(', ') || '—';
  const ratio = b.length && a.length && median(b) !== 0 ? (median(a) / median(b)).toFixed(2) : '—';
  console.log(`| ${name} | ${text(b)} | ${text(a)} | ${ratio} |`);
}
