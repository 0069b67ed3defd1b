/**
 * A fleet of lightweight device agents in a process of its own, for the dispatch
 * benchmark (bench/dispatch-bench.ts):
 *
 *   node dist/bench/long-poll-fleet.js <url> <enrollment token> <N> [enroll concurrency] [hardware prefix]
 *
 * `<url>` may be a comma-separated list of servers (replicas on one database): device i then
 * talks to server i mod n for everything (enrolment, polls, results), as behind a load
 * balancer without sticky sessions that spreads connections evenly (bench/replicas-bench.ts).
 *
 * Each agent is the one agent client (src/device/agent-client.ts) over the keep-alive
 * node:http transport. It enrolls (POST /agent/v1/enroll, unique hardware), then loops
 * GET /agent/v1/work?waitSeconds=30. When an operation arrives it records the time with the
 * operation id (monotonicMs: the machine's monotonic clock, which every process on the machine
 * shares, to the microsecond, unlike Date.now()'s whole milliseconds), acknowledges it and
 * reports it `successful` with the requested version installed, then polls again. Nothing
 * else (no progress): the point is to hold N long-polls on the server as cheaply as possible
 * on this side, unless the parent sends `startInventory`: from then on every device also
 * reports its inventory once per interval (fleet-inventory.ts).
 *
 * Started with an IPC channel (child_process.fork), it reports to the parent with
 * process.send: `progress` while enrolling, `ready` once all N are enrolled and have sent
 * their first poll, `received` for every operation, `stats` when asked. Without IPC it prints
 * the same messages as JSON lines on stdout. It exits when told to stop or when the parent goes away.
 */
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { AgentClient, describeError } from '../src/device/agent-client.js';
import type { AgentTransport } from '../src/device/agent-transport.js';
import { nodeHttpTransport } from '../src/device/node-http-transport.js';
import type { EnrollRequest, WorkItem } from '../src/domain/agent-protocol.js';
import { demoSoftwareVersions } from '../src/seed/demo-tables.js';
import { FleetInventory } from './fleet-inventory.js';
import { monotonicMs, type FleetCommand, type FleetDevice, type FleetDeviceType, type FleetInventoryOptions, type FleetMessage, type FleetStats } from './fleet-messages.js';

const pollSeconds = 30;
const loopResolutionMs = 10;
const oldestTeamsClient = { teamsRoom: demoSoftwareVersions.teamsClient.windows[0], collaborationBar: demoSoftwareVersions.teamsClient.android[0] };
/** enrolment gives up after this many attempts; polls and results retry until the fleet stops */
const enrollAttempts = 20;
const enrollTimeoutMs = 180_000;

class Fleet {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1_000_000, scheduling: 'lifo' });
  /** one per server of the URL list; device i uses transports[i mod n] */
  private readonly transports: AgentTransport[];
  private stopping = false;
  /** each device's client, by enrolment index (for its inventory reports) */
  private readonly clients: AgentClient[] = [];
  private readonly deviceIndex = new Map<string, number>();
  private inventory: FleetInventory | null = null;
  /** all devices, once enrolled */
  devices: FleetDevice[] = [];
  private readonly loopDelay = monitorEventLoopDelay({ resolution: loopResolutionMs });
  readonly stats: FleetStats = {
    polls200: 0, polls204: 0, acks: 0, results: 0, resultFailures: 0, httpErrors: {}, networkErrors: {}, pollsInFlight: 0, rssBytes: 0,
    loopDelay: { p50: 0, p99: 0, max: 0 },
  };

  constructor(
    private readonly urls: string[],
    private readonly enrollmentToken: string,
    private readonly send: (message: FleetMessage) => void,
  ) {
    this.transports = urls.map((url) => this.counting(nodeHttpTransport(url, this.agent)));
    this.loopDelay.enable();
  }

  /** Enrolls `count` devices, `concurrency` at a time; each starts polling as soon as it is enrolled. */
  async enrollAll(count: number, concurrency: number, prefix: string): Promise<FleetDevice[]> {
    const devices: FleetDevice[] = new Array(count);
    let next = 0;
    let enrolled = 0;
    let firstPolls = 0;
    let allPolling!: () => void;
    const polling = new Promise<void>((resolve) => (allPolling = resolve));
    const worker = async () => {
      while (next < count && !this.stopping) {
        const index = next++;
        const { device, client } = await this.enroll(index, prefix);
        devices[index] = device;
        this.clients[index] = client;
        this.deviceIndex.set(device.deviceId, index);
        enrolled++;
        if (enrolled % 1000 === 0) this.send({ type: 'progress', enrolled });
        void this.run(client, device, () => {
          if (++firstPolls === count) allPolling();
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    await polling;
    return devices;
  }

  private async enroll(index: number, prefix: string, lostAnswers = 0): Promise<{ device: FleetDevice; client: AgentClient }> {
    const deviceType: FleetDeviceType = index % 2 === 0 ? 'teamsRoom' : 'collaborationBar';
    const hex = index.toString(16).padStart(8, '0');
    // A retried enrolment whose first attempt committed but whose answer was lost (a timeout
    // under load) finds its hardware enrolled (409) and its credential gone: such a device
    // enrolls again as new hardware, and the lost one stays silent.
    const hardware = lostAnswers ? `${prefix}-${index}-again-${lostAnswers}` : `${prefix}-${index}`;
    const request: EnrollRequest = {
      enrollmentToken: this.enrollmentToken,
      deviceType,
      hardwareDetail: {
        uniqueId: hardware,
        serialNumber: lostAnswers ? `${hardware}-SN` : `${prefix}-SN-${index}`,
        manufacturer: deviceType === 'teamsRoom' ? 'lenovo' : 'yealink',
        model: deviceType === 'teamsRoom' ? 'thinksmart-core' : 'a30',
        macAddresses: [`02:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}`],
      },
      installed: { teamsClient: oldestTeamsClient[deviceType] },
      displayName: `Bench room ${index}`,
    };
    const server = index % this.urls.length;
    const client = new AgentClient({ url: this.urls[server], transport: this.transports[server], retry: { baseMs: 250, capMs: 1000 } });
    // A retry after a timed-out enrolment that the server did commit is a 409 (already enrolled):
    // on a loaded machine the answer may take well over the client's usual 30 s.
    const reply = await client.enroll(request, { retry: { attempts: enrollAttempts, baseMs: 500, capMs: 500 }, timeoutMs: enrollTimeoutMs });
    if (reply.status === 409 && lostAnswers < 3) {
      this.stats.lostEnrolments = (this.stats.lostEnrolments ?? 0) + 1;
      return this.enroll(index, prefix, lostAnswers + 1);
    }
    if (!reply.body || (reply.status !== 201 && reply.status !== 200)) throw new Error(`enroll ${index}: HTTP ${reply.status} ${reply.text.slice(0, 300)}`);
    return { device: { deviceId: reply.body.deviceId, deviceType, server }, client };
  }

  /** One agent: poll, run what arrives, poll again, until stopped. The client retries failed polls. */
  private async run(client: AgentClient, device: FleetDevice, firstPollSent: () => void): Promise<void> {
    let first = true;
    while (!this.stopping) {
      this.stats.pollsInFlight++;
      const poll = client.poll(pollSeconds);
      if (first) {
        first = false;
        firstPollSent();
      }
      const reply = await poll.catch(() => null);
      this.stats.pollsInFlight--;
      if (this.stopping) return;
      if (!reply) continue;
      if (reply.status === 204) {
        this.stats.polls204++;
        continue;
      }
      if (reply.status !== 200 || !reply.body) {
        await sleep(reply.retryAfterMs ?? 1000);
        continue;
      }
      const receivedAt = monotonicMs();
      this.stats.polls200++;
      const { operation } = reply.body;
      this.send({ type: 'received', operationId: operation.id, deviceId: device.deviceId, receivedAt });
      await this.finish(client, operation, device.deviceId).catch(() => null);
    }
  }

  /** Starts every device's inventory reports, once all are enrolled and polling (a second call changes nothing). */
  startInventory(options: FleetInventoryOptions): void {
    if (this.inventory || this.devices.length === 0) return;
    this.inventory = new FleetInventory(options);
    this.inventory.start(this.devices, (index, body) => this.clients[index].inventory(body));
  }

  inventoryChanges(since: number) {
    return this.inventory?.changesSince(since) ?? [];
  }

  /** Acknowledges (unless resumed) and reports the requested version installed. */
  private async finish(client: AgentClient, operation: WorkItem, deviceId: string): Promise<void> {
    if (operation.status === 'queued') {
      const ack = await client.ack(operation.id);
      if (ack.status !== 200) return;
      this.stats.acks++;
    }
    const installed = operation.softwareType && operation.softwareVersion ? { [operation.softwareType]: operation.softwareVersion } : {};
    const result = await client.result(operation.id, { status: 'successful', installed });
    const index = this.deviceIndex.get(deviceId);
    if (result.status === 200 && index !== undefined) this.inventory?.installedOn(index, installed);
    if (result.status === 200) this.stats.results++;
    else this.stats.resultFailures++;
  }

  /** The transport, counting non-2xx answers by "METHOD route status" and socket failures by reason. */
  private counting(transport: AgentTransport): AgentTransport {
    return async (request) => {
      try {
        const response = await transport(request);
        if (response.status >= 300) {
          const key = `${request.method} ${routeOf(request.path)} ${response.status}`;
          this.stats.httpErrors[key] = (this.stats.httpErrors[key] ?? 0) + 1;
        }
        return response;
      } catch (error) {
        if (!this.stopping) {
          const reason = describeError(error);
          this.stats.networkErrors[reason] = (this.stats.networkErrors[reason] ?? 0) + 1;
        }
        throw error;
      }
    };
  }

  snapshot(resetLoopDelay = false): FleetStats {
    this.stats.rssBytes = process.memoryUsage.rss();
    const delay = this.loopDelay;
    // the histogram holds whole intervals: the sampling resolution is no delay
    const ms = (ns: number) => Math.max(0, ns / 1e6 - loopResolutionMs);
    this.stats.loopDelay = { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) };
    if (resetLoopDelay) delay.reset();
    if (this.inventory) this.stats.inventory = this.inventory.snapshot(resetLoopDelay);
    return { ...this.stats, httpErrors: { ...this.stats.httpErrors }, networkErrors: { ...this.stats.networkErrors } };
  }

  stop(): void {
    this.stopping = true;
    this.inventory?.stop();
    this.agent.destroy();
  }
}

/** The last segment of an agent path: enroll, work, ack, result. */
function routeOf(path: string): string {
  const query = path.indexOf('?');
  const end = query < 0 ? path.length : query;
  return path.slice(path.lastIndexOf('/', end) + 1, end);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(): Promise<void> {
  const [urlList, token, countText, concurrencyText = '100', prefix = `bench-${process.pid}`] = process.argv.slice(2);
  const count = Number(countText);
  const urls = (urlList ?? '').split(',').filter(Boolean);
  if (urls.length === 0 || !token || !(count > 0)) throw new Error('usage: long-poll-fleet.js <url>[,<url>…] <enrollment token> <N> [enroll concurrency] [hardware prefix]');
  const send = process.send
    ? (message: FleetMessage) => void process.send!(message)
    : (message: FleetMessage) => void process.stdout.write(`${JSON.stringify(message)}\n`);
  const fleet = new Fleet(urls, token, send);
  const stop = () => {
    fleet.stop();
    process.exit(0);
  };
  if (process.send) {
    process.on('message', (command: FleetCommand) => {
      if (command.type === 'stats') send({ type: 'stats', stats: fleet.snapshot(command.resetLoopDelay) });
      if (command.type === 'stop') stop();
      if (command.type === 'startInventory') fleet.startInventory(command.options);
      if (command.type === 'inventoryChanges') send({ type: 'inventoryChanges', changes: fleet.inventoryChanges(command.since) });
    });
    // the parent going away (even by SIGKILL) closes the channel: never outlive it
    process.on('disconnect', stop);
  }
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const started = performance.now();
  const devices = await fleet.enrollAll(count, Math.max(1, Number(concurrencyText) || 100), prefix);
  fleet.devices = devices;
  send({ type: 'ready', devices, enrollSeconds: (performance.now() - started) / 1000, stats: fleet.snapshot() });
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  if (process.send) process.send({ type: 'fatal', message } satisfies FleetMessage, () => process.exit(1));
  else {
    console.error(message);
    process.exit(1);
  }
});
