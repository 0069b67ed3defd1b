import type { BenchConfig } from './bench-config.js';
import { fmt, goalText, type ReportRow, type ReportTable } from './bench-report.js';
import type { Percentiles } from './dispatch-requests.js';
import type { ReplicaConnections } from './database-connections.js';
import type { LoopDelay, MemoryReading } from './target-process.js';

/** The goal of issue 16 for every dispatch row, whichever replica accepted the update. */
export const dispatchGoalMs = 1000;

/** One replica's figures in a run. */
export interface ReplicaRun {
  name: string;
  /** devices whose fleet talks to this replica */
  devices: number;
  idle: MemoryReading;
  held: MemoryReading;
  rssAfter: number;
  rssPeak: number;
  fds: number;
  /** cores busy over the steady window (polls only) and over the dispatch */
  cpuSteady: number;
  cpuDispatch: number;
  loop: LoopDelay;
  connections: ReplicaConnections;
}

/** A dispatch row: its operations' latency in ms. */
export interface LatencyGroup {
  label: string;
  latency: Percentiles;
}

export interface ReplicasRun {
  replicas: ReplicaRun[];
  devices: number;
  fleets: number;
  enrollSeconds: number;
  steadySeconds: number;
  /** cores busy over the steady window: all the database's backends, all fleet processes */
  cpuSteady: { database: number; fleets: number };
  cpuDispatch: { database: number; fleets: number; seconds: number };
  poolSize: number;
  connectionSamples: number;
  connectionSampleFailures: number;
  planned: number;
  accepted: number;
  received: number;
  negative: number;
  achievedRate: number;
  all: Percentiles;
  /** per accepting replica; per (accepting, polling) pair; same vs other replica */
  byAccepting: LatencyGroup[];
  byPair: LatencyGroup[];
  same: Percentiles;
  other: Percentiles;
  accept: Percentiles;
  non202: Record<string, number>;
  requestErrors: Record<string, number>;
  pollsInFlight: number;
  fleetRssBytes: number[];
  fleetErrors: Record<string, number>;
  results: number;
  /** enrolments whose answer was lost after they committed (a 409 on the retry), enrolled again as new hardware */
  lostEnrolments: number;
}


const gib = 2 ** 30;
const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
// sub-millisecond clock: two decimals below 10 ms
const ms = (v: number) => (!Number.isFinite(v) ? 'n/a' : Math.abs(v) < 10 ? v.toFixed(2) : Math.abs(v) < 100 ? v.toFixed(1) : v.toFixed(0));
const spread = (p: Percentiles) => (p.count ? `${ms(p.p50)} / ${ms(p.p99)} / ${ms(p.max)}` : 'none');
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** The three tables of the replicas benchmark: dispatch latency, connections, memory and CPU. */
export function replicasTables(
  large: ReplicasRun, small: ReplicasRun, config: BenchConfig, load: { loadBefore: number[]; loadAfter: number[]; cores: number },
): ReportTable[] {
  const n = fmt.int(large.devices);
  const replicas = large.replicas.length;
  const nSmall = fmt.int(small.devices);
  const base = small.all;

  // p99 ratios of figures at or below zero (the poll's answer overtaking the 202) mean nothing
  const latencyRow = (figure: string, p: Percentiles): ReportRow => ({
    figure: `${figure} (${p.count})`,
    measured: spread(p),
    baseline: spread(base),
    ratio: p.p99 > 0 && base.p99 > 0 ? fmt.ratio(p.p99 / base.p99) : 'n/a',
    goal: p.count ? goalText(p.p99 <= dispatchGoalMs, `p99 <= ${dispatchGoalMs}`) : 'no operations: NOT met',
  });
  const dispatchRows: ReportRow[] = [
    latencyRow('all operations', large.all),
    ...large.byAccepting.map((g) => latencyRow(g.label, g.latency)),
    latencyRow('accepted and polled on the same replica', large.same),
    latencyRow('accepted on one replica, polled on another', large.other),
    ...large.byPair.map((g) => latencyRow(`  ${g.label}`, g.latency)),
    { figure: 'operations received', measured: `${fmt.int(large.received)} / ${fmt.int(large.planned)}`, baseline: `${fmt.int(small.received)} / ${fmt.int(small.planned)}`, ratio: '' },
    { figure: '202 latency p50 / p99 (ms)', measured: `${ms(large.accept.p50)} / ${ms(large.accept.p99)}`, baseline: `${ms(small.accept.p50)} / ${ms(small.accept.p99)}`, ratio: '' },
  ];
  const dispatchNotes = [
    `dispatch = receivedAt (fleet process, the poll's 200 body complete) − acceptedAt (this process, the 202's headers arrived), both on CLOCK_MONOTONIC; cells are p50 / p99 / max in ms, (count) after each figure; ratio = p99 / the baseline's p99; ` +
      `negative (the poll's answer overtook the 202): ${large.negative} (${n}), ${small.negative} (${nSmall})`,
    `${fmt.int(config.replicaOperations)} POST …/updateSoftware (teamsClient, softwareVersion given) per run at ${config.replicaRate}/s, at most ${config.replicaConcurrency} in flight, ` +
      `achieved ${fmt.int(large.achievedRate)}/s and ${fmt.int(small.achievedRate)}/s; devices in a random order (each at most once when there are more devices than requests, else round-robin), each request to a random replica (seeded)`,
    `layout: ${replicas} replicas (bench-target.js real, one process and port each, default pool of ${large.poolSize}) on one fresh PostgreSQL database; ${large.fleets} fleet processes ` +
      `(long-poll-fleet.js) of ${fmt.int(large.devices / large.fleets)} devices, device i of each fleet on replica i mod ${replicas} for everything (enrol, poll, ack, result); baseline: 1 replica, 1 fleet of ${nSmall}, its own database`,
    `event loop delay during the dispatch (p99 / max, ms): ${large.replicas.map((r) => `${r.name} ${r.loop.p99.toFixed(0)} / ${r.loop.max.toFixed(0)}`).join(', ')}; baseline ${small.replicas[0].loop.p99.toFixed(0)} / ${small.replicas[0].loop.max.toFixed(0)}`,
    `results accepted: ${fmt.int(large.results)} (${n}), ${fmt.int(small.results)} (${nSmall})`,
    `load average (1, 5, 15 min) at the start: ${load.loadBefore.map((v) => v.toFixed(2)).join(', ')}; at the end: ${load.loadAfter.map((v) => v.toFixed(2)).join(', ')} (${load.cores} cores)`,
    ...problems(large),
    ...problems(small),
  ];

  const connectionRow = (figure: string, run: ReplicasRun, r: number): ReportRow => {
    const c = run.replicas[r].connections;
    const met = c.pool <= run.poolSize && c.listen <= 1 && c.lease <= 1;
    return {
      figure,
      measured: `${c.pool} + ${c.listen} + ${c.lease} = ${c.total}`,
      baseline: `${run.poolSize} + 1 + 1 = ${run.poolSize + 2}`,
      ratio: fmt.ratio(c.pool / run.poolSize),
      goal: goalText(met, `pool <= ${run.poolSize}, total <= ${run.poolSize + 2}`),
    };
  };
  const connectionRows = [
    ...large.replicas.map((r, i) => connectionRow(`${r.name} (${n} devices over ${replicas})`, large, i)),
    connectionRow(`baseline: 1 replica, ${nSmall} devices`, small, 0),
  ];
  const connectionNotes = [
    `each replica's backends in pg_stat_activity (its application_name, set in its --db URL), sampled every second from before the replicas started to the end of the dispatch: ` +
      `${large.connectionSamples} samples (${large.connectionSampleFailures} failed) in the ${n}-device run, ${small.connectionSamples} (${small.connectionSampleFailures}) in the baseline; each kind's maximum over the samples, so the total's maximum may be below the sum`,
    `pool = every connection but the two dedicated ones; LISTEN = last statement 'LISTEN …' (one per replica, outside the pool); lease = last statement 'SELECT pg_try_advisory_lock(…)' (the supervisor lease, one per replica, outside the pool, on every replica: the holder keeps the lock on it, the others try it each second)`,
    `ratio = the pool's maximum / its size (--pool-size, default ${large.poolSize}); the pool opens connections on demand and closes them after 10 s idle`,
  ];

  const perDevice = (held: number, idle: number, devices: number) => (devices > 0 ? (held - idle) / devices : Number.NaN);
  const memoryRows: ReportRow[] = [];
  const smallReplica = small.replicas[0];
  for (const r of large.replicas) {
    memoryRows.push(
      { figure: `${r.name} RSS (MB), ${fmt.int(r.devices)} long-polls held`, measured: mb(r.held.rss), baseline: mb(r.idle.rss), ratio: fmt.ratio(r.held.rss / r.idle.rss) },
      { figure: '  RSS per held long-poll (bytes)', measured: fmt.int(perDevice(r.held.rss, r.idle.rss, r.devices)), baseline: '', ratio: '' },
      { figure: '  after full GC: RSS per held long-poll (bytes)', measured: fmt.int(perDevice(r.held.gc.rss, r.idle.gc.rss, r.devices)), baseline: '', ratio: '' },
      { figure: '  CPU, polls only (cores)', measured: r.cpuSteady.toFixed(2), baseline: smallReplica.cpuSteady.toFixed(2), ratio: fmt.ratio(r.cpuSteady / smallReplica.cpuSteady) },
      { figure: '  CPU during the dispatch (cores)', measured: r.cpuDispatch.toFixed(2), baseline: smallReplica.cpuDispatch.toFixed(2), ratio: fmt.ratio(r.cpuDispatch / smallReplica.cpuDispatch) },
    );
  }
  const bytesPerDevice = mean(large.replicas.map((r) => perDevice(r.held.rss, r.idle.rss, r.devices)));
  const devicesPerReplica = mean(large.replicas.map((r) => r.devices));
  const coresSteady = mean(large.replicas.map((r) => r.cpuSteady));
  const coresDispatch = mean(large.replicas.map((r) => r.cpuDispatch));
  const idleRss = mean(large.replicas.map((r) => r.idle.rss));
  memoryRows.push(
    { figure: 'RSS per held long-poll, mean of the replicas (bytes)', measured: fmt.int(bytesPerDevice), baseline: '', ratio: '' },
    { figure: 'devices per GiB of RSS beyond the idle process (arithmetic)', measured: fmt.int(gib / bytesPerDevice), baseline: '', ratio: '' },
    { figure: 'devices per core, polls only (arithmetic)', measured: fmt.int(devicesPerReplica / coresSteady), baseline: '', ratio: '' },
    { figure: `devices per core, with ${fmt.int(config.replicaRate)} updates/s over the replicas (arithmetic)`, measured: fmt.int(devicesPerReplica / coresDispatch), baseline: '', ratio: '' },
  );
  const memoryNotes = [
    `RSS = VmRSS of /proc/<pid>/status, median of 5 readings 200 ms apart; after GC = process.memoryUsage().rss right after global.gc() (node --expose-gc); idle = the fresh replica 2 s after start, no device; ` +
      `held = after enrolment and one more long-poll cycle (${fmt.seconds(large.steadySeconds)} s), so every device has re-polled; per long-poll = (held − idle) / devices on that replica`,
    `arithmetic, not measured at that size: devices per GiB = 1 GiB / the mean RSS per held long-poll, on top of the idle process (${mb(idleRss)} MB here); devices per core = devices per replica (${fmt.int(devicesPerReplica)}) / the mean cores one replica used`,
    `CPU = user + system time of the replica process (all threads) from /proc/<pid>/stat; polls only: over ${fmt.seconds(large.steadySeconds)} s with every device long-polling (waitSeconds=30, each device's poll ends and is re-sent once in that window) and nothing else; ` +
      `during the dispatch: ${fmt.seconds(large.cpuDispatch.seconds)} s from the first request to the last delivery, acks and results included; baseline = the single replica holding ${nSmall} devices`,
    `the same windows, other processes (cores): PostgreSQL backends of the database ${large.cpuSteady.database.toFixed(2)} polls only, ${large.cpuDispatch.database.toFixed(2)} during the dispatch; ` +
      `fleet processes ${large.cpuSteady.fleets.toFixed(2)} and ${large.cpuDispatch.fleets.toFixed(2)}; all on the same ${load.cores} cores`,
    `enrolment: ${fmt.int(large.devices)} devices in ${fmt.seconds(large.enrollSeconds)} s (${fmt.int(large.devices / large.enrollSeconds)}/s over ${replicas} replicas, 30 at a time per fleet); ` +
      `open file descriptors at the held reading: ${large.replicas.map((r) => `${r.name} ${fmt.int(r.fds)}`).join(', ')}; fleet processes' RSS: ${large.fleetRssBytes.map((b) => `${mb(b)} MB`).join(', ')}; ` +
      `peak RSS (VmHWM): ${large.replicas.map((r) => `${mb(r.rssPeak)} MB`).join(', ')}; after the dispatch: ${large.replicas.map((r) => `${mb(r.rssAfter)} MB`).join(', ')}`,
  ];

  return [
    {
      title: `replicas dispatch: 202 → operation delivered by the long-poll, ${n} devices on ${replicas} replicas vs ${nSmall} on 1`,
      columns: { measured: `${n} devices, ${replicas} replicas`, baseline: `${nSmall} devices, 1 replica`, ratio: 'p99 ratio' },
      rows: dispatchRows,
      notes: dispatchNotes,
    },
    {
      title: `replicas: PostgreSQL connections per replica, the most seen (pool + LISTEN + lease = total)`,
      columns: { measured: 'max seen', baseline: 'pool size + dedicated', ratio: 'pool/size' },
      rows: connectionRows,
      notes: connectionNotes,
    },
    {
      title: `replicas: memory and CPU per replica with the fleet held (${fmt.int(devicesPerReplica)} long-polls each)`,
      columns: { measured: 'held', baseline: `idle / ${nSmall} devices`, ratio: 'ratio' },
      rows: memoryRows,
      notes: memoryNotes,
    },
  ];
}

/** Lines that say loudly what went wrong in a run; none when all is well. */
function problems(run: ReplicasRun): string[] {
  const out: string[] = [];
  const who = `${fmt.int(run.devices)} devices on ${run.replicas.length} replica(s)`;
  const text = (counts: Record<string, number>) => Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join(', ');
  if (Object.keys(run.non202).length) out.push(`!!! ${who}: updateSoftware answers other than 202: ${text(run.non202)} !!!`);
  if (Object.keys(run.requestErrors).length) out.push(`!!! ${who}: updateSoftware request errors: ${text(run.requestErrors)} !!!`);
  if (run.received < run.planned) out.push(`!!! ${who}: only ${run.received} of ${run.planned} operations reached a device within 35 s of the last 202 !!!`);
  if (Object.keys(run.fleetErrors).length) out.push(`!!! ${who}: agent-side errors (enroll, polls, acks, results): ${text(run.fleetErrors)} !!!`);
  if (run.results < run.received) out.push(`!!! ${who}: ${run.results} results accepted for ${run.received} operations received !!!`);
  if (run.pollsInFlight < run.devices) out.push(`!!! ${who}: only ${run.pollsInFlight} polls in flight at the held reading !!!`);
  if (run.lostEnrolments) out.push(`!!! ${who}: ${run.lostEnrolments} enrolments committed but their answer was lost (409 on the retry); enrolled again as new hardware, the lost devices stay silent !!!`);
  if (run.connectionSampleFailures) out.push(`!!! ${who}: ${run.connectionSampleFailures} connection samples failed !!!`);
  return out;
}
