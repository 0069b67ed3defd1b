import type { FastifyInstance, FastifyRequest } from 'fastify';
import { maxLongPollSeconds, type EnrollReply, type WorkItem } from '../../domain/agent-protocol.js';
import type { Operation } from '../../domain/operation.js';
import { parseResultReport } from '../../domain/operation-result.js';
import type { Engine } from '../../engine/engine.js';
import type { RouteTable } from '../route-table.js';
import { parseEnrollRequest, parseInventoryReport, parseProgress } from './agent-messages.js';
import type { DeviceCaller, DeviceCredentialVerifier } from './device-credentials.js';
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
export function addAgentRoutes(app: FastifyInstance, routes: RouteTable, engine: Engine, credentials: DeviceCredentialVerifier): void {
  app.decorateRequest('device', null);
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config?.access !== 'device') return;
    request.device = await credentials.verify(request.headers.authorization);
  });
  const deviceOf = (request: FastifyRequest) => request.device!;
  const operationIdOf = (request: FastifyRequest) => (request.params as { operationId: string }).operationId;

  routes.add('POST', ['/agent/v1/enroll'], 'none', async (request, reply) => {
    const enrollment = await enrollDevice(engine, credentials, parseEnrollRequest(request.body));
    return reply.code(enrollment.reenrolled ? 200 : 201).send({
      tenantId: enrollment.tenantId,
      deviceId: enrollment.deviceId,
      credential: enrollment.credential,
      longPollSeconds: maxLongPollSeconds,
    } satisfies EnrollReply);
  });

  routes.add('GET', ['/agent/v1/work'], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    const waitSeconds = Math.min(maxLongPollSeconds, Math.max(0, Number((request.query as { waitSeconds?: string }).waitSeconds ?? maxLongPollSeconds) || 0));
    const abort = new AbortController();
    request.raw.once('close', () => abort.abort());
    const operation = await engine.nextWork(tenantId, deviceId, waitSeconds * 1000, abort.signal);
    return operation ? reply.send({ operation: workItem(operation) }) : reply.code(204).send();
  });

  routes.add('POST', ['/agent/v1/inventory'], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    const updated = await engine.reportInventory(tenantId, deviceId, parseInventoryReport(request.body));
    return reply.send({ healthStatus: updated.healthStatus });
  });

  routes.add('POST', ['/agent/v1/operations/:operationId/ack'], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    const operation = await engine.acknowledge(tenantId, deviceId, operationIdOf(request));
    return reply.send({ operation: workItem(operation) });
  });

  routes.add('POST', ['/agent/v1/operations/:operationId/progress'], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    const operation = await engine.reportProgress(tenantId, deviceId, operationIdOf(request), parseProgress(request.body));
    return reply.send({ cancelRequested: operation.cancelRequested });
  });

  routes.add('POST', ['/agent/v1/operations/:operationId/result'], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    const operation = await engine.finish(tenantId, deviceId, operationIdOf(request), parseResultReport(request.body));
    return reply.send({ operation: workItem(operation) });
  });
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
