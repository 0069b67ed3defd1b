import type { EnrollRequest, ResultBody, WorkItem } from '../domain/agent-protocol.js';
import { backoffMs, jitter, type RandomSource } from '../seed/seeded-random.js';
import { abortableSleep } from './abortable-sleep.js';
import { AgentClient, AgentHttpError, describeError, errorText, type RetryPolicy } from './agent-client.js';
import type { AgentTransport } from './agent-transport.js';
import type { DeviceHost, HostOutcome, ProgressOutcome } from './device-host.js';

/** What the agent is doing. */
export type DeviceAgentState = 'new' | 'enrolling' | 'polling' | 'working' | 'rebooting' | 'stopped';

export interface DeviceAgentOptions {
  /** base URL of the server, e.g. http://127.0.0.1:8080 */
  url: string;
  /** for new hardware, or to come back after an admin reset the device; null: credential only */
  enrollmentToken: string | null;
  /** the credential of an earlier enrollment, tried first */
  credential?: string | null;
  /**
   * When the server refuses the credential of an enrolled device: enroll again with the token
   * (the simulator, like a device an admin reset), or stop and say so (the real agent: a revoked
   * device must not come back by itself).
   */
  whenRefused?: 'enrollAgain' | 'stop';
  /** how long the server may hold a work poll (it caps this at 30 s) */
  longPollSeconds: number;
  /** time between inventory reports (± 20 %) */
  heartbeatMs: number;
  random: RandomSource;
  /** backoff of the agent client while the server is unreachable or failing */
  retry?: Partial<RetryPolicy>;
  /** default: fetch */
  transport?: AgentTransport;
  /** starts every log line (`sim`, `agent`) */
  name: string;
  /** names the device in log lines until it has an id (a serial number) */
  label: string;
  log: (message: string) => void;
}

/**
 * The one implementation of the device side of the agent protocol: it enrolls (again when the
 * server forgets its credential), long-polls for work, acknowledges an operation, lets its
 * host do the work while relaying progress and an admin's cancel, reports the result, restarts
 * the host when the result asks for it, and reports inventory as its heartbeat. The simulated
 * fleet and the real agent differ only in their host (device-host.ts).
 */
export class DeviceAgent {
  private readonly client: AgentClient;
  private refusedCredential: string | null = null;
  private _deviceId: string | null = null;
  private _state: DeviceAgentState = 'new';
  private _operationsRun = 0;
  private _failures = 0;
  private _earlyEmptyPolls = 0;
  private readonly stopController = new AbortController();
  private loops: Promise<void>[] = [];
  private _stopReason: string | null = null;

  constructor(
    private readonly options: DeviceAgentOptions,
    private readonly host: DeviceHost,
  ) {
    this.client = new AgentClient({
      url: options.url,
      credential: options.credential ?? null,
      transport: options.transport,
      retry: options.retry,
      random: options.random,
      signal: this.stopController.signal,
      onRetry: (attempt, reason, path) => {
        if (attempt === 1 || attempt % 10 === 0) this.log(`${path.split('?')[0]} failed (${reason}); retrying`);
      },
    });
  }

  get deviceId(): string | null {
    return this._deviceId;
  }

  get state(): DeviceAgentState {
    return this._state;
  }

  /** operations whose result the server accepted */
  get operationsRun(): number {
    return this._operationsRun;
  }

  /** of those, the ones the server recorded as failed */
  get failures(): number {
    return this._failures;
  }

  /** work polls the server answered "nothing" much sooner than asked (should stay 0) */
  get earlyEmptyPolls(): number {
    return this._earlyEmptyPolls;
  }

  /** the device credential it holds now */
  get credential(): string | null {
    return this.client.credential;
  }

  /** why the agent stopped by itself (its credential was refused), or null */
  get stopReason(): string | null {
    return this._stopReason;
  }

  /** Resolves when the agent has stopped, by stop() or by itself. */
  async done(): Promise<void> {
    await Promise.allSettled(this.loops);
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
    if (this._state !== 'new') throw new Error('The agent was already started.');
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

  private async enroll(again = false): Promise<void> {
    this._state = 'enrolling';
    const request: EnrollRequest = { enrollmentToken: this.options.enrollmentToken, ...(await this.host.enrollment()) };
    let reply;
    try {
      // Enrolled before: prove it with the credential; once it is refused (an admin reset the
      // device, the database was replaced), the enrollment token is the way back in.
      const proof = this.client.credential ?? this.refusedCredential;
      if (proof) reply = await this.client.enroll(request, { credential: proof });
      const tokenAllowed = !again || this.options.whenRefused !== 'stop';
      if ((!reply || reply.status === 401) && this.options.enrollmentToken && tokenAllowed) reply = await this.client.enroll(request);
    } catch (error) {
      if (this.stopped) return;
      throw error;
    }
    if (!reply?.body || (reply.status !== 200 && reply.status !== 201)) {
      throw new AgentHttpError(reply?.status ?? 401, reply?.error ?? null, 'enrollment refused');
    }
    this._deviceId = reply.body.deviceId;
    this.refusedCredential = null;
    await this.host.enrolled(reply.body.deviceId, reply.body.credential);
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
      await this.enroll(true);
    } catch (error) {
      if (this.stopped) return;
      if (this.options.whenRefused === 'stop' && error instanceof AgentHttpError && error.status === 401) {
        this._stopReason = 'the server refused this device\'s credential (the device was revoked or removed); an admin must enroll it again';
        this.log(`stopping: ${this._stopReason}`);
        this.stopController.abort();
        this._state = 'stopped';
        return;
      }
      // The token may have expired: wait long, not in a tight loop.
      this.log(`re-enrollment refused (${describeError(error)}); retrying in a minute`);
      await this.sleep(jitter(60_000, 0.2, this.options.random));
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
        await this.sleep(backoffMs(failures, this.options.random));
      }
    }
  }

  /** One long-poll; the client retries while the server is unreachable or failing. */
  private async poll(): Promise<WorkItem | null> {
    this._state = 'polling';
    const asked = Date.now();
    const reply = await this.client.poll(this.options.longPollSeconds);
    if (reply.status === 200 && reply.body) return reply.body.operation;
    if (reply.status === 204) {
      // A poll answered far sooner than asked with nothing is a server going down or a bug;
      // never spin on it. Without long-polling (waitSeconds=0) the device polls every second.
      if (this.options.longPollSeconds < 2) {
        await this.sleep(jitter(1000, 0.5, this.options.random));
      } else if (Date.now() - asked < (this.options.longPollSeconds * 1000) / 2) {
        this._earlyEmptyPolls++;
        await this.sleep(jitter(1000, 0.5, this.options.random));
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
        await this.sleep(jitter(300, 0.5, this.options.random));
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
    const outcome: HostOutcome = await this.host.run({
      operation,
      resumed,
      signal: this.stopController.signal,
      progress: (percent, message) => this.progress(operation, percent, message),
      sleep: (ms) => this.sleep(ms),
      log: (message) => this.log(message),
    });
    if (this.stopped || outcome.kind === 'abandoned') return;
    if (outcome.kind === 'cancelled') {
      await this.report(operation, { status: 'cancelled' });
      return;
    }
    const accepted = await this.report(operation, outcome.result);
    if (accepted && outcome.restart) await this.restartHost();
  }

  /** Progress is best effort (one attempt); its reply says whether an admin asked to cancel. */
  private async progress(operation: WorkItem, percent: number | null, message: string | null): Promise<ProgressOutcome> {
    if (this.stopped) return 'stopped';
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

  /** No polls, no heartbeats while the host restarts; then a full inventory. */
  private async restartHost(): Promise<void> {
    this._state = 'rebooting';
    this.log('restarting');
    await this.host.restart(this.stopController.signal);
    if (this.stopped) return;
    this._state = 'polling';
    await this.sendInventory();
  }

  // --- inventory ---------------------------------------------------------------------------

  private async heartbeatLoop(): Promise<void> {
    while (!this.stopped) {
      if (this._state !== 'rebooting' && this.client.credential) await this.sendInventory();
      await this.sleep(jitter(this.options.heartbeatMs, 0.2, this.options.random));
    }
  }

  /** One attempt: a heartbeat that does not get through is followed by the next one. */
  private async sendInventory(): Promise<void> {
    const body = await this.host.inventory();
    try {
      const reply = await this.client.inventory(body, { retry: false });
      if (reply.status === 200) this.host.inventoryDelivered(body);
      else if (reply.status === 401) this.credentialRefused();
      else this.log(`inventory refused (${reply.status}${errorText(reply)})`);
    } catch (error) {
      if (!this.stopped) this.log(`inventory not delivered (${describeError(error)})`);
    }
  }

  /** Waits, or less when the agent is stopped. */
  private sleep(ms: number): Promise<void> {
    return abortableSleep(ms, this.stopController.signal);
  }

  private log(message: string): void {
    this.options.log(`[${this.options.name} ${this._deviceId?.slice(0, 8) ?? this.options.label}] ${message}`);
  }
}
