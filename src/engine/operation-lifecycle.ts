import { actorOf, auditEvent } from '../domain/audit.js';
import { isoNow, type Clock } from '../domain/clock.js';
import { ServiceError, notFound } from '../domain/errors.js';
import type { AuditLog } from './audit-log.js';
import { deviceIdentitySet, identitySetOf, type Caller } from '../domain/identity.js';
import { pendingStatuses, terminalStatuses, type Operation } from '../domain/operation.js';
import { decideResult, type ResultReport } from '../domain/operation-result.js';
import type { Store } from '../store/store.js';
import type { DeviceReports } from './device-reports.js';
import type { EngineTimings } from './engine-timings.js';
import type { WorkSignal } from './work-signal.js';

/**
 * What happens to an operation after it was accepted: the device acknowledges it, reports
 * progress and a result; an admin may cancel it. Every step is one conditional transition;
 * a step that finds the operation in the wrong state changes nothing and says so (409).
 */
export class OperationLifecycle {
  constructor(
    private readonly store: Store,
    private readonly reports: DeviceReports,
    private readonly signal: WorkSignal,
    private readonly timings: EngineTimings,
    private readonly notifyReplicas: (deviceId: string) => Promise<void>,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** Cancel (an extension beyond Graph): pending → cancelled now; running → when the device confirms. */
  async cancel(caller: Caller, deviceId: string, operationId: string): Promise<Operation> {
    const cancelled = await this.cancelOperation(caller, deviceId, operationId);
    await this.audit.record(auditEvent(caller.tenantId, 'operationCancelled', actorOf(caller), { type: 'operation', id: operationId }, {
      additionalDetails: { deviceId, status: cancelled.status },
    }));
    return cancelled;
  }

  private async cancelOperation(caller: Caller, deviceId: string, operationId: string): Promise<Operation> {
    const operation = await this.store.getOperation(caller.tenantId, deviceId, operationId);
    if (!operation) throw notFound(`The operation '${operationId.slice(0, 64)}' does not exist on device '${deviceId.slice(0, 64)}'.`);
    const now = isoNow(this.clock);
    const by = identitySetOf(caller);
    if (pendingStatuses.includes(operation.status)) {
      const withdrawn = await this.store.transitionOperation(caller.tenantId, operationId, 'withdraw', { at: now, by });
      if (withdrawn) return withdrawn;
    }
    const flagged = await this.store.requestCancel(caller.tenantId, operationId, by, now);
    if (flagged) {
      this.signal.wake(deviceId);
      await this.notifyReplicas(deviceId);
      return flagged;
    }
    const current = (await this.store.getOperation(caller.tenantId, deviceId, operationId))!;
    throw new ServiceError('conflict', `The operation is already ${current.status}; it can no longer be cancelled.`);
  }

  /** The device starts the operation: inProgress, startedDateTime, run deadline. */
  async acknowledge(tenantId: string, deviceId: string, operationId: string): Promise<Operation> {
    await this.ownOperation(tenantId, deviceId, operationId);
    const now = this.clock.now();
    const started = await this.store.transitionOperation(tenantId, operationId, 'start', {
      at: new Date(now).toISOString(),
      by: deviceIdentitySet(deviceId, null),
      runDeadline: new Date(now + this.timings.runTimeoutMs).toISOString(),
    });
    if (started) return started;
    throw await this.wrongState(tenantId, deviceId, operationId, 'acknowledged');
  }

  async progress(tenantId: string, deviceId: string, operationId: string, percent: number | null, message: string | null): Promise<Operation> {
    await this.ownOperation(tenantId, deviceId, operationId);
    const updated = await this.store.setProgress(tenantId, operationId, percent, message, isoNow(this.clock));
    if (updated && updated.deviceId === deviceId) return updated;
    throw await this.wrongState(tenantId, deviceId, operationId, 'given progress');
  }

  /** The device's result ends the operation; a softwareUpdate succeeds only with the requested version installed. */
  async finish(tenantId: string, deviceId: string, operationId: string, report: ResultReport): Promise<Operation> {
    const operation = await this.ownOperation(tenantId, deviceId, operationId);
    if (operation.status !== 'inProgress') throw await this.wrongState(tenantId, deviceId, operationId, 'finished');
    const decision = decideResult(operation, report, operation.cancelRequested);
    const now = isoNow(this.clock);
    const result = report.diagnostics || report.installed ? { diagnostics: report.diagnostics, installed: report.installed } : null;
    // What the device says it runs is true whatever becomes of the operation, and written
    // first: whoever reads the operation ended reads the device's new versions too.
    if (report.installed) await this.reports.applyInstalled(tenantId, deviceId, report.installed, now);
    const finished = await this.store.transitionOperation(tenantId, operationId, decision.transition, {
      at: now,
      by: deviceIdentitySet(deviceId, null),
      error: decision.error,
      result,
    });
    if (!finished) throw await this.wrongState(tenantId, deviceId, operationId, 'finished');
    // A restart that succeeded is a device now rebooting: offline until its agent is heard again.
    if (finished.operationType === 'deviceRestart' && finished.status === 'successful') {
      await this.reports.setConnection(tenantId, deviceId, 'disconnected', now);
    }
    // The device may have more work queued behind this one.
    this.signal.wake(deviceId);
    return finished;
  }

  /** Another device's operation does not exist for this device (the steps below change rows by operation id). */
  private async ownOperation(tenantId: string, deviceId: string, operationId: string): Promise<Operation> {
    const operation = await this.store.getOperation(tenantId, deviceId, operationId);
    if (!operation) throw notFound(`The operation '${operationId.slice(0, 64)}' does not exist for this device.`);
    return operation;
  }

  private async wrongState(tenantId: string, deviceId: string, operationId: string, verb: string): Promise<ServiceError> {
    const current = await this.store.getOperation(tenantId, deviceId, operationId);
    if (!current) return notFound(`The operation '${operationId.slice(0, 64)}' does not exist for this device.`);
    const reason = terminalStatuses.includes(current.status)
      ? `it is already ${current.status}`
      : current.status === 'inProgress' ? 'it is already running' : 'another operation of the device runs or is older';
    return new ServiceError('conflict', `The operation cannot be ${verb}: ${reason}.`);
  }
}
