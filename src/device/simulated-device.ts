// Over 400 lines, kept whole: it is one state machine (enroll, poll, run an operation's steps,
// reboot, report), and its states share the client, the stop signal and the counters. The
// parts that stand alone already live beside it: configuration, inventory, software, diagnostics.
import type { EnrollRequest, ResultBody, WorkItem } from '../domain/agent-protocol.js';
import type { HardwareDetail } from '../domain/device.js';
import type { InstalledVersions } from '../domain/device-health.js';
import type { DeviceType } from '../domain/enums.js';
import { deviceFamily } from '../seed/demo-tables.js';
import { backoffMs, jitter, type RandomSource } from '../seed/seeded-random.js';
import { abortableSleep } from './abortable-sleep.js';
import { AgentClient, AgentHttpError, describeError, errorText } from './agent-client.js';
import { simulatedDeviceConfig, type SimulatedDeviceConfig, type SimulatedDeviceOptions } from './simulated-device-config.js';
import { simulatedDiagnostics } from './simulated-diagnostics.js';
import { SimulatedInventory } from './simulated-inventory.js';
import { SimulatedSoftware } from './simulated-software.js';

export type { SimulatedDeviceOptions } from './simulated-device-config.js';

/** What the device is doing. */
export type SimulatedDeviceState = 'new' | 'enrolling' | 'polling' | 'working' | 'rebooting' | 'stopped';

/** How a step of an operation ended: go on, an admin cancelled, the server ended it, or the device stopped. */
type StepOutcome = 'ok' | 'cancel' | 'gone' | 'stopped';

const progressSteps = 4;

/**
 * One simulated Teams device running the agent protocol with the one agent client: it
 * enrolls, long-polls for work, acknowledges, reports progress and results, restarts when an
 * update needs it, and reports inventory (simulated-inventory.ts). Updates fail now and then,
 * or install something else than asked (simulated-software.ts). Its hardware and software
 * come from a generated device so that a fleet looks like a real one.
 *
 * Over 400 lines, kept as one file: enrollment, the work loop and the heartbeat share the
 * device's state (credential, running operation, reboots), and its parts that stand alone
 * (software, inventory, diagnostics, config) are already files of their own.
 */
export class SimulatedDevice {
  private readonly client: AgentClient;
  private readonly config: SimulatedDeviceConfig;
  private readonly random: RandomSource;

  private readonly deviceType: DeviceType;
  readonly hardwareDetail: HardwareDetail;
  private refusedCredential: string | null = null;
  private readonly displayName: string | null;
  private readonly inventory: SimulatedInventory;
  private readonly software: SimulatedSoftware;

  private _deviceId: string | null = null;
  private _state: SimulatedDeviceState = 'new';
  private _operationsRun = 0;
  private _failures = 0;
  private _earlyEmptyPolls = 0;
  private readonly stopController = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(options: SimulatedDeviceOptions) {
    const template = options.template;
    const config = simulatedDeviceConfig(options);
    this.config = config;
    this.random = config.random;
    this.client = new AgentClient({
      url: config.url,
      credential: config.credential,
      transport: config.transport,
      retry: config.retry,
      random: this.random,
      signal: this.stopController.signal,
      onRetry: (attempt, reason, path) => {
        if (attempt === 1 || attempt % 10 === 0) this.log(`${path.split('?')[0]} failed (${reason}); retrying`);
      },
    });

    // Only what the device needs is kept, not the template: 10,000 devices stay small.
    this.deviceType = template.deviceType;
    const family = deviceFamily(template.deviceType);
    this.hardwareDetail = { ...template.hardwareDetail, macAddresses: [...template.hardwareDetail.macAddresses] };
    this.displayName = template.currentUser?.displayName ?? null;
    const model = `${template.hardwareDetail.manufacturer} ${template.hardwareDetail.model}`;
    this.software = new SimulatedSoftware(template.installed, template.deviceType, family, model, config.failureRate, config.versionMismatchRate, this.random);
    this.inventory = new SimulatedInventory(template, family, template.currentUser !== null);
  }

  get deviceId(): string | null {
    return this._deviceId;
  }

  get state(): SimulatedDeviceState {
    return this._state;
  }

  /** what the device runs now, per software type */
  get installed(): InstalledVersions {
    return this.software.installed;
  }

  /** operations whose result the server accepted */
  get operationsRun(): number {
    return this._operationsRun;
  }

  /** of those, the ones the server recorded as failed (reported failures and version mismatches) */
  get failures(): number {
    return this._failures;
  }

  /** work polls the server answered "nothing" much sooner than asked (should stay 0) */
  get earlyEmptyPolls(): number {
    return this._earlyEmptyPolls;
  }

  /** the device credential it holds now (to keep across restarts, as a real agent keeps it on disk) */
  get credential(): string | null {
    return this.client.credential;
  }

  get isRebooting(): boolean {
    return this._state === 'rebooting';
  }

  private get stopped(): boolean {
    return this.stopController.signal.aborted;
  }

  /**
   * Enrolls (retrying while the server is unreachable or failing), then runs the work loop and
   * the heartbeat in the background. Rejects when the server refuses the enrollment (e.g. an
   * unknown or expired token). Resolves without enrolling when stopped first.
   */
  async start(): Promise<void> {
    if (this._state !== 'new') throw new Error('The simulated device was already started.');
    await this.enroll();
    if (this.stopped) return;
    this.loops = [this.workLoop(), this.heartbeatLoop()];
  }

  /** Stops at once: the in-flight request is aborted; a running operation stays as it is (like a power cut). */
  async stop(): Promise<void> {
    this.stopController.abort();
    this._state = 'stopped';
    await Promise.allSettled(this.loops);
  }

  // --- enrollment --------------------------------------------------------------------------

  private async enroll(): Promise<void> {
    this._state = 'enrolling';
    const request: EnrollRequest = {
      enrollmentToken: this.config.enrollmentToken,
      deviceType: this.deviceType,
      hardwareDetail: this.hardwareDetail,
      installed: this.software.installed,
      displayName: this.displayName,
    };
    let reply;
    try {
      // Enrolled before: prove it with the credential; once it is refused (an admin reset the
      // device, the database was replaced), the enrollment token is the way back in.
      const proof = this.client.credential ?? this.refusedCredential;
      if (proof) reply = await this.client.enroll(request, { credential: proof });
      if (!reply || reply.status === 401) reply = await this.client.enroll(request);
    } catch (error) {
      if (this.stopped) return;
      throw error;
    }
    if (!reply.body || (reply.status !== 200 && reply.status !== 201)) throw new AgentHttpError(reply.status, reply.error, 'enrollment refused');
    this._deviceId = reply.body.deviceId;
    this.refusedCredential = null;
    this.inventory.fullReportNext();
    this._state = 'polling';
    this.log(`enrolled as ${reply.body.deviceId} (${reply.status === 201 ? 'new' : 're-enrolled'})`);
  }

  /**
   * A 401: the work loop enrolls again. The refused credential is kept to try first: a
   * replica may have refused it from a cache that is seconds out of date, and only the
   * credential (not the token) gets an enrolled device back in.
   */
  private credentialRefused(): void {
    this.refusedCredential = this.client.credential ?? this.refusedCredential;
    this.client.credential = null;
  }

  /** The server no longer knows the credential (re-enrolled elsewhere, database reset): enroll again. */
  private async reenroll(): Promise<void> {
    this.log('credential refused; enrolling again');
    try {
      await this.enroll();
    } catch (error) {
      if (this.stopped) return;
      // The token may have expired: wait long, not in a tight loop.
      this.log(`re-enrollment refused (${describeError(error)}); retrying in a minute`);
      await this.sleep(jitter(60_000, 0.2, this.random));
    }
  }

  // --- work --------------------------------------------------------------------------------

  private async workLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this.client.credential) {
          await this.reenroll();
          continue;
        }
        const work = await this.poll();
        failures = 0;
        if (work) await this.runOperation(work);
      } catch (error) {
        if (this.stopped) return;
        failures++;
        if (failures === 1 || failures % 10 === 0) this.log(`work loop: ${describeError(error)}; retrying`);
        await this.sleep(backoffMs(failures, this.random));
      }
    }
  }

  /** One long-poll; the client retries while the server is unreachable or failing. */
  private async poll(): Promise<WorkItem | null> {
    this._state = 'polling';
    const asked = Date.now();
    const reply = await this.client.poll(this.config.longPollSeconds);
    if (reply.status === 200 && reply.body) return reply.body.operation;
    if (reply.status === 204) {
      // A poll answered far sooner than asked with nothing is a server going down or a bug;
      // never spin on it. Without long-polling (waitSeconds=0) the device polls every second.
      if (this.config.longPollSeconds < 2) {
        await this.sleep(jitter(1000, 0.5, this.random));
      } else if (Date.now() - asked < (this.config.longPollSeconds * 1000) / 2) {
        this._earlyEmptyPolls++;
        await this.sleep(jitter(1000, 0.5, this.random));
      }
      return null;
    }
    if (reply.status === 401) {
      this.credentialRefused();
      return null;
    }
    throw new AgentHttpError(reply.status, reply.error, 'work poll');
  }

  private async runOperation(item: WorkItem): Promise<void> {
    this._state = 'working';
    let operation = item;
    const resumed = operation.status === 'inProgress';
    if (!resumed) {
      const ack = await this.client.ack(operation.id);
      if (ack.status === 409 || ack.status === 404) {
        // Cancelled or taken in the meantime, or an older operation comes first: ask again.
        this.log(`operation ${operation.id} could not be acknowledged (${ack.status}${errorText(ack)}); skipping`);
        await this.sleep(jitter(300, 0.5, this.random));
        return;
      }
      if (ack.status !== 200 || !ack.body) {
        if (ack.status === 401) this.credentialRefused();
        throw new AgentHttpError(ack.status, ack.error, `acknowledging operation ${operation.id}`);
      }
      operation = ack.body.operation;
    } else {
      this.log(`resuming operation ${operation.id} (${operation.operationType}) that was running before a restart`);
    }
    if (operation.cancelRequested) {
      await this.report(operation, { status: 'cancelled' });
      return;
    }

    switch (operation.operationType) {
      case 'softwareUpdate':
        return this.updateSoftware(operation, resumed);
      case 'deviceRestart':
        return this.restart(operation, resumed);
      case 'deviceDiagnostics':
        return this.collectDiagnostics(operation, resumed);
      default:
        await this.report(operation, {
          status: 'failed',
          error: { code: 'notSupported', message: `This device does not support '${operation.operationType}' operations.` },
        });
    }
  }

  private async updateSoftware(operation: WorkItem, resumed: boolean): Promise<void> {
    const plan = this.software.plan(operation);
    if (plan.kind === 'refused') {
      await this.report(operation, plan.result);
      return;
    }
    if (!(await this.finishedWork(operation, resumed ? ['Resuming the update after a restart'] : plan.phases, plan.failure?.phase ?? null))) return;
    if (plan.mismatch) this.log(`the installer for ${plan.type} ${plan.version} changed nothing; reporting what is installed`);
    const accepted = await this.report(operation, this.software.finish(plan));
    if (accepted && plan.reboots && !plan.failure && !plan.mismatch) await this.reboot();
  }

  private async restart(operation: WorkItem, resumed: boolean): Promise<void> {
    // A restart that was under way when the device went down has happened.
    if (!resumed && !(await this.finishedWork(operation, ['Closing the Teams app', 'Signing out', 'Shutting down', 'Restarting'], null))) return;
    const accepted = await this.report(operation, { status: 'successful' });
    if (accepted && !resumed) await this.reboot();
  }

  private async collectDiagnostics(operation: WorkItem, resumed: boolean): Promise<void> {
    const phases = resumed
      ? ['Collecting logs again after a restart']
      : ['Collecting event logs', 'Collecting Teams client logs', 'Collecting peripheral and network state', 'Compressing logs'];
    if (!(await this.finishedWork(operation, phases, null))) return;
    const diagnostics = simulatedDiagnostics({
      deviceId: this._deviceId,
      hardwareDetail: this.hardwareDetail,
      installed: this.installed,
      peripheralsConnected: this.inventory.peripheralsConnected(),
      signedIn: this.inventory.signedIn,
    }, this.random);
    await this.report(operation, { status: 'successful', diagnostics });
  }

  /**
   * Runs the phases; true when the operation is to be finished now. A cancel is reported here;
   * an operation the server ended, or a device that stopped, reports nothing.
   */
  private async finishedWork(operation: WorkItem, phases: string[], failAt: number | null): Promise<boolean> {
    const outcome = await this.work(operation, phases, failAt);
    if (outcome === 'cancel') await this.report(operation, { status: 'cancelled' });
    return outcome === 'ok';
  }

  /**
   * Runs the phases of an operation over `updateMs` ± 30 %, reporting progress at the start of
   * each; a failure planned for phase `failAt` ends the work after that phase.
   */
  private async work(operation: WorkItem, phases: string[], failAt: number | null): Promise<StepOutcome> {
    const total = jitter(this.config.updateMs, 0.3, this.random);
    const stepMs = phases.length === 1 ? total / progressSteps : total / phases.length;
    for (let i = 0; i < phases.length; i++) {
      const progress = await this.progress(operation, Math.floor((i * 100) / phases.length), phases[i]);
      if (progress !== 'ok') return progress;
      await this.sleep(stepMs);
      if (this.stopped) return 'stopped';
      if (failAt !== null && i >= failAt) return 'ok';
    }
    return 'ok';
  }

  /** Progress is best effort (one attempt); its reply says whether an admin asked to cancel. */
  private async progress(operation: WorkItem, percent: number, message: string): Promise<StepOutcome> {
    try {
      const reply = await this.client.progress(operation.id, { percent, message }, { retry: false });
      if (reply.status === 200) return reply.body?.cancelRequested ? 'cancel' : 'ok';
      if (reply.status === 409 || reply.status === 404) {
        this.log(`operation ${operation.id} ended on the server (${reply.status}${errorText(reply)}); abandoning it`);
        return 'gone';
      }
      return 'ok';
    } catch (error) {
      if (this.stopped) return 'stopped';
      this.log(`progress of ${operation.id} not delivered (${describeError(error)})`);
      return 'ok';
    }
  }

  /** Delivers a result, retrying while the server is unreachable; true when the server accepted it. */
  private async report(operation: WorkItem, result: ResultBody): Promise<boolean> {
    let reply;
    try {
      reply = await this.client.result(operation.id, result);
    } catch {
      return false; // stopped
    }
    const what = `operation ${operation.id} ${operation.operationType}${operation.softwareType ? ` ${operation.softwareType} ${operation.softwareVersion}` : ''}`;
    if (reply.status !== 200 || !reply.body) {
      if (reply.status === 401) this.credentialRefused();
      this.log(`result of ${what} refused (${reply.status}${errorText(reply)})`);
      return false;
    }
    const recorded = reply.body.operation.status;
    this._operationsRun++;
    if (recorded === 'failed') this._failures++;
    this.log(`${what}: reported ${result.error ? `${result.status} (${result.error.code})` : result.status}, recorded ${recorded}`);
    return true;
  }

  /** Offline for `rebootMs` ± 30 %: no polls, no heartbeats; then back with a full inventory. */
  private async reboot(): Promise<void> {
    this._state = 'rebooting';
    this.log('restarting');
    await this.sleep(jitter(this.config.rebootMs, 0.3, this.random));
    if (this.stopped) return;
    this._state = 'polling';
    this.inventory.reconnected(new Date().toISOString());
    await this.sendInventory();
  }

  // --- inventory ---------------------------------------------------------------------------

  private async heartbeatLoop(): Promise<void> {
    while (!this.stopped) {
      if (this._state !== 'rebooting' && this.client.credential) await this.sendInventory();
      await this.sleep(jitter(this.config.heartbeatMs, 0.2, this.random));
    }
  }

  /** One attempt: a heartbeat that does not get through is followed by the next one. */
  private async sendInventory(): Promise<void> {
    const body = this.inventory.report(this.software.installed, this.random);
    try {
      const reply = await this.client.inventory(body, { retry: false });
      if (reply.status === 200) this.inventory.delivered(body);
      else if (reply.status === 401) this.credentialRefused();
      else this.log(`inventory refused (${reply.status}${errorText(reply)})`);
    } catch (error) {
      if (!this.stopped) this.log(`inventory not delivered (${describeError(error)})`);
    }
  }

  /** Waits, or less when the device is stopped. */
  private sleep(ms: number): Promise<void> {
    return abortableSleep(ms, this.stopController.signal);
  }

  private log(message: string): void {
    this.config.log(`[sim ${this._deviceId?.slice(0, 8) ?? this.hardwareDetail.serialNumber}] ${message}`);
  }
}

