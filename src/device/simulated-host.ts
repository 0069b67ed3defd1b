import type { InventoryBody, WorkItem } from '../domain/agent-protocol.js';
import type { Device, HardwareDetail } from '../domain/device.js';
import type { InstalledVersions } from '../domain/device-health.js';
import type { DeviceType } from '../domain/enums.js';
import { deviceFamily } from '../seed/demo-tables.js';
import { jitter, type RandomSource } from '../seed/seeded-random.js';
import { abortableSleep } from './abortable-sleep.js';
import { stoppedOutcome, type DeviceHost, type HostOutcome, type OperationRun, type ProgressOutcome } from './device-host.js';
import { simulatedDiagnostics } from './simulated-diagnostics.js';
import { SimulatedInventory } from './simulated-inventory.js';
import { SimulatedSoftware } from './simulated-software.js';

const progressSteps = 4;

/** How a simulated host behaves. */
export interface SimulatedHostOptions {
  /** how long an operation runs, ± 30 % */
  updateMs: number;
  /** how long the device is silent while it restarts */
  rebootMs: number;
  failureRate: number;
  versionMismatchRate: number;
  random: RandomSource;
}

/**
 * A simulated Teams device for the agent core: its operations run as timed phases with
 * progress, updates fail now and then or install something else than asked
 * (simulated-software.ts), restarts are a silence, and it reports the inventory of a
 * generated device (simulated-inventory.ts). Keeps only what it needs of the template, so
 * that 10,000 of them stay small.
 */
export class SimulatedHost implements DeviceHost {
  readonly deviceType: DeviceType;
  readonly hardwareDetail: HardwareDetail;
  private readonly displayName: string | null;
  private readonly software: SimulatedSoftware;
  private readonly inventoryState: SimulatedInventory;
  private deviceId: string | null = null;

  constructor(
    template: Device,
    private readonly options: SimulatedHostOptions,
  ) {
    this.deviceType = template.deviceType;
    const family = deviceFamily(template.deviceType);
    this.hardwareDetail = { ...template.hardwareDetail, macAddresses: [...template.hardwareDetail.macAddresses] };
    this.displayName = template.currentUser?.displayName ?? null;
    const model = `${template.hardwareDetail.manufacturer} ${template.hardwareDetail.model}`;
    this.software = new SimulatedSoftware(template.installed, template.deviceType, family, model, options.failureRate, options.versionMismatchRate, options.random);
    this.inventoryState = new SimulatedInventory(template, family, template.currentUser !== null);
  }

  /** what the device runs now, per software type */
  get installed(): InstalledVersions {
    return this.software.installed;
  }

  async enrollment() {
    return { deviceType: this.deviceType, hardwareDetail: this.hardwareDetail, installed: this.software.installed, displayName: this.displayName };
  }

  async enrolled(deviceId: string): Promise<void> {
    this.deviceId = deviceId;
    this.inventoryState.fullReportNext();
  }

  async inventory(): Promise<InventoryBody> {
    return this.inventoryState.report(this.software.installed, this.options.random);
  }

  inventoryDelivered(body: InventoryBody): void {
    this.inventoryState.delivered(body);
  }

  run(run: OperationRun): Promise<HostOutcome> {
    switch (run.operation.operationType) {
      case 'softwareUpdate':
        return this.updateSoftware(run);
      case 'deviceRestart':
        return this.restartDevice(run);
      case 'deviceDiagnostics':
        return this.collectDiagnostics(run);
      default:
        return Promise.resolve({
          kind: 'report',
          result: { status: 'failed', error: { code: 'notSupported', message: `This device does not support '${run.operation.operationType}' operations.` } },
        });
    }
  }

  /** Offline for `rebootMs` ± 30 %; then everything is connected again and the next report is a full one. */
  async restart(signal: AbortSignal): Promise<void> {
    await abortableSleep(jitter(this.options.rebootMs, 0.3, this.options.random), signal);
    if (!signal.aborted) this.inventoryState.reconnected(new Date().toISOString());
  }

  private async updateSoftware(run: OperationRun): Promise<HostOutcome> {
    const plan = this.software.plan(run.operation);
    if (plan.kind === 'refused') return { kind: 'report', result: plan.result };
    const outcome = await this.work(run, run.resumed ? ['Resuming the update after a restart'] : plan.phases, plan.failure?.phase ?? null);
    if (outcome !== 'ok') return stoppedOutcome(outcome);
    if (plan.mismatch) run.log(`the installer for ${plan.type} ${plan.version} changed nothing; reporting what is installed`);
    return { kind: 'report', result: this.software.finish(plan), restart: plan.reboots && !plan.failure && !plan.mismatch };
  }

  private async restartDevice(run: OperationRun): Promise<HostOutcome> {
    // A restart that was under way when the device went down has happened.
    if (run.resumed) return { kind: 'report', result: { status: 'successful' } };
    const outcome = await this.work(run, ['Closing the Teams app', 'Signing out', 'Shutting down', 'Restarting'], null);
    if (outcome !== 'ok') return stoppedOutcome(outcome);
    return { kind: 'report', result: { status: 'successful' }, restart: true };
  }

  private async collectDiagnostics(run: OperationRun): Promise<HostOutcome> {
    const phases = run.resumed
      ? ['Collecting logs again after a restart']
      : ['Collecting event logs', 'Collecting Teams client logs', 'Collecting peripheral and network state', 'Compressing logs'];
    const outcome = await this.work(run, phases, null);
    if (outcome !== 'ok') return stoppedOutcome(outcome);
    const diagnostics = simulatedDiagnostics({
      deviceId: this.deviceId,
      hardwareDetail: this.hardwareDetail,
      installed: this.installed,
      peripheralsConnected: this.inventoryState.peripheralsConnected(),
      signedIn: this.inventoryState.signedIn,
    }, this.options.random);
    return { kind: 'report', result: { status: 'successful', diagnostics } };
  }

  /**
   * Runs the phases over `updateMs` ± 30 %, reporting progress at the start of each; a failure
   * planned for phase `failAt` ends the work after that phase.
   */
  private async work(run: OperationRun, phases: string[], failAt: number | null): Promise<ProgressOutcome> {
    const total = jitter(this.options.updateMs, 0.3, this.options.random);
    const stepMs = phases.length === 1 ? total / progressSteps : total / phases.length;
    for (let i = 0; i < phases.length; i++) {
      const progress = await run.progress(Math.floor((i * 100) / phases.length), phases[i]);
      if (progress !== 'ok') return progress;
      await run.sleep(stepMs);
      if (run.signal.aborted) return 'stopped';
      if (failAt !== null && i >= failAt) return 'ok';
    }
    return 'ok';
  }
}
