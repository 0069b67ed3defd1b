import http from 'node:http';
import { demoSoftwareVersions, deviceFamily } from '../src/seed/demo-tables.js';
import { SeededRandom, type RandomSource } from '../src/seed/seeded-random.js';
import { monotonicMs, type FleetDevice } from './fleet-messages.js';

/**
 * updateSoftware requests sent at a steady rate to devices of a long-polling fleet, each
 * request's 202 timed on the machine's monotonic clock so the fleet process's receipt can be
 * subtracted from it: the dispatch measurement the `dispatch` and `replicas` benchmarks share.
 */

/** One updateSoftware request to send: its device, its JSON body, and the server it goes to. */
export interface Planned {
  deviceId: string;
  body: string;
  /** base URL of the server (replica) that gets this request; dispatch()'s `url` when absent */
  target?: string;
}

/**
 * `count` updateSoftware requests over the devices in one random order, round-robin: with
 * more devices than requests each device gets at most one; otherwise every device gets one
 * per round, a whole round apart, so no request meets a still-pending one (no 409).
 * Round 0 asks for the newest demo teamsClient version, the next round the one before, ….
 */
export function planOperations(devices: FleetDevice[], count: number): Planned[] {
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

/** What became of one planned request. */
export interface Sent {
  /** its index in the plan */
  index: number;
  status: number;
  operationId: string | null;
  /** monotonicMs() when the request was sent, and when the answer's headers arrived */
  sentAt: number;
  acceptedAt: number;
}

/** Sends the planned requests at a steady rate, never more than `concurrency` at once. */
export async function dispatch(url: string, token: string, plan: Planned[], rate: number, concurrency: number): Promise<{ sent: Sent[]; seconds: number; errors: Record<string, number> }> {
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
    const { deviceId, body, target } = plan[k];
    const index = k;
    const sentAt = monotonicMs();
    pending.push(
      post(agent, target ? new URL(target) : base, `/beta/teamwork/devices/${deviceId}/updateSoftware`, headers, body)
        .then(({ status, location, at }) => {
          const operationId = status === 202 && location ? location.slice(location.lastIndexOf('/') + 1) : null;
          sent.push({ index, status, operationId, sentAt, acceptedAt: at });
        })
        .catch((error: unknown) => {
          const message = error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error);
          errors[message] = (errors[message] ?? 0) + 1;
          sent.push({ index, status: 0, operationId: null, sentAt, acceptedAt: monotonicMs() });
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

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles; NaN when there is nothing to rank. */
export function percentiles(values: number[]): Percentiles {
  const sorted = values.slice().sort((a, b) => a - b);
  const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : Number.NaN);
  const round = (v: number) => Math.round(v * 100) / 100;
  return { count: sorted.length, p50: round(at(50)), p90: round(at(90)), p99: round(at(99)), max: round(sorted.length ? sorted[sorted.length - 1] : Number.NaN) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Fisher–Yates in place, from a seeded source so every run asks the same devices. */
export function shuffle<T>(items: T[], random: RandomSource): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
