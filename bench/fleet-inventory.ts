import type { AgentReply } from '../src/device/agent-client.js';
import type { InventoryBody, InventoryReply } from '../src/domain/agent-protocol.js';
import type { InstalledVersions } from '../src/domain/device-health.js';
import { generateDevices } from '../src/seed/device-generator.js';
import { SeededRandom } from '../src/seed/seeded-random.js';
import type { FleetDeviceType, FleetInventoryOptions, FleetInventoryStats, InventoryChange } from './fleet-messages.js';

/** A generated device's report parts, shared by the fleet's devices of its type. */
interface Template {
  installed: InstalledVersions;
  peripheralsHealth: Record<string, unknown> | null;
  hardwareHealth: Record<string, unknown> | null;
  loginStatus: Record<string, unknown> | null;
  idlePeripherals: Record<string, unknown>;
  busyPeripherals: Record<string, unknown>;
}

const templatesPerType = 16;
const tickMs = 20;

/**
 * The inventory side of the bench fleet. Every device sends a full report (installed versions,
 * peripherals, hardware, sign-in state, active peripherals: about 3 KB of JSON, the parts of a
 * generated device of its type) once per interval. The first report of each device differs
 * from what enrolment stored; every report changes something with probability `changeShare`
 * (the room goes in or out of a meeting: activityState and the active cameras), else it
 * repeats the previous one exactly (after a failed report, the next one counts as a change). Each changed report is logged with the wall-clock
 * times it was sent and answered, so a benchmark can tell which writes in the database a
 * change explains.
 */
export class FleetInventory {
  private readonly templates: Record<FleetDeviceType, Template[]>;
  private readonly random = new SeededRandom(16);
  private busy = new Uint8Array(0);
  /** 1 until the server has taken the device's latest state: before its first report, after a failed one */
  private unsent = new Uint8Array(0);
  /** versions an operation installed, which the device's next reports carry */
  private readonly installed = new Map<number, InstalledVersions>();
  private readonly changes: InventoryChange[] = [];
  private latencies: number[] = [];
  private timer: NodeJS.Timeout | null = null;
  readonly stats: FleetInventoryStats = { sent: 0, accepted: 0, failed: 0, changed: 0, inFlight: 0, latency: { p50: 0, p99: 0, max: 0 } };

  constructor(private readonly options: FleetInventoryOptions) {
    const generated = generateDevices({ tenantId: 'bench-fleet-inventory', count: 512, seed: 16 });
    this.templates = { teamsRoom: [], collaborationBar: [] };
    for (const type of ['teamsRoom', 'collaborationBar'] as const) {
      const ofType = generated.filter((d) => d.deviceType === type).slice(0, templatesPerType);
      this.templates[type] = ofType.map((device) => {
        const health = device.health;
        const idle = objectOf(device.activity.activePeripherals) ?? {};
        const camera = (objectOf(objectOf(health.peripheralsHealth)?.roomCameraHealth)?.peripheral as Record<string, unknown> | null | undefined) ?? null;
        return {
          installed: device.installed,
          peripheralsHealth: objectOf(health.peripheralsHealth),
          hardwareHealth: objectOf(health.hardwareHealth),
          loginStatus: objectOf(health.loginStatus),
          idlePeripherals: { ...idle, roomCamera: null },
          busyPeripherals: { ...idle, roomCamera: camera ?? { id: 'bench-camera', displayName: 'Bench camera', vendorId: 'VID_046D', productId: 'PID_0866' } },
        };
      });
    }
  }

  /**
   * Starts the reports of `devices` (in index order, device k's phase k/N of the interval).
   * `post` sends one report for a device and resolves with the server's reply.
   */
  start(devices: { deviceId: string; deviceType: FleetDeviceType }[], post: (index: number, body: InventoryBody) => Promise<AgentReply<InventoryReply>>): void {
    const count = devices.length;
    this.busy = new Uint8Array(count);
    this.unsent = new Uint8Array(count).fill(1);
    const intervalMs = this.options.intervalSeconds * 1000;
    const started = performance.now();
    let next = 0;
    this.timer = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / intervalMs) * count);
      for (; next < due; next++) void this.send(next % count, devices, post);
    }, tickMs);
  }

  /** A version an operation installed on device `index`: its next reports say so. */
  installedOn(index: number, installed: InstalledVersions): void {
    this.installed.set(index, { ...this.installed.get(index), ...installed });
  }

  /** Changed reports answered since `since` (wall-clock ms). */
  changesSince(since: number): InventoryChange[] {
    return this.changes.filter((c) => c.repliedAt >= since);
  }

  /** The counters; `reset` starts a new latency interval after this reading. */
  snapshot(reset: boolean): FleetInventoryStats {
    const sorted = this.latencies.slice().sort((a, b) => a - b);
    const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : 0);
    this.stats.latency = { p50: at(50), p99: at(99), max: sorted.length ? sorted[sorted.length - 1] : 0 };
    if (reset) this.latencies = [];
    return { ...this.stats, latency: { ...this.stats.latency } };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async send(index: number, devices: { deviceId: string; deviceType: FleetDeviceType }[], post: (index: number, body: InventoryBody) => Promise<AgentReply<InventoryReply>>): Promise<void> {
    const toggle = this.random.next() < this.options.changeShare;
    if (toggle) this.busy[index] ^= 1;
    const change = toggle || this.unsent[index] === 1;
    this.unsent[index] = 0;
    const device = devices[index];
    const templates = this.templates[device.deviceType];
    const template = templates[index % templates.length];
    const busy = this.busy[index] === 1;
    const body: InventoryBody = {
      installed: { ...template.installed, ...this.installed.get(index) },
      activityState: busy ? 'busy' : 'idle',
      peripheralsHealth: template.peripheralsHealth,
      hardwareHealth: template.hardwareHealth,
      loginStatus: template.loginStatus,
      activePeripherals: busy ? template.busyPeripherals : template.idlePeripherals,
    };
    this.stats.sent++;
    if (change) this.stats.changed++;
    this.stats.inFlight++;
    const sentAt = Date.now();
    const started = performance.now();
    const reply = await post(index, body).catch(() => null);
    this.stats.inFlight--;
    if (reply?.status !== 200) {
      this.stats.failed++;
      this.unsent[index] = 1;
      // Timed out or cut off: the server may still have written it, at any time from now on.
      if (change) this.changes.push({ deviceId: device.deviceId, sentAt, repliedAt: Number.MAX_SAFE_INTEGER });
      return;
    }
    this.latencies.push(performance.now() - started);
    this.stats.accepted++;
    if (change) this.changes.push({ deviceId: device.deviceId, sentAt, repliedAt: Date.now() });
  }
}

function objectOf(value: unknown): Record<string, unknown> | null {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}
