import type { Device, HardwareDetail } from '../domain/device.js';
import type { InstalledVersions } from '../domain/device-health.js';
import type { DeviceType, OperationType, SoftwareType } from '../domain/enums.js';
import { demoSoftwareVersions, deviceFamily, type DeviceFamily } from '../seed/device-generator.js';
import { backoffMs, jitter, mulberry32, pickOne, seedOf, type RandomSource } from './sim-random.js';

export interface SimulatedDeviceOptions {
  /** base URL of the server, e.g. http://127.0.0.1:8080 */
  url: string;
  enrollmentToken: string;
  /** a generated device (seed/device-generator) whose hardware, software and peripherals this one has */
  template: Device;
  /** how long an operation runs, ± 30 % */
  updateMs: number;
  /** chance (0..1) that a software update fails with a realistic error */
  failureRate: number;
  /** how long the device is silent while it restarts (restart, firmware and OS updates) */
  rebootMs?: number;
  /** time between inventory reports (± 20 %) */
  heartbeatMs?: number;
  /** how long the server may hold a work poll (it caps this at 30 s) */
  longPollSeconds?: number;
  /** uniform [0, 1); defaults to a PRNG seeded from the template's hardware id, so runs repeat */
  random?: RandomSource;
  log?: (msg: string) => void;
}

/** An operation as GET /agent/v1/work and the ack hand it to the agent. */
export interface WorkItem {
  id: string;
  operationType: OperationType;
  softwareType: SoftwareType | null;
  softwareVersion: string | null;
  status: string;
  cancelRequested: boolean;
  createdDateTime?: string;
  startedDateTime?: string | null;
}

interface ResultBody {
  status: 'successful' | 'failed' | 'cancelled';
  installed?: InstalledVersions;
  error?: { code: string; message: string };
  diagnostics?: Record<string, unknown>;
}

interface Reply {
  status: number;
  body: unknown;
  retryAfterMs: number | null;
}

type StepOutcome = 'ok' | 'cancel' | 'gone' | 'stopped';

/** A reply the agent cannot act on (unexpected status). */
export class AgentHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what}: HTTP ${status}${errorText(body)}`);
  }
}

const defaultRebootMs = 1500;
const defaultHeartbeatMs = 30_000;
const defaultLongPollSeconds = 30;
const progressSteps = 4;

/** Failures a software update can end in, with the phase (0..3) in which each happens. */
const updateFailures: { code: string; phase: number; message: (s: FailureContext) => string }[] = [
  {
    code: 'insufficientStorage',
    phase: 0,
    message: (s) => `Not enough free storage to download ${s.type} ${s.version}: ${s.needMb} MB needed, ${s.freeMb} MB free.`,
  },
  {
    code: 'deviceBusy',
    phase: 0,
    message: (s) => `The device is in a meeting; ${s.type} ${s.version} was not installed. Retry outside meeting hours.`,
  },
  {
    code: 'downloadFailed',
    phase: 0,
    message: (s) => `Downloading ${s.type} ${s.version} failed at ${s.percent} %: the connection to the content delivery network was reset (ECONNRESET).`,
  },
  {
    code: 'signatureInvalid',
    phase: 1,
    message: (s) => `The package for ${s.type} ${s.version} failed signature verification (${s.family === 'windows' ? 'CERT_E_UNTRUSTEDROOT' : 'APK signature digest mismatch'}); it was discarded.`,
  },
  {
    code: 'installFailed',
    phase: 2,
    message: (s) => s.family === 'windows'
      ? `The installer for ${s.type} ${s.version} exited with code 0x80070643 (fatal error during installation); ${s.previous ?? 'the previous version'} is still installed.`
      : `Installing ${s.type} ${s.version} failed: INSTALL_FAILED_INTERNAL_ERROR; ${s.previous ?? 'the previous version'} is still installed.`,
  },
];

interface FailureContext {
  type: SoftwareType;
  version: string;
  previous: string | null;
  family: DeviceFamily;
  needMb: number;
  freeMb: number;
  percent: number;
}

interface PeripheralHealthDoc {
  connection?: unknown;
  isOptional?: boolean | null;
  peripheral?: unknown;
}

/**
 * One simulated Teams device speaking the real agent protocol (docs/agent-protocol.md) over
 * HTTP: it enrolls, long-polls for work, acknowledges, reports progress and results, restarts
 * when an update needs it, and reports inventory. Its hardware, software and peripherals come
 * from a generated device so that a fleet looks like a real one.
 */
export class SimulatedDevice {
  private readonly url: string;
  private readonly enrollmentToken: string;
  private readonly updateMs: number;
  private readonly failureRate: number;
  private readonly rebootMs: number;
  private readonly heartbeatMs: number;
  private readonly longPollSeconds: number;
  private readonly random: RandomSource;
  private readonly logger: (msg: string) => void;

  private readonly deviceType: DeviceType;
  private readonly family: DeviceFamily;
  private readonly hardwareDetail: HardwareDetail;
  private readonly displayName: string | null;
  private readonly signedIn: boolean;
  private readonly templatePeripherals: Record<string, unknown> | null;
  private readonly templateHardware: Record<string, unknown> | null;
  private readonly applicable: Set<SoftwareType>;

  private _installed: InstalledVersions;
  private _deviceId: string | null = null;
  private _credential: string | null = null;
  private _operationsRun = 0;
  private _failures = 0;
  private _earlyEmptyPolls = 0;

  /** Graph-shaped parts of the inventory, rebuilt whenever the device (re)connects */
  private parts!: {
    peripheralsHealth: Record<string, unknown>;
    hardwareHealth: Record<string, unknown> | null;
    loginStatus: Record<string, unknown>;
    idle: Record<string, unknown>;
    busy: Record<string, unknown>;
  };
  /** the next inventory report carries the health parts, not only the heartbeat */
  private fullInventoryDue = true;
  private rebooting = false;
  private started = false;
  private stopped = false;
  private readonly stopController = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(options: SimulatedDeviceOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.enrollmentToken = options.enrollmentToken;
    this.updateMs = Math.max(0, options.updateMs);
    this.failureRate = Math.min(1, Math.max(0, options.failureRate));
    this.rebootMs = options.rebootMs ?? defaultRebootMs;
    this.heartbeatMs = options.heartbeatMs ?? defaultHeartbeatMs;
    this.longPollSeconds = Math.max(0, Math.floor(options.longPollSeconds ?? defaultLongPollSeconds));
    const template = options.template;
    this.random = options.random ?? mulberry32(seedOf(template.hardwareDetail.uniqueId ?? template.hardwareDetail.serialNumber ?? template.id));
    this.logger = options.log ?? (() => {});

    // Only what the device needs is kept, not the template: 10,000 devices stay small.
    this.deviceType = template.deviceType;
    this.family = deviceFamily(template.deviceType);
    this.hardwareDetail = { ...template.hardwareDetail, macAddresses: [...template.hardwareDetail.macAddresses] };
    this.displayName = template.currentUser?.displayName ?? null;
    this.signedIn = template.currentUser !== null;
    this._installed = { ...template.installed };
    this.applicable = new Set(Object.keys(template.installed) as SoftwareType[]);
    this.templatePeripherals = objectOrNull(template.health.peripheralsHealth);
    this.templateHardware = objectOrNull(template.health.hardwareHealth);
    this.buildParts(new Date().toISOString());
  }

  get deviceId(): string | null {
    return this._deviceId;
  }

  /** what the device runs now, per software type */
  get installed(): InstalledVersions {
    return { ...this._installed };
  }

  /** operations whose result the server accepted */
  get operationsRun(): number {
    return this._operationsRun;
  }

  /** operations this device reported as failed (and the server accepted) */
  get failures(): number {
    return this._failures;
  }

  /** work polls the server answered "nothing" much sooner than asked (should stay 0) */
  get earlyEmptyPolls(): number {
    return this._earlyEmptyPolls;
  }

  get isRebooting(): boolean {
    return this.rebooting;
  }

  /**
   * Enrolls (retrying while the server is unreachable or failing), then runs the work loop and
   * the heartbeat in the background. Rejects when the server refuses the enrollment (e.g. an
   * unknown or expired token). Resolves without enrolling when stopped first.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('The simulated device was already started.');
    this.started = true;
    await this.enroll();
    if (this.stopped) return;
    this.loops = [this.workLoop(), this.heartbeatLoop()];
  }

  /** Stops at once: the in-flight request is aborted; a running operation stays as it is (like a power cut). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopController.abort();
    await Promise.allSettled(this.loops);
  }

  // --- enrollment --------------------------------------------------------------------------

  private async enroll(): Promise<void> {
    const body = {
      enrollmentToken: this.enrollmentToken,
      deviceType: this.deviceType,
      hardwareDetail: this.hardwareDetail,
      installed: this._installed,
      displayName: this.displayName,
    };
    for (let attempt = 1; !this.stopped; attempt++) {
      let wait: number;
      try {
        const reply = await this.send('POST', '/agent/v1/enroll', body, false, 30_000);
        if (reply.status === 200 || reply.status === 201) {
          const enrolled = reply.body as { deviceId: string; credential: string };
          this._deviceId = enrolled.deviceId;
          this._credential = enrolled.credential;
          this.fullInventoryDue = true;
          this.log(`enrolled as ${enrolled.deviceId} (${reply.status === 201 ? 'new' : 're-enrolled'})`);
          return;
        }
        if (!transient(reply.status)) throw new AgentHttpError(reply.status, reply.body, 'enrollment refused');
        wait = reply.retryAfterMs ?? backoffMs(attempt, this.random);
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof AgentHttpError) throw error;
        wait = backoffMs(attempt, this.random);
        if (attempt === 1 || attempt % 10 === 0) this.log(`enrollment failed (${describe(error)}); retrying`);
      }
      await this.sleep(wait);
    }
  }

  /** The server no longer knows the credential (re-enrolled elsewhere, database reset): enroll again. */
  private async reenroll(): Promise<void> {
    this.log('credential refused; enrolling again');
    this._credential = null;
    try {
      await this.enroll();
    } catch (error) {
      if (this.stopped) return;
      // The token may have expired: wait long, not in a tight loop.
      this.log(`re-enrollment refused (${describe(error)}); retrying in a minute`);
      await this.sleep(jitter(60_000, 0.2, this.random));
    }
  }

  // --- work --------------------------------------------------------------------------------

  private async workLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this._credential) {
          await this.reenroll();
          continue;
        }
        const work = await this.poll();
        failures = 0;
        if (work) await this.runOperation(work);
      } catch (error) {
        if (this.stopped) return;
        failures++;
        if (failures === 1 || failures % 10 === 0) this.log(`work poll failed (${describe(error)}); retrying`);
        await this.sleep(error instanceof RetryAfter ? error.ms : backoffMs(failures, this.random));
      }
    }
  }

  private async poll(): Promise<WorkItem | null> {
    const asked = Date.now();
    const reply = await this.send('GET', `/agent/v1/work?waitSeconds=${this.longPollSeconds}`, undefined, true, (this.longPollSeconds + 15) * 1000);
    if (reply.status === 200) return (reply.body as { operation: WorkItem }).operation;
    if (reply.status === 204) {
      // A poll answered far sooner than asked with nothing is a server going down or a bug;
      // never spin on it. Without long-polling (waitSeconds=0) the device polls every second.
      if (this.longPollSeconds < 2) {
        await this.sleep(jitter(1000, 0.5, this.random));
      } else if (Date.now() - asked < (this.longPollSeconds * 1000) / 2) {
        this._earlyEmptyPolls++;
        await this.sleep(jitter(1000, 0.5, this.random));
      }
      return null;
    }
    if (reply.status === 401) {
      this._credential = null;
      return null;
    }
    if (reply.retryAfterMs !== null) throw new RetryAfter(reply.retryAfterMs);
    throw new AgentHttpError(reply.status, reply.body, 'work poll');
  }

  private async runOperation(item: WorkItem): Promise<void> {
    let operation = item;
    const resumed = operation.status === 'inProgress';
    if (!resumed) {
      const ack = await this.send('POST', `/agent/v1/operations/${operation.id}/ack`, undefined, true);
      if (ack.status === 409 || ack.status === 404) {
        // Cancelled or taken in the meantime, or an older operation comes first: ask again.
        this.log(`operation ${operation.id} could not be acknowledged (${ack.status}${errorText(ack.body)}); skipping`);
        await this.sleep(jitter(300, 0.5, this.random));
        return;
      }
      if (ack.status !== 200) {
        if (ack.status === 401) this._credential = null;
        throw new AgentHttpError(ack.status, ack.body, `acknowledging operation ${operation.id}`);
      }
      operation = (ack.body as { operation: WorkItem }).operation;
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
    const type = operation.softwareType;
    const version = operation.softwareVersion;
    const fail = (code: string, message: string) => this.report(operation, { status: 'failed', installed: this.installed, error: { code, message } });
    if (!type || !version) {
      await fail('invalidRequest', 'The operation names no software type or version to install.');
      return;
    }
    if (!this.applicable.has(type) && demoSoftwareVersions[type][this.family].length === 0) {
      await fail('notApplicable', `A ${this.deviceType} device (${this.hardwareDetail.manufacturer} ${this.hardwareDetail.model}) has no ${type} to update.`);
      return;
    }
    const failure = this.random() < this.failureRate ? pickOne(updateFailures, this.random) : null;
    const reboots = type === 'firmware' || type === 'operatingSystem';
    const phases = [
      `Downloading ${type} ${version}`,
      'Verifying package signature',
      `Installing ${type} ${version}`,
      reboots ? 'Finalizing; a restart follows' : 'Finalizing',
    ];
    const outcome = await this.work(operation, resumed ? ['Resuming the update after a restart'] : phases, failure?.phase ?? null);
    if (outcome === 'stopped' || outcome === 'gone') return;
    if (outcome === 'cancel') {
      await this.report(operation, { status: 'cancelled' });
      return;
    }
    if (failure) {
      await fail(failure.code, failure.message({
        type, version, previous: this._installed[type] ?? null, family: this.family,
        needMb: 200 + Math.floor(this.random() * 1800), freeMb: Math.floor(this.random() * 150),
        percent: 5 + Math.floor(this.random() * 90),
      }));
      return;
    }
    this._installed = { ...this._installed, [type]: version };
    this.applicable.add(type);
    const accepted = await this.report(operation, { status: 'successful', installed: this.installed });
    if (accepted && reboots) await this.reboot();
  }

  private async restart(operation: WorkItem, resumed: boolean): Promise<void> {
    // A restart that was under way when the device went down has happened.
    const outcome = resumed ? 'ok' : await this.work(operation, ['Closing the Teams app', 'Signing out', 'Shutting down', 'Restarting'], null);
    if (outcome === 'stopped' || outcome === 'gone') return;
    if (outcome === 'cancel') {
      await this.report(operation, { status: 'cancelled' });
      return;
    }
    const accepted = await this.report(operation, { status: 'successful' });
    if (accepted && !resumed) await this.reboot();
  }

  private async collectDiagnostics(operation: WorkItem, resumed: boolean): Promise<void> {
    const phases = resumed
      ? ['Collecting logs again after a restart']
      : ['Collecting event logs', 'Collecting Teams client logs', 'Collecting peripheral and network state', 'Compressing logs'];
    const outcome = await this.work(operation, phases, null);
    if (outcome === 'stopped' || outcome === 'gone') return;
    if (outcome === 'cancel') {
      await this.report(operation, { status: 'cancelled' });
      return;
    }
    const now = new Date();
    const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const r = this.random;
    const diagnostics = {
      logFile: `diag-${this._deviceId}-${stamp}.zip`,
      sizeBytes: 2_000_000 + Math.floor(r() * 38_000_000),
      collectedDateTime: now.toISOString(),
      summary: {
        model: `${this.hardwareDetail.manufacturer} ${this.hardwareDetail.model}`,
        serialNumber: this.hardwareDetail.serialNumber,
        installed: this.installed,
        uptimeSeconds: 600 + Math.floor(r() * 30 * 86_400),
        cpuUsagePercent: 3 + Math.floor(r() * 60),
        memoryUsedPercent: 35 + Math.floor(r() * 55),
        freeStorageMB: 300 + Math.floor(r() * 20_000),
        networkLatencyMs: 5 + Math.floor(r() * 120),
        packetLossPercent: Math.round(r() * r() * 300) / 100,
        crashDumps: r() < 0.1 ? 1 + Math.floor(r() * 3) : 0,
        peripheralsConnected: countPeripherals(this.parts.peripheralsHealth),
        teamsSignedIn: this.signedIn,
      },
    };
    await this.report(operation, { status: 'successful', diagnostics });
  }

  /**
   * Runs the phases of an operation over `updateMs` ± 30 %, reporting progress at the start of
   * each; a failure planned for phase `failAt` ends the work after that phase.
   */
  private async work(operation: WorkItem, phases: string[], failAt: number | null): Promise<StepOutcome> {
    const total = jitter(this.updateMs, 0.3, this.random);
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

  /** Progress is best effort; its reply says whether an admin asked to cancel. */
  private async progress(operation: WorkItem, percent: number, message: string): Promise<StepOutcome> {
    try {
      const reply = await this.send('POST', `/agent/v1/operations/${operation.id}/progress`, { percent, message }, true);
      if (reply.status === 200) return (reply.body as { cancelRequested?: boolean }).cancelRequested ? 'cancel' : 'ok';
      if (reply.status === 409 || reply.status === 404) {
        this.log(`operation ${operation.id} ended on the server (${reply.status}${errorText(reply.body)}); abandoning it`);
        return 'gone';
      }
      return 'ok';
    } catch (error) {
      if (this.stopped) return 'stopped';
      this.log(`progress of ${operation.id} not delivered (${describe(error)})`);
      return 'ok';
    }
  }

  /** Delivers a result, retrying while the server is unreachable; true when the server accepted it. */
  private async report(operation: WorkItem, result: ResultBody): Promise<boolean> {
    for (let attempt = 1; !this.stopped; attempt++) {
      let wait: number;
      try {
        const reply = await this.send('POST', `/agent/v1/operations/${operation.id}/result`, result, true);
        if (reply.status === 200) {
          this._operationsRun++;
          if (result.status === 'failed') this._failures++;
          const outcome = result.error ? `${result.status} (${result.error.code})` : result.status;
          this.log(`operation ${operation.id} ${operation.operationType}${operation.softwareType ? ` ${operation.softwareType} ${operation.softwareVersion}` : ''}: ${outcome}`);
          return true;
        }
        if (!transient(reply.status)) {
          if (reply.status === 401) this._credential = null;
          this.log(`result of ${operation.id} refused (${reply.status}${errorText(reply.body)})`);
          return false;
        }
        wait = reply.retryAfterMs ?? backoffMs(attempt, this.random);
      } catch (error) {
        if (this.stopped) return false;
        wait = backoffMs(attempt, this.random);
        if (attempt === 1 || attempt % 10 === 0) this.log(`result of ${operation.id} not delivered (${describe(error)}); retrying`);
      }
      await this.sleep(wait);
    }
    return false;
  }

  /** Offline for `rebootMs` ± 30 %: no polls, no heartbeats; then back with a full inventory. */
  private async reboot(): Promise<void> {
    this.rebooting = true;
    this.log('restarting');
    await this.sleep(jitter(this.rebootMs, 0.3, this.random));
    this.rebooting = false;
    if (this.stopped) return;
    this.buildParts(new Date().toISOString());
    this.fullInventoryDue = true;
    await this.sendInventory();
  }

  // --- inventory ---------------------------------------------------------------------------

  private async heartbeatLoop(): Promise<void> {
    while (!this.stopped) {
      if (!this.rebooting && this._credential) await this.sendInventory();
      await this.sleep(jitter(this.heartbeatMs, 0.2, this.random));
    }
  }

  /**
   * The health parts go with the first report after (re)connecting; routine heartbeats carry
   * only what changes (installed versions, activity), which the server merges.
   */
  private async sendInventory(): Promise<void> {
    const busy = this.random() < 0.25;
    const full = this.fullInventoryDue;
    const body: Record<string, unknown> = {
      installed: this._installed,
      activityState: busy ? 'busy' : 'idle',
      activePeripherals: busy ? this.parts.busy : this.parts.idle,
    };
    if (full) {
      body.peripheralsHealth = this.parts.peripheralsHealth;
      body.hardwareHealth = this.parts.hardwareHealth;
      body.loginStatus = this.parts.loginStatus;
    }
    try {
      const reply = await this.send('POST', '/agent/v1/inventory', body, true);
      if (reply.status === 200) {
        if (full) this.fullInventoryDue = false;
      } else if (reply.status === 401) {
        this._credential = null;
      } else {
        this.log(`inventory refused (${reply.status}${errorText(reply.body)})`);
      }
    } catch (error) {
      if (!this.stopped) this.log(`inventory not delivered (${describe(error)})`);
    }
  }

  /** Graph-shaped health with everything present connected since `since`. */
  private buildParts(since: string): void {
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
    const loginStatus = {
      exchangeConnection: connection(this.signedIn ? 'connected' : 'disconnected'),
      skypeConnection: connection(this.family === 'windows' ? (this.signedIn ? 'connected' : 'disconnected') : 'unknown'),
      teamsConnection: connection(this.signedIn ? 'connected' : 'disconnected'),
    };
    const peripheral = (key: string) => (peripheralsHealth[key] as PeripheralHealthDoc | null | undefined)?.peripheral ?? null;
    const idle = {
      roomCamera: null,
      contentCamera: null,
      speaker: peripheral('speakerHealth'),
      communicationSpeaker: peripheral('communicationSpeakerHealth'),
      microphone: peripheral('microphoneHealth'),
    };
    const busy = { ...idle, roomCamera: peripheral('roomCameraHealth'), contentCamera: peripheral('contentCameraHealth') };
    this.parts = { peripheralsHealth, hardwareHealth, loginStatus, idle, busy };
  }

  // --- plumbing ----------------------------------------------------------------------------

  private async send(method: 'GET' | 'POST', path: string, body: unknown, auth: boolean, timeoutMs = 30_000): Promise<Reply> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (auth) headers.authorization = `Bearer ${this._credential}`;
    const response = await fetch(this.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.any([this.stopController.signal, AbortSignal.timeout(timeoutMs)]),
    });
    // Always read the body, so that the connection goes back to the pool.
    const text = await response.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    // Retry-After is stretched by up to half, so that thousands of devices told "1 s" at once
    // do not all come back in the same millisecond.
    const retryAfter = Number(response.headers.get('retry-after'));
    const retryAfterMs = retryAfter > 0 ? Math.min(60, retryAfter) * 1000 * (1 + this.random() / 2) : null;
    return { status: response.status, body: parsed, retryAfterMs };
  }

  /** Waits, or less when the device is stopped. */
  private sleep(ms: number): Promise<void> {
    const signal = this.stopController.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private log(message: string): void {
    this.logger(`[sim ${this._deviceId?.slice(0, 8) ?? this.hardwareDetail.serialNumber}] ${message}`);
  }
}

class RetryAfter extends Error {
  constructor(readonly ms: number) {
    super(`retry after ${ms} ms`);
  }
}

function transient(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
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

function countPeripherals(peripheralsHealth: Record<string, unknown>): number {
  let count = 0;
  for (const value of Object.values(peripheralsHealth)) {
    for (const part of Array.isArray(value) ? value : [value]) if ((part as PeripheralHealthDoc | null)?.peripheral) count++;
  }
  return count;
}

function errorText(body: unknown): string {
  const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
  return error ? `: ${error.code} ${error.message ?? ''}`.trimEnd() : '';
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? error.message;
}
