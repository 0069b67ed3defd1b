import { randomUUID } from 'node:crypto';
import type { ActionRequest } from '../domain/action-body.js';
import { ServiceError, notFound } from '../domain/errors.js';
import { identitySetOf, type Caller } from '../domain/identity.js';
import { actions, type ActionName, type Operation } from '../domain/operation.js';
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
): Promise<Operation> {
  const device = await store.getDevice(caller.tenantId, deviceId);
  if (!device) throw notFound(`The device '${deviceId.slice(0, 64)}' does not exist.`);
  const now = new Date().toISOString();
  const by = identitySetOf(caller);
  const operation: Operation = {
    tenantId: caller.tenantId,
    deviceId: device.id,
    id: randomUUID(),
    operationType: actions[action],
    softwareType: request.softwareType,
    softwareVersion: request.softwareVersion,
    status: 'queued',
    createdDateTime: now,
    createdBy: by,
    lastActionDateTime: now,
    lastActionBy: by,
    startedDateTime: null,
    completedDateTime: null,
    error: null,
  };
  if ((await store.createOperation(operation)) === 'conflict') {
    const what = request.softwareType ? `${actions[action]} of ${request.softwareType}` : actions[action];
    throw new ServiceError('conflict', `A ${what} operation is already queued for the device '${device.id}'.`);
  }
  return operation;
}
