/**
 * A fleet of lightweight raw-HTTP device agents in a process of its own, for the dispatch
 * benchmark (bench/dispatch-bench.ts):
 *
 *   node dist/bench/long-poll-fleet.js <url> <enrollment token> <N> [enroll concurrency] [hardware prefix]
 *
 * Each agent enrolls (POST /agent/v1/enroll, unique hardware), then loops
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
import { demoSoftwareVersions } from '../src/seed/device-generator.js';
import { monotonicMs, type FleetCommand, type FleetDevice, type FleetDeviceType, type FleetMessage, type FleetStats } from './fleet-messages.js';

interface Reply {
  status: number;
  text: string;
  retryAfterMs: number | null;
}

const pollSeconds = 30;
const loopResolutionMs = 10;
const oldestTeamsClient = { teamsRoom: demoSoftwareVersions.teamsClient.windows[0], collaborationBar: demoSoftwareVersions.teamsClient.android[0] };

class Fleet {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1_000_000, scheduling: 'lifo' });
  private readonly base: URL;
  private stopping = false;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: loopResolutionMs });
  readonly stats: FleetStats = {
    polls200: 0, polls204: 0, acks: 0, results: 0, resultFailures: 0, httpErrors: {}, networkErrors: {}, pollsInFlight: 0, rssBytes: 0,
    loopDelay: { p50: 0, p99: 0, max: 0 },
  };

  constructor(
    url: string,
    private readonly enrollmentToken: string,
    private readonly send: (message: FleetMessage) => void,
  ) {
    this.base = new URL(url);
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
        const device = await this.enroll(index, prefix);
        devices[index] = device;
        enrolled++;
        if (enrolled % 1000 === 0) this.send({ type: 'progress', enrolled });
        void this.run(device, () => {
          if (++firstPolls === count) allPolling();
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    await polling;
    return devices;
  }

  private async enroll(index: number, prefix: string): Promise<FleetDevice> {
    const deviceType: FleetDeviceType = index % 2 === 0 ? 'teamsRoom' : 'collaborationBar';
    const hex = index.toString(16).padStart(8, '0');
    const body = JSON.stringify({
      enrollmentToken: this.enrollmentToken,
      deviceType,
      hardwareDetail: {
        uniqueId: `${prefix}-${index}`,
        serialNumber: `${prefix}-SN-${index}`,
        manufacturer: deviceType === 'teamsRoom' ? 'lenovo' : 'yealink',
        model: deviceType === 'teamsRoom' ? 'thinksmart-core' : 'a30',
        macAddresses: [`02:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}`],
      },
      installed: { teamsClient: oldestTeamsClient[deviceType] },
      displayName: `Bench room ${index}`,
    });
    for (let attempt = 1; ; attempt++) {
      const reply = await this.call('POST', '/agent/v1/enroll', null, body, 30_000, 'enroll').catch((error: unknown) => this.networkFailure(error));
      if (reply && (reply.status === 201 || reply.status === 200)) {
        const parsed = JSON.parse(reply.text) as { deviceId: string; credential: string };
        credentials.set(parsed.deviceId, parsed.credential);
        return { deviceId: parsed.deviceId, deviceType };
      }
      if (reply && reply.status !== 503 && reply.status !== 429) throw new Error(`enroll ${index}: HTTP ${reply.status} ${reply.text.slice(0, 300)}`);
      if (attempt >= 20) throw new Error(`enroll ${index}: gave up after ${attempt} attempts`);
      await sleep(reply?.retryAfterMs ?? 500);
    }
  }

  /** One agent: poll, run what arrives, poll again, until stopped. */
  private async run(device: FleetDevice, firstPollSent: () => void): Promise<void> {
    const auth = `Bearer ${credentials.get(device.deviceId)}`;
    let first = true;
    while (!this.stopping) {
      this.stats.pollsInFlight++;
      const poll = this.call('GET', `/agent/v1/work?waitSeconds=${pollSeconds}`, auth, undefined, (pollSeconds + 15) * 1000, 'work');
      if (first) {
        first = false;
        firstPollSent();
      }
      const reply = await poll.catch((error: unknown) => this.networkFailure(error));
      this.stats.pollsInFlight--;
      if (this.stopping) return;
      if (!reply) {
        await sleep(250 + Math.random() * 500);
        continue;
      }
      if (reply.status === 204) {
        this.stats.polls204++;
        continue;
      }
      if (reply.status !== 200) {
        await sleep(reply.retryAfterMs ?? 1000);
        continue;
      }
      const receivedAt = monotonicMs();
      this.stats.polls200++;
      const { operation } = JSON.parse(reply.text) as { operation: { id: string; status: string; softwareType: string | null; softwareVersion: string | null } };
      this.send({ type: 'received', operationId: operation.id, deviceId: device.deviceId, receivedAt });
      await this.finish(auth, operation).catch((error: unknown) => this.networkFailure(error));
    }
  }

  private async finish(auth: string, operation: { id: string; status: string; softwareType: string | null; softwareVersion: string | null }): Promise<void> {
    const path = `/agent/v1/operations/${operation.id}`;
    if (operation.status === 'queued') {
      const ack = await this.call('POST', `${path}/ack`, auth, '{}', 30_000, 'ack');
      if (ack.status !== 200) return;
      this.stats.acks++;
    }
    const installed = operation.softwareType && operation.softwareVersion ? { [operation.softwareType]: operation.softwareVersion } : {};
    const result = await this.call('POST', `${path}/result`, auth, JSON.stringify({ status: 'successful', installed }), 30_000, 'result');
    if (result.status === 200) this.stats.results++;
    else this.stats.resultFailures++;
  }

  private call(method: 'GET' | 'POST', path: string, authorization: string | null, body: string | undefined, timeoutMs: number, route: string): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {};
      if (authorization) headers.authorization = authorization;
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const request = http.request(
        { host: this.base.hostname, port: this.base.port, method, path, headers, agent: this.agent },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            if (status >= 300) {
              const key = `${method} ${route} ${status}`;
              this.stats.httpErrors[key] = (this.stats.httpErrors[key] ?? 0) + 1;
            }
            const retryAfter = Number(response.headers['retry-after']);
            resolve({ status, text, retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null });
          });
          response.on('error', reject);
        },
      );
      request.setTimeout(timeoutMs, () => request.destroy(new Error(`${route} timed out after ${timeoutMs} ms`)));
      request.on('error', reject);
      request.end(body);
    });
  }

  private networkFailure(error: unknown): null {
    if (this.stopping) return null;
    const message = error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error);
    this.stats.networkErrors[message] = (this.stats.networkErrors[message] ?? 0) + 1;
    return null;
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

/** deviceId → credential, outside the device objects so the `ready` message carries no secrets. */
const credentials = new Map<string, string>();

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
