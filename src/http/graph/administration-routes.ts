import type { FastifyRequest } from 'fastify';
import { emptyBodySchema } from '../../domain/action-body.js';
import { auditActivities, type AuditActivity, type AuditEvent } from '../../domain/audit.js';
import { badRequest, notFound } from '../../domain/errors.js';
import type { Engine } from '../../engine/engine.js';
import type { EnrollmentToken, Store } from '../../store/store.js';
import type { DeviceCredentialVerifier } from '../device-credentials.js';
import { callerOf } from '../request-caller.js';
import { optionalBody, type RouteTable } from '../route-table.js';
import { sendCollection, sendJson } from './graph-replies.js';
import { contextUrl, entityBody } from './odata-envelope.js';
import { parseEnumEqualityFilter } from './odata-filter.js';
import { odataQuerySchema, parseODataQuery, sequencePosition, type QueryOptionName } from './odata-query.js';

/** Longest an enrollment token may live. */
const maxTokenLifetimeMs = 365 * 24 * 3600_000;
const defaultTokenLifetimeMs = 7 * 24 * 3600_000;
const auditQuery: QueryOptionName[] = ['filter', 'top', 'skiptoken'];

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
    const { ttlSeconds, maxUses, description } = enrollmentTokenTermsOf(request.body as EnrollmentTokenBody | undefined);
    const { token, enrollmentToken } = await engine.createEnrollmentToken(callerOf(request), { ttlSeconds, maxUses, description });
    // The token itself is in this reply only; the service keeps its hash.
    const body = { ...enrollmentTokenBody(enrollmentToken), token };
    return sendJson(reply.code(201), entityBody(contextUrl(request, 'teamwork/enrollmentTokens', null, '/$entity'), body));
  }, { body: optionalBody(enrollmentTokenBodySchema) });

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
    const query = parseODataQuery(request.query as Record<string, unknown>, auditQuery, [], { position: sequencePosition, filter: auditActivityFilter });
    const page = await store.listAudit({ tenantId: callerOf(request).tenantId, top: query.top, beforeSeq: query.position, activity: query.filter });
    return sendCollection(request, reply, 'teamwork/auditEvents', query, page, auditEventBody);
  }, { querystring: odataQuerySchema(auditQuery, { filter: "activity eq '<activity>', e.g. activity eq 'operationCreated'" }) });
}

/** The audit log's `$filter`: `activity eq '<activity>'`, nothing else. */
const auditActivityFilter = (text: string) => parseEnumEqualityFilter(text, 'activity', auditActivities) as AuditActivity;

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

/** POST /teamwork/enrollmentTokens; no body: a token for any number of devices, for seven days. */
export const enrollmentTokenBodySchema = {
  title: 'enrollmentToken',
  type: 'object',
  additionalProperties: false,
  properties: {
    description: { type: ['string', 'null'], maxLength: 256 },
    maxUses: { type: ['integer', 'null'], minimum: 1, maximum: 1_000_000, description: 'devices it may enroll; null: no limit' },
    expiresDateTime: { type: ['string', 'null'], format: 'date-time', description: 'an ISO 8601 time with its offset, within the next 365 days (default: 7 days)' },
  },
} as const;

type EnrollmentTokenBody = { description?: string | null; maxUses?: number | null; expiresDateTime?: string | null };

/** The token's terms from its body, already checked against enrollmentTokenBodySchema; its lifetime is checked against now. */
function enrollmentTokenTermsOf(body: EnrollmentTokenBody | undefined): { ttlSeconds: number; maxUses: number | null; description: string | null } {
  const { description = null, maxUses = null, expiresDateTime = null } = body ?? {};
  let lifetimeMs = defaultTokenLifetimeMs;
  if (expiresDateTime !== null) {
    lifetimeMs = Date.parse(expiresDateTime) - Date.now();
    if (!(lifetimeMs > 0 && lifetimeMs <= maxTokenLifetimeMs)) throw badRequest("'expiresDateTime' must be an ISO 8601 time within the next 365 days.");
  }
  return { ttlSeconds: Math.floor(lifetimeMs / 1000), maxUses, description };
}
