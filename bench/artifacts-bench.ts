import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentConfig } from '../src/device/agent-config.js';
import { AgentStateDir } from '../src/device/agent-state.js';
import { CommandHost } from '../src/device/command-host.js';
import { DeviceAgent } from '../src/device/device-agent.js';
import { unseededRandom } from '../src/seed/seeded-random.js';
import type { BenchConfig, StoreName } from './bench-config.js';
import { fmt, progress, type BenchOutcome, type ReportRow, type ReportTable } from './bench-report.js';
import { benchTenant, storeLabel, type BenchWorkspace } from './bench-workspace.js';
import { processCpuSeconds } from './target-process.js';

const binPath = fileURLToPath(new URL('../../bin/teamwork-devices.js', import.meta.url));
const mib = 1024 * 1024;

/**
 * Artifacts (issue 13): N real agents (DeviceAgent with the real CommandHost, so the real
 * download, resume and SHA-256 check, all in this process) update from one artifact served by
 * `teamwork-devices serve` in a child process; the server's log line per download says what
 * was served to whom. Then one artifact larger than 1 GiB (a sparse file) is uploaded by the
 * `catalog add` process and downloaded once, while both processes' resident memory is sampled.
 * Both on every store of BENCH_STORES: SQLite keeps artifacts as files, PostgreSQL as chunks.
 */
export async function artifactsBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  const tables: ReportTable[] = [];
  const data: Record<string, unknown> = {};
  for (const store of config.stores) {
    const fleet = await fleetUpdate(store, config, workspace);
    const large = await largeArtifact(store, config, workspace);
    data[store] = { fleet, large };
    tables.push(fleetTable(store, fleet, config), largeTable(store, large));
  }
  return { name: 'artifacts', tables, data };
}

interface FleetFigures {
  agents: number;
  artifactBytes: number;
  uploadSeconds: number;
  successful: number;
  failed: string[];
  updateSeconds: number;
  /** downloads the server logged: requests, those complete, bytes, most requests by one device */
  requests: number;
  complete: number;
  bytesServed: number;
  maxRequestsPerDevice: number;
  devicesServed: number;
  rss: RssFigures;
  serverCpuSeconds: number | null;
  loadBefore: number[];
  loadAfter: number[];
}

interface RssFigures {
  beforeMiB: number;
  peakMiB: number;
  afterMiB: number;
}

async function fleetUpdate(store: StoreName, config: BenchConfig, workspace: BenchWorkspace): Promise<FleetFigures> {
  const { db } = await workspace.database('artifacts', store);
  const dir = join(workspace.dir, `artifacts-${store}`);
  mkdirSync(dir, { recursive: true });
  const artifactBytes = config.artifactMiB * mib;
  const file = join(dir, 'teams-2.0.0.bin');
  writeFileSync(file, randomBytes(artifactBytes));
  progress(`artifacts (${storeLabel[store]}): catalog add --artifact of ${config.artifactMiB} MiB`);
  const uploadStarted = performance.now();
  await runBin(['catalog', 'add', '--db', db, '--tenant', benchTenant, '--software-type', 'teamsClient', '--version', '2.0.0', '--artifact', file]);
  const uploadSeconds = (performance.now() - uploadStarted) / 1000;
  rmSync(file);

  const server = await ServeChild.start(db);
  const agents: DeviceAgent[] = [];
  try {
    const token = /twd-enroll\.\S+/.exec(await runBin(['enrollment-token', 'create', '--db', db, '--tenant', benchTenant]))![0];
    const install = join(dir, 'install.sh');
    // The artifact is checked by the agent before this runs; installing it here is recording its version.
    writeFileSync(install, 'set -e\ntest -s "$TWD_ARTIFACT"\nmkdir -p "$1"\nprintf \'%s\\n\' "$TWD_VERSION" > "$1/VERSION.new"\nmv "$1/VERSION.new" "$1/VERSION"\n');
    for (let i = 0; i < config.artifactAgents; i++) {
      const root = join(dir, `agent-${i}`);
      const agentConfig: AgentConfig = {
        device: { deviceType: 'teamsRoom', displayName: `bench ${i}`, hardwareDetail: { uniqueId: `bench-artifacts-${store}-${i}`, serialNumber: `SN-${i}`, manufacturer: 'bench', model: 'rig', macAddresses: [] } },
        software: { teamsClient: { install: `sh ${install} ${join(root, 'software')}`, version: `cat ${join(root, 'software', 'VERSION')}` } },
        restart: null,
        diagnostics: null,
        inventoryIntervalSeconds: 3600,
        commandTimeoutSeconds: 600,
      };
      const host = new CommandHost(agentConfig, new AgentStateDir(join(root, 'state')), { uniqueId: null, serialNumber: null, manufacturer: null, model: null, macAddresses: [] }, server.url);
      agents.push(new DeviceAgent({
        url: server.url, enrollmentToken: token, whenRefused: 'stop', longPollSeconds: 30, heartbeatMs: 3600_000,
        random: unseededRandom, name: 'bench', label: String(i), log: () => {},
      }, host));
    }
    progress(`artifacts (${storeLabel[store]}): enrolling ${agents.length} agents`);
    await Promise.all(agents.map((agent) => agent.start()));
    await sleep(2000);

    const loadBefore = loadavg();
    const beforeMiB = server.rssMiB();
    server.watchPeak();
    const cpuBefore = processCpuSeconds(server.pid);
    progress(`artifacts (${storeLabel[store]}): updateSoftware to ${agents.length} devices`);
    const started = performance.now();
    const operations = await Promise.all(agents.map((agent) => server.graph<{ location: string }>('POST', `/beta/teamwork/devices/${agent.deviceId}/updateSoftware`, { softwareType: 'teamsClient', softwareVersion: '2.0.0' })));
    const statuses = await waitForOperations(server, operations.map((o) => o.location), 600_000);
    const updateSeconds = (performance.now() - started) / 1000;
    const serverCpuSeconds = cpuBefore === null ? null : (processCpuSeconds(server.pid) ?? cpuBefore) - cpuBefore;
    await sleep(2000);
    const rss = { beforeMiB, peakMiB: server.stopWatching(), afterMiB: server.rssMiB() };
    const downloads = server.downloads();
    const perDevice = new Map<string, number>();
    for (const d of downloads) perDevice.set(d.deviceId, (perDevice.get(d.deviceId) ?? 0) + 1);
    return {
      agents: agents.length,
      artifactBytes,
      uploadSeconds,
      successful: statuses.filter((s) => s.status === 'successful').length,
      failed: statuses.filter((s) => s.status !== 'successful').map((s) => `${s.status} ${s.error?.code ?? ''}`),
      updateSeconds,
      requests: downloads.length,
      complete: downloads.filter((d) => d.complete).length,
      bytesServed: downloads.reduce((sum, d) => sum + d.bytes, 0),
      maxRequestsPerDevice: Math.max(0, ...perDevice.values()),
      devicesServed: perDevice.size,
      rss,
      serverCpuSeconds,
      loadBefore,
      loadAfter: loadavg(),
    };
  } finally {
    await Promise.all(agents.map((agent) => agent.stop()));
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface LargeFigures {
  bytes: number;
  uploadSeconds: number;
  uploadPeakMiB: number;
  downloadSeconds: number;
  downloadOk: boolean;
  server: RssFigures;
}

async function largeArtifact(store: StoreName, config: BenchConfig, workspace: BenchWorkspace): Promise<LargeFigures> {
  const { db } = await workspace.database('artifacts', store);
  const bytes = config.artifactLargeMiB * mib;
  const file = join(workspace.dir, `large-${store}.bin`);
  writeFileSync(file, '');
  truncateSync(file, bytes);
  try {
    progress(`artifacts (${storeLabel[store]}): catalog add --artifact of a ${config.artifactLargeMiB} MiB sparse file`);
    const uploadStarted = performance.now();
    const upload = spawn(process.execPath, [binPath, 'catalog', 'add', '--db', db, '--tenant', benchTenant, '--software-type', 'teamsClient', '--version', '3.0.0', '--artifact', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    upload.stdout.on('data', (chunk) => (output += chunk));
    let uploadPeakMiB = 0;
    const sampler = setInterval(() => {
      const rss = rssMiBOf(upload.pid!);
      if (rss !== null) uploadPeakMiB = Math.max(uploadPeakMiB, rss);
    }, 20);
    const code = await new Promise<number | null>((resolve) => upload.on('exit', resolve));
    clearInterval(sampler);
    if (code !== 0) throw new Error(`catalog add of the large artifact failed (${code}): ${output}`);
    const uploadSeconds = (performance.now() - uploadStarted) / 1000;
    const sha256 = /artifact ([0-9a-f]{64})/.exec(output)![1];

    const server = await ServeChild.start(db);
    try {
      const token = /twd-enroll\.\S+/.exec(await runBin(['enrollment-token', 'create', '--db', db, '--tenant', benchTenant]))![0];
      const enrolled = await fetch(`${server.url}/agent/v1/enroll`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ enrollmentToken: token, deviceType: 'teamsRoom', hardwareDetail: { uniqueId: `bench-large-${store}`, serialNumber: null, manufacturer: 'bench', model: 'rig', macAddresses: [] }, installed: {}, displayName: null }),
      });
      const { credential } = await enrolled.json() as { credential: string };
      await sleep(1000);
      const beforeMiB = server.rssMiB();
      server.watchPeak();
      progress(`artifacts (${storeLabel[store]}): downloading it`);
      const started = performance.now();
      const response = await fetch(`${server.url}/agent/v1/artifacts/${sha256}`, { headers: { authorization: `Bearer ${credential}` } });
      const hash = createHash('sha256');
      let received = 0;
      for await (const chunk of response.body!) {
        hash.update(chunk);
        received += chunk.length;
      }
      const downloadSeconds = (performance.now() - started) / 1000;
      await sleep(1000);
      return {
        bytes,
        uploadSeconds,
        uploadPeakMiB,
        downloadSeconds,
        downloadOk: response.status === 200 && received === bytes && hash.digest('hex') === sha256,
        server: { beforeMiB, peakMiB: server.stopWatching(), afterMiB: server.rssMiB() },
      };
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(file, { force: true });
  }
}

function fleetTable(store: StoreName, f: FleetFigures, config: BenchConfig): ReportTable {
  const mb = (v: number) => v.toFixed(0);
  const rows: ReportRow[] = [
    { figure: 'operations successful', measured: `${f.successful} / ${f.agents}`, baseline: '', ratio: '' },
    { figure: 'downloads served (requests)', measured: fmt.int(f.requests), baseline: fmt.int(f.agents), ratio: fmt.ratio(f.requests / f.agents) },
    { figure: '  complete', measured: fmt.int(f.complete), baseline: fmt.int(f.agents), ratio: '' },
    { figure: '  devices served / most requests by one device', measured: `${f.devicesServed} / ${f.maxRequestsPerDevice}`, baseline: `${f.agents} / 1`, ratio: '' },
    { figure: 'bytes served (MiB)', measured: fmt.int(f.bytesServed / mib), baseline: fmt.int((f.agents * f.artifactBytes) / mib), ratio: fmt.ratio(f.bytesServed / (f.agents * f.artifactBytes)) },
    { figure: 'server RSS during the update, peak (MiB)', measured: mb(f.rss.peakMiB), baseline: mb(f.rss.beforeMiB), ratio: fmt.ratio(f.rss.peakMiB / f.rss.beforeMiB) },
    { figure: 'server RSS 2 s after the last result (MiB)', measured: mb(f.rss.afterMiB), baseline: mb(f.rss.beforeMiB), ratio: fmt.ratio(f.rss.afterMiB / f.rss.beforeMiB) },
    { figure: 'first updateSoftware → all operations ended (s)', measured: fmt.seconds(f.updateSeconds), baseline: '', ratio: '' },
    { figure: 'artifact bytes served per second (MiB/s)', measured: fmt.int(f.bytesServed / mib / f.updateSeconds), baseline: '', ratio: '' },
  ];
  return {
    title: `artifacts (${storeLabel[store]}): ${f.agents} agents update from one ${config.artifactMiB} MiB artifact`,
    columns: { measured: 'measured', baseline: 'expected / before', ratio: 'ratio' },
    rows,
    notes: [
      `agents: ${f.agents} DeviceAgent + CommandHost in the bench process (the real download: credential, Range resume, size and SHA-256 check, into each agent's state dir), long-polling serve (child process, --log-level info) over 127.0.0.1`,
      `served = the server's 'artifact download' log lines (one per request, when it ends); RSS = VmRSS of the serve process, sampled every 100 ms; before = ${f.agents} agents enrolled and polling`,
      `catalog add --artifact of the ${config.artifactMiB} MiB file: ${fmt.seconds(f.uploadSeconds)} s; server CPU during the update: ${f.serverCpuSeconds === null ? 'n/a' : `${f.serverCpuSeconds.toFixed(1)} s`}`,
      ...(f.failed.length ? [`NOT successful: ${f.failed.join(', ')}`] : []),
      `load average at the start: ${f.loadBefore.map((v) => v.toFixed(2)).join(', ')}; at the end: ${f.loadAfter.map((v) => v.toFixed(2)).join(', ')} (${cpus().length} cores)`,
    ],
  };
}

function largeTable(store: StoreName, l: LargeFigures): ReportTable {
  const mb = (v: number) => v.toFixed(0);
  const size = fmt.int(l.bytes / mib);
  return {
    title: `artifacts (${storeLabel[store]}): one ${size} MiB artifact in and out`,
    columns: { measured: 'measured', baseline: 'before', ratio: 'ratio' },
    rows: [
      { figure: 'catalog add: peak RSS (MiB)', measured: mb(l.uploadPeakMiB), baseline: '', ratio: '' },
      { figure: 'catalog add: seconds', measured: fmt.seconds(l.uploadSeconds), baseline: '', ratio: '' },
      { figure: 'serve while sending it: peak RSS (MiB)', measured: mb(l.server.peakMiB), baseline: mb(l.server.beforeMiB), ratio: fmt.ratio(l.server.peakMiB / l.server.beforeMiB) },
      { figure: 'serve 1 s after: RSS (MiB)', measured: mb(l.server.afterMiB), baseline: mb(l.server.beforeMiB), ratio: fmt.ratio(l.server.afterMiB / l.server.beforeMiB) },
      { figure: 'download: seconds', measured: fmt.seconds(l.downloadSeconds), baseline: '', ratio: '' },
      { figure: 'download: MiB/s', measured: fmt.int(l.bytes / mib / l.downloadSeconds), baseline: '', ratio: '' },
      { figure: 'downloaded bytes and SHA-256 match', measured: l.downloadOk ? 'yes' : 'NO', baseline: '', ratio: '' },
    ],
    notes: [
      `a sparse file of ${size} MiB of zeros (no disk space of its own) uploaded by the catalog add process, then downloaded whole by one client that hashes as it reads; RSS = VmRSS, sampled every 20 ms (catalog add) and 100 ms (serve)`,
    ],
  };
}

/** The real `serve` in a child process on a free port, with its log lines kept. */
class ServeChild {
  private lines: string[] = [];
  private peak = 0;
  private sampler: NodeJS.Timeout | null = null;
  private token = '';

  private constructor(private readonly child: ChildProcess, readonly url: string) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(db: string): Promise<ServeChild> {
    const port = await freePort();
    // Artifact downloads log at info (the agent protocol's request lines are at debug). No enrollment limit: the fleet enrolls from one address.
    const child = spawn(process.execPath, [binPath, 'serve', '--db', db, '--port', String(port), '--log-level', 'info', '--enroll-rate-limit', 'off', '--tenant', benchTenant], { stdio: ['ignore', 'pipe', 'inherit'] });
    const server = new ServeChild(child, `http://127.0.0.1:${port}`);
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('serve did not start within 60 s')), 60_000);
      child.once('exit', (code) => reject(new Error(`serve exited (${code}) before it listened`)));
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        buffered += chunk;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          server.lines.push(line);
          const token = /^export TOKEN=(\S+)/.exec(line);
          if (token) {
            server.token = token[1];
            clearTimeout(timer);
            resolve();
          }
        }
      });
    });
    return server;
  }

  async graph<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(this.url + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (response.status === 202 ? { location: response.headers.get('location') } : JSON.parse(text)) as T;
  }

  rssMiB(): number {
    return rssMiBOf(this.pid) ?? 0;
  }

  watchPeak(): void {
    this.peak = this.rssMiB();
    this.sampler = setInterval(() => (this.peak = Math.max(this.peak, this.rssMiB())), 100);
  }

  stopWatching(): number {
    if (this.sampler) clearInterval(this.sampler);
    return Math.max(this.peak, this.rssMiB());
  }

  /** The 'artifact download' log lines so far. */
  downloads(): { deviceId: string; bytes: number; complete: boolean }[] {
    return this.lines
      .filter((line) => line.startsWith('{') && line.includes('"artifact download"'))
      .map((line) => JSON.parse(line) as { deviceId: string; bytes: number; complete: boolean });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const force = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(force);
  }
}

/** Polls the operations (Location paths) until each has ended; their final states. */
async function waitForOperations(server: ServeChild, locations: string[], timeoutMs: number): Promise<{ status: string; error: { code: string } | null }[]> {
  const deadline = Date.now() + timeoutMs;
  const ended = new Map<string, { status: string; error: { code: string } | null }>();
  while (ended.size < locations.length) {
    if (Date.now() > deadline) throw new Error(`${locations.length - ended.size} operations still running after ${timeoutMs / 1000} s`);
    await sleep(500);
    for (const location of locations) {
      if (ended.has(location)) continue;
      const operation = await server.graph<{ status: string; error: { code: string } | null }>('GET', location);
      if (['successful', 'failed', 'cancelled'].includes(operation.status)) ended.set(location, operation);
    }
  }
  return locations.map((location) => ended.get(location)!);
}

function rssMiBOf(pid: number): number | null {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  } catch {
    return null;
  }
}

async function runBin(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [binPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`teamwork-devices ${args[0]} ${args[1] ?? ''} failed (${code}): ${output}`);
  return output;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
