import { readdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { operatorActor } from '../src/domain/audit.js';
import { createEnrollmentToken } from '../src/engine/device-administration.js';
import { seedDemoCatalog } from '../src/seed/demo-catalog.js';
import { openStore } from '../src/store/open-store.js';
import type { BenchConfig } from './bench-config.js';
import { fmt, progress, ratioOf, type BenchOutcome, type ReportRow } from './bench-report.js';
import { benchTenant, type BenchWorkspace } from './bench-workspace.js';
import { startFleet, type FleetProcess } from './fleet-process.js';
import type { FleetStats } from './fleet-messages.js';
import { dispatch, percentiles, planOperations, type Percentiles } from './dispatch-requests.js';
import { processCpuSeconds, readMemory, readStatusBytes, sampleRss, startTarget, type LoopDelay, type MemoryReading } from './target-process.js';

/** How long a fresh server idles before its memory is read. */
const idleSettleMs = 2000;
/**
 * The held-polls memory reading and the dispatch start no earlier than this after the fleet
 * started enrolling: by then the first polls have ended (204 after 30 s) and the devices
 * re-poll as in steady state, about N/30 polls a second.
 */
const steadyStateMs = 32_000;
/** After the last 202, how long a device may take to get its operation (one full long-poll and a margin). */
const deliveryGraceMs = 35_000;

/**
 * Dispatch: N devices hold long-polls on one real server (`GET /agent/v1/work?waitSeconds=30`);
 * the devices are agent clients over keep-alive node:http in a separate process
 * (long-poll-fleet.js), the server is bench-target.js on a fresh SQLite file, and this
 * process sends updateSoftware requests at a
 * steady rate. Figures: the server's memory idle and with the N polls held, and the time from
 * the 202 (seen here) to the device's poll delivering the operation (seen in the fleet
 * process; both on the machine's monotonic clock). Baseline of the latency: the same with a
 * small fleet, on its own fresh server, in the same run.
 */
export async function dispatchBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  const loadBefore = loadavg();
  const small = await measureFleet('small', config.dispatchSmall, config, workspace);
  const large = await measureFleet('large', config.dispatchDevices, config, workspace);
  const loadAfter = loadavg();
  const n = fmt.int(large.devices);
  const nSmall = fmt.int(small.devices);
  const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
  const perPoll = (held: number, idle: number, devices: number) => (held - idle) / devices;
  const per = {
    rss: perPoll(large.held.rss, large.idle.rss, large.devices),
    rssGc: perPoll(large.held.gc.rss, large.idle.gc.rss, large.devices),
    heap: perPoll(large.held.gc.heapUsed, large.idle.gc.heapUsed, large.devices),
  };
  const memoryRow = (figure: string, held: number, idle: number): ReportRow => ({ figure, measured: mb(held), baseline: mb(idle), ratio: fmt.ratio(ratioOf(held, idle)) });
  const bytesRow = (figure: string, value: number): ReportRow => ({ figure, measured: fmt.int(value), baseline: '', ratio: '' });
  const memoryRows: ReportRow[] = [
    memoryRow('server RSS (MB)', large.held.rss, large.idle.rss),
    bytesRow('RSS per held long-poll (bytes)', per.rss),
    memoryRow('server RSS after full GC (MB)', large.held.gc.rss, large.idle.gc.rss),
    bytesRow('  per held long-poll (bytes)', per.rssGc),
    memoryRow('V8 heap used after full GC (MB)', large.held.gc.heapUsed, large.idle.gc.heapUsed),
    bytesRow('  per held long-poll (bytes)', per.heap),
    memoryRow('server RSS after dispatch (MB)', large.rssAfter, large.idle.rss),
    memoryRow('server peak RSS, VmHWM (MB)', large.rssPeak, large.idle.rss),
  ];
  const memoryNotes = [
    `RSS = VmRSS of /proc/<server pid>/status, median of 5 readings 200 ms apart; then (after GC) process.memoryUsage() right after global.gc() in the server (node --expose-gc)`,
    `idle = fresh server, no device, ${idleSettleMs / 1000} s after start; held = ${n} devices enrolled, each holding GET /agent/v1/work?waitSeconds=30, ` +
      `${fmt.seconds(large.heldAfterSeconds)} s after enrolment began (at least ${steadyStateMs / 1000} s: polls re-issued every 30 s); per poll = (held − idle) / ${n}, so it includes what enrolment leaves (credential cache, sockets, heap growth)`,
    `at the held reading: ${fmt.int(large.fleetBefore.pollsInFlight)} polls in flight (fleet's count), ${fmt.int(large.serverFds)} open file descriptors in the server`,
    `baseline fleet (${nSmall} devices, its own server): RSS idle ${mb(small.idle.rss)} MB, held ${mb(small.held.rss)} MB; heap after GC idle ${mb(small.idle.gc.heapUsed)} MB, held ${mb(small.held.gc.heapUsed)} MB`,
    `fleet process (${n} agent clients, node:http keep-alive): ${mb(large.fleetRss)} MB RSS; enrolment ${fmt.int(large.devices / large.enrollSeconds)} devices/s (${fmt.seconds(large.enrollSeconds)} s, 100 at a time)`,
  ];

  const l = large.latency;
  const s = small.latency;
  // sub-millisecond clock: two decimals below 10 ms
  const ms = (v: number) => (!Number.isFinite(v) ? 'n/a' : Math.abs(v) < 10 ? v.toFixed(2) : Math.abs(v) < 100 ? v.toFixed(1) : v.toFixed(0));
  // a ratio of figures at or below zero (the poll's answer overtaking the 202) means nothing
  const latencyRow = (figure: string, a: number, b: number): ReportRow => ({ figure, measured: ms(a), baseline: ms(b), ratio: a > 0 && b > 0 ? fmt.ratio(a / b) : 'n/a' });
  const latencyRows: ReportRow[] = [
    latencyRow('dispatch p50 (ms)', l.p50, s.p50),
    latencyRow('dispatch p90 (ms)', l.p90, s.p90),
    latencyRow('dispatch p99 (ms)', l.p99, s.p99),
    latencyRow('dispatch max (ms)', l.max, s.max),
    { figure: 'operations received', measured: `${fmt.int(large.received)} / ${fmt.int(large.planned)}`, baseline: `${fmt.int(small.received)} / ${fmt.int(small.planned)}`, ratio: '' },
    latencyRow('202 latency p50 (ms)', large.accept.p50, small.accept.p50),
    latencyRow('202 latency p99 (ms)', large.accept.p99, small.accept.p99),
    latencyRow('request sent → delivered p50 (ms)', large.fromSend.p50, small.fromSend.p50),
    latencyRow('request sent → delivered p99 (ms)', large.fromSend.p99, small.fromSend.p99),
  ];
  const loop = (d: LoopDelay) => `${d.p99.toFixed(0)} / ${d.max.toFixed(0)}`;
  const latencyNotes = [
    `dispatch = receivedAt (fleet process, the poll's 200 body complete) − acceptedAt (this process, the 202's headers arrived), both on CLOCK_MONOTONIC (process.hrtime), which all processes share; ` +
      `negative when the poll's answer overtook the 202: ${large.negative} of ${fmt.int(large.received)} (${n}), ${small.negative} of ${fmt.int(small.received)} (${nSmall})`,
    `${fmt.int(config.dispatchOperations)} POST /beta/teamwork/devices/{id}/updateSoftware (teamsClient, softwareVersion given) per fleet at ${config.dispatchRate}/s, at most ${config.dispatchConcurrency} in flight, ` +
      `achieved ${fmt.int(large.achievedRate)}/s (${n}) and ${fmt.int(small.achievedRate)}/s (${nSmall}); devices in a random order, ` +
      `${large.planned <= large.devices ? `each of the ${n} at most once` : `round-robin over ${n}`}, ${small.planned <= small.devices ? `each of the ${nSmall} at most once` : `round-robin over ${nSmall} (each device every ${fmt.seconds(small.devices / config.dispatchRate)} s)`}`,
    `event loop delay during the dispatch (p99 / max, ms, sampled every 10 ms): server ${loop(large.serverLoop)} (${n}), ${loop(small.serverLoop)} (${nSmall}); ` +
      `fleet process ${loop(large.fleetAfter.loopDelay)} (${n}), ${loop(small.fleetAfter.loopDelay)} (${nSmall})`,
    `CPU during the dispatch (cores busy): server ${large.cpu.server.toFixed(2)} (${n}), ${small.cpu.server.toFixed(2)} (${nSmall}); fleet ${large.cpu.fleet.toFixed(2)} (${n}), ${small.cpu.fleet.toFixed(2)} (${nSmall})`,
    `every device acks and reports 'successful' at once: results accepted ${fmt.int(large.fleetAfter.results)} (${n}), ${fmt.int(small.fleetAfter.results)} (${nSmall})`,
    `layout: real server (bench-target.js) and device fleet (long-poll-fleet.js) each in a child process, requests from this process (node:http keep-alive); 127.0.0.1; a fresh SQLite file and server per fleet`,
    `load average (1, 5, 15 min) at the start: ${loadBefore.map((v) => v.toFixed(2)).join(', ')}; at the end: ${loadAfter.map((v) => v.toFixed(2)).join(', ')} (${cpus().length} cores)`,
    ...[large, small].flatMap((r) => problems(r)),
  ];
  return {
    name: 'dispatch',
    tables: [
      {
        title: `dispatch memory: server with ${n} long-polls held vs idle`,
        columns: { measured: `${n} polls held`, baseline: 'idle, 0 devices', ratio: 'held/idle' },
        rows: memoryRows,
        notes: memoryNotes,
      },
      {
        title: `dispatch latency: 202 → operation delivered by the device's long-poll, ${n} vs ${nSmall} devices polling`,
        columns: { measured: `${n} devices`, baseline: `${nSmall} devices`, ratio: `${n}/${nSmall}` },
        rows: latencyRows,
        notes: latencyNotes,
      },
    ],
    data: {
      operations: config.dispatchOperations,
      rate: config.dispatchRate,
      concurrency: config.dispatchConcurrency,
      loadBefore,
      loadAfter,
      bytesPerHeldPoll: per,
      large,
      small,
    },
  };
}

interface FleetRun {
  devices: number;
  enrollSeconds: number;
  /** when the held reading was taken, in seconds after enrolment began */
  heldAfterSeconds: number;
  /** open file descriptors of the server at the held reading (its sockets among them) */
  serverFds: number;
  idle: MemoryReading;
  held: MemoryReading;
  rssAfter: number;
  rssPeak: number;
  fleetRss: number;
  planned: number;
  accepted: number;
  received: number;
  negative: number;
  /** receipts for ids this run never got a 202 for */
  unknownReceipts: number;
  achievedRate: number;
  latency: Percentiles;
  /** request sent → delivered */
  fromSend: Percentiles;
  accept: Percentiles;
  non202: Record<string, number>;
  requestErrors: Record<string, number>;
  fleetBefore: FleetStats;
  fleetAfter: FleetStats;
  /** the server's event loop delay during the dispatch (the fleet's is in fleetAfter.loopDelay) */
  serverLoop: LoopDelay;
  /** CPU used during the dispatch, in cores (1.0 = one core busy all the time), over `seconds` */
  cpu: { seconds: number; server: number; fleet: number };
}

async function measureFleet(label: 'small' | 'large', devices: number, config: BenchConfig, workspace: BenchWorkspace): Promise<FleetRun> {
  const name = `dispatch-${label}`;
  const path = workspace.path(name);
  const store = await openStore(path);
  let enrollmentToken: string;
  try {
    enrollmentToken = (await createEnrollmentToken(store, { tenantId: benchTenant, ttlSeconds: 3600, maxUses: null, description: 'bench' }, operatorActor)).token;
    // The plan asks for demo teamsClient versions: the catalog must offer them.
    await seedDemoCatalog(store, benchTenant);
  } finally {
    await store.close();
  }
  const adminToken = await workspace.token(name);
  const target = await startTarget('real', path, 120_000, ['--expose-gc']);
  let fleet: FleetProcess | null = null;
  try {
    await sleep(idleSettleMs);
    const idle = await readMemory(target);
    progress(`dispatch: ${fmt.int(devices)} devices enrolling (100 at a time); server idle: RSS ${(idle.rss / 1048576).toFixed(1)} MB`);
    const fleetStarted = performance.now();
    fleet = await startFleet(target.url, enrollmentToken, devices, {
      onProgress: (enrolled) => {
        if (enrolled % 2500 === 0) progress(`dispatch: ${fmt.int(enrolled)} enrolled`);
      },
    });
    progress(`dispatch: ${fmt.int(devices)} enrolled in ${fmt.seconds(fleet.enrollSeconds)} s and polling; waiting for steady state`);
    await sleep(Math.max(fleetStarted + steadyStateMs - performance.now(), 3000));
    const heldAfterSeconds = (performance.now() - fleetStarted) / 1000;
    const held = await readMemory(target);
    const fleetBefore = await fleet.stats();
    const serverFds = readdirSync(`/proc/${target.pid}/fd`).length;
    await sleep(1000); // past the pause of the forced GC
    // event loop delay and CPU time of both processes: from here to the end of the deliveries
    await target.loopDelay();
    await fleet.stats(true);
    const cpuStart = { at: performance.now(), server: cpuSeconds(target.pid), fleet: cpuSeconds(fleet.pid) };

    const plan = planOperations(fleet.devices, config.dispatchOperations);
    progress(`dispatch: ${fmt.int(plan.length)} updateSoftware at ${config.dispatchRate}/s to ${fmt.int(devices)} polling devices; server RSS ${(held.rss / 1048576).toFixed(1)} MB`);
    const dispatched = await dispatch(target.url, adminToken, plan, config.dispatchRate, config.dispatchConcurrency);
    const accepted = dispatched.sent.filter((s) => s.operationId !== null);
    const receipts = fleet.receipts;
    const graceEnds = performance.now() + deliveryGraceMs;
    while (accepted.some((s) => !receipts.has(s.operationId!)) && performance.now() < graceEnds) await sleep(100);
    await sleep(500); // the last acks and results
    const serverLoop = await target.loopDelay();
    const cpuWindow = (performance.now() - cpuStart.at) / 1000;
    const cpu = {
      seconds: cpuWindow,
      server: (cpuSeconds(target.pid) - cpuStart.server) / cpuWindow,
      fleet: (cpuSeconds(fleet.pid) - cpuStart.fleet) / cpuWindow,
    };
    const rssAfter = await sampleRss(target.pid);
    const fleetAfter = await fleet.stats();

    const latencies: number[] = [];
    const fromSend: number[] = [];
    for (const s of accepted) {
      const receivedAt = receipts.get(s.operationId!);
      if (receivedAt !== undefined) {
        latencies.push(receivedAt - s.acceptedAt);
        fromSend.push(receivedAt - s.sentAt);
      }
    }
    const ids = new Set(accepted.map((s) => s.operationId));
    const non202: Record<string, number> = {};
    for (const s of dispatched.sent) if (s.status !== 202) non202[String(s.status)] = (non202[String(s.status)] ?? 0) + 1;
    const run: FleetRun = {
      devices,
      enrollSeconds: fleet.enrollSeconds,
      heldAfterSeconds,
      serverFds,
      idle,
      held,
      rssAfter,
      rssPeak: readStatusBytes(target.pid, 'VmHWM'),
      fleetRss: fleetAfter.rssBytes,
      planned: plan.length,
      accepted: accepted.length,
      received: latencies.length,
      negative: latencies.filter((v) => v < 0).length,
      unknownReceipts: [...receipts.keys()].filter((id) => !ids.has(id)).length,
      achievedRate: plan.length / dispatched.seconds,
      latency: percentiles(latencies),
      fromSend: percentiles(fromSend),
      accept: percentiles(dispatched.sent.filter((s) => s.status === 202).map((s) => s.acceptedAt - s.sentAt)),
      non202,
      requestErrors: dispatched.errors,
      fleetBefore,
      fleetAfter,
      serverLoop,
      cpu,
    };
    progress(`dispatch: ${fmt.int(devices)} devices: ${run.received}/${run.planned} received, dispatch p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms`);
    return run;
  } finally {
    await fleet?.stop();
    await target.stop();
  }
}

/** Lines that say loudly what went wrong in a run; none when all is well. */
function problems(run: FleetRun): string[] {
  const out: string[] = [];
  const who = `${fmt.int(run.devices)} devices`;
  const errorsOf = (stats: FleetStats) => ({ ...stats.httpErrors, ...stats.networkErrors });
  const text = (counts: Record<string, number>) => Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join(', ');
  if (Object.keys(run.non202).length) out.push(`!!! ${who}: updateSoftware answers other than 202: ${text(run.non202)} !!!`);
  if (Object.keys(run.requestErrors).length) out.push(`!!! ${who}: updateSoftware request errors: ${text(run.requestErrors)} !!!`);
  if (run.received < run.planned) out.push(`!!! ${who}: only ${run.received} of ${run.planned} operations reached a device within ${deliveryGraceMs / 1000} s of the last 202 !!!`);
  if (run.unknownReceipts) out.push(`!!! ${who}: ${run.unknownReceipts} operations delivered that this run did not create !!!`);
  const fleetErrors = errorsOf(run.fleetAfter);
  if (Object.keys(fleetErrors).length) out.push(`!!! ${who}: agent-side errors (enroll, polls, acks, results): ${text(fleetErrors)} !!!`);
  if (run.fleetAfter.results < run.received) out.push(`!!! ${who}: ${run.fleetAfter.results} results accepted for ${run.received} operations received (${run.fleetAfter.resultFailures} refused) !!!`);
  if (run.fleetBefore.pollsInFlight < run.devices) out.push(`!!! ${who}: only ${run.fleetBefore.pollsInFlight} polls in flight when memory was read !!!`);
  return out;
}

/** user + system CPU seconds of a process (NaN without /proc, which the report prints as n/a) */
function cpuSeconds(pid: number): number {
  return processCpuSeconds(pid) ?? Number.NaN;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
