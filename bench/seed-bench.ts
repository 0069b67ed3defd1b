import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type { BenchConfig } from './bench-config.js';
import { fmt, progress, ratioOf, type BenchOutcome } from './bench-report.js';
import { benchTenant, type BenchWorkspace } from './bench-workspace.js';

/** The file the seed benchmark builds; the list benchmark tops it up when it needs at least as many. */
export function seedFileName(config: BenchConfig): string {
  return config.only.includes('list') && config.stores.includes('sqlite') && config.listLarge >= config.seedDevices ? 'large' : 'seed';
}

/**
 * Seed speed: the project's seedDevices (generation of realistic devices, serialisation,
 * batched inserts into the real schema) into a fresh SQLite file, against the floor of
 * inserting as many minimal rows (tenant, id) with one prepared statement in one transaction
 * (WAL, synchronous = FULL: one fsync for the one commit), measured in the same run.
 */
export async function seedBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  const name = seedFileName(config);
  if (workspace.existing(name)) throw new Error(`seed benchmark needs a fresh file, '${name}' exists`);
  const count = config.seedDevices;

  progress(`seed: baseline, ${fmt.int(count)} minimal rows`);
  const baseline = minimalInsert(workspace.path('seed-baseline'), count);

  progress(`seed: seedDevices, ${fmt.int(count)} devices into a fresh file`);
  const { added } = await workspace.seed(name, count);
  const seeded = added!;
  const bytesPerDevice = (await workspace.sizeBytes(name)) / count;

  const rateRatio = ratioOf(seeded.devicesPerSecond, baseline.devicesPerSecond);
  return {
    name: 'seed',
    tables: [
      {
        title: `seed speed: seedDevices vs minimal-row inserts (${fmt.int(count)} each, fresh SQLite files)`,
        columns: { measured: 'seedDevices', baseline: 'minimal rows', ratio: 'seed/minimal' },
        rows: [
          { figure: 'devices/s', measured: fmt.int(seeded.devicesPerSecond), baseline: fmt.int(baseline.devicesPerSecond), ratio: fmt.ratio(rateRatio) },
          { figure: 'seconds', measured: fmt.seconds(seeded.seconds), baseline: fmt.seconds(baseline.seconds), ratio: fmt.ratio(ratioOf(seeded.seconds, baseline.seconds)) },
        ],
        notes: [
          `seedDevices: realistic devices (their documents kept as a generator descriptor, regenerated on read) in batches of 5,000, one transaction each`,
          `minimal rows: INSERT (tenant_id, id) with a prepared statement, all rows in one transaction, random UUID ids`,
          `file size after seedDevices: ${fmt.int(bytesPerDevice)} bytes per device (database + WAL)`,
        ],
      },
    ],
    data: { devices: count, seedDevices: seeded, minimalRows: baseline, ratio: rateRatio, bytesPerDevice },
  };
}

function minimalInsert(path: string, count: number): { devices: number; seconds: number; devicesPerSecond: number } {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE devices (tenant_id TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tenant_id, id)) WITHOUT ROWID');
    const started = performance.now();
    const insert = db.prepare('INSERT INTO devices (tenant_id, id) VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 0; i < count; i++) insert.run(benchTenant, randomUUID());
    })();
    const seconds = (performance.now() - started) / 1000;
    return { devices: count, seconds, devicesPerSecond: count / seconds };
  } finally {
    db.close();
  }
}
