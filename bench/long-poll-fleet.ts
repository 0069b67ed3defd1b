/**
 * A fleet of lightweight device agents in a process of its own, for the dispatch
 * benchmark (bench/dispatch-bench.ts):
 *
 *   node dist/bench/long-poll-fleet.js <url> <enrollment token> <N> [enroll concurrency] [hardware prefix]
 *
 * Each agent is the one agent client (src/device/agent-client.ts) over the keep-alive
 * node:http transport. It enrolls (POST /agent/v1/enroll, unique hardware), then loops
 * GET /agent/v1/work?waitSeconds=30. When an operation arrives it records the time with the
 * operation id (monotonicMs: the machine's monotonic clock, which every process on the machine
 * shares, to the microsecond, unlike Date.now()'s whole milliseconds), acknowledges it and
 * reports it `successful` with the requested version installed, then polls again. Nothing
 * else (no inventory, no progress): the point is to hold N long-polls on the server as
 * cheaply as possible on this side.
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
import { monotonicMs, type FleetCommand, type FleetDevice, type FleetDeviceType, type FleetMessage, type FleetStats } from './fleet-messages.js';

const pollSeconds = 30;
const loopResolutionMs = 10;
const oldestTeamsClient = { teamsRoom: demoSoftwareVersions.teamsClient.windows[0], collaborationBar: demoSoftwareVersions.teamsClient.android[0] };
/** enrolment gives up after this many attempts; polls and results retry until the fleet stops */
const enrollAttempts = 20;

class Fleet {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1_000_000, scheduling: 'lifo' });
  private readonly transport: AgentTransport;
  private stopping = false;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: loopResolutionMs });
  readonly stats: FleetStats = {
    polls200: 0, polls204: 0, acks: 0, results: 0, resultFailures: 0, httpErrors: {}, networkErrors: {}, pollsInFlight: 0, rssBytes: 0,
    loopDelay: { p50: 0, p99: 0, max: 0 },
  };

  constructor(
    private readonly url: string,
    private readonly enrollmentToken: string,
    private readonly send: (message: FleetMessage) => void,
  ) {
    this.transport = this.counting(nodeHttpTransport(url, this.agent));
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

  private async enroll(index: number, prefix: string): Promise<{ device: FleetDevice; client: AgentClient }> {
    const deviceType: FleetDeviceType = index % 2 === 0 ? 'teamsRoom' : 'collaborationBar';
    const client = new AgentClient({ url: this.url, transport: this.transport, retry: { baseMs: 250, capMs: 1000 } });
    // A retry after an attempt the server committed but the client gave up on (a timeout on a
    // loaded machine) meets its own hardware: 409. That device has no agent here; this one
    // enrolls as new hardware (the 409 is counted in httpErrors, so the report says so).
    for (let again = 0; ; again++) {
      const reply = await client.enroll(this.enrollRequest(index, prefix, deviceType, again), { retry: { attempts: enrollAttempts, baseMs: 500, capMs: 500 } });
      if (reply.status === 409 && again < enrollAttempts) continue;
      if (!reply.body || (reply.status !== 201 && reply.status !== 200)) throw new Error(`enroll ${index}: HTTP ${reply.status} ${reply.text.slice(0, 300)}`);
      return { device: { deviceId: reply.body.deviceId, deviceType }, client };
    }
  }

  /** Unique hardware for device `index` (and for its `again`-th enrolment after a 409). */
  private enrollRequest(index: number, prefix: string, deviceType: FleetDeviceType, again: number): EnrollRequest {
    const id = again === 0 ? `${index}` : `${index}-again-${again}`;
    const hex = (index + again * 0x1000000).toString(16).padStart(8, '0');
    return {
      enrollmentToken: this.enrollmentToken,
      deviceType,
      hardwareDetail: {
        uniqueId: `${prefix}-${id}`,
        serialNumber: `${prefix}-SN-${id}`,
        manufacturer: deviceType === 'teamsRoom' ? 'lenovo' : 'yealink',
        model: deviceType === 'teamsRoom' ? 'thinksmart-core' : 'a30',
        macAddresses: [`02:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}`],
      },
      installed: { teamsClient: oldestTeamsClient[deviceType] },
      displayName: `Bench room ${index}`,
    };
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
      await this.finish(client, operation).catch(() => null);
    }
  }

  /** Acknowledges (unless resumed) and reports the requested version installed. */
  private async finish(client: AgentClient, operation: WorkItem): Promise<void> {
    if (operation.status === 'queued') {
      const ack = await client.ack(operation.id);
      if (ack.status !== 200) return;
      this.stats.acks++;
    }
    const installed = operation.softwareType && operation.softwareVersion ? { [operation.softwareType]: operation.softwareVersion } : {};
    const result = await client.result(operation.id, { status: 'successful', installed });
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
    return { ...this.stats, httpErrors: { ...this.stats.httpErrors }, networkErrors: { ...this.stats.networkErrors } };
  }

  stop(): void {
    this.stopping = true;
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
  const [url, token, countText, concurrencyText = '100', prefix = `bench-${process.pid}`] = process.argv.slice(2);
  const count = Number(countText);
  if (!url || !token || !(count > 0)) throw new Error('usage: long-poll-fleet.js <url> <enrollment token> <N> [enroll concurrency] [hardware prefix]');
  const send = process.send
    ? (message: FleetMessage) => void process.send!(message)
    : (message: FleetMessage) => void process.stdout.write(`${JSON.stringify(message)}\n`);
  const fleet = new Fleet(url, token, send);
  const stop = () => {
    fleet.stop();
    process.exit(0);
  };
  if (process.send) {
    process.on('message', (command: FleetCommand) => {
      if (command.type === 'stats') send({ type: 'stats', stats: fleet.snapshot(command.resetLoopDelay) });
      if (command.type === 'stop') stop();
    });
    // the parent going away (even by SIGKILL) closes the channel: never outlive it
    process.on('disconnect', stop);
  }
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const started = performance.now();
  const devices = await fleet.enrollAll(count, Math.max(1, Number(concurrencyText) || 100), prefix);
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
