import type { FastifyInstance, FastifyRequest } from 'fastify';
import { maxLongPollSeconds, type EnrollReply, type WorkItem } from '../domain/agent-protocol.js';
import { notFound } from '../domain/errors.js';
import type { Operation } from '../domain/operation.js';
import { parseResultReport } from '../domain/operation-result.js';
import type { Engine } from '../engine/engine.js';
import type { RouteTable } from '../graph/route-table.js';
import { parseEnrollRequest, parseInventoryReport, parseProgress } from './agent-messages.js';
import { DeviceCredentialVerifier, type DeviceCaller } from './device-credentials.js';
import { enrollDevice } from './enrollment.js';

declare module 'fastify' {
  interface FastifyRequest {
    device: DeviceCaller | null;
  }
}

/**
 * The device side of the service (docs/agent-protocol.md): enroll, long-poll for work,
 * acknowledge, report progress and results, report inventory. Device credentials reach
 * only these routes and only their own device's operations.
 */
export function addAgentRoutes(app: FastifyInstance, routes: RouteTable, engine: Engine): void {
  const credentials = new DeviceCredentialVerifier(engine.store);
  app.decorateRequest('device', null);
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config?.access !== 'device') return;
    request.device = await credentials.verify(request.headers.authorization);
  });
  const deviceOf = (request: FastifyRequest) => request.device!;

  routes.add('POST', ['/agent/v1/enroll'], 'none', async (request, reply) => {
    const enrollment = await enrollDevice(engine.store, engine.reports, credentials, parseEnrollRequest(request.body));
    return reply.code(enrollment.reenrolled ? 200 : 201).send({
      tenantId: enrollment.tenantId,
      deviceId: enrollment.deviceId,
      credential: enrollment.credential,
      longPollSeconds: maxLongPollSeconds,
    } satisfies EnrollReply);
  });

  routes.add('GET', ['/agent/v1/work'], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    engine.presence.seen(tenantId, deviceId);
    const waitSeconds = Math.min(maxLongPollSeconds, Math.max(0, Number((request.query as { waitSeconds?: string }).waitSeconds ?? maxLongPollSeconds) || 0));
    const abort = new AbortController();
    request.raw.once('close', () => abort.abort());
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      const waiter = engine.signal.register(deviceId);
      try {
        const operation = await engine.store.nextOperation(tenantId, deviceId);
        if (operation) return reply.send({ operation: workItem(operation) });
        const remaining = deadline - Date.now();
        if (remaining <= 0 || abort.signal.aborted || engine.stopping) return reply.code(204).send();
        await waiter.wait(remaining, abort.signal);
      } finally {
        waiter.release();
      }
    }
  });

  routes.add('POST', ['/agent/v1/inventory'], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    const report = parseInventoryReport(request.body);
    engine.presence.seen(tenantId, deviceId);
    const updated = await engine.reports.applyInventory(tenantId, deviceId, report, new Date().toISOString());
    if (!updated) throw notFound('The device no longer exists.');
    return reply.send({ healthStatus: updated.healthStatus });
  });

  routes.add('POST', ['/agent/v1/operations/:operationId/ack'], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    await ownOperation(engine, tenantId, deviceId, request);
    const operation = await engine.lifecycle.acknowledge(tenantId, deviceId, (request.params as { operationId: string }).operationId);
    return reply.send({ operation: workItem(operation) });
  });

  routes.add('POST', ['/agent/v1/operations/:operationId/progress'], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    await ownOperation(engine, tenantId, deviceId, request);
    const { percent, message } = parseProgress(request.body);
    const operation = await engine.lifecycle.progress(tenantId, deviceId, (request.params as { operationId: string }).operationId, percent, message);
    return reply.send({ cancelRequested: operation.cancelRequested });
  });

  routes.add('POST', ['/agent/v1/operations/:operationId/result'], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    await ownOperation(engine, tenantId, deviceId, request);
    const report = parseResultReport(request.body);
    const operation = await engine.lifecycle.finish(tenantId, deviceId, (request.params as { operationId: string }).operationId, report);
    return reply.send({ operation: workItem(operation) });
  });
}

/** Another device's operation does not exist for this device. */
async function ownOperation(engine: Engine, tenantId: string, deviceId: string, request: FastifyRequest): Promise<void> {
  const { operationId } = request.params as { operationId: string };
  const operation = await engine.store.getOperation(tenantId, deviceId, operationId);
  if (!operation) throw notFound(`The operation '${operationId.slice(0, 64)}' does not exist for this device.`);
}

/** What an agent needs to run an operation. */
function workItem(operation: Operation): WorkItem {
  return {
    id: operation.id,
    operationType: operation.operationType,
    softwareType: operation.softwareType,
    softwareVersion: operation.softwareVersion,
    status: operation.status,
    cancelRequested: operation.cancelRequested,
    createdDateTime: operation.createdDateTime,
    startedDateTime: operation.startedDateTime,
  };
}
