import type { Logger } from 'pino';
import type { Caller } from '../domain/identity.js';
import type { ActionRequest } from '../domain/action-body.js';
import type { ActionName, Operation } from '../domain/operation.js';
import type { Store } from '../store/store.js';
import { DeviceReports } from './device-reports.js';
import { OperationLifecycle } from './operation-lifecycle.js';
import { requestOperation } from './operation-requests.js';
import { Presence } from './presence.js';
import { Supervisor } from './supervisor.js';
import { WorkSignal } from './work-signal.js';

export interface EngineTimings {
  /** an operation not started by its device within this → failed (deviceUnreachable) */
  startTimeoutMs: number;
  /** an operation running longer than this → failed (timeout) */
  runTimeoutMs: number;
  /** an agent silent for longer than this → disconnected, healthStatus offline */
  heartbeatTimeoutMs: number;
  /** how often the supervisor looks for overdue operations and silent devices */
  supervisorIntervalMs: number;
  /** how often agents' presence is written to the store, in one transaction */
  presenceFlushMs: number;
}

export const defaultTimings: EngineTimings = {
  startTimeoutMs: 24 * 3600_000,
  runTimeoutMs: 3600_000,
  heartbeatTimeoutMs: 90_000,
  supervisorIntervalMs: 1000,
  presenceFlushMs: 2000,
};

/**
 * The operation engine: accepts operations, hands them to devices, records what devices
 * report, and supervises deadlines. Every state change is one conditional statement in the
 * store, so the engine keeps no state that a restart could lose.
 */
export class Engine {
  readonly signal = new WorkSignal();
  readonly reports: DeviceReports;
  readonly presence: Presence;
  readonly lifecycle: OperationLifecycle;
  readonly supervisor: Supervisor;
  /** set on stop: long-polls answer at once instead of waiting */
  stopping = false;

  constructor(
    readonly store: Store,
    readonly timings: EngineTimings,
    private readonly log: Logger,
  ) {
    this.reports = new DeviceReports(store);
    this.presence = new Presence(store, this.reports, timings.presenceFlushMs, log);
    this.supervisor = new Supervisor(store, this.reports, timings, log);
    this.lifecycle = new OperationLifecycle(store, this.reports, this.signal, timings, (deviceId) => this.notifyReplicas(deviceId));
    store.onWork((deviceId) => this.signal.wake(deviceId));
  }

  start(): void {
    this.presence.start();
    this.supervisor.start();
  }

  /**
   * Tells other replicas' long-polls. The operation is already committed: a failure here must
   * not turn its 202 into an error; the device still finds it at its next poll.
   */
  async notifyReplicas(deviceId: string): Promise<void> {
    try {
      await this.store.notifyWork(deviceId);
    } catch (error) {
      this.log.warn({ err: error, deviceId }, 'could not notify other replicas; the device gets its work at its next poll');
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.signal.wakeAll();
    await this.supervisor.stop();
    await this.presence.stop();
  }

  /** Accepts an action (202) or refuses it (409/400/404), and wakes the device's long-poll (the store tells other replicas). */
  async request(caller: Caller, deviceId: string, action: ActionName, body: ActionRequest): Promise<Operation> {
    const operation = await requestOperation(this.store, caller, deviceId, action, body, this.timings.startTimeoutMs);
    this.signal.wake(operation.deviceId);
    return operation;
  }
}
