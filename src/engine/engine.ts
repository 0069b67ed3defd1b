import type { Logger } from 'pino';
import type { ActionRequest } from '../domain/action-body.js';
import type { InventoryBody } from '../domain/agent-protocol.js';
import type { Device } from '../domain/device.js';
import { notFound } from '../domain/errors.js';
import type { Caller, IdentitySet } from '../domain/identity.js';
import type { MaintenanceWindow, WindowChanges } from '../domain/maintenance-window.js';
import type { DeviceFilter } from '../store/device-query.js';
import type { ActionName, Operation } from '../domain/operation.js';
import type { ResultReport } from '../domain/operation-result.js';
import type { ArtifactContent } from '../store/artifact-store.js';
import type { DeviceRef, EnrollmentToken, Store } from '../store/store.js';
import type { Page } from '../store/device-query.js';
import type { RolloutDevice, RolloutPageQuery } from '../store/rollout-store.js';
import type { SubscriptionBody, SubscriptionChange } from '../domain/subscription.js';
import type { StoredSubscription } from '../store/subscription-store.js';
import { actorOf, type AuditActor } from '../domain/audit.js';
import { isoNow, systemClock, type Clock } from '../domain/clock.js';
import { AuditLog } from './audit-log.js';
import { ChangeNotifications } from './change-notifications.js';
import {
  createEnrollmentToken, removeDevice, revokeDeviceCredential, revokeEnrollmentToken, rotateDeviceCredential, type EnrollmentTokenRequest,
} from './device-administration.js';
import { enrollDevice, type EnrolledDevice, type EnrollmentClaim } from './device-enrollment.js';
import { DeviceReports } from './device-reports.js';
import type { EngineTimings } from './engine-timings.js';
import { OperationLifecycle } from './operation-lifecycle.js';
import { requestOperation } from './operation-requests.js';
import { createWindow, deleteWindow, updateWindow, windowsOfDevice, WindowScheduler } from './maintenance-windows.js';
import { Presence } from './presence.js';
import { RolloutScheduler } from './rollout-scheduler.js';
import { Rollouts, type RolloutRequest, type RolloutVerb, type RolloutView } from './rollouts.js';
import { Subscriptions } from './subscriptions.js';
import { OperationWatches, type OperationListener } from './operation-watches.js';
import { Supervisor } from './supervisor.js';
import { WorkSignal, type PollWaiter } from './work-signal.js';

/**
 * The operation engine: accepts operations, hands them to devices, records what devices
 * report, and supervises deadlines. Every state change is one conditional statement in the
 * store, so the engine keeps no state that a restart could lose. Routes call its methods;
 * its parts stay private.
 */
export class Engine {
  private readonly signal = new WorkSignal();
  private readonly reports: DeviceReports;
  private readonly presence: Presence;
  private readonly lifecycle: OperationLifecycle;
  private readonly supervisor: Supervisor;
  private readonly audit: AuditLog;
  private readonly windows: WindowScheduler;
  private readonly rollouts: Rollouts;
  private readonly rolloutScheduler: RolloutScheduler;
  private readonly subscriptions: Subscriptions;
  private readonly notifications: ChangeNotifications;
  private readonly watches: OperationWatches;
  /** set on stop: long-polls answer at once instead of waiting */
  private stopping = false;

  constructor(
    private readonly store: Store,
    private readonly timings: EngineTimings,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.reports = new DeviceReports(store);
    this.audit = new AuditLog(store, log);
    this.presence = new Presence(store, this.reports, timings.presenceFlushMs, log, clock);
    this.supervisor = new Supervisor(store, this.reports, timings, log, clock);
    this.lifecycle = new OperationLifecycle(store, this.reports, this.signal, timings, (deviceId) => this.notifyReplicas(deviceId), this.audit, clock);
    this.windows = new WindowScheduler(store, timings.schedulerIntervalMs, (deviceId) => this.signal.wake(deviceId), log, clock);
    const withdraw = async (tenantId: string, operationId: string, by: IdentitySet, at: string) =>
      (await store.transitionOperation(tenantId, operationId, 'withdraw', { at, by })) !== null;
    this.rollouts = new Rollouts(store, this.audit, clock, withdraw);
    this.rolloutScheduler = new RolloutScheduler({
      store, clock, log, withdraw,
      intervalMs: timings.schedulerIntervalMs,
      startTimeoutMs: timings.startTimeoutMs,
      wake: (deviceId) => this.signal.wake(deviceId),
    });
    this.subscriptions = new Subscriptions(store, clock);
    this.notifications = new ChangeNotifications(store, timings.schedulerIntervalMs, log, clock);
    this.watches = new OperationWatches(store, timings.watchIntervalMs, log);
    store.onWork((deviceId) => this.signal.wake(deviceId));
  }

  start(): void {
    this.presence.start();
    this.supervisor.start();
    this.windows.start();
    this.rolloutScheduler.start();
    this.audit.start();
    this.notifications.start();
    this.watches.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.signal.wakeAll();
    await this.watches.stop();
    await this.supervisor.stop();
    await this.windows.stop();
    await this.rolloutScheduler.stop();
    await this.presence.stop();
    await this.audit.stop();
    await this.notifications.stop();
  }

  /** Accepts an action (202) or refuses it (409/400/404), and wakes the device's long-poll (the store tells other replicas). */
  async request(caller: Caller, deviceId: string, action: ActionName, body: ActionRequest): Promise<Operation> {
    const operation = await requestOperation(this.store, caller, deviceId, action, body, this.timings.startTimeoutMs, this.clock);
    if (operation.status === 'queued') this.signal.wake(operation.deviceId);
    return operation;
  }

  /** A new maintenance window (an extension beside Graph); `filter`: the parsed tree of a filter target. */
  createWindow(caller: Caller, changes: Required<WindowChanges>, filter: DeviceFilter | null): Promise<MaintenanceWindow> {
    return createWindow(this.store, caller, changes, filter, this.clock);
  }

  /** Changes a window (`filter` undefined: its target is unchanged); its tenant's held operations are decided again. */
  updateWindow(caller: Caller, id: string, changes: WindowChanges, filter: DeviceFilter | null | undefined): Promise<MaintenanceWindow> {
    return updateWindow(this.store, caller, id, changes, filter, this.clock);
  }

  deleteWindow(caller: Caller, id: string): Promise<void> {
    return deleteWindow(this.store, caller, id, this.clock);
  }

  /** Cancel (an extension beyond Graph): pending → cancelled now; running → when the device confirms. */
  cancel(caller: Caller, deviceId: string, operationId: string): Promise<Operation> {
    return this.told(this.lifecycle.cancel(caller, deviceId, operationId));
  }

  /**
   * Follows an operation live from the state the caller read (the console's event stream): the
   * listener hears each newer state, then null once it ended, vanished or the engine stops.
   * Returns the function that stops following.
   */
  watchOperation(operation: Operation, listener: OperationListener): () => void {
    return this.watches.watch(operation, listener);
  }

  /** Passes a change made here to the operation's live watchers at once. */
  private async told(change: Promise<Operation>): Promise<Operation> {
    const operation = await change;
    this.watches.changed(operation);
    return operation;
  }

  /** A rollout over many devices (an extension beyond Graph): created notStarted, answered at once. */
  createRollout(caller: Caller, request: RolloutRequest): Promise<RolloutView> {
    return this.rollouts.create(caller, request);
  }

  getRollout(caller: Caller, rolloutId: string): Promise<RolloutView> {
    return this.rollouts.get(caller.tenantId, rolloutId);
  }

  listRollouts(query: RolloutPageQuery): Promise<Page<RolloutView, string>> {
    return this.rollouts.list(query);
  }

  /** Each target's state and operation, in the order stages take them. */
  rolloutDevices(caller: Caller, rolloutId: string, top: number, afterSeq: number | null): Promise<Page<RolloutDevice>> {
    return this.rollouts.devices(caller.tenantId, rolloutId, top, afterSeq);
  }

  /** start, pause, resume, approve (the next stage that needs it), cancel. */
  actOnRollout(caller: Caller, rolloutId: string, verb: RolloutVerb): Promise<RolloutView> {
    return this.rollouts.act(caller, rolloutId, verb);
  }

  /** Creates or re-enrolls a device from an enrollment claim and records what it runs. */
  enroll(claim: EnrollmentClaim): Promise<EnrolledDevice> {
    return enrollDevice(this.store, this.reports, this.audit, claim);
  }

  /** The device replaces its credential; the presented one keeps working for a grace period. */
  rotateCredential(device: DeviceRef, presentedHash: string, newHash: string, sourceAddress: string | null): Promise<void> {
    return rotateDeviceCredential(this.store, device, presentedHash, newHash, sourceAddress);
  }

  /** The admin's reset of a device: its credential stops working and its hardware may enroll again. */
  revokeCredential(caller: Caller, deviceId: string): Promise<void> {
    return revokeDeviceCredential(this.store, caller.tenantId, deviceId, actorOf(caller));
  }

  /** Deletes a device and its operations (the audit log keeps that it was). */
  removeDevice(caller: Caller, deviceId: string): Promise<void> {
    return removeDevice(this.store, caller.tenantId, deviceId, actorOf(caller));
  }

  createEnrollmentToken(caller: Caller, request: Omit<EnrollmentTokenRequest, 'tenantId'>): Promise<{ token: string; enrollmentToken: EnrollmentToken }> {
    return createEnrollmentToken(this.store, { ...request, tenantId: caller.tenantId }, actorOf(caller));
  }

  revokeEnrollmentToken(caller: Caller, tokenId: string): Promise<EnrollmentToken> {
    return revokeEnrollmentToken(this.store, caller.tenantId, tokenId, actorOf(caller));
  }

  /** Creates a change-notification subscription after its receiver's validation handshake (the reply shows its signing secret). */
  createSubscription(caller: Caller, body: SubscriptionBody): Promise<StoredSubscription> {
    return this.subscriptions.create(caller, body);
  }

  listSubscriptions(caller: Caller): Promise<StoredSubscription[]> {
    return this.subscriptions.list(caller);
  }

  getSubscription(caller: Caller, id: string): Promise<StoredSubscription> {
    return this.subscriptions.get(caller, id);
  }

  /** Renews or moves a subscription (and reactivates a suspended one); `mayChangeAny`: not only the caller's application's. */
  renewSubscription(caller: Caller, id: string, body: SubscriptionChange, mayChangeAny: boolean): Promise<StoredSubscription> {
    return this.subscriptions.renew(caller, id, body, mayChangeAny);
  }

  deleteSubscription(caller: Caller, id: string, mayChangeAny: boolean): Promise<void> {
    return this.subscriptions.delete(caller, id, mayChangeAny);
  }

  /** A token or device credential that did not verify: counted, then written to the audit log in batches. */
  authenticationFailed(tenantId: string | null, actor: AuditActor, reason: string): void {
    this.audit.authenticationFailed(tenantId, actor, reason);
  }

  /**
   * The long-poll: the device's next operation, waiting up to `waitMs` for one to appear
   * (null when none did, the device hung up (`poll.end()`), or the engine stops). Asking counts
   * as being heard from. The waiter is armed before each look in the store, so an operation
   * created between the look and the wait still wakes the poll. A busy device is handed only
   * its running operation (the store's rule). A queued operation is handed over only while
   * the device's maintenance windows are open (or it has none): one whose windows have closed
   * since it was released goes back to `scheduled` for their next opening.
   */
  async nextWork(poll: PollWaiter, waitMs: number): Promise<Operation | null> {
    const { tenantId, deviceId } = poll;
    this.presence.seen(tenantId, deviceId);
    const deadline = Date.now() + waitMs;
    try {
      for (;;) {
        poll.arm();
        const operation = await this.store.nextOperation(tenantId, deviceId);
        if (operation && (await this.handOver(operation))) return operation;
        if (operation) continue;
        const remaining = deadline - Date.now();
        if (remaining <= 0 || poll.ended || this.stopping) return null;
        await poll.wait(remaining);
      }
    } finally {
      poll.release();
    }
  }

  /**
   * Registers a long-poll of the device, for `nextWork`: work signalled from now on wakes it.
   * `end()` it when the device hangs up; `nextWork` releases it.
   */
  openPoll(tenantId: string, deviceId: string): PollWaiter {
    return this.signal.register(tenantId, deviceId);
  }

  /** Whether a device may be given this operation now; if its windows are closed, it is scheduled again (and false). */
  private async handOver(operation: Operation): Promise<boolean> {
    if (operation.status !== 'queued') return true;
    const at = this.clock.now();
    const windows = await windowsOfDevice(this.store, operation.tenantId, operation.deviceId, at);
    if (!windows || windows.open) return true;
    await this.store.transitionOperation(operation.tenantId, operation.id, 'schedule', {
      at: new Date(at).toISOString(),
      by: null,
      scheduledAt: new Date(windows.opens).toISOString(),
      startDeadline: new Date(windows.opens + this.timings.startTimeoutMs).toISOString(),
    });
    return false;
  }

  /** How many devices have a long-poll waiting on this replica. */
  get devicesWaiting(): number {
    return this.signal.waiting;
  }

  /** The device starts its operation. */
  acknowledge(tenantId: string, deviceId: string, operationId: string): Promise<Operation> {
    return this.told(this.lifecycle.acknowledge(tenantId, deviceId, operationId));
  }

  /** The device's progress on its running operation; the answer carries `cancelRequested`. */
  reportProgress(tenantId: string, deviceId: string, operationId: string, progress: { percent: number | null; message: string | null }): Promise<Operation> {
    return this.told(this.lifecycle.progress(tenantId, deviceId, operationId, progress.percent, progress.message));
  }

  /** The device's result ends its running operation. */
  finish(tenantId: string, deviceId: string, operationId: string, report: ResultReport): Promise<Operation> {
    return this.told(this.lifecycle.finish(tenantId, deviceId, operationId, report));
  }

  /** The device's inventory/heartbeat: recorded at once, its presence at the next batch; 404 once the device is gone. */
  async reportInventory(tenantId: string, deviceId: string, report: InventoryBody): Promise<Device> {
    this.presence.seen(tenantId, deviceId);
    let wasBusy = false;
    const updated = await this.reports.applyInventory(tenantId, deviceId, report, isoNow(this.clock), (before) => {
      wasBusy = before.activityState === 'busy';
    });
    if (!updated) throw notFound('The device no longer exists.');
    // Out of its meeting: the work it was not interrupted with is handed over now.
    if (wasBusy && updated.activityState !== 'busy') this.wakeEverywhere(deviceId);
    return updated;
  }

  /** An artifact a device of this tenant may download (its catalog stores it here); null: a 404 for the device. */
  artifact(tenantId: string, sha256: string): Promise<ArtifactContent | null> {
    return this.store.tenantArtifact(tenantId, sha256);
  }

  /** Wakes the device's long-poll here and on other replicas. */
  private wakeEverywhere(deviceId: string): void {
    this.signal.wake(deviceId);
    void this.notifyReplicas(deviceId);
  }

  /**
   * Tells other replicas' long-polls. The operation is already committed: a failure here must
   * not turn its 202 into an error; the device still finds it at its next poll.
   */
  private async notifyReplicas(deviceId: string): Promise<void> {
    try {
      await this.store.notifyWork(deviceId);
    } catch (error) {
      this.log.warn({ err: error, deviceId }, 'could not notify other replicas; the device gets its work at its next poll');
    }
  }
}
