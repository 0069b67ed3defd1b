import type { ActionRequest } from '../domain/action-body.js';
import type { Clock } from '../domain/clock.js';
import { actorOf, auditEvent } from '../domain/audit.js';
import { ServiceError, badRequest, notFound } from '../domain/errors.js';
import type { SoftwareType } from '../domain/enums.js';
import type { Artifact } from '../domain/artifact.js';
import { artifactFor, isOffered, newestVersion } from '../domain/software-catalog.js';
import { identitySetOf, type Caller } from '../domain/identity.js';
import { actions, type ActionName, type Operation } from '../domain/operation.js';
import { newOperationId } from '../domain/operation-id.js';
import type { Store } from '../store/store.js';
import { windowsOfDevice } from './maintenance-windows.js';

/**
 * Accepts an action on a device: one new `queued` operation, or 409 while one of the same
 * kind is pending. The store's unique index makes the decision, so concurrent requests
 * (and replicas) get exactly one 202 between them. A device covered by maintenance windows,
 * none of them open, gets it `scheduled` for their next opening instead, its start deadline
 * counted from then; the windows are read beside the catalog, so an update waits for no
 * extra round trip (a tenant without windows: one empty index range).
 */
export async function requestOperation(
  store: Store,
  caller: Caller,
  deviceId: string,
  action: ActionName,
  request: ActionRequest,
  startTimeoutMs: number,
  clock: Clock,
  /** chosen by the caller when it must be able to create the same operation again (a rollout after a crash) */
  operationId?: string,
): Promise<Operation> {
  const noDevice = () => notFound(`The device '${deviceId.slice(0, 64)}' does not exist.`);
  const created = clock.now();
  const [update, windows] = await Promise.all([
    request.softwareType ? offeredUpdate(store, caller.tenantId, deviceId, request.softwareType, request.softwareVersion, noDevice) : null,
    windowsOfDevice(store, caller.tenantId, deviceId, created),
  ]);
  const softwareVersion = update?.version ?? null;
  const now = new Date(created).toISOString();
  const heldUntil = windows && !windows.open ? windows.opens : null;
  const by = identitySetOf(caller);
  const operation: Operation = {
    tenantId: caller.tenantId,
    deviceId,
    id: operationId ?? newOperationId(created),
    operationType: actions[action],
    softwareType: request.softwareType,
    softwareVersion,
    status: heldUntil === null ? 'queued' : 'scheduled',
    createdDateTime: now,
    createdBy: by,
    lastActionDateTime: now,
    lastActionBy: by,
    startedDateTime: null,
    completedDateTime: null,
    error: null,
    startDeadline: new Date((heldUntil ?? created) + startTimeoutMs).toISOString(),
    runDeadline: null,
    progressPercent: null,
    progressMessage: null,
    cancelRequested: false,
    result: null,
    artifact: update?.artifact ?? null,
    ...(heldUntil === null ? {} : { scheduledDateTime: new Date(heldUntil).toISOString() }),
  };
  const outcome = await store.createOperation(operation, auditEvent(caller.tenantId, 'operationCreated', actorOf(caller), { type: 'operation', id: operation.id }, {
    activityDateTime: now,
    additionalDetails: { deviceId, operationType: operation.operationType, softwareType: operation.softwareType, softwareVersion },
  }));
  if (outcome === 'noDevice') throw noDevice();
  if (outcome === 'conflict') {
    const what = request.softwareType ? `${actions[action]} of ${request.softwareType}` : actions[action];
    throw new ServiceError('conflict', `A ${what} operation is already queued for the device '${deviceId}'.`);
  }
  return operation;
}

/**
 * The version an update installs: the one named, if the catalog offers it to this device's
 * type and model (else 404, as Graph answers an unavailable version), or the newest offered
 * (none: 400); and the artifact it is installed from. One indexed read; the insert that
 * follows still decides whether the device exists. Reading first is safe because catalog
 * entries are only ever added: a version offered at the read is still offered at the insert.
 * The artifact is kept with the operation, so the work poll (every device, every 30 s) reads
 * nothing more, and a device resuming a download is never handed another file.
 */
async function offeredUpdate(
  store: Store,
  tenantId: string,
  deviceId: string,
  softwareType: SoftwareType,
  named: string | null,
  noDevice: () => ServiceError,
): Promise<{ version: string; artifact: Artifact | null }> {
  const found = await store.getDeviceCatalog(tenantId, deviceId, softwareType, named);
  if (!found) throw noDevice();
  const { device, entries } = found;
  const forDevice = `this device (${device.deviceType}, ${device.model ?? 'unknown model'})`;
  if (named !== null) {
    if (!isOffered(entries, softwareType, named, device.deviceType, device.model)) {
      throw notFound(`The ${softwareType} version '${named}' is not available for ${forDevice}: the catalog does not offer it.`);
    }
  }
  const version = named ?? newestVersion(entries, softwareType, device.deviceType, device.model);
  if (version === null) throw badRequest(`No 'softwareVersion' was given and the catalog has no ${softwareType} version for ${forDevice}.`);
  return { version, artifact: artifactFor(entries, softwareType, version, device.deviceType, device.model) };
}
