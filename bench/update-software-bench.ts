import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { BenchConfig, StoreName } from './bench-config.js';
import { fmt, goalText, progress, ratioOf, type BenchOutcome, type ReportRow } from './bench-report.js';
import { storeLabel, type BenchWorkspace, type SeededFile, type SeedTiming } from './bench-workspace.js';
import { processCpuSeconds, startTarget, type TargetProcess } from './target-process.js';
import { shuffledUpdateTargets, updateTargetsScript, writeTargetFile, type UpdateTarget } from './update-targets.js';
import { ensureWrk, runWrk, type WrkResult } from './wrk.js';

const pathPrefix = '/beta/teamwork/devices/';
/** The fixed seed of the random order: every run sends the same requests in the same order. */
const orderSeed = 16;

interface PreparedStore {
  store: StoreName;
  file: SeededFile;
  added: SeedTiming | null;
  headers: Record<string, string>;
  targets: UpdateTarget[];
  /** the fixed-width target file the wrk script reads, and its line width */
  targetFile: string;
  width: number;
}

/** One wrk run against one server, with what the processes spent on it. */
interface Round extends WrkResult {
  /** where the script stopped handing out targets (the next run starts there), and how often it ran out */
  next: number;
  wrapped: number;
  /** CPU seconds of the server process (all threads), its PostgreSQL backends, and wrk; null where unknown */
  serverCpuSeconds: number | null;
  databaseCpuSeconds: number | null;
  wrkCpuSeconds: number | null;
}

interface StoreRun extends PreparedStore {
  warmup: { bare: Round; real: Round };
  bare: Round[];
  real: Round[];
  /** operations rows in the database after the run, and the targets handed to the real server */
  operationRows: number;
  handedOut: number;
}

/**
 * updateSoftware throughput with wrk: the real route (auth, validation, 409 rule, committed
 * before the 202) on each store (a fresh SQLite file, a fresh PostgreSQL database, seeded
 * alike) against a bare Fastify route that answers 202 and stores nothing. Both servers run at
 * once, each in a child process of its own; rounds alternate bare, real, bare, real, … so
 * whatever else the machine does falls on both. Every request to a real server goes to a
 * (device, softwareType) pair no earlier request used, in a random order, so none may get a
 * 409; the operations rows counted afterwards must match the 202s wrk saw.
 */
export async function updateSoftwareBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  ensureWrk();
  const script = join(workspace.dir, 'update-targets.lua');
  writeFileSync(script, updateTargetsScript);
  const runs: StoreRun[] = [];
  const failures: string[] = [];
  const bare = await startTarget('bare');
  try {
    // Each store measured as soon as it is seeded: a store that fails leaves the other's figures.
    for (const store of config.stores) {
      try {
        runs.push(await measureStore(config, workspace, script, await prepareStore(config, workspace, store), bare));
      } catch (error) {
        failures.push(`!!! ${storeLabel[store]}: FAILED, no figures: ${error instanceof Error ? error.message : String(error)} !!!`);
        progress(`updateSoftware: ${storeLabel[store]} failed: ${error instanceof Error ? error.stack : String(error)}`);
      }
    }
  } finally {
    await bare.stop();
  }
  if (runs.length === 0) throw new Error(failures.join('; '));
  const outcome = report(config, runs);
  outcome.tables[0].notes.push(...failures);
  return outcome;
}

/** Seeds the store's database (PostgreSQL in batches small enough for the statement limit on a busy machine), and writes its request file. */
async function prepareStore(config: BenchConfig, workspace: BenchWorkspace, store: StoreName): Promise<PreparedStore> {
  progress(`updateSoftware: seeding ${fmt.int(config.updateDevices)} devices into a fresh ${storeLabel[store]} database`);
  const { file, added } = await workspace.seed('update', config.updateDevices, store, store === 'postgres' ? 1000 : undefined);
  await workspace.offerDemoCatalog('update', store);
  const token = await workspace.token('update', store);
  const targets = shuffledUpdateTargets(await workspace.deviceKeys('update', store), orderSeed);
  const targetFile = join(workspace.dir, `update-targets-${store}.txt`);
  const { width } = writeTargetFile(targetFile, targets);
  progress(`updateSoftware: ${storeLabel[store]}: ${fmt.int(targets.length)} distinct (device, softwareType) requests, in random order`);
  return { store, file, added, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, targets, targetFile, width };
}

async function measureStore(config: BenchConfig, workspace: BenchWorkspace, script: string, p: PreparedStore, bare: TargetProcess): Promise<StoreRun> {
  const label = storeLabel[p.store];
  const real = await startTarget('real', p.file.db);
  let bareNext = 0;
  let realNext = 0;
  try {
    // One request each before wrk: a wrong token or catalog fails here, loudly, not as a rate of errors.
    for (const target of [bare, real]) {
      const first = await post(target.url, p.targets[0], p.headers);
      if (first.status !== 202) throw new Error(`updateSoftware (${target.kind}, ${label}): the first request answered ${first.status}: ${first.text.slice(0, 300)}`);
    }
    bareNext = realNext = 1;
    let backends: number[] = [];
    const round = async (target: TargetProcess, start: number, seconds: number): Promise<Round> => {
      const databaseCpu = () => (backends.length === 0 ? null : sumCpu(backends.map(processCpuSeconds)));
      const cpuBefore = target.cpuSeconds();
      const databaseBefore = target.kind === 'real' ? databaseCpu() : null;
      const result = await runWrk({
        url: target.url,
        headers: p.headers,
        connections: config.updateConnections,
        seconds,
        script,
        scriptArgs: [p.targetFile, String(start), String(p.width), pathPrefix],
      });
      const cpuAfter = target.cpuSeconds();
      const databaseAfter = target.kind === 'real' ? databaseCpu() : null;
      return {
        ...result,
        next: scriptNumber(result.output, 'NEXT'),
        wrapped: scriptNumber(result.output, 'WRAPPED'),
        serverCpuSeconds: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
        databaseCpuSeconds: databaseBefore === null || databaseAfter === null ? null : databaseAfter - databaseBefore,
        wrkCpuSeconds: scriptNumber(result.output, 'CPU'),
      };
    };
    progress(`updateSoftware: ${label}: warm-up ${config.warmupSeconds} s of bare, then of real`);
    const warmupBare = await round(bare, bareNext, config.warmupSeconds);
    bareNext = warmupBare.next;
    const warmupReal = await round(real, realNext, config.warmupSeconds);
    realNext = warmupReal.next;
    // The pool's connections are open after the warm-up; PostgreSQL runs a process per connection.
    if (p.store === 'postgres') backends = await workspace.backendPids(p.file.db);
    const run: StoreRun = { ...p, warmup: { bare: warmupBare, real: warmupReal }, bare: [], real: [], operationRows: 0, handedOut: 0 };
    for (let i = 1; i <= config.updateRounds; i++) {
      progress(`updateSoftware: ${label}: round ${i} of ${config.updateRounds}: bare, then real, ${config.updateSeconds} s each, ${config.updateConnections} connections`);
      const b = await round(bare, bareNext, config.updateSeconds);
      bareNext = b.next;
      run.bare.push(b);
      const r = await round(real, realNext, config.updateSeconds);
      realNext = r.next;
      run.real.push(r);
    }
    run.handedOut = realNext;
    await real.stop();
    const [{ n }] = await workspace.rows<{ n: string | number }>('update', p.store, 'SELECT count(*) AS n FROM operations WHERE tenant_id = $1');
    run.operationRows = Number(n);
    return run;
  } finally {
    await real.stop();
  }
}

function report(config: BenchConfig, runs: StoreRun[]): BenchOutcome {
  const rows: ReportRow[] = [];
  const notes = [
    `layout: bare and real servers both running, each in its own child process (node dist/bench/bench-target.js); wrk (one thread) in another; 127.0.0.1`,
    `wrk -t1 -c${config.updateConnections}, ${config.updateRounds} alternating rounds (bare, real, …) of ${config.updateSeconds} s per store after a ${config.warmupSeconds} s warm-up of each; figures are the medians of the rounds, ratios are of those medians`,
  ];
  const perStore: Record<string, unknown> = {};
  for (const run of runs) {
    const label = storeLabel[run.store];
    const rps = { real: median(run.real.map((r) => r.requestsPerSecond)), bare: median(run.bare.map((r) => r.requestsPerSecond)) };
    const p50 = { real: median(run.real.map((r) => r.p50)), bare: median(run.bare.map((r) => r.p50)) };
    const p99 = { real: median(run.real.map((r) => r.p99)), bare: median(run.bare.map((r) => r.p99)) };
    const rpsRatio = ratioOf(rps.real, rps.bare);
    const p50Ratio = ratioOf(p50.real, p50.bare);
    const p99Ratio = ratioOf(p99.real, p99.bare);
    const serverCpu = { real: cpuPerRequest(run.real, (r) => r.serverCpuSeconds), bare: cpuPerRequest(run.bare, (r) => r.serverCpuSeconds) };
    const wrkCpu = { real: cpuPerRequest(run.real, (r) => r.wrkCpuSeconds), bare: cpuPerRequest(run.bare, (r) => r.wrkCpuSeconds) };
    const databaseCpu = run.store === 'postgres' ? cpuPerRequest(run.real, (r) => r.databaseCpuSeconds) : null;
    rows.push(
      { figure: `${label} requests/s`, measured: fmt.rps(rps.real), baseline: fmt.rps(rps.bare), ratio: fmt.ratio(rpsRatio), goal: goalText(rpsRatio >= 0.8, '>= 0.80') },
      { figure: `${label} p50 latency (ms)`, measured: ms(p50.real), baseline: ms(p50.bare), ratio: fmt.ratio(p50Ratio) },
      { figure: `${label} p99 latency (ms)`, measured: ms(p99.real), baseline: ms(p99.bare), ratio: fmt.ratio(p99Ratio), goal: goalText(p99Ratio <= 2, '<= 2.00') },
      { figure: `${label} server CPU per request (µs)`, measured: fmt.micros(serverCpu.real), baseline: fmt.micros(serverCpu.bare), ratio: fmt.ratio(ratioOf(serverCpu.real ?? NaN, serverCpu.bare ?? NaN)) },
      ...(databaseCpu === null ? [] : [{ figure: `${label} database CPU per request (µs)`, measured: fmt.micros(databaseCpu), baseline: fmt.micros(0), ratio: 'n/a' }]),
      { figure: `${label} wrk CPU per request (µs)`, measured: fmt.micros(wrkCpu.real), baseline: fmt.micros(wrkCpu.bare), ratio: fmt.ratio(ratioOf(wrkCpu.real ?? NaN, wrkCpu.bare ?? NaN)) },
    );
    const realRuns = [run.warmup.real, ...run.real];
    const failures = realRuns.reduce((sum, r) => sum + r.failures, 0);
    const wrapped = Math.max(...realRuns.map((r) => r.wrapped));
    // The first request (before wrk) was a 202 too.
    const accepted = 1 + realRuns.reduce((sum, r) => sum + r.requests - r.non2xx, 0);
    const inFlight = run.operationRows - accepted;
    const rowsAgree = failures === 0 && wrapped === 0 && inFlight >= 0 && run.operationRows <= run.handedOut && inFlight <= config.updateConnections * realRuns.length;
    const where = run.store === 'sqlite' ? 'fresh SQLite file' : 'fresh PostgreSQL database (ANALYZE after seeding; pool of 10, the --pool-size default)';
    notes.push(
      `${label}: ${where}, ${fmt.int(run.file.devices)} devices seeded` +
        (run.added ? ` (${fmt.int(run.added.devicesPerSecond)} devices/s)` : '') +
        `, ${fmt.int(run.targets.length)} distinct (device, softwareType) requests in random order (seed ${orderSeed}), ${fmt.int(run.handedOut)} handed out`,
      `${label}: real/bare per round: requests/s ${run.real.map((r, i) => fmt.ratio(ratioOf(r.requestsPerSecond, run.bare[i].requestsPerSecond))).join(', ')}; p99 ${run.real.map((r, i) => fmt.ratio(ratioOf(r.p99, run.bare[i].p99))).join(', ')}`,
      rowsAgree
        ? `${label}: non-2xx and socket errors: 0; operations rows ${fmt.int(run.operationRows)} = 202s wrk counted ${fmt.int(accepted)} + ${fmt.int(inFlight)} in flight when a wrk run stopped (at most ${config.updateConnections} per run)`
        : `!!! ${label}: ${fmt.int(failures)} non-2xx or socket errors, ${wrapped} times out of requests, operations rows ${fmt.int(run.operationRows)} against ${fmt.int(accepted)} 202s counted and ${fmt.int(run.handedOut)} handed out — its figures above are NOT valid !!!`,
    );
    if (databaseCpu !== null) {
      notes.push(`${label}: the database's backends run on the same ${availableParallelism()} cores: its CPU per request is part of what each request costs the machine`);
    }
    perStore[run.store] = {
      devices: run.file.devices,
      seeding: run.added,
      distinctRequests: run.targets.length,
      handedOut: run.handedOut,
      operationRows: run.operationRows,
      accepted,
      failures,
      wrapped,
      valid: rowsAgree,
      medians: { rps, p50, p99 },
      ratios: { rps: rpsRatio, p50: p50Ratio, p99: p99Ratio },
      cpuMicrosPerRequest: { server: serverCpu, database: databaseCpu, wrk: wrkCpu },
      rounds: { bare: run.bare.map(roundSummary), real: run.real.map(roundSummary) },
      warmup: { bare: roundSummary(run.warmup.bare), real: roundSummary(run.warmup.real) },
    };
    const bareFailures = [run.warmup.bare, ...run.bare].reduce((sum, r) => sum + r.failures, 0);
    if (bareFailures) notes.push(`!!! bare server (${label} rounds) gave ${bareFailures} non-2xx or socket errors !!!`);
  }
  notes.push(
    `CPU per request: user + system time over each round of the server process (every thread: event loop, SQLite writer, libuv) from /proc/<pid>/stat at 10 ms resolution, of PostgreSQL's backends connected to the server's database (pg_stat_activity) read the same way, and of wrk (clock() in its script); each divided by the responses, median of the rounds`,
    `the machine has ${availableParallelism()} cores for server, wrk and PostgreSQL together: a route whose CPU per request (server, database and wrk) adds up to C µs cannot exceed ${availableParallelism()} × 1,000,000 / C requests/s here`,
  );
  return {
    name: 'updateSoftware',
    tables: [{ title: 'updateSoftware throughput (wrk, random order): real route vs bare Fastify 202 handler', columns: { measured: 'real server', baseline: 'bare Fastify', ratio: 'real/bare' }, rows, notes }],
    data: { connections: config.updateConnections, seconds: config.updateSeconds, rounds: config.updateRounds, warmupSeconds: config.warmupSeconds, orderSeed, stores: perStore },
  };
}

async function post(url: string, target: UpdateTarget, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const body = JSON.stringify({ softwareType: target.softwareType, softwareVersion: target.version });
  const response = await fetch(`${url}${pathPrefix}${target.deviceId}/updateSoftware`, { method: 'POST', headers, body });
  return { status: response.status, text: await response.text() };
}

/** A number the wrk script printed on a line of its own (`NEXT 1234`). */
function scriptNumber(output: string, name: string): number {
  const match = new RegExp(`^${name} ([\\d.]+)$`, 'm').exec(output);
  if (!match) throw new Error(`the wrk script printed no ${name} line:\n${output}`);
  return Number(match[1]);
}

/** Microseconds of CPU per response, median of the rounds; null when a reading is missing. */
function cpuPerRequest(rounds: Round[], seconds: (round: Round) => number | null): number | null {
  const values = rounds.map((r) => seconds(r));
  if (values.some((v) => v === null) || rounds.some((r) => r.requests === 0)) return null;
  return median(values.map((v, i) => (v! * 1e6) / rounds[i].requests));
}

/** The sum of CPU readings, or null when any is missing (a process gone, or no /proc). */
function sumCpu(readings: (number | null)[]): number | null {
  return readings.some((r) => r === null) ? null : readings.reduce<number>((sum, r) => sum + (r ?? 0), 0);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** wrk reports latencies to the microsecond: two decimals, so ratios of small latencies read true. */
function ms(value: number): string {
  return value.toFixed(2);
}

function roundSummary(r: Round): Record<string, unknown> {
  return {
    requests: r.requests,
    requestsPerSecond: r.requestsPerSecond,
    p50Ms: r.p50,
    p99Ms: r.p99,
    failures: r.failures,
    non2xx: r.non2xx,
    next: r.next,
    wrapped: r.wrapped,
    serverCpuSeconds: r.serverCpuSeconds,
    databaseCpuSeconds: r.databaseCpuSeconds,
    wrkCpuSeconds: r.wrkCpuSeconds,
  };
}
