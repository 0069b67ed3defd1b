import { mkdirSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { operatorActor } from '../src/domain/audit.js';
import { createEnrollmentToken } from '../src/engine/device-administration.js';
import { SeededRandom } from '../src/seed/seeded-random.js';
import { openStore } from '../src/store/open-store.js';
import type { BenchConfig } from './bench-config.js';
import { fmt, goalText, progress, type BenchOutcome, type ReportRow } from './bench-report.js';
import { benchTenant, type BenchWorkspace } from './bench-workspace.js';
import { startFleet, type FleetProcess } from './fleet-process.js';
import { PacedLoad, type PacedRequest } from './paced-load.js';
import { childPids, openFds, rssBytes, startServe, type ProbeSample, type ServeProcess } from './serve-process.js';
import { growthOf, judgeCount, judgeRss, slopePer10Minutes, type SoakSample } from './soak-series.js';
import { processCpuSeconds } from './target-process.js';

const sampleEveryMs = 10_000;
const snapshotDir = fileURLToPath(new URL('../soak-snapshots/', import.meta.url));

/**
 * Soak: the server as a user runs it (`teamwork-devices serve --simulate N` on a fresh SQLite
 * file, in a child process, with process-probe.js preloaded to read its memory and handles),
 * external long-polling devices (long-poll-fleet.js), and from this process a steady mix of
 * actions on the whole fleet and list reads. Every 10 s: the server's RSS, V8 heap, live
 * handles and timers, open files, and the requests answered. Judged over the part after the
 * warm-up: RSS growth ≤ 5 %, no growth in handles, timers or open files. Baseline: the figures
 * at the end of the warm-up, in the same run.
 */
export async function soakBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  const loadBefore = loadavg();
  const db = workspace.path('soak');
  const store = await openStore(db);
  let enrollmentToken: string;
  try {
    enrollmentToken = (await createEnrollmentToken(store, { tenantId: benchTenant, ttlSeconds: 24 * 3600, maxUses: null, description: 'soak pollers' }, operatorActor)).token;
  } finally {
    await store.close();
  }
  progress(`soak: serve --simulate ${config.soakSimulated} starting (its fleet enrolls first)`);
  // The bench's devices all enroll from 127.0.0.1: no per-address enrolment limit. Log lines as a user gets them (info, JSON on a pipe).
  const server = await startServe(['--db', db, '--port', '0', '--tenant', benchTenant, '--simulate', String(config.soakSimulated), '--enroll-rate-limit', 'off']);
  let fleet: FleetProcess | null = null;
  const loads: PacedLoad[] = [];
  try {
    fleet = await startFleet(server.url, enrollmentToken, config.soakPollers, { prefix: `soak-${Date.now()}` });
    const devices = await listDeviceIds(server);
    progress(`soak: ${fmt.int(devices.length)} devices (${config.soakSimulated} simulated in the server, ${config.soakPollers} long-polling from their own process); load for ${config.soakMinutes} min, warm-up ${config.soakWarmupMinutes} min`);
    const random = new SeededRandom(0x50a4);
    const pick = () => devices[Math.floor(random.next() * devices.length)];
    const base = new URL(server.url);
    loads.push(new PacedLoad('action', base, server.token, config.soakActionRate, 64, () => actionRequest(pick(), random.next())));
    loads.push(new PacedLoad('read', base, server.token, config.soakReadRate, 16, (k) => readRequest(k, pick())));
    const running = loads.map((load) => load.run());
    const series = await sampleSeries(server, loads, config, db);
    for (const load of loads) load.stop();
    await Promise.all(running);
    const fleetStats = await fleet.stats();
    const loadAfter = loadavg();
    return report(config, series, loads, fleetStats, loadBefore, loadAfter, devices.length);
  } finally {
    for (const load of loads) load.stop();
    await fleet?.stop();
    await server.stop();
  }
}

interface Series {
  samples: SoakSample[];
  /** after a full GC, at the end of the warm-up and at the end */
  atWarmup: ProbeSample & { vmRss: number };
  atEnd: ProbeSample & { vmRss: number };
  snapshots: string[];
  benchCpu: number;
  serverCpu: number;
}

/** Samples every 10 s until the end; full-GC readings at the end of the warm-up and at the end; snapshots when asked. */
async function sampleSeries(server: ServeProcess, loads: PacedLoad[], config: BenchConfig, db: string): Promise<Series> {
  const started = performance.now();
  const endMs = config.soakMinutes * 60_000;
  const warmupMs = config.soakWarmupMinutes * 60_000;
  const snapshotsDue = [...config.soakSnapshotMinutes].sort((a, b) => a - b);
  const samples: SoakSample[] = [];
  const snapshots: string[] = [];
  let atWarmup: Series['atWarmup'] | null = null;
  const cpuStart = { bench: processCpuSeconds(process.pid) ?? 0, server: processCpuSeconds(server.pid) ?? 0 };
  for (let k = 1; k * sampleEveryMs <= endMs; k++) {
    await sleep(started + k * sampleEveryMs - performance.now());
    const at = (performance.now() - started) / 1000;
    const probe = await server.sample();
    const requests: Record<string, number> = {};
    for (const load of loads) Object.assign(requests, load.takeWindow());
    const answered = Object.values(requests).reduce((sum, n) => sum + n, 0);
    const readers = childPids(server.pid);
    samples.push({
      seconds: Math.round(at),
      rss: rssBytes(server.pid),
      heapUsed: probe.heapUsed,
      heapTotal: probe.heapTotal,
      external: probe.external,
      arrayBuffers: probe.arrayBuffers,
      handles: Object.entries(probe.resources).filter(([type]) => type !== 'Timeout').reduce((sum, [, n]) => sum + n, 0),
      timers: probe.resources.Timeout ?? 0,
      resources: probe.resources,
      fds: openFds(server.pid),
      readerRss: readers.reduce((sum, pid) => sum + rssBytes(pid), 0),
      readers: readers.length,
      dbBytes: fileBytes(db),
      requestsPerSecond: answered / (sampleEveryMs / 1000),
      requests,
    });
    if (!atWarmup && k * sampleEveryMs >= warmupMs) {
      atWarmup = { ...(await server.sampleAfterGc()), vmRss: rssBytes(server.pid) };
      progress(`soak: warm-up over at ${Math.round(at)} s: RSS ${mib(samples.at(-1)!.rss)} MiB, heap after GC ${mib(atWarmup.heapUsed)} MiB`);
    }
    while (snapshotsDue.length && at >= snapshotsDue[0] * 60) {
      mkdirSync(snapshotDir, { recursive: true });
      const file = `${snapshotDir}soak-${snapshotsDue.shift()}min-${Date.now()}.heapsnapshot`;
      await server.heapSnapshot(file);
      snapshots.push(file);
      progress(`soak: heap snapshot ${file}`);
    }
    if (k % 6 === 0) {
      const last = samples.at(-1)!;
      progress(`soak: ${Math.round(at / 60)} min: RSS ${mib(last.rss)} MiB, heap ${mib(last.heapUsed)} MiB, handles ${last.handles}, timers ${last.timers}, fds ${last.fds}, ${Math.round(last.requestsPerSecond)} requests/s`);
    }
  }
  const atEnd = { ...(await server.sampleAfterGc()), vmRss: rssBytes(server.pid) };
  return {
    samples,
    atWarmup: atWarmup ?? atEnd,
    atEnd,
    snapshots,
    benchCpu: ((processCpuSeconds(process.pid) ?? 0) - cpuStart.bench) / (endMs / 1000),
    serverCpu: ((processCpuSeconds(server.pid) ?? 0) - cpuStart.server) / (endMs / 1000),
  };
}

function report(config: BenchConfig, series: Series, loads: PacedLoad[], fleetStats: Awaited<ReturnType<FleetProcess['stats']>>, loadBefore: number[], loadAfter: number[], devices: number): BenchOutcome {
  const warmupSeconds = config.soakWarmupMinutes * 60;
  const judged = series.samples.filter((s) => s.seconds > warmupSeconds);
  const rss = judgeRss(series.samples, warmupSeconds);
  const handles = judgeCount(series.samples, warmupSeconds, (s) => s.handles);
  const timers = judgeCount(series.samples, warmupSeconds, (s) => s.timers);
  const fds = judgeCount(series.samples, warmupSeconds, (s) => s.fds);
  const heapGc = growthOf(series.atWarmup.heapUsed, series.atEnd.heapUsed);
  const countRow = (figure: string, j: ReturnType<typeof judgeCount>): ReportRow => ({
    figure,
    measured: fmt.int(j.end),
    baseline: fmt.int(j.firstWindowMax),
    ratio: fmt.ratio(j.end / j.firstWindowMax),
    goal: goalText(j.met, 'no growth'),
  });
  const rows: ReportRow[] = [
    { figure: 'server RSS (MiB)', measured: mib(rss.end), baseline: mib(rss.atWarmup), ratio: fmt.ratio(rss.end / rss.atWarmup), goal: goalText(rss.growth <= 0.05, 'growth <= 5 %') },
    { figure: '  growth over the judged minutes (%)', measured: pct(rss.growth), baseline: '', ratio: '' },
    { figure: '  max over the judged minutes (MiB)', measured: mib(rss.max), baseline: '', ratio: '' },
    { figure: '  least-squares slope (MiB / 10 min)', measured: (rss.slope / 1048576).toFixed(2), baseline: '', ratio: '' },
    { figure: 'V8 heap used after full GC (MiB)', measured: mib(series.atEnd.heapUsed), baseline: mib(series.atWarmup.heapUsed), ratio: fmt.ratio(1 + heapGc) },
    { figure: 'server RSS right after full GC (MiB)', measured: mib(series.atEnd.vmRss), baseline: mib(series.atWarmup.vmRss), ratio: fmt.ratio(series.atEnd.vmRss / series.atWarmup.vmRss) },
    countRow('active handles (not timers)', handles),
    countRow('active timers (ref\'d Timeout)', timers),
    countRow('open file descriptors', fds),
  ];
  const totals: Record<string, number> = {};
  for (const load of loads) Object.assign(totals, load.totals);
  const seconds = config.soakMinutes * 60;
  const answered = Object.values(totals).reduce((sum, n) => sum + n, 0);
  const last = series.samples.at(-1)!;
  const firstJudged = judged[0] ?? last;
  const notes = [
    `RSS = VmRSS of /proc/<serve pid>/status every ${sampleEveryMs / 1000} s; at the end of the warm-up and at the end = median of the 3 samples up to that point; growth = (end − warm-up) / warm-up; ` +
      `handles, timers, open files: "no growth" = the median of the last 6 samples (1 min) <= the max of the first 6 samples after the warm-up; slopes per 10 min: handles ${slopePer10Minutes(judged, (s) => s.handles).toFixed(1)}, timers ${slopePer10Minutes(judged, (s) => s.timers).toFixed(1)}, fds ${slopePer10Minutes(judged, (s) => s.fds).toFixed(1)}`,
    `server: teamwork-devices serve --simulate ${config.soakSimulated} --enroll-rate-limit off (log level info, JSON lines to a pipe), fresh SQLite file; ${config.soakPollers} more devices long-polling from long-poll-fleet.js; ${fmt.int(devices)} devices in all. ` +
      `Inventory load: the ${config.soakSimulated} simulated devices report inventory every 30 s (± 20 %) as the agent does; the long-poll fleet reports none`,
    `load from this process at a fixed rate: ${config.soakActionRate} actions/s (60 % updateSoftware teamsClient newest, 25 % restart, 15 % runDiagnostics, random device of all) and ${config.soakReadRate} reads/s ` +
      `(device pages $top=50, $filter deviceType / healthStatus, $count=true, /$count, a device's operations); answered ${fmt.int(answered / seconds)}/s on average: ${Object.entries(totals).sort().map(([k, v]) => `${k}: ${fmt.int(v)}`).join(', ')}`,
    `memory parts at the end (no GC): heap used ${mib(last.heapUsed)} of ${mib(last.heapTotal)} MiB, external ${mib(last.external)} MiB, array buffers ${mib(last.arrayBuffers)} MiB; ` +
      `SQLite file + WAL ${mib(firstJudged.dbBytes)} MiB after the warm-up, ${mib(last.dbBytes)} MiB at the end; SQLite reader processes (${last.readers}) RSS ${mib(last.readerRss)} MiB (their own processes, not in the server's RSS)`,
    `resources at the end by type: ${Object.entries(last.resources).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `CPU (cores busy, whole run): server ${series.serverCpu.toFixed(2)}, this load generator ${series.benchCpu.toFixed(2)}; long-poll fleet: ${fmt.int(fleetStats.polls200)} operations received, ${fmt.int(fleetStats.results)} results accepted, ` +
      `errors ${JSON.stringify({ ...fleetStats.httpErrors, ...fleetStats.networkErrors })}`,
    ...(series.snapshots.length ? [`heap snapshots: ${series.snapshots.join(', ')}`] : []),
    `load average (1, 5, 15 min) at the start: ${loadBefore.map((v) => v.toFixed(2)).join(', ')}; at the end: ${loadAfter.map((v) => v.toFixed(2)).join(', ')} (${cpus().length} cores)`,
    'series (every minute): minute  RSS MiB  heap MiB  external MiB  handles  timers  fds  db MiB  requests/s',
    ...series.samples.filter((s) => s.seconds % 60 === 0).map((s) =>
      `  ${String(s.seconds / 60).padStart(3)}  ${mib(s.rss).padStart(7)}  ${mib(s.heapUsed).padStart(6)}  ${mib(s.external).padStart(6)}  ${String(s.handles).padStart(6)}  ${String(s.timers).padStart(5)}  ${String(s.fds).padStart(5)}  ${mib(s.dbBytes).padStart(7)}  ${Math.round(s.requestsPerSecond)}`),
  ];
  return {
    name: 'soak',
    tables: [{
      title: `soak: ${config.soakMinutes} min of mixed load on serve --simulate ${config.soakSimulated}, judged after ${config.soakWarmupMinutes} min of warm-up`,
      columns: { measured: 'at the end', baseline: 'end of warm-up', ratio: 'end/warm-up' },
      rows,
      notes,
    }],
    data: { loadBefore, loadAfter, rss, handles, timers, fds, atWarmup: series.atWarmup, atEnd: series.atEnd, totals, fleetStats, samples: series.samples },
  };
}

/** Every device id, paged through the Graph API as a client would. */
async function listDeviceIds(server: ServeProcess): Promise<string[]> {
  const ids: string[] = [];
  let next: string | null = `${server.url}/beta/teamwork/devices?$top=50`;
  while (next) {
    const response = await fetch(next, { headers: { authorization: `Bearer ${server.token}` } });
    if (response.status !== 200) throw new Error(`listing devices: HTTP ${response.status} ${await response.text()}`);
    const page = (await response.json()) as { value: { id: string }[]; '@odata.nextLink'?: string };
    ids.push(...page.value.map((d) => d.id));
    next = page['@odata.nextLink'] ? new URL(page['@odata.nextLink'], server.url).toString() : null;
  }
  return ids;
}

function actionRequest(deviceId: string, r: number): PacedRequest {
  const path = `/beta/teamwork/devices/${deviceId}`;
  if (r < 0.6) return { method: 'POST', path: `${path}/updateSoftware`, body: '{"softwareType":"teamsClient"}' };
  return { method: 'POST', path: r < 0.85 ? `${path}/restart` : `${path}/runDiagnostics` };
}

const readPaths = [
  '/beta/teamwork/devices?$top=50',
  `/beta/teamwork/devices?$top=20&$filter=${encodeURIComponent("deviceType eq 'teamsRoom'")}`,
  '/beta/teamwork/devices?$top=10&$count=true',
  '/beta/teamwork/devices/$count',
  `/beta/teamwork/devices?$top=20&$filter=${encodeURIComponent("healthStatus eq 'healthy'")}`,
];

function readRequest(k: number, deviceId: string): PacedRequest {
  const i = k % (readPaths.length + 1);
  return { method: 'GET', path: i < readPaths.length ? readPaths[i] : `/beta/teamwork/devices/${deviceId}/operations` };
}

function fileBytes(db: string): number {
  let total = 0;
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      total += statSync(db + suffix).size;
    } catch {
      // not there (yet)
    }
  }
  return total;
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}

function pct(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
