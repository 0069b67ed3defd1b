import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** One printed line of a benchmark table: the figure, its baseline and their ratio. */
export interface ReportRow {
  figure: string;
  measured: string;
  baseline: string;
  ratio: string;
  goal?: string;
}

export interface ReportTable {
  title: string;
  /** column headings for measured, baseline and ratio */
  columns: { measured: string; baseline: string; ratio: string };
  rows: ReportRow[];
  notes: string[];
}

/** What a benchmark hands back: tables to print and raw figures for the JSON file. */
export interface BenchOutcome {
  name: string;
  tables: ReportTable[];
  data: Record<string, unknown>;
  /** parts that failed while others gave figures: printed, and the run counts as failed */
  failures?: string[];
}

export const fmt = {
  int: (n: number): string => Math.round(n).toLocaleString('en-US'),
  rps: (n: number): string => Math.round(n).toLocaleString('en-US'),
  // autocannon's latency histogram holds whole milliseconds
  ms: (n: number): string => (Number.isInteger(n) ? String(n) : n >= 100 ? n.toFixed(0) : n.toFixed(1)),
  ratio: (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : 'n/a'),
  seconds: (n: number): string => (n >= 10 ? n.toFixed(1) : n.toFixed(2)),
  micros: (n: number | null): string => (n === null || !Number.isFinite(n) ? 'n/a' : n.toFixed(1)),
};

/** The middle value (the mean of the two middle ones for an even count), or NaN for none. */
export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** measured / baseline, or NaN when the baseline is zero */
export function ratioOf(measured: number, baseline: number): number {
  return baseline === 0 ? Number.NaN : measured / baseline;
}

export function renderTable(table: ReportTable): string {
  const head: ReportRow = { figure: 'figure', measured: table.columns.measured, baseline: table.columns.baseline, ratio: table.columns.ratio, goal: 'goal' };
  const hasGoal = table.rows.some((r) => r.goal);
  const all = [head, ...table.rows];
  const width = (key: keyof ReportRow) => Math.max(...all.map((r) => (r[key] ?? '').length));
  const w = { figure: width('figure'), measured: width('measured'), baseline: width('baseline'), ratio: width('ratio'), goal: width('goal') };
  const line = (r: ReportRow) => {
    const cells = [r.figure.padEnd(w.figure), r.measured.padStart(w.measured), r.baseline.padStart(w.baseline), r.ratio.padStart(w.ratio)];
    if (hasGoal) cells.push((r.goal ?? '').padEnd(w.goal));
    return `  ${cells.join('  |  ')}`.trimEnd();
  };
  const rule = `  ${'-'.repeat(line(head).length - 2)}`;
  const out = [``, `== ${table.title}`, line(head), rule, ...table.rows.map(line)];
  for (const note of table.notes) out.push(`  ${note}`);
  return out.join('\n');
}

/** Collects every outcome and writes them as one JSON document. */
export class BenchResults {
  private readonly outcomes: BenchOutcome[] = [];
  private readonly failures: { name: string; error: string }[] = [];

  constructor(private readonly meta: Record<string, unknown>) {}

  add(outcome: BenchOutcome): void {
    this.outcomes.push(outcome);
  }

  fail(name: string, error: unknown): void {
    this.failures.push({ name, error: error instanceof Error ? error.stack ?? error.message : String(error) });
  }

  get failed(): boolean {
    return this.failures.length > 0;
  }

  write(path: string, totalSeconds: number): void {
    mkdirSync(dirname(path), { recursive: true });
    const doc = {
      ...this.meta,
      totalSeconds,
      benchmarks: Object.fromEntries(this.outcomes.map((o) => [o.name, { ...o.data, tables: o.tables }])),
      failures: this.failures,
    };
    writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
  }
}

/** Progress lines go to stdout with a prefix, so `tee` keeps them in order with the tables. */
export function progress(message: string): void {
  process.stdout.write(`  .. ${message}\n`);
}

/** "<= 2.00: met" / ">= 0.80: NOT met" */
export function goalText(met: boolean, text: string): string {
  return `${text}: ${met ? 'met' : 'NOT met'}`;
}
