import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { adminGets, measureAdminGets, type AdminGetRun } from './admin-get-load.js';
import type { BenchConfig } from './bench-config.js';
import { fmt, progress } from './bench-report.js';
import type { BenchWorkspace } from './bench-workspace.js';
import { startFleet, type FleetProcess } from './fleet-process.js';
import type { FleetStats } from './fleet-messages.js';
import { dispatch, percentiles, planOperations, type Percentiles } from './dispatch-requests.js';
import { processCpuSeconds, readMemory, readStatusBytes, sampleRss, startTarget, type LoopDelay, type MemoryReading } from './target-process.js';

export type { MemoryReading, Percentiles };

/** How long a fresh server idles before its memory is read. */
export const idleSettleMs = 2000;
/**
 * The held-polls memory reading and the dispatch start no earlier than this after the fleet
 * started enrolling: by then the first polls have ended (204 after 30 s) and the devices
 * re-poll as in steady state, about N/30 polls a second.
 */
export const steadyStateMs = 32_000;
/** After the last 202, how long a device may take to get its operation (one full long-poll and a margin). */
export const deliveryGraceMs = 35_000;
/**
 * Devices seeded (without agents) before the server starts, so an admin's GETs read the same
 * devices idle as with the fleet connected: the fleet's devices are added to them.
 */
export const adminDevices = 1000;

export interface FleetRun {
  devices: number;
  enrollSeconds: number;
  /** when the held reading was taken, in seconds after enrolment began */
  heldAfterSeconds: number;
  /** open file descriptors of the server at the held reading (its sockets among them) */
  serverFds: number;
  idle: MemoryReading;
  held: MemoryReading;
  /** VmRSS after the idle admin GETs, before the fleet enrolled */
  rssAfterIdleGets: number | null;
  rssAfter: number;
  rssPeak: number;
  fleetRss: number;
  /** the admin GETs with the server idle (before the fleet enrolled) and with the fleet connected; null when not measured */
  adminIdle: AdminGetRun[] | null;
  adminHeld: AdminGetRun[] | null;
  /** heap snapshots written (idle, held), when asked for */
  snapshots: string[];
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

/**
 * One fleet on a fresh server: idle readings (and the admin GETs idle), `devices` agents
 * enrolled and long-polling, the held readings (and the admin GETs with them connected),
 * then `dispatchOperations` updateSoftware requests and their delivery.
 */
export async function measureFleet(name: string, devices: number, config: BenchConfig, workspace: BenchWorkspace, withAdminGets: boolean): Promise<FleetRun> {
  const path = workspace.path(name);
  await workspace.seed(name, adminDevices);
  const keys = await workspace.deviceKeys(name);
  const adminDevice = keys[Math.floor(keys.length / 2)].id;
  const enrollmentToken = await workspace.fleetEnrollment(path);
  const adminToken = await workspace.token(name);
  const target = await startTarget('real', path, 120_000, ['--expose-gc']);
  const snapshots: string[] = [];
  const snapshot = async (moment: string) => {
    if (!config.dispatchHeapSnapshots) return;
    const file = join(config.dispatchHeapSnapshots, `${name}-${devices}-${moment}.heapsnapshot`);
    progress(`dispatch: writing the server's heap snapshot ${file}`);
    await target.heapSnapshot(file);
    snapshots.push(file);
  };
  let fleet: FleetProcess | null = null;
  try {
    await sleep(idleSettleMs);
    const idle = await readMemory(target);
    const gets = adminGets(adminDevice);
    let adminIdle: AdminGetRun[] | null = null;
    let rssAfterIdleGets: number | null = null;
    if (withAdminGets) {
      progress(`dispatch: admin GETs on the idle server (wrk, ${config.dispatchAdminConnections} connection(s), ${config.dispatchAdminSeconds} s each)`);
      adminIdle = await measureAdminGets(target.url, adminToken, gets, config.dispatchAdminSeconds, config.dispatchAdminConnections);
      rssAfterIdleGets = await sampleRss(target.pid);
    }
    await snapshot('idle');
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
    let adminHeld: AdminGetRun[] | null = null;
    if (withAdminGets) {
      progress(`dispatch: admin GETs with ${fmt.int(devices)} devices polling`);
      adminHeld = await measureAdminGets(target.url, adminToken, gets, config.dispatchAdminSeconds, config.dispatchAdminConnections);
    }
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
    const rssPeak = readStatusBytes(target.pid, 'VmHWM');
    const fleetAfter = await fleet.stats();
    await snapshot('held');

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
      rssAfterIdleGets,
      rssAfter,
      rssPeak,
      fleetRss: fleetAfter.rssBytes,
      adminIdle,
      adminHeld,
      snapshots,
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

/** The same fleet held by a bare Fastify long-poll (bench-target.js bare-poll): the floor under the server's memory per device. */
export interface BareFleetRun {
  devices: number;
  idle: MemoryReading;
  held: MemoryReading;
  pollsInFlight: number;
}

/**
 * `devices` agents of the same fleet process, enrolled on and long-polling a bare Fastify app
 * that stores nothing and checks nothing, read as measureFleet reads the real server: what
 * Node's HTTP server and Fastify keep per held poll, which no change to the service can cut.
 */
export async function measureBareFleet(devices: number): Promise<BareFleetRun> {
  const target = await startTarget('bare-poll', undefined, 120_000, ['--expose-gc']);
  let fleet: FleetProcess | null = null;
  try {
    await sleep(idleSettleMs);
    const idle = await readMemory(target);
    progress(`dispatch: ${fmt.int(devices)} devices polling a bare Fastify long-poll`);
    const fleetStarted = performance.now();
    fleet = await startFleet(target.url, 'bare', devices);
    await sleep(Math.max(fleetStarted + steadyStateMs - performance.now(), 3000));
    const held = await readMemory(target);
    const { pollsInFlight } = await fleet.stats();
    return { devices, idle, held, pollsInFlight };
  } finally {
    await fleet?.stop();
    await target.stop();
  }
}

/** Lines that say loudly what went wrong in a run; none when all is well. */
export function problems(run: FleetRun): string[] {
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
  for (const get of [...(run.adminIdle ?? []), ...(run.adminHeld ?? [])]) {
    if (get.result.failures) out.push(`!!! ${who}: ${get.name}: ${get.result.failures} answers not 2xx or socket errors !!!`);
  }
  if (run.snapshots.length) out.push(`!!! ${who}: heap snapshots were written (${run.snapshots.join(', ')}): every memory reading after the first includes what writing it left behind; use such a run for the breakdown, not for the figures !!!`);
  return out;
}

/** user + system CPU seconds of a process (NaN without /proc, which the report prints as n/a) */
function cpuSeconds(pid: number): number {
  return processCpuSeconds(pid) ?? Number.NaN;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
