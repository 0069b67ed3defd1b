import type { InventoryBody } from '../domain/agent-protocol.js';
import type { Device } from '../domain/device.js';
import type { InstalledVersions } from '../domain/device-health.js';
import type { DeviceFamily } from '../seed/demo-tables.js';
import type { RandomSource } from '../seed/seeded-random.js';

interface PeripheralHealthDoc {
  connection?: unknown;
  isOptional?: boolean | null;
  peripheral?: unknown;
}

/** Share of heartbeats in which the room is in a meeting (cameras active). */
const busyShare = 0.25;

/**
 * What a simulated device reports about itself: its peripherals, hardware and sign-in state,
 * shaped as Graph documents from a generated device, all connected since the device last
 * (re)started. Keeps only the template's parts it needs, so that 10,000 devices stay small.
 */
export class SimulatedInventory {
  private readonly templatePeripherals: Record<string, unknown> | null;
  private readonly templateHardware: Record<string, unknown> | null;
  private peripheralsHealth: Record<string, unknown> = {};
  private hardwareHealth: Record<string, unknown> | null = null;
  private loginStatus: Record<string, unknown> = {};
  private idle: Record<string, unknown> = {};
  private busy: Record<string, unknown> = {};
  /** the next report carries the health parts, not only the heartbeat */
  private fullReportDue = true;

  constructor(
    template: Device,
    private readonly family: DeviceFamily,
    readonly signedIn: boolean,
  ) {
    this.templatePeripherals = objectOrNull(template.health.peripheralsHealth);
    this.templateHardware = objectOrNull(template.health.hardwareHealth);
    this.reconnected(new Date().toISOString());
  }

  /** After enrolling or a restart: everything present is connected since `since`, and the next report is a full one. */
  reconnected(since: string): void {
    const peripheralsHealth: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this.templatePeripherals ?? {})) {
      peripheralsHealth[key] = Array.isArray(value) ? value.map((v) => connectedPart(v, since)) : connectedPart(value, since);
    }
    let hardwareHealth: Record<string, unknown> | null = null;
    if (this.templateHardware) {
      hardwareHealth = {};
      for (const [key, value] of Object.entries(this.templateHardware)) hardwareHealth[key] = connectedPart(value, since);
    }
    const connection = (status: string) => ({ connectionStatus: status, lastModifiedDateTime: since });
    const signedIn = this.signedIn ? 'connected' : 'disconnected';
    this.loginStatus = {
      exchangeConnection: connection(signedIn),
      skypeConnection: connection(this.family === 'windows' ? signedIn : 'unknown'),
      teamsConnection: connection(signedIn),
    };
    const peripheral = (key: string) => (peripheralsHealth[key] as PeripheralHealthDoc | null | undefined)?.peripheral ?? null;
    this.idle = {
      roomCamera: null,
      contentCamera: null,
      speaker: peripheral('speakerHealth'),
      communicationSpeaker: peripheral('communicationSpeakerHealth'),
      microphone: peripheral('microphoneHealth'),
    };
    this.busy = { ...this.idle, roomCamera: peripheral('roomCameraHealth'), contentCamera: peripheral('contentCameraHealth') };
    this.peripheralsHealth = peripheralsHealth;
    this.hardwareHealth = hardwareHealth;
    this.fullReportDue = true;
  }

  /**
   * The next inventory report. The health parts go with the first report after (re)connecting;
   * routine heartbeats carry only what changes (installed versions, activity), which the
   * server merges. Call `delivered` once the server took it.
   */
  report(installed: InstalledVersions, random: RandomSource): InventoryBody {
    const busy = random.next() < busyShare;
    const body: InventoryBody = {
      installed,
      activityState: busy ? 'busy' : 'idle',
      activePeripherals: busy ? this.busy : this.idle,
    };
    if (this.fullReportDue) {
      body.peripheralsHealth = this.peripheralsHealth;
      body.hardwareHealth = this.hardwareHealth;
      body.loginStatus = this.loginStatus;
    }
    return body;
  }

  /** The server accepted `body`: if it was the full report, heartbeats may be short from now on. */
  delivered(body: InventoryBody): void {
    if (body.peripheralsHealth === this.peripheralsHealth) this.fullReportDue = false;
  }

  /** A full report is sent next, e.g. after the device enrolled again. */
  fullReportNext(): void {
    this.fullReportDue = true;
  }

  /** peripherals present, for the diagnostics summary */
  peripheralsConnected(): number {
    let count = 0;
    for (const value of Object.values(this.peripheralsHealth)) {
      for (const part of Array.isArray(value) ? value : [value]) if ((part as PeripheralHealthDoc | null)?.peripheral) count++;
    }
    return count;
  }
}

function objectOrNull(value: unknown): Record<string, unknown> | null {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/** A peripheral health entry of the template, connected if the peripheral is there. */
function connectedPart(value: unknown, since: string): unknown {
  if (!value || typeof value !== 'object') return value ?? null;
  const part = value as PeripheralHealthDoc;
  return {
    connection: { connectionStatus: part.peripheral ? 'connected' : 'unknown', lastModifiedDateTime: since },
    isOptional: part.isOptional ?? null,
    peripheral: part.peripheral ?? null,
  };
}
