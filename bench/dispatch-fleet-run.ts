import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { operatorActor } from '../src/domain/audit.js';
import { createEnrollmentToken } from '../src/engine/device-administration.js';
import { seedDemoCatalog } from '../src/seed/demo-catalog.js';
import { demoSoftwareVersions, deviceFamily } from '../src/seed/demo-tables.js';
import { SeededRandom, type RandomSource } from '../src/seed/seeded-random.js';
import { openStore } from '../src/store/open-store.js';
import { adminGets, measureAdminGets, type AdminGetRun } from './admin-get-load.js';
import type { BenchConfig } from './bench-config.js';
import { fmt, progress } from './bench-report.js';
import { benchTenant, type BenchWorkspace } from './bench-workspace.js';
import { startFleet, type FleetProcess } from './fleet-process.js';
import { monotonicMs, type FleetDevice, type FleetStats } from './fleet-messages.js';
import { processCpuSeconds, startTarget, type LoopDelay, type TargetMemory, type TargetProcess } from './target-process.js';

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

export interface MemoryReading {
  /** VmRSS, median of 5 readings */
  rss: number;
  /** the server's process.memoryUsage() and heap spaces right after a full GC */
  gc: TargetMemory;
}

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

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

async function readMemory(target: TargetProcess): Promise<MemoryReading> {
  const rss = await sampleRss(target.pid);
  return { rss, gc: await target.memory() };
}

interface Planned {
  deviceId: string;
  body: string;
}

/**
 * `count` updateSoftware requests over the devices in one random order, round-robin: with
 * more devices than requests each device gets at most one; otherwise every device gets one
 * per round, a whole round apart, so no request meets a still-pending one (no 409).
 * Round 0 asks for the newest demo teamsClient version, the next round the one before, ….
 */
function planOperations(devices: FleetDevice[], count: number): Planned[] {
  const order = shuffle(devices.slice(), new SeededRandom(0x5eed));
  const plan: Planned[] = [];
  for (let k = 0; k < count; k++) {
    const device = order[k % order.length];
    const versions = demoSoftwareVersions.teamsClient[deviceFamily(device.deviceType)];
    const round = Math.floor(k / order.length);
    const version = versions[versions.length - 1 - (round % 2)];
    plan.push({ deviceId: device.deviceId, body: JSON.stringify({ softwareType: 'teamsClient', softwareVersion: version }) });
  }
  return plan;
}

interface Sent {
  status: number;
  operationId: string | null;
  /** monotonicMs() when the request was sent, and when the answer's headers arrived */
  sentAt: number;
  acceptedAt: number;
}

/** Sends the planned requests at a steady rate, never more than `concurrency` at once. */
async function dispatch(url: string, token: string, plan: Planned[], rate: number, concurrency: number): Promise<{ sent: Sent[]; seconds: number; errors: Record<string, number> }> {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const base = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const sent: Sent[] = [];
  const errors: Record<string, number> = {};
  const pending: Promise<void>[] = [];
  const slotWaiters: (() => void)[] = [];
  let inFlight = 0;
  const started = performance.now();
  for (let k = 0; k < plan.length; k++) {
    const wait = started + (k * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    while (inFlight >= concurrency) await new Promise<void>((resolve) => slotWaiters.push(resolve));
    inFlight++;
    const { deviceId, body } = plan[k];
    const sentAt = monotonicMs();
    pending.push(
      post(agent, base, `/beta/teamwork/devices/${deviceId}/updateSoftware`, headers, body)
        .then(({ status, location, at }) => {
          const operationId = status === 202 && location ? location.slice(location.lastIndexOf('/') + 1) : null;
          sent.push({ status, operationId, sentAt, acceptedAt: at });
        })
        .catch((error: unknown) => {
          const message = error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error);
          errors[message] = (errors[message] ?? 0) + 1;
          sent.push({ status: 0, operationId: null, sentAt, acceptedAt: monotonicMs() });
        })
        .finally(() => {
          inFlight--;
          slotWaiters.shift()?.();
        }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  return { sent, seconds: (performance.now() - started) / 1000, errors };
}

/** One POST over node:http; `at` is monotonicMs() when the answer's status line and headers arrived. */
function post(agent: http.Agent, base: URL, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; location: string | null; at: number }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: base.hostname, port: base.port, method: 'POST', path, agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (response) => {
        const at = monotonicMs();
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? 0, location: response.headers.location ?? null, at }));
        response.on('error', reject);
      },
    );
    request.setTimeout(60_000, () => request.destroy(new Error('updateSoftware timed out after 60 s')));
    request.on('error', reject);
    request.end(body);
  });
}

/** Nearest-rank percentiles; NaN when there is nothing to rank. */
function percentiles(values: number[]): Percentiles {
  const sorted = values.slice().sort((a, b) => a - b);
  const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : Number.NaN);
  const round = (v: number) => Math.round(v * 100) / 100;
  return { count: sorted.length, p50: round(at(50)), p90: round(at(90)), p99: round(at(99)), max: round(sorted.length ? sorted[sorted.length - 1] : Number.NaN) };
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

/** VmRSS, median of 5 readings 200 ms apart. */
async function sampleRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    if (i) await sleep(200);
    readings.push(readStatusBytes(pid, 'VmRSS'));
  }
  return readings.sort((a, b) => a - b)[2];
}

/** user + system CPU seconds of a process (NaN without /proc, which the report prints as n/a) */
function cpuSeconds(pid: number): number {
  return processCpuSeconds(pid) ?? Number.NaN;
}

function readStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function shuffle<T>(items: T[], random: RandomSource): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
