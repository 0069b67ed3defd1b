import type { HardwareDetail } from '../domain/device.js';
import type { InstalledVersions } from '../domain/device-health.js';
import { DeviceAgent, type DeviceAgentState } from './device-agent.js';
import { simulatedDeviceConfig } from './simulated-device-config.js';
import type { SimulatedDeviceOptions } from './simulated-device-config.js';
import { SimulatedHost } from './simulated-host.js';

export type { SimulatedDeviceOptions } from './simulated-device-config.js';

/** What the device is doing. */
export type SimulatedDeviceState = DeviceAgentState;

/**
 * One simulated Teams device: the agent core (device-agent.ts) with a simulated host
 * (simulated-host.ts). Its hardware and software come from a generated device, so that a
 * fleet looks like a real one; its updates fail now and then, or install something else.
 */
export class SimulatedDevice {
  private readonly agent: DeviceAgent;
  private readonly host: SimulatedHost;

  constructor(options: SimulatedDeviceOptions) {
    const config = simulatedDeviceConfig(options);
    this.host = new SimulatedHost(options.template, {
      updateMs: config.updateMs,
      rebootMs: config.rebootMs,
      failureRate: config.failureRate,
      versionMismatchRate: config.versionMismatchRate,
      random: config.random,
    });
    this.agent = new DeviceAgent({
      url: config.url,
      enrollmentToken: config.enrollmentToken,
      credential: config.credential,
      longPollSeconds: config.longPollSeconds,
      heartbeatMs: config.heartbeatMs,
      random: config.random,
      retry: config.retry,
      transport: config.transport,
      name: 'sim',
      label: this.host.hardwareDetail.serialNumber ?? '',
      log: config.log,
    }, this.host);
  }

  get hardwareDetail(): HardwareDetail {
    return this.host.hardwareDetail;
  }

  get deviceId(): string | null {
    return this.agent.deviceId;
  }

  get state(): SimulatedDeviceState {
    return this.agent.state;
  }

  /** what the device runs now, per software type */
  get installed(): InstalledVersions {
    return this.host.installed;
  }

  /** operations whose result the server accepted */
  get operationsRun(): number {
    return this.agent.operationsRun;
  }

  /** of those, the ones the server recorded as failed (reported failures and version mismatches) */
  get failures(): number {
    return this.agent.failures;
  }

  /** work polls the server answered "nothing" much sooner than asked (should stay 0) */
  get earlyEmptyPolls(): number {
    return this.agent.earlyEmptyPolls;
  }

  /** the device credential it holds now (to keep across restarts, as a real agent keeps it on disk) */
  get credential(): string | null {
    return this.agent.credential;
  }

  get isRebooting(): boolean {
    return this.agent.state === 'rebooting';
  }

  /** Enrolls, then runs in the background; rejects when the server refuses the enrollment. */
  start(): Promise<void> {
    return this.agent.start();
  }

  /** Stops at once: a running operation stays as it is (like a power cut). */
  stop(): Promise<void> {
    return this.agent.stop();
  }
}
