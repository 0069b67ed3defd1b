import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateDevices } from '../seed/device-generator.js';
import { SeededRandom, seedOf } from '../seed/seeded-random.js';
import { SimulatedDevice, type SimulatedDeviceOptions } from './simulated-device.js';

/** What every device of the fleet shares (each gets its own template and seeded random), plus the fleet's own settings. */
export interface SimulatedFleetOptions extends Omit<SimulatedDeviceOptions, 'template' | 'random'> {
  /** how many devices */
  devices: number;
  /** only shapes the generated hardware (the real tenant comes from the enrollment token) */
  tenantId: string;
  /**
   * Generator seed. The same seed gives the same hardware, so a restarted fleet re-enrolls as
   * the same devices; two fleets against one tenant need different seeds. Default 0x51d, not
   * the demo seed (1), so simulated hardware never collides with seeded demo devices.
   */
  seed?: number;
  /** enrollments in flight at once (default 50), so 10,000 devices do not stampede the server */
  concurrency?: number;
  /**
   * A file (mode 0600) where the devices' credentials are kept, so a restarted fleet re-enrolls
   * with them as real agents do; without it, a restarted fleet's hardware is refused (409).
   */
  stateFile?: string;
}

export interface FleetStats {
  devices: number;
  enrolled: number;
  /** operations whose result the server accepted */
  operationsRun: number;
  /** of those, recorded as failed by the server (reported failures and version mismatches) */
  failures: number;
  /** devices restarting right now */
  rebooting: number;
  /** work polls answered with nothing far sooner than asked (a server going down, or a bug): should stay 0 */
  earlyEmptyPolls: number;
}

const defaultFleetSeed = 0x51d;
const generateBatch = 1000;

/**
 * N simulated devices against one server. Devices enroll a few dozen at a time, then each
 * long-polls for work and reports inventory on its own schedule.
 */
export class SimulatedFleet {
  readonly devices: SimulatedDevice[] = [];
  private stopped = false;
  private starting: Promise<void> | null = null;

  constructor(private readonly options: SimulatedFleetOptions) {
    const { devices, tenantId, seed = defaultFleetSeed, concurrency, stateFile, ...deviceOptions } = options;
    if (!Number.isInteger(devices) || devices < 0) throw new Error('devices must be a whole number');
    const saved = stateFile ? readCredentials(stateFile) : {};
    // Templates are made in batches and dropped once the devices took what they need.
    for (let start = 0; start < devices; start += generateBatch) {
      const templates = generateDevices({ tenantId, count: Math.min(generateBatch, devices - start), seed, startIndex: start });
      for (const template of templates) {
        const random = new SeededRandom(seedOf(`${seed}:${template.hardwareDetail.uniqueId}`));
        const credential = saved[template.hardwareDetail.uniqueId ?? ''] ?? null;
        this.devices.push(new SimulatedDevice({ ...deviceOptions, template, random, credential }));
      }
    }
  }

  /**
   * Enrolls every device (at most `concurrency` at a time) and starts them; resolves when all
   * are running. If the server refuses an enrollment (say, a bad token), the fleet stops and
   * this rejects with that error.
   */
  start(): Promise<void> {
    if (this.starting) return this.starting;
    this.starting = this.enrollAll();
    return this.starting;
  }

  private async enrollAll(): Promise<void> {
    const concurrency = Math.max(1, this.options.concurrency ?? 50);
    let next = 0;
    let failure: unknown = null;
    const worker = async () => {
      while (!this.stopped && failure === null && next < this.devices.length) {
        const device = this.devices[next++];
        try {
          await device.start();
        } catch (error) {
          failure ??= error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, this.devices.length) }, worker));
    this.saveCredentials();
    if (failure !== null) {
      await this.stop();
      throw failure;
    }
  }

  /** Stops every device; running operations stay where they are, as after a power cut. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.devices.map((d) => d.stop()));
    this.saveCredentials();
  }

  /** Writes the credentials the devices hold now (a device may have re-enrolled or rotated since). */
  private saveCredentials(): void {
    const file = this.options.stateFile;
    if (!file) return;
    const credentials: Record<string, string> = {};
    for (const device of this.devices) {
      const id = device.hardwareDetail.uniqueId;
      if (id && device.credential) credentials[id] = device.credential;
    }
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify({ credentials }), { mode: 0o600 });
    renameSync(partial, file);
  }

  /** ids of the devices enrolled so far, in fleet order */
  deviceIds(): string[] {
    const ids: string[] = [];
    for (const device of this.devices) if (device.deviceId !== null) ids.push(device.deviceId);
    return ids;
  }

  stats(): FleetStats {
    const stats: FleetStats = { devices: this.devices.length, enrolled: 0, operationsRun: 0, failures: 0, rebooting: 0, earlyEmptyPolls: 0 };
    for (const device of this.devices) {
      if (device.deviceId !== null) stats.enrolled++;
      stats.operationsRun += device.operationsRun;
      stats.failures += device.failures;
      if (device.isRebooting) stats.rebooting++;
      stats.earlyEmptyPolls += device.earlyEmptyPolls;
    }
    return stats;
  }
}

/** The credentials a fleet saved, by hardware uniqueId; none when the file is missing or unreadable. */
function readCredentials(file: string): Record<string, string> {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { credentials?: Record<string, string> };
    return parsed.credentials ?? {};
  } catch {
    return {};
  }
}
