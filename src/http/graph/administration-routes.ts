import type { FastifyRequest } from 'fastify';
import { emptyBodySchema } from '../../domain/action-body.js';
import type { AuditEvent } from '../../domain/audit.js';
import { badRequest, notFound } from '../../domain/errors.js';
import type { Engine } from '../../engine/engine.js';
import type { EnrollmentToken, Store } from '../../store/store.js';
import type { DeviceCredentialVerifier } from '../device-credentials.js';
import { callerOf } from '../request-caller.js';
import { optionalBody, type RouteTable } from '../route-table.js';
import { sendCollection, sendJson } from './graph-replies.js';
import { contextUrl, entityBody } from './odata-envelope.js';
import { parseODataQuery, sequencePosition } from './odata-query.js';

/** Longest an enrollment token may live. */
const maxTokenLifetimeMs = 365 * 24 * 3600_000;
const defaultTokenLifetimeMs = 7 * 24 * 3600_000;

/**
 * Extensions beside the Graph API, for what Graph has no call for: removing a device,
 * revoking its credential (the reset that lets its hardware enroll again), enrollment tokens,
 * and the audit log. Graph-styled bodies and errors, the same tokens and tenants.
 */
export function addAdministrationRoutes(routes: RouteTable, store: Store, engine: Engine, credentials: DeviceCredentialVerifier): void {
  const deviceIdOf = (request: FastifyRequest) => (request.params as { deviceId: string }).deviceId;

  routes.add('DELETE', ['/teamwork/devices/:deviceId'], 'write', async (request, reply) => {
    await engine.removeDevice(callerOf(request), deviceIdOf(request));
    credentials.forget(deviceIdOf(request));
    return reply.code(204).send();
  });

  routes.add('POST', ['/teamwork/devices/:deviceId/revokeCredential'], 'write', async (request, reply) => {
    await engine.revokeCredential(callerOf(request), deviceIdOf(request));
    credentials.forget(deviceIdOf(request));
    return reply.code(204).send();
  }, { body: optionalBody(emptyBodySchema('revokeCredential')) });

  routes.add('GET', ['/teamwork/enrollmentTokens'], 'read', async (request, reply) => {
    const tokens = await store.listEnrollmentTokens(callerOf(request).tenantId);
    return sendJson(reply, { '@odata.context': contextUrl(request, 'teamwork/enrollmentTokens', null), value: tokens.map(enrollmentTokenBody) });
  });

  routes.add('POST', ['/teamwork/enrollmentTokens'], 'write', async (request, reply) => {
    const { ttlSeconds, maxUses, description } = parseEnrollmentTokenBody(request.body);
    const { token, enrollmentToken } = await engine.createEnrollmentToken(callerOf(request), { ttlSeconds, maxUses, description });
    // The token itself is in this reply only; the service keeps its hash.
    const body = { ...enrollmentTokenBody(enrollmentToken), token };
    return sendJson(reply.code(201), entityBody(contextUrl(request, 'teamwork/enrollmentTokens', null, '/$entity'), body));
  });

  routes.add('GET', ['/teamwork/enrollmentTokens/:tokenId'], 'read', async (request, reply) => {
    const { tokenId } = request.params as { tokenId: string };
    const token = (await store.listEnrollmentTokens(callerOf(request).tenantId)).find((t) => t.id === tokenId);
    if (!token) throw notFound(`The enrollment token '${tokenId.slice(0, 64)}' does not exist.`);
    return sendJson(reply, entityBody(contextUrl(request, 'teamwork/enrollmentTokens', null, '/$entity'), enrollmentTokenBody(token)));
  });

  routes.add('POST', ['/teamwork/enrollmentTokens/:tokenId/revoke'], 'write', async (request, reply) => {
    const { tokenId } = request.params as { tokenId: string };
    const token = await engine.revokeEnrollmentToken(callerOf(request), tokenId);
    return sendJson(reply, entityBody(contextUrl(request, 'teamwork/enrollmentTokens', null, '/$entity'), enrollmentTokenBody(token)));
  }, { body: optionalBody(emptyBodySchema('revoke')) });

  routes.add('GET', ['/teamwork/auditEvents'], 'read', async (request, reply) => {
    const query = parseODataQuery(request.query as Record<string, unknown>, ['top', 'skiptoken'], [], { position: sequencePosition });
    const page = await store.listAudit({ tenantId: callerOf(request).tenantId, top: query.top, beforeSeq: query.position });
    return sendCollection(request, reply, 'teamwork/auditEvents', query, page, auditEventBody);
  });
}

/** An enrollment token as the API shows it: everything but the secret and its hash. */
export function enrollmentTokenBody(token: EnrollmentToken): Record<string, unknown> {
  return {
    id: token.id,
    description: token.description,
    createdDateTime: token.createdDateTime,
    expiresDateTime: token.expiresDateTime,
    maxUses: token.maxUses,
    uses: token.uses,
    revokedDateTime: token.revokedDateTime,
  };
}

export function auditEventBody(event: AuditEvent): Record<string, unknown> {
  return {
    id: event.id,
    activityDateTime: event.activityDateTime,
    activity: event.activity,
    result: event.result,
    resultReason: event.resultReason,
    initiatedBy: event.initiatedBy,
    targetResources: event.target ? [event.target] : [],
    additionalDetails: event.additionalDetails,
    occurrences: event.occurrences,
  };
}

function parseEnrollmentTokenBody(body: unknown): { ttlSeconds: number; maxUses: number | null; description: string | null } {
  const o = body === undefined || body === null ? {} : body;
  if (typeof o !== 'object' || Array.isArray(o)) throw badRequest('The body must be a JSON object.');
  const { description = null, maxUses = null, expiresDateTime = null, ...rest } = o as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw badRequest(`Unknown properties: ${unknown.map((k) => `'${k.slice(0, 64)}'`).join(', ')}.`);
  if (description !== null && (typeof description !== 'string' || description.length > 256)) {
    throw badRequest("'description' must be a string of at most 256 characters.");
  }
  if (maxUses !== null && !(typeof maxUses === 'number' && Number.isInteger(maxUses) && maxUses >= 1 && maxUses <= 1_000_000)) {
    throw badRequest("'maxUses' must be a whole number from 1 to 1000000, or null for no limit.");
  }
  let lifetimeMs = defaultTokenLifetimeMs;
  if (expiresDateTime !== null) {
    const at = typeof expiresDateTime === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(expiresDateTime) ? Date.parse(expiresDateTime) : NaN;
    lifetimeMs = at - Date.now();
    if (!(lifetimeMs > 0 && lifetimeMs <= maxTokenLifetimeMs)) throw badRequest("'expiresDateTime' must be an ISO 8601 time within the next 365 days.");
  }
  return { ttlSeconds: Math.floor(lifetimeMs / 1000), maxUses: maxUses as number | null, description: description as string | null };
}
