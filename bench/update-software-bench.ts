import { availableParallelism } from 'node:os';
import type { BenchConfig, StoreName } from './bench-config.js';
import { fmt, goalText, progress, ratioOf, type BenchOutcome, type ReportRow } from './bench-report.js';
import { storeLabel, type BenchWorkspace, type SeededFile, type SeedTiming } from './bench-workspace.js';
import { loadSummary, runLoad, unexpectedStatuses, type LoadRequest, type LoadResult } from './load.js';
import { processCpuSeconds, startTarget } from './target-process.js';
import { RequestCursor, updateRequests } from './update-targets.js';

interface PreparedStore {
  store: StoreName;
  file: SeededFile;
  added: SeedTiming | null;
  headers: Record<string, string>;
  requests: LoadRequest[];
}

interface Measurement {
  warmup: LoadResult;
  measured: LoadResult;
  /** CPU seconds the server process (all its threads) used during the measured run; null without /proc */
  serverCpuSeconds: number | null;
  /** PostgreSQL: CPU seconds its backends serving this server used during the measured run */
  databaseCpuSeconds: number | null;
}

interface StoreRun extends PreparedStore, Measurement {
  cursor: RequestCursor;
}

/**
 * updateSoftware throughput: the real route (auth, validation, 409 rule, committed before the
 * 202) on each store (BENCH_STORES: a fresh SQLite file, a fresh PostgreSQL database, seeded
 * alike) against a bare Fastify route that answers 202 and stores nothing, measured once in
 * the same run. Every server runs in a child process of its own; autocannon runs here. Every
 * request to a real server goes to a (device, softwareType) pair no earlier request used, so
 * none may get a 409.
 */
export async function updateSoftwareBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  const prepared: PreparedStore[] = [];
  for (const store of config.stores) {
    progress(`updateSoftware: seeding ${fmt.int(config.updateDevices)} devices into a fresh ${storeLabel[store]} database`);
    const { file, added } = await workspace.seed('update', config.updateDevices, store);
    await workspace.offerDemoCatalog('update', store);
    const token = await workspace.token('update', store);
    const requests = updateRequests(await workspace.deviceKeys('update', store));
    progress(`updateSoftware: ${storeLabel[store]}: ${fmt.int(requests.length)} distinct (device, softwareType) requests available`);
    prepared.push({ store, file, added, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, requests });
  }

  const measure = async (label: string, kind: 'bare' | 'real', db: string | undefined, headers: Record<string, string>, cursor: RequestCursor): Promise<Measurement> => {
    const target = await startTarget(kind, db);
    try {
      const first = await post(target.url, cursor.next(), headers);
      if (first.status !== 202) throw new Error(`${label}: first updateSoftware answered ${first.status}: ${first.text.slice(0, 300)}`);
      const load = (seconds: number) =>
        runLoad({ url: target.url, connections: config.updateConnections, seconds, method: 'POST', headers, next: cursor.next });
      progress(`updateSoftware: ${label} warm-up ${config.warmupSeconds} s`);
      const warmup = await load(config.warmupSeconds);
      progress(`updateSoftware: ${label} measured run ${config.updateSeconds} s, ${config.updateConnections} connections`);
      // The pool's connections are open after the warm-up; PostgreSQL runs a process per connection.
      const backends = db?.startsWith('postgres') ? await workspace.backendPids(db) : [];
      const databaseCpu = () => sumCpu(backends.map(processCpuSeconds));
      const cpuBefore = target.cpuSeconds();
      const databaseBefore = databaseCpu();
      const measured = await load(config.updateSeconds);
      const cpuAfter = target.cpuSeconds();
      const databaseAfter = databaseCpu();
      return {
        warmup,
        measured,
        serverCpuSeconds: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
        databaseCpuSeconds: backends.length === 0 || databaseBefore === null || databaseAfter === null ? null : databaseAfter - databaseBefore,
      };
    } finally {
      await target.stop();
    }
  };

  // The bare handler stores nothing: it gets the first store's requests and headers.
  const bare = await measure('bare', 'bare', undefined, prepared[0].headers, new RequestCursor(prepared[0].requests));
  const runs: StoreRun[] = [];
  for (const p of prepared) {
    const cursor = new RequestCursor(p.requests);
    runs.push({ ...p, cursor, ...(await measure(`real (${storeLabel[p.store]})`, 'real', p.file.db, p.headers, cursor)) });
  }

  const rows: ReportRow[] = [];
  const perStore: Record<string, unknown> = {};
  const notes = [
    `layout: bare and real servers each in its own child process (node dist/bench/bench-target.js), autocannon in the parent; 127.0.0.1`,
    `${config.updateConnections} connections, ${config.updateSeconds} s measured after ${config.warmupSeconds} s warm-up, one after the other (${['bare', ...runs.map((r) => storeLabel[r.store])].join(', then ')})`,
  ];
  const bareWrong = unexpectedStatuses(bare.measured, 202);
  for (const run of runs) {
    const label = storeLabel[run.store];
    const rpsRatio = ratioOf(run.measured.rps, bare.measured.rps);
    const p50Ratio = ratioOf(run.measured.p50, bare.measured.p50);
    const p99Ratio = ratioOf(run.measured.p99, bare.measured.p99);
    const serverCpu = cpuPerRequest(run.serverCpuSeconds, run.measured);
    const bareServerCpu = cpuPerRequest(bare.serverCpuSeconds, bare.measured);
    const loadCpu = cpuPerRequest(run.measured.loadCpuSeconds, run.measured);
    const bareLoadCpu = cpuPerRequest(bare.measured.loadCpuSeconds, bare.measured);
    rows.push(
      { figure: `${label} requests/s`, measured: fmt.rps(run.measured.rps), baseline: fmt.rps(bare.measured.rps), ratio: fmt.ratio(rpsRatio), goal: goalText(rpsRatio >= 0.8, '>= 0.80') },
      { figure: `${label} p50 latency (ms)`, measured: fmt.ms(run.measured.p50), baseline: fmt.ms(bare.measured.p50), ratio: fmt.ratio(p50Ratio) },
      { figure: `${label} p99 latency (ms)`, measured: fmt.ms(run.measured.p99), baseline: fmt.ms(bare.measured.p99), ratio: fmt.ratio(p99Ratio), goal: goalText(p99Ratio <= 2, '<= 2.00') },
      { figure: `${label} server CPU per request (µs)`, measured: fmt.micros(serverCpu), baseline: fmt.micros(bareServerCpu), ratio: fmt.ratio(ratioOf(serverCpu ?? NaN, bareServerCpu ?? NaN)) },
      ...(run.databaseCpuSeconds === null
        ? []
        : [{ figure: `${label} database CPU per request (µs)`, measured: fmt.micros(cpuPerRequest(run.databaseCpuSeconds, run.measured)), baseline: fmt.micros(0), ratio: 'n/a' }]),
      { figure: `${label} autocannon CPU per request (µs)`, measured: fmt.micros(loadCpu), baseline: fmt.micros(bareLoadCpu), ratio: fmt.ratio(ratioOf(loadCpu ?? NaN, bareLoadCpu ?? NaN)) },
    );
    const wrong = unexpectedStatuses(run.measured, 202);
    const wrongWarmup = unexpectedStatuses(run.warmup, 202);
    const where = run.store === 'sqlite' ? 'fresh SQLite file' : 'fresh PostgreSQL database (ANALYZE after seeding; pool of 10, the --pool-size default)';
    notes.push(
      `${label}: ${where}, ${fmt.int(run.file.devices)} devices seeded` +
        (run.added ? ` (${fmt.int(run.added.devicesPerSecond)} devices/s)` : '') +
        `, ${fmt.int(run.requests.length)} distinct (device, softwareType) requests, ${fmt.int(run.cursor.used)} used` +
        (run.cursor.wraps ? ` — RAN OUT and wrapped ${run.cursor.wraps}×, later requests may be 409` : ''),
      wrong.count === 0
        ? `${label}: responses counted ${fmt.int(run.measured.responses)}; non-202 (measured run): 0` +
            (wrongWarmup.count ? `; during warm-up: ${wrongWarmup.count} (${wrongWarmup.text})` : ' (warm-up: 0)')
        : `!!! ${label}: NON-202 RESPONSES FROM THE REAL SERVER: ${fmt.int(wrong.count)} (${wrong.text}) — its figures above are NOT valid !!!`,
    );
    perStore[run.store] = {
      devices: run.file.devices,
      seeding: run.added,
      distinctRequests: run.requests.length,
      requestsUsed: run.cursor.used,
      wrapped: run.cursor.wraps,
      real: loadSummary(run.measured),
      warmupStatusCounts: run.warmup.statusCounts,
      ratios: { rps: rpsRatio, p50: p50Ratio, p99: p99Ratio },
      serverCpuSeconds: run.serverCpuSeconds,
      serverCpuMicrosPerRequest: serverCpu,
      databaseCpuSeconds: run.databaseCpuSeconds,
      non202: wrong.count,
    };
  }
  notes.push(
    `bare: responses counted ${fmt.int(bare.measured.responses)}`,
    `CPU per request: the server process's user + system time over the measured run (every thread: event loop, SQLite writer, libuv), from /proc/<pid>/stat at 10 ms resolution; PostgreSQL's is that of the backends connected to the server's database (pg_stat_activity), read the same way; autocannon's is this process's own (process.cpuUsage); each divided by the responses counted`,
    `the machine has ${availableParallelism()} cores for server, autocannon and PostgreSQL together: a route whose CPU per request (server, database and autocannon) adds up to C µs cannot exceed ${availableParallelism()} × 1,000,000 / C requests/s here`,
  );
  if (bareWrong.count) notes.push(`!!! bare server gave ${bareWrong.count} non-202 (${bareWrong.text}) !!!`);
  return {
    name: 'updateSoftware',
    tables: [
      {
        title: 'updateSoftware throughput: real route vs bare Fastify 202 handler',
        columns: { measured: 'real server', baseline: 'bare Fastify', ratio: 'real/bare' },
        rows,
        notes,
      },
    ],
    data: {
      connections: config.updateConnections,
      seconds: config.updateSeconds,
      warmupSeconds: config.warmupSeconds,
      bare: { ...loadSummary(bare.measured), serverCpuSeconds: bare.serverCpuSeconds, serverCpuMicrosPerRequest: cpuPerRequest(bare.serverCpuSeconds, bare.measured) },
      stores: perStore,
    },
  };
}

async function post(url: string, request: LoadRequest, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const response = await fetch(url + request.path, { method: 'POST', headers, body: request.body });
  return { status: response.status, text: await response.text() };
}

/** Microseconds of CPU per response of a measured run. */
function cpuPerRequest(seconds: number | null, result: LoadResult): number | null {
  return seconds === null || result.responses === 0 ? null : (seconds * 1e6) / result.responses;
}

/** The sum of CPU readings, or null when any is missing (a process gone, or no /proc). */
function sumCpu(readings: (number | null)[]): number | null {
  return readings.some((r) => r === null) ? null : readings.reduce<number>((sum, r) => sum + (r ?? 0), 0);
}
