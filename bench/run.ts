/**
 * `npm run bench`: runs the benchmarks in sequence against 127.0.0.1 and prints every figure
 * beside a baseline measured in the same run. Knobs (environment):
 *   BENCH_ONLY=writer,update,seed,list,filters,select,dispatch,batch,artifacts,rollout,inventory,replicas,soak  which to run (default all)
 *   BENCH_STORES=sqlite,postgres  stores for update, list, filters, batch, artifacts, rollout and inventory (default both; replicas always PostgreSQL; the others SQLite)
 *   BENCH_PG=postgres://postgres@127.0.0.1:5432/postgres  where the PostgreSQL databases are created and dropped
 *   BENCH_SECONDS=8            updateSoftware measured seconds per round
 *   BENCH_CONNECTIONS=32       updateSoftware wrk connections
 *   BENCH_WARMUP_SECONDS=2     updateSoftware warm-up seconds per server
 *   BENCH_UPDATE_DEVICES=150000 devices seeded for updateSoftware (per store)
 *   BENCH_UPDATE_ROUNDS=3      updateSoftware rounds of bare and of real, alternating
 *   BENCH_WRITER_ROWS=200000   writer: operations created per variant (SQLite store alone, on the update benchmark's devices)
 *   BENCH_LIST_SMALL=10000     devices in the list baseline file
 *   BENCH_LIST_LARGE=1000000   devices in the large list file
 *   BENCH_LIST_SECONDS=4       list/$select measured seconds per page
 *   BENCH_LIST_CONNECTIONS=10  list/$select connections
 *   BENCH_LIST_WARMUP_SECONDS=1
 *   BENCH_FILTER_REQUESTS=31   filters: requests timed per filter and database (one at a time)
 *   BENCH_FILTER_SECONDS=6     filters: seconds of each wrk run of another tenant's GET
 *   BENCH_FILTER_ROUNDS=5      filters: rounds of that GET idle, under the slow filters, and beside them
 *   BENCH_SEED_DEVICES=150000  devices for the seed-speed benchmark
 *   BENCH_DISPATCH_DEVICES=10000,18000  long-polling fleets of the dispatch benchmark, each on a fresh server
 *   BENCH_DISPATCH_SMALL=100       devices of the dispatch baseline fleet
 *   BENCH_DISPATCH_OPERATIONS=1000 updateSoftware requests dispatched per fleet
 *   BENCH_DISPATCH_RATE=100        their rate per second
 *   BENCH_DISPATCH_CONCURRENCY=20  their concurrency cap
 *   BENCH_DISPATCH_ADMIN_SECONDS=5     each wrk run of the admin GETs, idle and with the fleet connected
 *   BENCH_DISPATCH_ADMIN_CONNECTIONS=1 its connections
 *   BENCH_DISPATCH_HEAPSNAPSHOTS=DIR   write the server's heap snapshots there (diagnostics; perturbs the figures)
 *   BENCH_BATCH_SECONDS=4      batch: seconds of each wrk round
 *   BENCH_BATCH_ROUNDS=3       batch: rounds of separate reads and of batches, alternating
 *   BENCH_ARTIFACT_AGENTS=100      artifacts: agents updating from one artifact at once
 *   BENCH_ARTIFACT_MIB=50          artifacts: its size
 *   BENCH_ARTIFACT_LARGE_MIB=1100  artifacts: the sparse artifact uploaded and downloaded once
 *   BENCH_ROLLOUT_DEVICES=10000    rollout: devices updated by one rollout in three stages, and directly
 *   BENCH_SOAK_MINUTES=30          soak: minutes of mixed load against `serve --simulate`
 *   BENCH_SOAK_WARMUP_MINUTES=10   soak: the first minutes, not judged (growth is judged over the rest)
 *   BENCH_SOAK_SIMULATED=500       soak: simulated devices inside the server
 *   BENCH_SOAK_POLLERS=300         soak: external long-polling devices (long-poll-fleet.js)
 *   BENCH_SOAK_ACTION_RATE=160     soak: updateSoftware/restart/runDiagnostics per second
 *   BENCH_SOAK_READ_RATE=25        soak: list reads per second
 *   BENCH_SOAK_SNAPSHOT_MINUTES=   soak: e.g. 3,8: heap snapshots of the server then, kept in dist/soak-snapshots/
 *   BENCH_INVENTORY_DEVICES=18000          inventory: long-polling devices, each also reporting its inventory
 *   BENCH_INVENTORY_INTERVAL_SECONDS=60    inventory: every device reports once per interval, phases spread evenly
 *   BENCH_INVENTORY_INTERVALS=2            inventory: intervals measured (and of the baseline window)
 *   BENCH_INVENTORY_CHANGE_SHARE=0.1       inventory: share of reports that change something
 *   BENCH_REPLICA_DEVICES=45000    replicas: long-polling devices spread over the replicas (always PostgreSQL)
 *   BENCH_REPLICA_COUNT=3          replicas: replicas on one database, and fleet processes
 *   BENCH_REPLICA_SMALL=300        replicas: devices of the baseline (one replica)
 *   BENCH_REPLICA_OPERATIONS=1500  replicas: updateSoftware requests, each to a random replica
 *   BENCH_REPLICA_RATE=100         replicas: their rate per second
 *   BENCH_REPLICA_CONCURRENCY=20   replicas: their concurrency cap
 *   BENCH_REPLICA_STEADY_SECONDS=30  replicas: the steady window CPU is read over (one long-poll cycle)
 * Machine-readable results: dist/bench-results.json.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { batchBench } from './batch-bench.js';
import { benchConfigFromEnv, type BenchConfig, type BenchName } from './bench-config.js';
import { BenchResults, fmt, renderTable, type BenchOutcome } from './bench-report.js';
import { BenchWorkspace } from './bench-workspace.js';
import { artifactsBench } from './artifacts-bench.js';
import { rolloutBench } from './rollout-bench.js';
import { replicasBench } from './replicas-bench.js';
import { dispatchBench } from './dispatch-bench.js';
import { filterBench } from './filter-bench.js';
import { inventoryBench } from './inventory-bench.js';
import { listDevicesBench } from './list-devices-bench.js';
import { seedBench } from './seed-bench.js';
import { selectBench } from './select-bench.js';
import { soakBench } from './soak-bench.js';
import { updateSoftwareBench } from './update-software-bench.js';
import { operationWriterBench } from './operation-writer-bench.js';

const benches: Record<BenchName, (config: BenchConfig, workspace: BenchWorkspace) => Promise<BenchOutcome>> = {
  update: updateSoftwareBench,
  seed: seedBench,
  list: listDevicesBench,
  filters: filterBench,
  select: selectBench,
  dispatch: dispatchBench,
  batch: batchBench,
  artifacts: artifactsBench,
  rollout: rolloutBench,
  soak: soakBench,
  inventory: inventoryBench,
  replicas: replicasBench,
  writer: operationWriterBench,
};

const resultsPath = fileURLToPath(new URL('../bench-results.json', import.meta.url));

async function main(): Promise<number> {
  const config = benchConfigFromEnv();
  const started = performance.now();
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGB: Math.round(totalmem() / 1e9),
    config,
  };
  console.log(`teamwork-devices benchmarks — ${meta.date}`);
  console.log(`node ${meta.node}, ${meta.platform}, ${meta.cpus} cores (${meta.cpuModel}), ${meta.memoryGB} GB`);
  console.log(`running: ${config.only.join(', ')} (update, list, filters, batch, artifacts, rollout and inventory on ${config.stores.join(', ')}); every figure is a ratio against a baseline measured in this run`);
  console.log(`load average (1, 5, 15 min) at the start: ${loadAverage()}`);

  const workspace = new BenchWorkspace(config.pgAdminUrl);
  const results = new BenchResults(meta);
  const stopBySignal = () => {
    // the targets are killed on exit; DROP DATABASE … WITH (FORCE) does not wait for them
    workspace.cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopBySignal);
  process.once('SIGTERM', stopBySignal);
  try {
    for (const name of config.only) {
      const benchStarted = performance.now();
      try {
        const outcome = await benches[name](config, workspace);
        const seconds = (performance.now() - benchStarted) / 1000;
        outcome.data.wallSeconds = seconds;
        results.add(outcome);
        for (const table of outcome.tables) console.log(renderTable(table));
        console.log(`  (${name}: ${fmt.seconds(seconds)} s)`);
        for (const failure of outcome.failures ?? []) {
          results.fail(name, failure);
          console.error(`\n!!! benchmark '${name}' failed in part: ${failure}`);
        }
      } catch (error) {
        results.fail(name, error);
        console.error(`\n!!! benchmark '${name}' failed: ${error instanceof Error ? error.stack : String(error)}`);
      }
    }
  } finally {
    await workspace.cleanup();
  }
  const total = (performance.now() - started) / 1000;
  console.log(`\nload average (1, 5, 15 min) at the end: ${loadAverage()}`);
  results.write(resultsPath, total);
  console.log(`\ntotal ${fmt.seconds(total)} s; results written to ${resultsPath}`);
  console.log('figures are from one run on this machine; compare ratios, not absolute numbers');
  return results.failed ? 1 : 0;
}

function loadAverage(): string {
  return loadavg().map((n) => n.toFixed(2)).join(', ') + ` (${cpus().length} cores)`;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
