/**
 * Where a server's heap went between two V8 heap snapshots (bench-target.js's HEAPSNAPSHOT,
 * BENCH_DISPATCH_HEAPSNAPSHOTS=DIR with the dispatch benchmark, or BENCH_SOAK_SNAPSHOT_MINUTES
 * with the soak benchmark): what grows by the thousands between two points at equal load is
 * where a leak lives; what stayed put is a cache that has filled.
 *
 *   node --max-old-space-size=8192 dist/bench/heap-snapshot-summary.js <before.heapsnapshot> <after.heapsnapshot> [per] [rows]
 *
 * Groups every object's own size (shallow size) by its kind and constructor (strings, numbers
 * and code by kind alone), and prints the groups that grew most from before to after: bytes and
 * objects, each also divided by `per` (the devices connected in between, to read it per
 * device). Self sizes add up to the heap used; retained sizes would count shared objects many
 * times. `rows` (default 40) limits the printed groups.
 */
import { readFileSync } from 'node:fs';

interface HeapSnapshotFile {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Group {
  bytes: number;
  count: number;
}

/** Node kinds whose name is their content (a string's text, a number's value) rather than what made them. */
const groupedByKindAlone = new Set(['string', 'concatenated string', 'sliced string', 'number', 'code', 'bigint', 'symbol']);

/** Self size and count per "kind constructor", read from a .heapsnapshot file. */
export function summarize(path: string): Map<string, Group> {
  const file = JSON.parse(readFileSync(path, 'utf8')) as HeapSnapshotFile;
  const fields = file.snapshot.meta.node_fields;
  const kinds = file.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, Group>();
  const { nodes, strings } = file;
  for (let i = 0; i < nodes.length; i += stride) {
    const kind = kinds[nodes[i + typeAt]];
    const key = groupedByKindAlone.has(kind) ? `(${kind})` : `${kind} ${strings[nodes[i + nameAt]].slice(0, 80)}`;
    const group = groups.get(key) ?? { bytes: 0, count: 0 };
    group.bytes += nodes[i + sizeAt];
    group.count += 1;
    groups.set(key, group);
  }
  return groups;
}

function main(): void {
  const [before, after, perText = '1', rowsText = '40'] = process.argv.slice(2);
  if (!before || !after) {
    console.error('usage: node --max-old-space-size=8192 dist/bench/heap-snapshot-summary.js <before.heapsnapshot> <after.heapsnapshot> [per] [rows]');
    process.exit(2);
  }
  const per = Number(perText) || 1;
  const a = summarize(before);
  const b = summarize(after);
  const total = (groups: Map<string, Group>) => [...groups.values()].reduce((sum, g) => sum + g.bytes, 0);
  const rows = [...new Set([...a.keys(), ...b.keys()])].map((key) => {
    const x = a.get(key) ?? { bytes: 0, count: 0 };
    const y = b.get(key) ?? { bytes: 0, count: 0 };
    return { key, bytes: y.bytes - x.bytes, count: y.count - x.count };
  }).sort((p, q) => q.bytes - p.bytes);
  const growth = total(b) - total(a);
  const fixed = (n: number, digits: number) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  console.log(`self sizes: before ${fixed(total(a) / 1048576, 1)} MB, after ${fixed(total(b) / 1048576, 1)} MB, grew ${fixed(growth / 1048576, 1)} MB; ÷ ${fixed(per, 0)} = ${fixed(growth / per, 0)} bytes`);
  console.log(`${'bytes ÷ per'.padStart(11)}  ${'objects ÷ per'.padStart(13)}  ${'MB'.padStart(8)}  kind and constructor`);
  for (const row of rows.slice(0, Number(rowsText) || 40)) {
    console.log(`${fixed(row.bytes / per, 1).padStart(11)}  ${fixed(row.count / per, 2).padStart(13)}  ${fixed(row.bytes / 1048576, 2).padStart(8)}  ${row.key}`);
  }
}

main();
