import type { FastifyInstance, FastifyRequest } from 'fastify';
import { agentPaths, maxLongPollSeconds, type CredentialReply, type EnrollReply, type InventoryBody, type ResultBody, type WorkItem } from '../../domain/agent-protocol.js';
import type { Artifact } from '../../domain/artifact.js';
import { deviceCredential, hashSecret, newSecret } from '../../domain/device-secrets.js';
import type { Operation } from '../../domain/operation.js';
import { resultReportOf, resultReportSchema } from '../../domain/operation-result.js';
import type { Engine } from '../../engine/engine.js';
import { optionalBody, type RouteTable } from '../route-table.js';
import { enrollRequestOf, enrollRequestSchema, inventoryReportSchema, progressOf, progressReportSchema } from './agent-messages.js';
import type { AgentThrottle } from './agent-limits.js';
import type { DeviceCredentialVerifier } from '../device-credentials.js';
import { addArtifactRoute } from './artifact-route.js';
import { enrollDevice } from './enrollment.js';


/**
 * The device side of the service (docs/agent-protocol.md): enroll, long-poll for work,
 * acknowledge, report progress and results, report inventory, download artifacts. Device credentials reach
 * only these routes and only their own device's operations.
 */
export function addAgentRoutes(app: FastifyInstance, routes: RouteTable, engine: Engine, credentials: DeviceCredentialVerifier, throttle: AgentThrottle): void {
  app.decorateRequest('device', null);
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config?.access !== 'device') return;
    request.device = await credentials.verify(request.headers.authorization, () => request.ip);
    throttle.request(request.device.deviceId);
  });
  const deviceOf = (request: FastifyRequest) => request.device!;
  const operationIdOf = (request: FastifyRequest) => (request.params as { operationId: string }).operationId;

  // Limited per source address before the body is read: enrolling is open to anyone with a token.
  app.addHook('onRequest', async (request) => {
    if (request.method === 'POST' && request.routeOptions.url === agentPaths.enroll) throttle.enrollment(request.ip);
  });
  routes.add('POST', [agentPaths.enroll], 'none', async (request, reply) => {
    const enrollment = await enrollDevice(engine, credentials, enrollRequestOf(request.body as Parameters<typeof enrollRequestOf>[0]), {
      authorization: request.headers.authorization,
      sourceAddress: request.ip,
      deviceQuota: throttle.limits.deviceQuota,
    });
    return reply.code(enrollment.reenrolled ? 200 : 201).send({
      tenantId: enrollment.tenantId,
      deviceId: enrollment.deviceId,
      credential: enrollment.credential,
      longPollSeconds: maxLongPollSeconds,
    } satisfies EnrollReply);
  }, { body: enrollRequestSchema, security: [{}, { deviceCredential: [] }] });

  // The device replaces its credential without downtime: the one it used keeps working for a grace period.
  routes.add('POST', [agentPaths.credential], 'device', async (request, reply) => {
    const device = deviceOf(request);
    const secret = newSecret();
    await engine.rotateCredential(device, device.credentialHash, hashSecret(secret), request.ip);
    credentials.forget(device.deviceId);
    return reply.send({ credential: deviceCredential(device.deviceId, secret) } satisfies CredentialReply);
  });

  routes.add('GET', [agentPaths.work], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    const waitSeconds = Math.min(maxLongPollSeconds, Math.max(0, Number((request.query as { waitSeconds?: string }).waitSeconds ?? maxLongPollSeconds) || 0));
    const closePoll = throttle.openPoll(deviceId);
    try {
      const poll = engine.openPoll(tenantId, deviceId);
      // A device that hangs up frees its poll at once, not when waitSeconds are over.
      request.raw.on('close', () => poll.end());
      const operation = await engine.nextWork(poll, waitSeconds * 1000);
      return operation ? reply.send({ operation: workItem(operation) }) : reply.code(204).send();
    } finally {
      closePoll();
    }
  }, { querystring: { type: 'object', properties: { waitSeconds: { type: 'string', description: `seconds to hold the poll open when there is no work, 0 to ${maxLongPollSeconds} (default ${maxLongPollSeconds})` } } } });

  routes.add('POST', ['/agent/v1/inventory'], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    const updated = await engine.reportInventory(tenantId, deviceId, request.body as InventoryBody);
    return reply.send({ healthStatus: updated.healthStatus });
  }, { body: inventoryReportSchema });

  routes.add('POST', ['/agent/v1/operations/:operationId/ack'], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    const operation = await engine.acknowledge(tenantId, deviceId, operationIdOf(request));
    return reply.send({ operation: workItem(operation) });
  });

  routes.add('POST', ['/agent/v1/operations/:operationId/progress'], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    const operation = await engine.reportProgress(tenantId, deviceId, operationIdOf(request), progressOf(request.body as Parameters<typeof progressOf>[0]));
    return reply.send({ cancelRequested: operation.cancelRequested });
  }, { body: optionalBody(progressReportSchema) });

  routes.add('POST', ['/agent/v1/operations/:operationId/result'], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    const operation = await engine.finish(tenantId, deviceId, operationIdOf(request), resultReportOf(request.body as ResultBody));
    return reply.send({ operation: workItem(operation) });
  }, { body: resultReportSchema });

  addArtifactRoute(routes, engine, throttle, deviceOf);
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
    artifact: operation.artifact ? artifactRef(operation.artifact) : null,
  };
}

/** Where the device gets an artifact: its external URL, or this server's path, fetched with the device credential. */
function artifactRef(artifact: Artifact): NonNullable<WorkItem['artifact']> {
  return { url: artifact.url ?? agentPaths.artifact(artifact.sha256), sha256: artifact.sha256, size: artifact.size };
}
