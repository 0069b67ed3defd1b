import { readdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { BenchConfig, StoreName } from './bench-config.js';
import { fmt, goalText, progress, ratioOf, type BenchOutcome, type ReportRow, type ReportTable } from './bench-report.js';
import { benchTenant, storeLabel, type BenchWorkspace } from './bench-workspace.js';
import { DeviceWriteLog, type DeviceWrite } from './device-writes.js';
import { startFleet, type FleetProcess } from './fleet-process.js';
import type { FleetStats, InventoryChange } from './fleet-messages.js';
import { processCpuSeconds, startTarget, type LoopDelay, type TargetProcess } from './target-process.js';

/** The goal: the server's event-loop delay p99 with the fleet reporting. */
const loopGoalMs = 20;
/** After enrolment began: the first polls have ended (204 after 30 s) and the devices re-poll as in steady state. */
const steadyStateMs = 32_000;
/** After the first interval of reports, before measuring: the last first reports are answered. */
const settleMs = 5000;

/** What one window of the run measured. */
interface Window {
  seconds: number;
  serverLoop: LoopDelay;
  /** cores busy (1.0 = one core all the time) */
  serverCpu: number;
  fleetCpu: number;
  fleetBefore: FleetStats;
  fleetAfter: FleetStats;
  /** device rows written in the window, from the database */
  writes: DeviceWrite[];
  /** PostgreSQL: n_tup_upd of devices over the window (presence's last_seen_at updates included) */
  rowUpdates: number | null;
}

interface StoreRun {
  store: StoreName;
  devices: number;
  enrollSeconds: number;
  serverFds: number;
  baseline: Window;
  measured: Window;
  /** changed reports the fleet sent whose answer fell in the measured window (or just before it) */
  changes: InventoryChange[];
  /** writes of the measured window that no changed report explains */
  unexplained: DeviceWrite[];
  /** writes that a changed report explains */
  explained: number;
  loadBefore: number[];
  loadAfter: number[];
}

/**
 * Inventory: N devices long-polling one real server, then each also reporting its full
 * inventory once per interval (phases spread evenly; a share of reports changes something).
 * Same server, same fleet, same run: first a window of long-polls alone (the baseline), then
 * the reports start, one interval passes so every device has sent its first (written) report,
 * and a window of `inventoryIntervals` intervals is measured. Figures: the server's
 * event-loop delay and CPU, reports accepted per second and their round trip, and from the
 * database the device rows written, each matched against the changed reports the fleet sent
 * (an unmatched write is a report that changed nothing and was written anyway).
 */
export async function inventoryBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  const runs: StoreRun[] = [];
  for (const store of config.stores) runs.push(await measureStore(store, config, workspace));
  return {
    name: 'inventory',
    tables: runs.map((run) => table(run, config)),
    data: {
      devices: config.inventoryDevices,
      intervalSeconds: config.inventoryIntervalSeconds,
      intervals: config.inventoryIntervals,
      changeShare: config.inventoryChangeShare,
      runs: runs.map((run) => ({
        ...run,
        baseline: { ...run.baseline, writes: run.baseline.writes.length },
        measured: { ...run.measured, writes: run.measured.writes.length },
        changes: run.changes.length,
        unexplained: run.unexplained.slice(0, 20),
        unexplainedCount: run.unexplained.length,
      })),
    },
  };
}

async function measureStore(store: StoreName, config: BenchConfig, workspace: BenchWorkspace): Promise<StoreRun> {
  const loadBefore = loadavg();
  const name = 'inventory';
  const db = (await workspace.database(name, store)).db;
  // health.softwareUpdateHealth is derived against a catalog, as in a real tenant
  const enrollmentToken = await workspace.fleetEnrollment(db);
  const devices = config.inventoryDevices;
  const label = `inventory (${storeLabel[store]})`;
  const target = await startTarget('real', db);
  let fleet: FleetProcess | null = null;
  try {
    progress(`${label}: ${fmt.int(devices)} devices enrolling (25 at a time)`);
    const fleetStarted = performance.now();
    fleet = await startFleet(target.url, enrollmentToken, devices, {
      // 18,000 enrolments take minutes on a busy machine; 25 at a time keeps each within the client's 30 s
      timeoutMs: 40 * 60_000,
      enrollConcurrency: 25,
      onProgress: (enrolled) => {
        if (enrolled % 5000 === 0) progress(`${label}: ${fmt.int(enrolled)} enrolled`);
      },
    });
    progress(`${label}: ${fmt.int(devices)} enrolled in ${fmt.seconds(fleet.enrollSeconds)} s and polling; waiting for steady state`);
    await sleep(Math.max(fleetStarted + steadyStateMs - performance.now(), 3000));
    const serverFds = readdirSync(`/proc/${target.pid}/fd`).length;
    const windowMs = config.inventoryIntervals * config.inventoryIntervalSeconds * 1000;

    progress(`${label}: baseline, long-polls only, ${fmt.seconds(windowMs / 1000)} s`);
    const baseline = await measureWindow(target, fleet, windowMs, new DeviceWriteLog(workspace, name, store, benchTenant), workspace, name, store);

    const intervalMs = config.inventoryIntervalSeconds * 1000;
    progress(`${label}: inventory every ${config.inventoryIntervalSeconds} s from each device (${fmt.int(devices / config.inventoryIntervalSeconds)}/s, ` +
      `${Math.round(config.inventoryChangeShare * 100)} % changing something); one interval for every first report, then ${fmt.seconds(windowMs / 1000)} s measured`);
    fleet.startInventory({ intervalSeconds: config.inventoryIntervalSeconds, changeShare: config.inventoryChangeShare });
    await sleep(intervalMs + settleMs);
    const writeLog = new DeviceWriteLog(workspace, name, store, benchTenant);
    const measured = await measureWindow(target, fleet, windowMs, writeLog, workspace, name, store);
    const windowEnd = Date.now();
    const windowStart = windowEnd - measured.seconds * 1000;
    // Changes answered up to a minute before the window: a write at its start may be one of them.
    const changes = await fleet.inventoryChanges(windowStart - 60_000);
    const byDevice = new Map<string, InventoryChange[]>();
    for (const change of changes) byDevice.set(change.deviceId, [...(byDevice.get(change.deviceId) ?? []), change]);
    // A change is stamped when the server starts on it: between the report's sending and its answer (whole ms).
    const explains = (write: DeviceWrite) => (byDevice.get(write.deviceId) ?? []).some((c) => write.at >= c.sentAt - 1 && write.at <= c.repliedAt + 1);
    const unexplained = measured.writes.filter((w) => !explains(w));
    return {
      store,
      devices,
      enrollSeconds: fleet.enrollSeconds,
      serverFds,
      baseline,
      measured,
      changes: changes.filter((c) => c.repliedAt >= windowStart && c.sentAt < windowEnd),
      unexplained,
      explained: measured.writes.length - unexplained.length,
      loadBefore,
      loadAfter: loadavg(),
    };
  } finally {
    await fleet?.stop();
    await target.stop();
  }
}

/** One measured window: the server's loop delay and CPU, the fleet's counters, the rows written. */
async function measureWindow(
  target: TargetProcess, fleet: FleetProcess, windowMs: number, writeLog: DeviceWriteLog,
  workspace: BenchWorkspace, name: string, store: StoreName,
): Promise<Window> {
  const rowUpdates = () => store === 'postgres'
    ? workspace.rows<{ n: string }>(name, store, "SELECT n_tup_upd AS n FROM pg_stat_user_tables WHERE relname = 'devices'", []).then(([row]) => Number(row.n))
    : Promise.resolve(null);
  const updatesBefore = await rowUpdates();
  await target.loopDelay();
  const fleetBefore = await fleet.stats(true);
  const started = { at: performance.now(), wall: Date.now(), server: cpuSeconds(target.pid), fleet: cpuSeconds(fleet.pid) };
  writeLog.start(started.wall);
  await sleep(windowMs);
  const serverLoop = await target.loopDelay();
  const fleetAfter = await fleet.stats(true);
  const ended = { at: performance.now(), wall: Date.now(), server: cpuSeconds(target.pid), fleet: cpuSeconds(fleet.pid) };
  const seconds = (ended.at - started.at) / 1000;
  await writeLog.stop();
  const updatesAfter = await rowUpdates();
  return {
    seconds,
    serverLoop,
    serverCpu: (ended.server - started.server) / seconds,
    fleetCpu: (ended.fleet - started.fleet) / seconds,
    fleetBefore,
    fleetAfter,
    writes: writeLog.between(started.wall, ended.wall),
    rowUpdates: updatesBefore === null || updatesAfter === null ? null : updatesAfter - updatesBefore,
  };
}

function table(run: StoreRun, config: BenchConfig): ReportTable {
  const n = fmt.int(run.devices);
  const { baseline: b, measured: m } = run;
  const inv = (w: Window) => ({
    accepted: (w.fleetAfter.inventory?.accepted ?? 0) - (w.fleetBefore.inventory?.accepted ?? 0),
    failed: (w.fleetAfter.inventory?.failed ?? 0) - (w.fleetBefore.inventory?.failed ?? 0),
    changed: (w.fleetAfter.inventory?.changed ?? 0) - (w.fleetBefore.inventory?.changed ?? 0),
  });
  const reports = inv(m);
  const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1));
  const loopRow = (figure: string, key: keyof LoopDelay, goal?: string): ReportRow => ({
    figure, measured: ms(m.serverLoop[key]), baseline: ms(b.serverLoop[key]), ratio: fmt.ratio(ratioOf(m.serverLoop[key], b.serverLoop[key])), goal,
  });
  const count = (v: number) => fmt.int(v);
  const rows: ReportRow[] = [
    loopRow('server event-loop delay p50 (ms)', 'p50'),
    loopRow('server event-loop delay p99 (ms)', 'p99', goalText(m.serverLoop.p99 <= loopGoalMs, `<= ${loopGoalMs} ms`)),
    loopRow('server event-loop delay max (ms)', 'max'),
    { figure: 'server CPU (cores)', measured: m.serverCpu.toFixed(2), baseline: b.serverCpu.toFixed(2), ratio: fmt.ratio(ratioOf(m.serverCpu, b.serverCpu)) },
    { figure: 'inventory reports accepted per second', measured: fmt.int(reports.accepted / m.seconds), baseline: fmt.int(inv(b).accepted / b.seconds), ratio: '' },
    {
      figure: 'report round trip p50 / p99 (ms)',
      measured: `${ms(m.fleetAfter.inventory?.latency.p50 ?? 0)} / ${ms(m.fleetAfter.inventory?.latency.p99 ?? 0)}`, baseline: '', ratio: '',
    },
    { figure: 'reports that changed something (fleet)', measured: count(reports.changed), baseline: '0', ratio: '' },
    { figure: 'device rows written (database)', measured: count(m.writes.length), baseline: count(b.writes.length), ratio: '' },
    { figure: '  of them by a changed report', measured: count(run.explained), baseline: '', ratio: '' },
    { figure: 'unchanged reports written (database)', measured: count(run.unexplained.length), baseline: '', ratio: '', goal: goalText(run.unexplained.length === 0, '0') },
  ];
  const loop = (d: LoopDelay) => `${ms(d.p50)} / ${ms(d.p99)} / ${ms(d.max)}`;
  const errors = (stats: FleetStats) => ({ ...stats.httpErrors, ...stats.networkErrors });
  const text = (counts: Record<string, number>) => Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join(', ');
  const notes = [
    `${n} devices (agent clients over keep-alive node:http, one fleet process) long-polling GET /agent/v1/work?waitSeconds=30 on a real server (bench-target.js) on a fresh ${storeLabel[run.store]} database; ` +
      `measured: each device also POSTs /agent/v1/inventory every ${config.inventoryIntervalSeconds} s (phases spread evenly; about 3 KB: installed versions, peripherals, hardware, sign-in state, active peripherals of a generated device), ` +
      `${Math.round(config.inventoryChangeShare * 100)} % of reports changing something (activityState and active cameras), the rest repeating the previous report exactly`,
    `baseline: the same server and fleet, long-polls only, the window before the reports start; measured: ${fmt.seconds(m.seconds)} s (${config.inventoryIntervals} intervals), from one interval + ${settleMs / 1000} s after the reports started (every device's first report written); baseline window ${fmt.seconds(b.seconds)} s`,
    `event-loop delay: monitorEventLoopDelay in the server, 10 ms resolution subtracted; rows written: device rows whose last_modified_at moved in the window (DeviceWriteLog, read every 2 s from the database); ` +
      `a write is "by a changed report" when the fleet sent that device a changed report whose sending and answer enclose the write's stamp`,
    `reports in the window: ${count(reports.accepted)} accepted, ${count(reports.failed)} failed; ${count(run.changes.length)} changed reports answered in the window ` +
      `(a changed report that failed explains any later write of its device: ${count(run.changes.filter((c) => c.repliedAt === Number.MAX_SAFE_INTEGER).length)} of them)`,
    ...(m.rowUpdates !== null && b.rowUpdates !== null
      ? [`PostgreSQL pg_stat_user_tables.n_tup_upd of devices over the window (presence's last_seen_at updates included): measured ${count(m.rowUpdates)}, baseline ${count(b.rowUpdates)}`]
      : []),
    `fleet process: event-loop delay p50 / p99 / max ${loop(m.fleetAfter.loopDelay)} ms (baseline ${loop(b.fleetAfter.loopDelay)}); CPU ${m.fleetCpu.toFixed(2)} cores (baseline ${b.fleetCpu.toFixed(2)}); ` +
      `polls in flight ${count(m.fleetAfter.pollsInFlight)}; server file descriptors ${count(run.serverFds)}; enrolment ${fmt.int(run.devices / run.enrollSeconds)} devices/s`,
    `load average (1, 5, 15 min) at the start: ${run.loadBefore.map((v) => v.toFixed(2)).join(', ')}; at the end: ${run.loadAfter.map((v) => v.toFixed(2)).join(', ')} (${cpus().length} cores)`,
  ];
  const problems = Object.keys(errors(m.fleetAfter)).length ? [`!!! agent-side errors (enroll, polls, reports): ${text(errors(m.fleetAfter))} !!!`] : [];
  if (reports.failed) problems.push(`!!! ${count(reports.failed)} inventory reports failed in the window !!!`);
  if (m.fleetAfter.pollsInFlight < run.devices * 0.99) problems.push(`!!! only ${count(m.fleetAfter.pollsInFlight)} polls in flight at the end !!!`);
  if (run.unexplained.length) {
    const sample = run.unexplained.slice(0, 3).map((w) => `${w.deviceId} at ${new Date(w.at).toISOString()}`).join(', ');
    problems.push(`!!! ${count(run.unexplained.length)} writes no changed report explains, e.g. ${sample} !!!`);
  }
  return {
    title: `inventory: ${n} devices long-polling and reporting every ${config.inventoryIntervalSeconds} s vs long-polling only (${storeLabel[run.store]})`,
    columns: { measured: 'with inventory', baseline: 'polls only', ratio: 'with/without' },
    rows,
    notes: [...notes, ...problems],
  };
}

/** user + system CPU seconds of a process (NaN without /proc, which the report prints as n/a) */
function cpuSeconds(pid: number): number {
  return processCpuSeconds(pid) ?? Number.NaN;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
