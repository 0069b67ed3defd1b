import { cpus, loadavg } from 'node:os';
import type { AdminGetRun } from './admin-get-load.js';
import type { BenchConfig } from './bench-config.js';
import { fmt, goalText, ratioOf, type BenchOutcome, type ReportRow, type ReportTable } from './bench-report.js';
import type { BenchWorkspace } from './bench-workspace.js';
import { adminDevices, idleSettleMs, measureBareFleet, measureFleet, problems, steadyStateMs, type BareFleetRun, type FleetRun } from './dispatch-fleet-run.js';
import type { LoopDelay } from './target-process.js';

/** Issue 16's goals: server RSS per connected device, dispatch p99, an admin GET's p99 with the fleet connected against idle. */
const goalBytesPerDevice = 10 * 1024;
const goalDispatchP99Ms = 1000;
const goalAdminP99Ratio = 1.5;

/**
 * Dispatch: N devices hold long-polls on one real server (`GET /agent/v1/work?waitSeconds=30`);
 * the devices are agent clients over keep-alive node:http in a separate process
 * (long-poll-fleet.js), the server is bench-target.js on a fresh SQLite file, and this
 * process sends updateSoftware requests at a steady rate. Each fleet size of
 * BENCH_DISPATCH_DEVICES runs on a fresh server. Figures per size: the server's memory idle
 * and with the N polls held, an admin's GETs (wrk) idle and with the fleet connected, and the
 * time from the 202 (seen here) to the device's poll delivering the operation (seen in the
 * fleet process; both on the machine's monotonic clock). Baseline of the latency: the same
 * with a small fleet, on its own fresh server, in the same run.
 */
export async function dispatchBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  const loadBefore = loadavg();
  const small = await measureFleet('dispatch-small', config.dispatchSmall, config, workspace, false);
  const fleets: { run: FleetRun; bare: BareFleetRun | null }[] = [];
  // One fleet that fails (on a loaded machine) does not take the others' figures with it.
  const failures: string[] = [];
  for (const [index, devices] of config.dispatchFleets.entries()) {
    try {
      const run = await measureFleet(`dispatch-large-${index}`, devices, config, workspace, true);
      fleets.push({ run, bare: await measureBareFleet(devices).catch((error: unknown) => {
        failures.push(`the bare Fastify floor with ${fmt.int(devices)} devices: ${error instanceof Error ? error.message : String(error)}`);
        return null;
      }) });
    } catch (error) {
      failures.push(`the fleet of ${fmt.int(devices)} devices: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  }
  if (fleets.length === 0) throw new Error(failures.join('\n'));
  const loadAfter = loadavg();
  const load = `load average (1, 5, 15 min) at the start: ${loadBefore.map((v) => v.toFixed(2)).join(', ')}; at the end: ${loadAfter.map((v) => v.toFixed(2)).join(', ')} (${cpus().length} cores)`;
  // the baseline fleet's problems are said once, under the first measured fleet
  const tables = fleets.flatMap(({ run: large, bare }, i) => [
    memoryTable(large, small),
    ...(bare ? [floorTable(large, bare)] : []),
    adminTable(large, config),
    latencyTable(large, small, config, load, i === 0),
  ]);
  return {
    name: 'dispatch',
    tables,
    failures,
    data: {
      operations: config.dispatchOperations,
      rate: config.dispatchRate,
      concurrency: config.dispatchConcurrency,
      loadBefore,
      loadAfter,
      // the first measured fleet, under the names earlier runs used (compare-runs.ts reads them)
      bytesPerHeldPoll: perDevice(fleets[0].run),
      large: fleets[0].run,
      small,
      fleets: fleets.map(({ run, bare }) => ({ ...run, bytesPerDevice: perDevice(run), bare, bareBytesPerDevice: bare && perDevice(bare) })),
    },
  };
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(1);

/** (held − idle) / N of each memory figure. */
function perDevice(run: Pick<FleetRun, 'devices' | 'idle' | 'held'>) {
  const per = (held: number, idle: number) => (held - idle) / run.devices;
  const outside = (m: FleetRun['held']) => m.gc.rss - m.gc.heapTotal;
  return {
    rss: per(run.held.rss, run.idle.rss),
    rssGc: per(run.held.gc.rss, run.idle.gc.rss),
    heap: per(run.held.gc.heapUsed, run.idle.gc.heapUsed),
    heapCommitted: per(run.held.gc.heapTotal, run.idle.gc.heapTotal),
    outsideHeap: per(outside(run.held), outside(run.idle)),
    external: per(run.held.gc.external, run.idle.gc.external),
  };
}

function memoryTable(large: FleetRun, small: FleetRun): ReportTable {
  const n = fmt.int(large.devices);
  const per = perDevice(large);
  const memoryRow = (figure: string, held: number, idle: number): ReportRow => ({ figure, measured: mb(held), baseline: mb(idle), ratio: fmt.ratio(ratioOf(held, idle)) });
  const bytesRow = (figure: string, value: number, goal?: string): ReportRow => ({ figure, measured: fmt.int(value), baseline: '', ratio: '', goal });
  const { held, idle } = large;
  const spaces = Object.keys(held.gc.spaces)
    .map((space) => ({ space, bytes: ((held.gc.spaces[space]?.size ?? 0) - (idle.gc.spaces[space]?.size ?? 0)) / large.devices }))
    .filter((s) => Math.abs(s.bytes) >= 1)
    .map((s) => `${s.space} ${fmt.int(s.bytes)}`);
  return {
    title: `dispatch memory: server with ${n} devices long-polling vs idle`,
    columns: { measured: `${n} polls held`, baseline: 'idle, 0 devices', ratio: 'held/idle' },
    rows: [
      memoryRow('server RSS (MB)', held.rss, idle.rss),
      bytesRow('RSS per connected device (bytes)', per.rss, goalText(per.rss <= goalBytesPerDevice, `<= ${fmt.int(goalBytesPerDevice)}`)),
      memoryRow('server RSS after full GC (MB)', held.gc.rss, idle.gc.rss),
      bytesRow('  per connected device (bytes)', per.rssGc),
      memoryRow('V8 heap used after full GC (MB)', held.gc.heapUsed, idle.gc.heapUsed),
      bytesRow('  per connected device (bytes)', per.heap),
      memoryRow('V8 heap committed after full GC (MB)', held.gc.heapTotal, idle.gc.heapTotal),
      bytesRow('  per connected device (bytes)', per.heapCommitted),
      memoryRow('RSS outside the V8 heap after GC (MB)', held.gc.rss - held.gc.heapTotal, idle.gc.rss - idle.gc.heapTotal),
      bytesRow('  per connected device (bytes)', per.outsideHeap),
      memoryRow('server RSS after dispatch (MB)', large.rssAfter, idle.rss),
      memoryRow('server peak RSS, VmHWM (MB)', large.rssPeak, idle.rss),
    ],
    notes: [
      `RSS = VmRSS of /proc/<server pid>/status, median of 5 readings 200 ms apart; then (after GC) process.memoryUsage() right after global.gc() in the server (node --expose-gc)`,
      `idle = fresh server (${fmt.int(adminDevices)} devices seeded without agents), ${idleSettleMs / 1000} s after start; held = ${n} devices enrolled, each holding GET /agent/v1/work?waitSeconds=30, ` +
        `${fmt.seconds(large.heldAfterSeconds)} s after enrolment began (at least ${steadyStateMs / 1000} s: polls re-issued every 30 s); per device = (held − idle) / ${n}, ` +
        `so it includes what enrolment and the idle admin GETs leave (credential cache, sockets, heap growth)` +
        (large.rssAfterIdleGets !== null ? `; RSS after the idle admin GETs ${mb(large.rssAfterIdleGets)} MB` : ''),
      `V8 heap committed per connected device, by space (after GC, bytes): ${spaces.join(', ') || 'none'}; external (ArrayBuffers, native strings) ${fmt.int(per.external)}`,
      `at the held reading: ${fmt.int(large.fleetBefore.pollsInFlight)} polls in flight (fleet's count), ${fmt.int(large.serverFds)} open file descriptors in the server`,
      `baseline fleet (${fmt.int(small.devices)} devices, its own server): RSS idle ${mb(small.idle.rss)} MB, held ${mb(small.held.rss)} MB; heap after GC idle ${mb(small.idle.gc.heapUsed)} MB, held ${mb(small.held.gc.heapUsed)} MB`,
      `fleet process (${n} agent clients, node:http keep-alive): ${mb(large.fleetRss)} MB RSS; enrolment ${fmt.int(large.devices / large.enrollSeconds)} devices/s (${fmt.seconds(large.enrollSeconds)} s, 100 at a time)`,
    ],
  };
}

/**
 * The server's memory per device beside a bare Fastify long-poll's for the same fleet: the
 * floor Node's HTTP server and Fastify set, and what the service adds on top of it.
 */
function floorTable(large: FleetRun, bare: BareFleetRun): ReportTable {
  const n = fmt.int(large.devices);
  const per = perDevice(large);
  const floor = perDevice(bare);
  const row = (figure: string, value: number, base: number, goal?: string): ReportRow => ({ figure, measured: fmt.int(value), baseline: fmt.int(base), ratio: fmt.ratio(ratioOf(value, base)), goal });
  return {
    title: `dispatch memory floor: bytes per long-polling device, the server vs a bare Fastify long-poll, ${n} devices`,
    columns: { measured: 'server', baseline: 'bare Fastify', ratio: 'server/bare' },
    rows: [
      row('RSS, (held − idle) / N', per.rss, floor.rss, goalText(per.rss <= goalBytesPerDevice, `server <= ${fmt.int(goalBytesPerDevice)}`)),
      row('RSS after full GC', per.rssGc, floor.rssGc),
      row('V8 heap used after full GC', per.heap, floor.heap),
      row('V8 heap committed after full GC', per.heapCommitted, floor.heapCommitted),
      row('RSS outside the V8 heap after GC', per.outsideHeap, floor.outsideHeap),
      { figure: 'what the service adds to bare Fastify, RSS', measured: fmt.int(per.rss - floor.rss), baseline: '', ratio: '' },
    ],
    notes: [
      `bare Fastify = the same fleet process (${n} agents) enrolled on and long-polling bench-target.js bare-poll: Fastify, one timer per poll, no store, no credential check, no logging; ` +
        `read the same way as the server (idle, then held ${steadyStateMs / 1000} s after enrolment began); idle RSS ${mb(bare.idle.rss)} MB, held ${mb(bare.held.rss)} MB, ` +
        `${fmt.int(bare.pollsInFlight)} polls in flight at the held reading`,
    ],
  };
}

function adminTable(large: FleetRun, config: BenchConfig): ReportTable {
  const n = fmt.int(large.devices);
  const rows: ReportRow[] = [];
  const idle = large.adminIdle ?? [];
  const held = large.adminHeld ?? [];
  held.forEach((h: AdminGetRun, i) => {
    const base = idle[i];
    const p99 = ratioOf(h.result.p99, base.result.p99);
    rows.push({ figure: `${h.name}: p50 (ms)`, measured: h.result.p50.toFixed(2), baseline: base.result.p50.toFixed(2), ratio: fmt.ratio(ratioOf(h.result.p50, base.result.p50)) });
    rows.push({ figure: `${h.name}: p99 (ms)`, measured: h.result.p99.toFixed(2), baseline: base.result.p99.toFixed(2), ratio: fmt.ratio(p99), goal: goalText(p99 <= goalAdminP99Ratio, `<= ${goalAdminP99Ratio.toFixed(2)}`) });
    rows.push({ figure: `${h.name}: requests/s`, measured: fmt.rps(h.result.requestsPerSecond), baseline: fmt.rps(base.result.requestsPerSecond), ratio: fmt.ratio(ratioOf(h.result.requestsPerSecond, base.result.requestsPerSecond)) });
  });
  return {
    title: `admin GETs with ${n} devices long-polling vs the same server idle`,
    columns: { measured: `${n} polling`, baseline: 'idle, 0 polling', ratio: 'polling/idle' },
    rows,
    notes: [
      `wrk, ${config.dispatchAdminConnections} connection(s), a 1 s warm-up then ${config.dispatchAdminSeconds} s measured per GET, Authorization: Bearer (a dev token); ` +
        `${held.map((h) => h.path).join(' and ')}`,
      `idle = the same server before the fleet enrolled: the same ${fmt.int(adminDevices)} seeded devices (the one read is one of them), no agent; ` +
        `polling = after the held memory reading, the ${n} enrolled devices added (the list's first page is 20 devices either way, read by keyset in id order)`,
    ],
  };
}

function latencyTable(large: FleetRun, small: FleetRun, config: BenchConfig, load: string, withSmallProblems: boolean): ReportTable {
  const n = fmt.int(large.devices);
  const nSmall = fmt.int(small.devices);
  const l = large.latency;
  const s = small.latency;
  // sub-millisecond clock: two decimals below 10 ms
  const ms = (v: number) => (!Number.isFinite(v) ? 'n/a' : Math.abs(v) < 10 ? v.toFixed(2) : Math.abs(v) < 100 ? v.toFixed(1) : v.toFixed(0));
  // a ratio of figures at or below zero (the poll's answer overtaking the 202) means nothing
  const latencyRow = (figure: string, a: number, b: number, goal?: string): ReportRow => ({ figure, measured: ms(a), baseline: ms(b), ratio: a > 0 && b > 0 ? fmt.ratio(a / b) : 'n/a', goal });
  const loop = (d: LoopDelay) => `${d.p99.toFixed(0)} / ${d.max.toFixed(0)}`;
  return {
    title: `dispatch latency: 202 → operation delivered by the device's long-poll, ${n} vs ${nSmall} devices polling`,
    columns: { measured: `${n} devices`, baseline: `${nSmall} devices`, ratio: `${n}/${nSmall}` },
    rows: [
      latencyRow('dispatch p50 (ms)', l.p50, s.p50),
      latencyRow('dispatch p90 (ms)', l.p90, s.p90),
      latencyRow('dispatch p99 (ms)', l.p99, s.p99, goalText(l.p99 <= goalDispatchP99Ms && large.received === large.planned, `<= ${fmt.int(goalDispatchP99Ms)} ms, all delivered`)),
      latencyRow('dispatch max (ms)', l.max, s.max),
      { figure: 'operations received', measured: `${fmt.int(large.received)} / ${fmt.int(large.planned)}`, baseline: `${fmt.int(small.received)} / ${fmt.int(small.planned)}`, ratio: '' },
      latencyRow('202 latency p50 (ms)', large.accept.p50, small.accept.p50),
      latencyRow('202 latency p99 (ms)', large.accept.p99, small.accept.p99),
      latencyRow('request sent → delivered p50 (ms)', large.fromSend.p50, small.fromSend.p50),
      latencyRow('request sent → delivered p99 (ms)', large.fromSend.p99, small.fromSend.p99),
    ],
    notes: [
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
      load,
      ...problems(large),
      ...(withSmallProblems ? problems(small) : []),
    ],
  };
}
