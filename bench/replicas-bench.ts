import { readdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { serveDefaults } from '../src/config.js';
import { SeededRandom } from '../src/seed/seeded-random.js';
import type { BenchConfig } from './bench-config.js';
import { fmt, progress, type BenchOutcome } from './bench-report.js';
import type { BenchWorkspace } from './bench-workspace.js';
import { ConnectionSampler } from './database-connections.js';
import { dispatch, percentiles, planOperations } from './dispatch-requests.js';
import type { FleetStats } from './fleet-messages.js';
import { startFleet, type FleetProcess } from './fleet-process.js';
import { replicasTables, type ReplicasRun } from './replicas-report.js';
import { processCpuSeconds, readMemory, readStatusBytes, sampleRss, startTarget, type TargetProcess } from './target-process.js';

/** How long fresh replicas idle before their memory is read. */
const idleSettleMs = 2000;
/**
 * Enrolments in flight per fleet process. A tenant's enrollments commit one after another
 * (its count and its token's uses), and a replica runs them on half its pool, queueing the
 * rest for up to 20 s: more in flight would only queue longer, and 503 under a loaded machine.
 */
const enrollConcurrencyPerFleet = 30;
/** After the last 202, how long a device may take to get its operation (one full long-poll and a margin). */
const deliveryGraceMs = 35_000;

/**
 * Replicas: N real servers (bench-target.js `real`, each its own process and port) on one fresh
 * PostgreSQL database, and N fleet processes (long-poll-fleet.js) whose devices spread over the
 * replicas (device i of a fleet → replica i mod N, as a load balancer without stickiness
 * would), so a device's long-poll often sits on a replica other than the one that accepts its
 * update and the operation reaches it by NOTIFY. Once every device polls, and one long-poll
 * cycle later (the CPU window), updateSoftware requests go to random devices, each to a random
 * replica, at a steady rate; dispatch latency = receipt in the fleet − 202 here, both on
 * CLOCK_MONOTONIC, per accepting replica and per (accepting, polling) pair. Meanwhile every
 * replica's PostgreSQL connections are sampled each second. Baseline: the same with one
 * replica and a small fleet, in the same run.
 */
export async function replicasBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  const loadBefore = loadavg();
  const small = await measureReplicas('small', 1, config.replicaSmall, config, workspace);
  const large = await measureReplicas('large', config.replicaCount, config.replicaDevices, config, workspace);
  const loadAfter = loadavg();
  return {
    name: 'replicas',
    tables: replicasTables(large, small, config, { loadBefore, loadAfter, cores: cpus().length }),
    data: { loadBefore, loadAfter, large, small },
  };
}

async function measureReplicas(label: 'small' | 'large', count: number, devices: number, config: BenchConfig, workspace: BenchWorkspace): Promise<ReplicasRun> {
  const name = `replicas-${label}`;
  const file = await workspace.database(name, 'postgres');
  // Migrated here, before any replica starts; the token and the demo catalog the plan asks for.
  const enrollmentToken = await workspace.fleetEnrollment(file.db);
  const adminToken = await workspace.token(name, 'postgres');
  const names = Array.from({ length: count }, (_, r) => `twd-bench-replica-${r + 1}`);
  const database = new URL(file.db).pathname.slice(1);
  const sampler = new ConnectionSampler(config.pgAdminUrl, database, names);
  const targets: TargetProcess[] = [];
  const fleets: FleetProcess[] = [];
  try {
    await sampler.start();
    for (const replica of names) {
      const url = new URL(file.db);
      url.searchParams.set('application_name', replica);
      targets.push(await startTarget('real', url.toString(), 120_000, ['--expose-gc']));
    }
    const urls = targets.map((t) => t.url);
    await sleep(idleSettleMs);
    const idle = await Promise.all(targets.map((t) => readMemory(t)));

    progress(`replicas: ${fmt.int(devices)} devices enrolling over ${count} replica(s) from ${count} fleet process(es)`);
    const perFleet = Array.from({ length: count }, (_, f) => Math.floor(devices / count) + (f < devices % count ? 1 : 0));
    const enrolled = perFleet.map(() => 0);
    const fleetStarted = performance.now();
    const started = await Promise.allSettled(perFleet.map((n, f) => startFleet(urls, enrollmentToken, n, {
      prefix: `${name}-${f}-${Date.now()}`,
      enrollConcurrency: enrollConcurrencyPerFleet,
      timeoutMs: 900_000,
      onProgress: (done) => {
        enrolled[f] = done;
        const sum = enrolled.reduce((a, b) => a + b, 0);
        if (done % 5000 === 0) progress(`replicas: ${fmt.int(sum)} enrolled`);
      },
    })));
    // the fleets that did start are stopped below, whichever failed
    for (const outcome of started) if (outcome.status === 'fulfilled') fleets.push(outcome.value);
    for (const outcome of started) if (outcome.status === 'rejected') throw outcome.reason;
    const enrollSeconds = (performance.now() - fleetStarted) / 1000;
    progress(`replicas: ${fmt.int(devices)} enrolled in ${fmt.seconds(enrollSeconds)} s and polling; CPU read over the next ${config.replicaSteadySeconds} s`);

    // Every device has sent its first poll: any window of one poll cycle from here holds one poll per device.
    await sleep(1000);
    const steady = await cpuWindow(targets, fleets, workspace, file.db, () => sleep(config.replicaSteadySeconds * 1000));
    const held = await Promise.all(targets.map((t) => readMemory(t)));
    const fds = targets.map((t) => readdirSync(`/proc/${t.pid}/fd`).length);
    const fleetBefore = await Promise.all(fleets.map((f) => f.stats()));
    await sleep(1000); // past the pause of the forced GC
    await Promise.all(targets.map((t) => t.loopDelay()));

    const allDevices = fleets.flatMap((f) => f.devices);
    const plan = planOperations(allDevices, config.replicaOperations);
    const pick = new SeededRandom(0x7e91ca5);
    const accepting = plan.map((p) => {
      const r = Math.floor(pick.next() * count);
      p.target = urls[r];
      return r;
    });
    const pollingOf = new Map(allDevices.map((d) => [d.deviceId, d.server]));
    progress(`replicas: ${fmt.int(plan.length)} updateSoftware at ${config.replicaRate}/s, each to a random replica`);
    let dispatched!: Awaited<ReturnType<typeof dispatch>>;
    const duringDispatch = await cpuWindow(targets, fleets, workspace, file.db, async () => {
      dispatched = await dispatch(urls[0], adminToken, plan, config.replicaRate, config.replicaConcurrency);
      const accepted = dispatched.sent.filter((s) => s.operationId !== null);
      const graceEnds = performance.now() + deliveryGraceMs;
      while (accepted.some((s) => receiptOf(fleets, s.operationId!) === undefined) && performance.now() < graceEnds) await sleep(100);
      await sleep(500); // the last acks and results
    });
    const loops = await Promise.all(targets.map((t) => t.loopDelay()));
    const rssAfter = await Promise.all(targets.map((t) => sampleRss(t.pid)));
    const fleetAfter = await Promise.all(fleets.map((f) => f.stats()));
    await sampler.stop();

    const accepted = dispatched.sent.filter((s) => s.operationId !== null);
    const all: number[] = [];
    const byAccepting = names.map(() => [] as number[]);
    const byPair = names.map(() => names.map(() => [] as number[]));
    const same: number[] = [];
    const other: number[] = [];
    for (const s of accepted) {
      const receivedAt = receiptOf(fleets, s.operationId!);
      if (receivedAt === undefined) continue;
      const latency = receivedAt - s.acceptedAt;
      const a = accepting[s.index];
      const p = pollingOf.get(plan[s.index].deviceId)!;
      all.push(latency);
      byAccepting[a].push(latency);
      byPair[a][p].push(latency);
      (a === p ? same : other).push(latency);
    }
    const non202: Record<string, number> = {};
    for (const s of dispatched.sent) if (s.status !== 202) non202[String(s.status)] = (non202[String(s.status)] ?? 0) + 1;
    const fleetErrors: Record<string, number> = {};
    for (const stats of fleetAfter) {
      for (const [key, n] of Object.entries({ ...stats.httpErrors, ...stats.networkErrors })) fleetErrors[key] = (fleetErrors[key] ?? 0) + n;
    }
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const run: ReplicasRun = {
      replicas: names.map((replica, r) => ({
        name: replica,
        devices: allDevices.filter((d) => d.server === r).length,
        idle: idle[r],
        held: held[r],
        rssAfter: rssAfter[r],
        rssPeak: readStatusBytes(targets[r].pid, 'VmHWM'),
        fds: fds[r],
        cpuSteady: steady.replicas[r],
        cpuDispatch: duringDispatch.replicas[r],
        loop: loops[r],
        connections: sampler.max.get(replica)!,
      })),
      devices,
      fleets: fleets.length,
      enrollSeconds,
      steadySeconds: steady.seconds,
      cpuSteady: { database: steady.database, fleets: sum(steady.fleets) },
      cpuDispatch: { database: duringDispatch.database, fleets: sum(duringDispatch.fleets), seconds: duringDispatch.seconds },
      poolSize: serveDefaults.poolSize,
      connectionSamples: sampler.samples,
      connectionSampleFailures: sampler.failures,
      planned: plan.length,
      accepted: accepted.length,
      received: all.length,
      negative: all.filter((v) => v < 0).length,
      achievedRate: plan.length / dispatched.seconds,
      all: percentiles(all),
      byAccepting: byAccepting.map((values, a) => ({ label: `accepted by ${names[a]}`, latency: percentiles(values) })),
      byPair: byPair.flatMap((row, a) => row.map((values, p) => ({
        label: `${names[a]} → polled on ${names[p]} (${a === p ? 'same' : 'other'})`, latency: percentiles(values),
      }))),
      same: percentiles(same),
      other: percentiles(other),
      accept: percentiles(dispatched.sent.filter((s) => s.status === 202).map((s) => s.acceptedAt - s.sentAt)),
      non202,
      requestErrors: dispatched.errors,
      pollsInFlight: sum(fleetBefore.map((s: FleetStats) => s.pollsInFlight)),
      fleetRssBytes: fleetAfter.map((s) => s.rssBytes),
      fleetErrors,
      results: sum(fleetAfter.map((s) => s.results)),
      lostEnrolments: sum(fleetAfter.map((s) => s.lostEnrolments ?? 0)),
    };
    progress(`replicas: ${count} replica(s), ${fmt.int(devices)} devices: ${run.received}/${run.planned} received, dispatch p50 ${run.all.p50} ms, p99 ${run.all.p99} ms`);
    return run;
  } finally {
    await Promise.all(fleets.map((f) => f.stop()));
    await Promise.all(targets.map((t) => t.stop()));
    await sampler.stop().catch(() => {});
  }
}

/** When a fleet's device received the operation (monotonic ms), whichever fleet holds it. */
function receiptOf(fleets: FleetProcess[], operationId: string): number | undefined {
  for (const fleet of fleets) {
    const at = fleet.receipts.get(operationId);
    if (at !== undefined) return at;
  }
  return undefined;
}

/**
 * Cores busy while `during` runs: each replica, each fleet process, and the database's
 * backends (those connected to it at the start and still there at the end; the replicas'
 * pools keep theirs while busy).
 */
async function cpuWindow(targets: TargetProcess[], fleets: FleetProcess[], workspace: BenchWorkspace, db: string, during: () => Promise<void>):
  Promise<{ seconds: number; replicas: number[]; fleets: number[]; database: number }> {
  const cpu = (pid: number) => processCpuSeconds(pid) ?? Number.NaN;
  const backends = await workspace.backendPids(db);
  const started = performance.now();
  const before = { replicas: targets.map((t) => cpu(t.pid)), fleets: fleets.map((f) => cpu(f.pid)), backends: new Map(backends.map((pid) => [pid, processCpuSeconds(pid)])) };
  await during();
  const seconds = (performance.now() - started) / 1000;
  let database = 0;
  for (const [pid, start] of before.backends) {
    const end = processCpuSeconds(pid);
    if (start !== null && end !== null) database += end - start;
  }
  return {
    seconds,
    replicas: targets.map((t, r) => (cpu(t.pid) - before.replicas[r]) / seconds),
    fleets: fleets.map((f, i) => (cpu(f.pid) - before.fleets[i]) / seconds),
    database: database / seconds,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
