import type { ActionRequest } from '../domain/action-body.js';
import { actorOf, auditEvent } from '../domain/audit.js';
import { ServiceError, badRequest, notFound } from '../domain/errors.js';
import { newestVersion } from '../domain/software-catalog.js';
import { identitySetOf, type Caller } from '../domain/identity.js';
import { actions, type ActionName, type Operation } from '../domain/operation.js';
import { newOperationId } from '../domain/operation-id.js';
import type { Store } from '../store/store.js';

/**
 * Accepts an action on a device: one new `queued` operation, or 409 while one of the same
 * kind is pending. The store's unique index makes the decision, so concurrent requests
 * (and replicas) get exactly one 202 between them.
 */
export async function requestOperation(
  store: Store,
  caller: Caller,
  deviceId: string,
  action: ActionName,
  request: ActionRequest,
  startTimeoutMs: number,
): Promise<Operation> {
  const noDevice = () => notFound(`The device '${deviceId.slice(0, 64)}' does not exist.`);
  let softwareVersion = request.softwareVersion;
  if (request.softwareType && softwareVersion === null) {
    // No version named: the newest the catalog offers for this device's type and model. Only
    // this case reads the device first; otherwise the insert itself finds out whether it exists.
    const device = await store.getDeviceModel(caller.tenantId, deviceId);
    if (!device) throw noDevice();
    softwareVersion = newestVersion(await store.listCatalog(caller.tenantId), request.softwareType, device.deviceType, device.model);
    if (softwareVersion === null) {
      throw badRequest(`No 'softwareVersion' was given and the catalog has no ${request.softwareType} version for this device (${device.deviceType}, ${device.model ?? 'unknown model'}).`);
    }
  }
  const created = Date.now();
  const now = new Date(created).toISOString();
  const by = identitySetOf(caller);
  const operation: Operation = {
    tenantId: caller.tenantId,
    deviceId,
    id: newOperationId(created),
    operationType: actions[action],
    softwareType: request.softwareType,
    softwareVersion,
    status: 'queued',
    createdDateTime: now,
    createdBy: by,
    lastActionDateTime: now,
    lastActionBy: by,
    startedDateTime: null,
    completedDateTime: null,
    error: null,
    startDeadline: new Date(created + startTimeoutMs).toISOString(),
    runDeadline: null,
    progressPercent: null,
    progressMessage: null,
    cancelRequested: false,
    result: null,
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
