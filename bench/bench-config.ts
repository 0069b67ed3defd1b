/** Every knob of `npm run bench`, read once from the environment. */
export type BenchName = 'update' | 'seed' | 'list' | 'filters' | 'select' | 'dispatch' | 'batch' | 'artifacts' | 'rollout' | 'inventory' | 'replicas' | 'soak' | 'writer';
// writer before update: it copies the update benchmark's seeded file before update adds operations to it
export const allBenches: readonly BenchName[] = ['writer', 'update', 'seed', 'list', 'filters', 'select', 'dispatch', 'batch', 'artifacts', 'rollout', 'inventory', 'replicas', 'soak'];
/** The stores `update`, `list`, `filters`, `batch`, `artifacts` and `rollout` run on (the other benchmarks use SQLite only). */
export type StoreName = 'sqlite' | 'postgres';
export const allStores: readonly StoreName[] = ['sqlite', 'postgres'];

export interface BenchConfig {
  only: BenchName[];
  /** update, list, filters and batch: the stores to run on, SQLite first */
  stores: StoreName[];
  /** PostgreSQL server (any database on it) where the benchmark creates and drops its databases */
  pgAdminUrl: string;
  /** updateSoftware: seconds per measured round, wrk connections, warm-up seconds, devices seeded, rounds of each server */
  updateSeconds: number;
  updateConnections: number;
  warmupSeconds: number;
  updateDevices: number;
  updateRounds: number;
  /** writer: operations created per variant through the SQLite store alone (no HTTP) */
  writerRows: number;
  /** list and $select: seconds per measured run, connections, warm-up seconds */
  listSeconds: number;
  listConnections: number;
  listWarmupSeconds: number;
  listSmall: number;
  listLarge: number;
  /** filters: sequential requests timed per filter and database; seconds of each wrk run of the admin GET, and rounds of them */
  filterRequests: number;
  filterSeconds: number;
  filterRounds: number;
  /** seed speed: devices seeded into a fresh file */
  seedDevices: number;
  /** dispatch: long-polling devices (measured) and the small fleet of the baseline */
  dispatchDevices: number;
  dispatchSmall: number;
  /** dispatch: every measured fleet size (BENCH_DISPATCH_DEVICES, a list), each on a fresh server; dispatchDevices is the first */
  dispatchFleets: number[];
  /** dispatch: seconds of each wrk run of the admin GETs (idle, then with the fleet connected), and its connections */
  dispatchAdminSeconds: number;
  dispatchAdminConnections: number;
  /** dispatch: a folder to write the server's heap snapshots into (idle and with the fleet held); null: none (they perturb the figures) */
  dispatchHeapSnapshots: string | null;
  /** dispatch: updateSoftware requests per fleet, their steady rate (per second) and concurrency cap */
  dispatchOperations: number;
  dispatchRate: number;
  dispatchConcurrency: number;
  /** rollout: devices updated by one rollout in three stages, and by direct updateSoftware calls (the baseline) */
  rolloutDevices: number;
  /** batch: seconds of each wrk round, and rounds of each kind (separate reads, batches), alternating */
  batchSeconds: number;
  batchRounds: number;
  /** artifacts: agents updating together, the artifact they download (MiB), the sparse one over 1 GiB (MiB) */
  artifactAgents: number;
  artifactMiB: number;
  artifactLargeMiB: number;
  /** soak: minutes of mixed load in all, of which the first are warm-up (growth is judged over the rest) */
  soakMinutes: number;
  soakWarmupMinutes: number;
  /** soak: simulated devices inside the server (serve --simulate), external long-polling devices */
  soakSimulated: number;
  soakPollers: number;
  /** soak: actions (updateSoftware, restart, runDiagnostics) and list reads per second */
  soakActionRate: number;
  soakReadRate: number;
  /** soak: minutes after the start at which the server writes a heap snapshot (none by default) */
  soakSnapshotMinutes: number[];
  /** inventory: long-polling devices, each reporting its inventory once per interval (seconds); measured intervals; share of reports that change something */
  inventoryDevices: number;
  inventoryIntervalSeconds: number;
  inventoryIntervals: number;
  inventoryChangeShare: number;
  /** replicas (PostgreSQL whatever BENCH_STORES says): long-polling devices over all replicas, replicas (and fleet processes), the baseline's devices on one replica */
  replicaDevices: number;
  replicaCount: number;
  replicaSmall: number;
  /** replicas: updateSoftware requests, their steady rate (per second) and concurrency cap; seconds of the steady window CPU is read over */
  replicaOperations: number;
  replicaRate: number;
  replicaConcurrency: number;
  replicaSteadySeconds: number;
}

function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got '${raw}'`);
  return value;
}

/** A share from 0 to 1. */
function shareFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1) throw new Error(`${name} must be a share from 0 to 1, got '${raw}'`);
  return value;
}

/** A comma-separated list of positive numbers (`10000,18000`), or the fallback. */
function numberListFromEnv(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw.split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
    const value = Number(part.replace(/_/g, ''));
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be positive numbers separated by commas, got '${raw}'`);
    return Math.round(value);
  });
}

function onlyFromEnv(): BenchName[] {
  const raw = process.env.BENCH_ONLY;
  if (!raw || raw.trim() === '') return [...allBenches];
  const names = raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const name of names) {
    if (!allBenches.includes(name as BenchName)) throw new Error(`BENCH_ONLY: unknown benchmark '${name}' (use ${allBenches.join(',')})`);
  }
  // always in the canonical order, so the seed file can be reused by the list benchmark
  return allBenches.filter((b) => names.includes(b));
}

function storesFromEnv(): StoreName[] {
  const raw = process.env.BENCH_STORES;
  if (!raw || raw.trim() === '') return [...allStores];
  const names = raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const name of names) {
    if (!allStores.includes(name as StoreName)) throw new Error(`BENCH_STORES: unknown store '${name}' (use ${allStores.join(',')})`);
  }
  if (names.length === 0) throw new Error('BENCH_STORES: name at least one store');
  return allStores.filter((s) => names.includes(s));
}

export function benchConfigFromEnv(): BenchConfig {
  const dispatchFleets = numberListFromEnv('BENCH_DISPATCH_DEVICES', [10_000, 18_000]);
  return {
    only: onlyFromEnv(),
    stores: storesFromEnv(),
    pgAdminUrl: process.env.BENCH_PG?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres',
    updateSeconds: numberFromEnv('BENCH_SECONDS', 8),
    updateConnections: Math.round(numberFromEnv('BENCH_CONNECTIONS', 32)),
    warmupSeconds: numberFromEnv('BENCH_WARMUP_SECONDS', 2),
    updateDevices: Math.round(numberFromEnv('BENCH_UPDATE_DEVICES', 150_000)),
    writerRows: Math.round(numberFromEnv('BENCH_WRITER_ROWS', 200_000)),
    updateRounds: Math.round(numberFromEnv('BENCH_UPDATE_ROUNDS', 3)),
    listSeconds: numberFromEnv('BENCH_LIST_SECONDS', 4),
    listConnections: Math.round(numberFromEnv('BENCH_LIST_CONNECTIONS', 10)),
    listWarmupSeconds: numberFromEnv('BENCH_LIST_WARMUP_SECONDS', 1),
    listSmall: Math.round(numberFromEnv('BENCH_LIST_SMALL', 10_000)),
    listLarge: Math.round(numberFromEnv('BENCH_LIST_LARGE', 1_000_000)),
    filterRequests: Math.round(numberFromEnv('BENCH_FILTER_REQUESTS', 31)),
    filterSeconds: numberFromEnv('BENCH_FILTER_SECONDS', 6),
    filterRounds: Math.round(numberFromEnv('BENCH_FILTER_ROUNDS', 5)),
    seedDevices: Math.round(numberFromEnv('BENCH_SEED_DEVICES', 150_000)),
    dispatchDevices: dispatchFleets[0],
    dispatchSmall: Math.round(numberFromEnv('BENCH_DISPATCH_SMALL', 100)),
    dispatchFleets,
    dispatchAdminSeconds: numberFromEnv('BENCH_DISPATCH_ADMIN_SECONDS', 5),
    dispatchAdminConnections: Math.round(numberFromEnv('BENCH_DISPATCH_ADMIN_CONNECTIONS', 1)),
    dispatchHeapSnapshots: process.env.BENCH_DISPATCH_HEAPSNAPSHOTS?.trim() || null,
    dispatchOperations: Math.round(numberFromEnv('BENCH_DISPATCH_OPERATIONS', 1_000)),
    dispatchRate: numberFromEnv('BENCH_DISPATCH_RATE', 100),
    dispatchConcurrency: Math.round(numberFromEnv('BENCH_DISPATCH_CONCURRENCY', 20)),
    rolloutDevices: Math.round(numberFromEnv('BENCH_ROLLOUT_DEVICES', 10_000)),
    batchSeconds: numberFromEnv('BENCH_BATCH_SECONDS', 4),
    batchRounds: Math.round(numberFromEnv('BENCH_BATCH_ROUNDS', 3)),
    artifactAgents: Math.round(numberFromEnv('BENCH_ARTIFACT_AGENTS', 100)),
    artifactMiB: Math.round(numberFromEnv('BENCH_ARTIFACT_MIB', 50)),
    artifactLargeMiB: Math.round(numberFromEnv('BENCH_ARTIFACT_LARGE_MIB', 1100)),
    soakMinutes: numberFromEnv('BENCH_SOAK_MINUTES', 30),
    soakWarmupMinutes: numberFromEnv('BENCH_SOAK_WARMUP_MINUTES', 10),
    soakSimulated: Math.round(numberFromEnv('BENCH_SOAK_SIMULATED', 500)),
    soakPollers: Math.round(numberFromEnv('BENCH_SOAK_POLLERS', 300)),
    soakActionRate: numberFromEnv('BENCH_SOAK_ACTION_RATE', 160),
    soakReadRate: numberFromEnv('BENCH_SOAK_READ_RATE', 25),
    soakSnapshotMinutes: (process.env.BENCH_SOAK_SNAPSHOT_MINUTES ?? '').split(',').map((m) => m.trim()).filter(Boolean).map(Number).filter((m) => m > 0),
    inventoryDevices: Math.round(numberFromEnv('BENCH_INVENTORY_DEVICES', 18_000)),
    inventoryIntervalSeconds: numberFromEnv('BENCH_INVENTORY_INTERVAL_SECONDS', 60),
    inventoryIntervals: Math.round(numberFromEnv('BENCH_INVENTORY_INTERVALS', 2)),
    inventoryChangeShare: shareFromEnv('BENCH_INVENTORY_CHANGE_SHARE', 0.1),
    replicaDevices: Math.round(numberFromEnv('BENCH_REPLICA_DEVICES', 45_000)),
    replicaCount: Math.round(numberFromEnv('BENCH_REPLICA_COUNT', 3)),
    replicaSmall: Math.round(numberFromEnv('BENCH_REPLICA_SMALL', 300)),
    replicaOperations: Math.round(numberFromEnv('BENCH_REPLICA_OPERATIONS', 1_500)),
    replicaRate: numberFromEnv('BENCH_REPLICA_RATE', 100),
    replicaConcurrency: Math.round(numberFromEnv('BENCH_REPLICA_CONCURRENCY', 20)),
    replicaSteadySeconds: numberFromEnv('BENCH_REPLICA_STEADY_SECONDS', 30),
  };
}
