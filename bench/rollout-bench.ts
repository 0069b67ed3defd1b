import http from 'node:http';
import { loadavg } from 'node:os';
import { demoSoftwareVersions, deviceFamily } from '../src/seed/demo-tables.js';
import type { BenchConfig, StoreName } from './bench-config.js';
import { fmt, progress, ratioOf, type BenchOutcome, type ReportRow, type ReportTable } from './bench-report.js';
import { storeLabel, type BenchWorkspace } from './bench-workspace.js';
import { startFleet } from './fleet-process.js';
import type { FleetDevice } from './fleet-messages.js';
import { startTarget, type TargetProcess } from './target-process.js';

/** Direct updateSoftware requests in flight at once (the baseline). */
const directConcurrency = 32;
/** How long a run may take before the bench gives up on it. */
const runTimeoutMs = 600_000;

interface DatabaseLoad {
  commits: number;
  rowsRead: number;
  rowsWritten: number;
}

interface UpdateRun {
  seconds: number;
  /** server CPU seconds used during the run */
  cpuSeconds: number;
  /** PostgreSQL's counters for the run's database (null on SQLite) */
  database: DatabaseLoad | null;
  /** results the fleet reported during the run */
  results: number;
}

/**
 * Rollout: N devices long-polling one real server are updated twice, once by N direct
 * updateSoftware requests (the baseline: what a script does today) and once by one rollout in
 * three stages (10 %, 50 % of the rest, the rest; no concurrency limit, no soak). Figures: the
 * time until every device reported its result, the server's CPU per device, and on PostgreSQL
 * the database's transactions and rows per device (pg_stat_database), rollout against direct.
 */
export async function rolloutBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  const tables: ReportTable[] = [];
  const data: Record<string, unknown> = {};
  for (const store of config.stores) {
    const { direct, rollout, devices } = await measure(store, config.rolloutDevices, workspace);
    const n = fmt.int(devices);
    const perDevice = (value: number) => value / devices;
    const row = (figure: string, measured: number, baseline: number, format: (v: number) => string): ReportRow => ({
      figure, measured: format(measured), baseline: format(baseline), ratio: fmt.ratio(ratioOf(measured, baseline)),
    });
    const ms = (v: number) => v.toFixed(3);
    const rows: ReportRow[] = [
      row('all devices updated (s)', rollout.seconds, direct.seconds, fmt.seconds),
      row('server CPU per device (ms)', perDevice(rollout.cpuSeconds) * 1000, perDevice(direct.cpuSeconds) * 1000, ms),
    ];
    if (rollout.database && direct.database) {
      rows.push(
        row('database transactions per device', perDevice(rollout.database.commits), perDevice(direct.database.commits), (v) => v.toFixed(2)),
        row('database rows read per device', perDevice(rollout.database.rowsRead), perDevice(direct.database.rowsRead), (v) => v.toFixed(1)),
        row('database rows written per device', perDevice(rollout.database.rowsWritten), perDevice(direct.database.rowsWritten), (v) => v.toFixed(2)),
      );
    }
    tables.push({
      title: `rollout (${storeLabel[store]}): ${n} devices in three stages vs ${n} direct updateSoftware requests`,
      columns: { measured: 'rollout', baseline: 'direct requests', ratio: 'rollout/direct' },
      rows,
      notes: [
        `one server (bench-target.js, the scheduler ticking every second as \`serve\` does), ${n} agents long-polling it (long-poll-fleet.js, each reports 'successful' at once); ` +
          `first ${n} POST …/updateSoftware (${directConcurrency} in flight, keep-alive) installing the demo catalog's second-newest teamsClient, then one rollout ` +
          `(stages 10 % / 50 % / 100 % of the rest, no concurrency limit, no soak) installing the newest (softwareVersion omitted)`,
        `times: from the first request (the rollout's start) until the fleet reported ${n} results; CPU: the server process's user + system time over that window`,
        `the engine's cost per device: a rollout's operation costs the server ${((perDevice(rollout.cpuSeconds) - perDevice(direct.cpuSeconds)) * 1000).toFixed(3)} ms of CPU more than one asked by a direct request (negative: less, no HTTP request to parse and authenticate)`,
        ...(rollout.database ? [`database: pg_stat_database of the run's database (xact_commit; tup_returned + tup_fetched; tup_inserted + tup_updated + tup_deleted), read 1.5 s after the run so the server's counters are flushed`] : []),
        `results the fleet reported: direct ${fmt.int(direct.results)}, rollout ${fmt.int(rollout.results)}`,
        `load average at the end: ${loadavg().map((v) => v.toFixed(2)).join(', ')}`,
      ],
    });
    const creation = await measureCreation(store, workspace);
    tables.push({
      title: `rollout creation (${storeLabel[store]}): a rollout over ${fmt.int(creation.large.devices)} devices vs over ${fmt.int(creation.small.devices)}`,
      columns: { measured: `${fmt.int(creation.large.devices)} devices`, baseline: `${fmt.int(creation.small.devices)} devices`, ratio: 'ratio' },
      rows: [
        row('POST …/softwareRollouts answered, median (ms)', creation.large.createMs, creation.small.createMs, (v) => v.toFixed(1)),
        row('POST …/start answered (ms)', creation.large.startMs, creation.small.startMs, (v) => v.toFixed(1)),
        row('every target read in the background (s)', creation.large.expandSeconds, creation.small.expandSeconds, fmt.seconds),
      ],
      notes: [
        `seeded devices (no agents), the demo catalog; the rollout targets every device by a $filter (deviceType ne 'unknown'); create: median of ${createsTimed} POSTs, each a new rollout; ` +
          'then one is started and timed until its counts.total reached the fleet (targets read 5,000 per statement, up to 250 ms a pass, passes back to back while targets remain)',
      ],
    });
    data[store] = { devices, direct, rollout, creation };
  }
  return { name: 'rollout', tables, data };
}

/** Rollouts created per fleet size; the median is reported. */
const createsTimed = 5;

interface CreationRun {
  devices: number;
  createMs: number;
  startMs: number;
  expandSeconds: number;
}

/** Creating and starting a rollout over a big seeded fleet vs a small one: both answer at once, the targets are read afterwards. */
async function measureCreation(store: StoreName, workspace: BenchWorkspace): Promise<{ small: CreationRun; large: CreationRun }> {
  const one = async (name: string, devices: number): Promise<CreationRun> => {
    const { file } = await workspace.seed(name, devices, store);
    await workspace.offerDemoCatalog(name, store);
    const token = await workspace.token(name, store);
    const target = await startTarget('real', file.db, 300_000);
    const agent = new http.Agent({ keepAlive: true });
    try {
      const body = JSON.stringify({ displayName: 'bench', softwareType: 'teamsClient', target: { filter: "deviceType ne 'unknown'" } });
      const times: number[] = [];
      let id = '';
      for (let i = 0; i < createsTimed; i++) {
        const started = performance.now();
        const created = await request(agent, target.url, token, 'POST', '/beta/teamwork/softwareRollouts', body);
        times.push(performance.now() - started);
        if (created.status !== 201) throw new Error(`creating a rollout answered ${created.status}: ${created.body}`);
        id = (JSON.parse(created.body) as { id: string }).id;
      }
      const startedAt = performance.now();
      const started = await request(agent, target.url, token, 'POST', `/beta/teamwork/softwareRollouts/${id}/start`, '');
      const startMs = performance.now() - startedAt;
      if (started.status !== 200) throw new Error(`starting a rollout answered ${started.status}: ${started.body}`);
      for (;;) {
        const read = await request(agent, target.url, token, 'GET', `/beta/teamwork/softwareRollouts/${id}`, '');
        if ((JSON.parse(read.body) as { counts: { total: number } }).counts.total >= devices) break;
        if (performance.now() - startedAt > runTimeoutMs) throw new Error('rollout bench: targets were not read in time');
        await sleep(100);
      }
      const expandSeconds = (performance.now() - startedAt) / 1000;
      times.sort((a, b) => a - b);
      progress(`rollout (${storeLabel[store]}): created over ${fmt.int(devices)} devices in ${times[Math.floor(times.length / 2)].toFixed(1)} ms; targets read in ${fmt.seconds(expandSeconds)} s`);
      return { devices, createMs: times[Math.floor(times.length / 2)], startMs, expandSeconds };
    } finally {
      agent.destroy();
      await target.stop();
    }
  };
  return { small: await one('rollout-create-small', 1000), large: await one('rollout-create-large', 100_000) };
}

async function measure(store: StoreName, devices: number, workspace: BenchWorkspace): Promise<{ direct: UpdateRun; rollout: UpdateRun; devices: number }> {
  const name = 'rollout';
  const { db } = await workspace.database(name, store);
  const enrollmentToken = await workspace.fleetEnrollment(db);
  const token = await workspace.token(name, store);
  const target = await startTarget('real', db, 120_000);
  const fleet = await startFleet(target.url, enrollmentToken, devices, {
    onProgress: (enrolled) => {
      if (enrolled % 2500 === 0) progress(`rollout (${storeLabel[store]}): ${fmt.int(enrolled)} enrolled`);
    },
  });
  try {
    const databaseLoad = () => (store === 'postgres' ? readDatabaseLoad(workspace, name) : Promise.resolve(null));
    const run = async (label: string, work: () => Promise<void>, resultsBefore: number): Promise<UpdateRun> => {
      const loadBefore = await databaseLoad();
      const cpuBefore = target.cpuSeconds() ?? 0;
      const started = performance.now();
      await work();
      const deadline = started + runTimeoutMs;
      for (;;) {
        const stats = await fleet.stats();
        if (stats.results - resultsBefore >= devices) break;
        if (performance.now() > deadline) throw new Error(`rollout bench: ${label} did not finish within ${runTimeoutMs / 1000} s (${stats.results - resultsBefore} of ${devices})`);
        await sleep(100);
      }
      const seconds = (performance.now() - started) / 1000;
      const cpuSeconds = (target.cpuSeconds() ?? 0) - cpuBefore;
      await sleep(1500);
      const loadAfter = await databaseLoad();
      const results = (await fleet.stats()).results - resultsBefore;
      progress(`rollout (${storeLabel[store]}): ${label}: ${fmt.int(devices)} devices in ${fmt.seconds(seconds)} s`);
      return {
        seconds,
        cpuSeconds,
        results,
        database: loadBefore && loadAfter ? {
          commits: loadAfter.commits - loadBefore.commits,
          rowsRead: loadAfter.rowsRead - loadBefore.rowsRead,
          rowsWritten: loadAfter.rowsWritten - loadBefore.rowsWritten,
        } : null,
      };
    };
    const direct = await run('direct requests', () => directUpdates(target, token, fleet.devices), (await fleet.stats()).results);
    const rollout = await run('rollout', () => startRollout(target, token), (await fleet.stats()).results);
    return { direct, rollout, devices };
  } finally {
    await fleet.stop();
    await target.stop();
  }
}

/** One updateSoftware per device, the second-newest teamsClient of its family, `directConcurrency` at a time. */
async function directUpdates(target: TargetProcess, token: string, devices: FleetDevice[]): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: directConcurrency });
  let next = 0;
  const worker = async () => {
    while (next < devices.length) {
      const device = devices[next++];
      const versions = demoSoftwareVersions.teamsClient[deviceFamily(device.deviceType)];
      const status = await post(agent, target.url, token, `/beta/teamwork/devices/${device.deviceId}/updateSoftware`,
        JSON.stringify({ softwareType: 'teamsClient', softwareVersion: versions[versions.length - 2] }));
      if (status !== 202) throw new Error(`updateSoftware answered ${status}`);
    }
  };
  await Promise.all(Array.from({ length: directConcurrency }, worker));
  agent.destroy();
}

async function startRollout(target: TargetProcess, token: string): Promise<void> {
  const agent = new http.Agent({ keepAlive: false });
  const created = await request(agent, target.url, token, 'POST', '/beta/teamwork/softwareRollouts', JSON.stringify({
    displayName: 'bench', softwareType: 'teamsClient',
    target: { filter: "deviceType in ('teamsRoom', 'collaborationBar')" },
    stages: [{ percent: 10 }, { percent: 50 }, { percent: 100 }],
  }));
  if (created.status !== 201) throw new Error(`creating the rollout answered ${created.status}: ${created.body}`);
  const id = (JSON.parse(created.body) as { id: string }).id;
  const started = await request(agent, target.url, token, 'POST', `/beta/teamwork/softwareRollouts/${id}/start`, '');
  if (started.status !== 200) throw new Error(`starting the rollout answered ${started.status}: ${started.body}`);
}

function post(agent: http.Agent, url: string, token: string, path: string, body: string): Promise<number> {
  return request(agent, url, token, 'POST', path, body).then((r) => r.status);
}

function request(agent: http.Agent, url: string, token: string, method: string, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url + path, {
      method, agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function readDatabaseLoad(workspace: BenchWorkspace, name: string): Promise<DatabaseLoad> {
  const [row] = await workspace.rows<Record<string, string>>(name, 'postgres',
    'SELECT xact_commit, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = current_database()', []);
  return {
    commits: Number(row.xact_commit),
    rowsRead: Number(row.tup_returned) + Number(row.tup_fetched),
    rowsWritten: Number(row.tup_inserted) + Number(row.tup_updated) + Number(row.tup_deleted),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
