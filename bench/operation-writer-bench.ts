import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { actorOf, auditEvent, type AuditEvent } from '../src/domain/audit.js';
import { identitySetOf, type Caller } from '../src/domain/identity.js';
import type { Operation } from '../src/domain/operation.js';
import { newOperationId } from '../src/domain/operation-id.js';
import { openStore } from '../src/store/open-store.js';
import type { BenchConfig } from './bench-config.js';
import { fmt, progress, ratioOf, type BenchOutcome, type ReportRow } from './bench-report.js';
import { benchTenant, type BenchWorkspace } from './bench-workspace.js';
import { shuffledUpdateTargets, type UpdateTarget } from './update-targets.js';

/** The same fixed order as the `update` benchmark's. */
const orderSeed = 16;
/** As many inserts in flight as wrk's connections in `update`: the group commit's batches are as large. */
const inFlight = 32;

interface Variant {
  name: string;
  order: 'id' | 'random';
  /** indexes dropped from the copy of the seeded file before it is opened */
  drop: string[];
}

/**
 * Where goal 1's time goes, without HTTP: the SQLite store's own `createOperation` (the group
 * commit and its writer thread, synchronous=FULL, the checkpoint thread) fed 32 at a time, on
 * copies of the `update` benchmark's 150,000 devices. Process CPU (all threads) and wall time per
 * accepted row, in the devices' id order and in the `update` benchmark's random order, and in
 * random order without each of the two indexes that start with the device. Dropping an index is
 * not a proposal (the 409 rule and a device's operation list need them); it prices each one.
 */
export async function operationWriterBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  progress(`writer: seeding ${fmt.int(config.updateDevices)} devices (shared with update)`);
  const { file } = await workspace.seed('update', config.updateDevices, 'sqlite');
  const keys = await workspace.deviceKeys('update');
  const random = shuffledUpdateTargets(keys, orderSeed);
  const byId = [...random].sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
  const rows = Math.min(config.writerRows, random.length);
  const variants: Variant[] = [
    { name: 'id order (baseline)', order: 'id', drop: [] },
    { name: 'random order', order: 'random', drop: [] },
    { name: 'random, without operations_by_device', order: 'random', drop: ['operations_by_device'] },
    { name: 'random, without operations_one_pending', order: 'random', drop: ['operations_one_pending'] },
    { name: 'random, without both', order: 'random', drop: ['operations_by_device', 'operations_one_pending'] },
  ];
  const results: { variant: Variant; cpuMicros: number; wallMicros: number; created: number }[] = [];
  for (const variant of variants) {
    progress(`writer: ${variant.name}, ${fmt.int(rows)} rows`);
    const copy = join(workspace.dir, 'writer-copy.db');
    removeDatabase(copy);
    copyFileSync(file.db, copy);
    if (variant.drop.length) {
      const db = new Database(copy);
      for (const index of variant.drop) db.exec(`DROP INDEX ${index}`);
      db.close();
    }
    try {
      results.push({ variant, ...(await insertAll(copy, (variant.order === 'id' ? byId : random).slice(0, rows))) });
    } finally {
      removeDatabase(copy);
    }
  }
  const base = results[0];
  const tableRows: ReportRow[] = results.map((r) => ({
    figure: `${r.variant.name}: CPU / wall µs per row`,
    measured: `${fmt.micros(r.cpuMicros)} / ${fmt.micros(r.wallMicros)}`,
    baseline: `${fmt.micros(base.cpuMicros)} / ${fmt.micros(base.wallMicros)}`,
    ratio: `${fmt.ratio(ratioOf(r.cpuMicros, base.cpuMicros))} / ${fmt.ratio(ratioOf(r.wallMicros, base.wallMicros))}`,
  }));
  return {
    name: 'writer',
    tables: [{
      title: `SQLite createOperation alone: ${fmt.int(rows)} rows over ${fmt.int(keys.length)} devices, ${inFlight} in flight`,
      columns: { measured: 'this variant', baseline: 'id order', ratio: 'ratio' },
      rows: tableRows,
      notes: [
        'CPU = process.cpuUsage() of this process (every thread: the writer, the checkpoints, the caller) per row; wall = elapsed per row',
        `rows created: ${results.map((r) => fmt.int(r.created)).join(', ')} (each variant on a fresh copy of the seeded file)`,
      ],
    }],
    data: { rows, devices: keys.length, results: results.map((r) => ({ name: r.variant.name, cpuMicros: r.cpuMicros, wallMicros: r.wallMicros, created: r.created })) },
  };
}

/** Creates one operation per target through the store, `inFlight` at a time, as the route would. */
async function insertAll(db: string, targets: UpdateTarget[]): Promise<{ cpuMicros: number; wallMicros: number; created: number }> {
  const store = await openStore(db);
  const caller: Caller = { tenantId: benchTenant, kind: 'application', id: 'bench', displayName: 'bench', appId: 'bench', permissions: new Set() };
  let next = 0;
  let created = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < targets.length) {
        const outcome = await store.createOperation(...operationFor(caller, targets[next++]));
        if (outcome === 'created') created++;
      }
    }));
  } finally {
    await store.close();
  }
  const wall = (performance.now() - started) * 1000;
  const used = process.cpuUsage(cpu);
  return { cpuMicros: (used.user + used.system) / targets.length, wallMicros: wall / targets.length, created };
}

/** What the updateSoftware route hands the store for this target (requestOperation builds the same). */
function operationFor(caller: Caller, target: UpdateTarget): [Operation, AuditEvent] {
  const now = new Date().toISOString();
  const by = identitySetOf(caller);
  const operation: Operation = {
    tenantId: caller.tenantId, deviceId: target.deviceId, id: newOperationId(), operationType: 'softwareUpdate',
    softwareType: target.softwareType, softwareVersion: target.version, status: 'queued',
    createdDateTime: now, createdBy: by, lastActionDateTime: now, lastActionBy: by, startedDateTime: null, completedDateTime: null,
    error: null, startDeadline: now, runDeadline: null, progressPercent: null, progressMessage: null, cancelRequested: false,
    result: null, artifact: null,
  };
  const audit = auditEvent(caller.tenantId, 'operationCreated', actorOf(caller), { type: 'operation', id: operation.id }, {
    activityDateTime: now,
    additionalDetails: { deviceId: target.deviceId, operationType: 'softwareUpdate', softwareType: target.softwareType, softwareVersion: target.version },
  });
  return [operation, audit];
}

function removeDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}
