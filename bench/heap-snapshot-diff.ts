/**
 * Compares two V8 heap snapshots (the soak benchmark writes them with
 * BENCH_SOAK_SNAPSHOT_MINUTES=3,8) by constructor: objects and self bytes in each, and what
 * grew between them, largest first. What grows by the thousands between two points at equal
 * load is where a leak lives; what stayed put is a cache that has filled.
 *
 *   node --max-old-space-size=4096 dist/bench/heap-snapshot-diff.js <earlier> <later> [rows]
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** objects and self bytes by constructor (objects, closures by name; other kinds by their type) */
function byConstructor(file: string): Map<string, { count: number; bytes: number }> {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const totals = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]];
    const key = type === 'object' ? heap.strings[heap.nodes[i + nameAt]] : type === 'closure' ? `(closure) ${heap.strings[heap.nodes[i + nameAt]] || 'anonymous'}` : `(${type})`;
    const entry = totals.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += heap.nodes[i + sizeAt];
    totals.set(key, entry);
  }
  return totals;
}

function main(): void {
  const [earlierFile, laterFile, rowsText = '25'] = process.argv.slice(2);
  if (!earlierFile || !laterFile) throw new Error('usage: heap-snapshot-diff.js <earlier.heapsnapshot> <later.heapsnapshot> [rows]');
  const earlier = byConstructor(earlierFile);
  const later = byConstructor(laterFile);
  const none = { count: 0, bytes: 0 };
  const rows = [...new Set([...earlier.keys(), ...later.keys()])].map((name) => {
    const a = earlier.get(name) ?? none;
    const b = later.get(name) ?? none;
    return { name, a, b, bytes: b.bytes - a.bytes, count: b.count - a.count };
  });
  const sum = (m: Map<string, { bytes: number }>) => [...m.values()].reduce((s, e) => s + e.bytes, 0);
  const kib = (n: number) => (n / 1024).toFixed(0).padStart(9);
  console.log(`self bytes: ${kib(sum(earlier))} KiB → ${kib(sum(later))} KiB`);
  console.log(`${'constructor'.padEnd(48)} ${'objects before'.padStart(14)} ${'after'.padStart(9)} ${'Δ objects'.padStart(10)} ${'KiB before'.padStart(10)} ${'after'.padStart(9)} ${'Δ KiB'.padStart(9)}`);
  for (const row of rows.sort((x, y) => y.bytes - x.bytes).slice(0, Number(rowsText))) {
    console.log(`${row.name.slice(0, 48).padEnd(48)} ${String(row.a.count).padStart(14)} ${String(row.b.count).padStart(9)} ${String(row.count).padStart(10)} ${kib(row.a.bytes).padStart(10)} ${kib(row.b.bytes)} ${kib(row.bytes)}`);
  }
}

main();
