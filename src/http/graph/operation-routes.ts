import { actionRequest, emptyBodySchema, updateSoftwareBodySchema } from '../../domain/action-body.js';
import { notFound } from '../../domain/errors.js';
import { actions, operationProperties, type ActionName, type Operation } from '../../domain/operation.js';
import type { Engine } from '../../engine/engine.js';
import type { OperationPosition } from '../../store/device-query.js';
import type { Store } from '../../store/store.js';
import { findDevice } from './device-routes.js';
import { sendCollection, sendCount, sendJson } from './graph-replies.js';
import { operationBody, selectProperties } from './graph-shapes.js';
import { contextUrl, entityBody } from './odata-envelope.js';
import { parseOperationFilter, storableInstant } from './operation-filter.js';
import { odataQuerySchema, parseODataQuery, sequencePosition, type QueryOptionName } from './odata-query.js';
import { responseSchemas } from './response-schemas.js';
import { callerOf } from '../request-caller.js';
import { optionalBody, type RouteTable } from '../route-table.js';

type Params = { deviceId: string; operationId: string };

const tenantOperationProperties = [...operationProperties, 'deviceId'];
const tenantOperationOptions = { position: operationPosition, filter: parseOperationFilter };
const tenantListQuery: QueryOptionName[] = ['filter', 'select', 'top', 'skiptoken', 'count'];
const tenantFilterRule = "status eq, operationType eq and createdDateTime ge|gt|lt|le <date-time>, joined with and";

/** An operation in the tenant's list: Graph's shape and the device it belongs to. */
function tenantOperationBody(operation: Operation): Record<string, unknown> {
  return { ...operationBody(operation), deviceId: operation.deviceId };
}

const listQuery: QueryOptionName[] = ['select', 'top', 'skiptoken', 'skip', 'count'];

/** An action's reply: no body, the new operation's address. */
const acceptedResponse = {
  description: 'The operation is queued; Location is its address (without the version segment, as Graph documents).',
  type: 'null',
  headers: { location: { type: 'string', pattern: '^/teamwork/devices/[^/]+/operations/[^/]+$' } },
};

/** The three bound actions and the operations they create. */
export function addOperationRoutes(routes: RouteTable, store: Store, engine: Engine): void {
  // Beyond Graph: the tenant's operations across its devices (the console's view of what runs).
  // Fastify's router prefers this static segment to the :deviceId parameter.
  routes.add('GET', ['/teamwork/devices/operations'], 'read', async (request, reply) => {
    const caller = callerOf(request);
    const query = parseODataQuery(request.query as Record<string, unknown>, tenantListQuery, tenantOperationProperties, tenantOperationOptions);
    const [page, count] = await Promise.all([
      store.listTenantOperations({ tenantId: caller.tenantId, filter: query.filter, top: query.top, after: query.position }),
      query.count ? store.countTenantOperations(caller.tenantId, query.filter) : undefined,
    ]);
    return sendCollection(request, reply, 'teamwork/devices/operations', query, page, tenantOperationBody, count);
  }, { querystring: odataQuerySchema(tenantListQuery, { filter: tenantFilterRule }), response: responseSchemas.tenantOperationList });

  routes.add('GET', ['/teamwork/devices/operations/$count'], 'read', async (request, reply) => {
    const query = parseODataQuery(request.query as Record<string, unknown>, ['filter'], tenantOperationProperties, tenantOperationOptions);
    return sendCount(reply, await store.countTenantOperations(callerOf(request).tenantId, query.filter));
  }, { querystring: odataQuerySchema(['filter'], { filter: tenantFilterRule }) });

  routes.add('GET', ['/teamwork/devices/:deviceId/operations'], 'read', async (request, reply) => {
    const device = await findDevice(store, request);
    const query = parseODataQuery(request.query as Record<string, unknown>, listQuery, operationProperties, { position: sequencePosition });
    const [page, count] = await Promise.all([
      store.listOperations({ tenantId: device.tenantId, deviceId: device.id, top: query.top, beforeSeq: query.position, skip: query.skip }),
      query.count ? store.countOperations(device.tenantId, device.id) : undefined,
    ]);
    return sendCollection(request, reply, `teamwork/devices('${device.id}')/operations`, query, page, operationBody, count);
  }, { querystring: odataQuerySchema(listQuery), response: responseSchemas.operationList });

  routes.add('GET', ['/teamwork/devices/:deviceId/operations/$count'], 'read', async (request, reply) => {
    const device = await findDevice(store, request);
    parseODataQuery(request.query as Record<string, unknown>, [], operationProperties);
    return sendCount(reply, await store.countOperations(device.tenantId, device.id));
  });

  routes.add('GET', ['/teamwork/devices/:deviceId/operations/:operationId'], 'read', async (request, reply) => {
    const { deviceId, operationId } = request.params as Params;
    const query = parseODataQuery(request.query as Record<string, unknown>, ['select'], operationProperties);
    const operation = await store.getOperation(callerOf(request).tenantId, deviceId, operationId);
    if (!operation) throw notFound(`The operation '${operationId.slice(0, 64)}' does not exist on device '${deviceId.slice(0, 64)}'.`);
    const context = contextUrl(request, `teamwork/devices('${operation.deviceId}')/operations`, query.select, '/$entity');
    return sendJson(reply, entityBody(context, selectProperties(operationBody(operation), query.select)));
  }, { querystring: odataQuerySchema(['select']), response: responseSchemas.operation });

  // Beyond Graph: cancel a pending operation at once, a running one once its device confirms.
  routes.add('POST', ['/teamwork/devices/:deviceId/operations/:operationId/cancel'], 'write', async (request, reply) => {
    const { deviceId, operationId } = request.params as Params;
    const operation = await engine.cancel(callerOf(request), deviceId, operationId);
    const context = contextUrl(request, `teamwork/devices('${operation.deviceId}')/operations`, null, '/$entity');
    return sendJson(reply.code(operation.status === 'cancelled' ? 200 : 202), entityBody(context, operationBody(operation)));
  }, { body: optionalBody(emptyBodySchema('cancel')) });

  // Beyond Graph: what a device reported with its result (diagnostics of runDiagnostics, installed versions).
  routes.add('GET', ['/teamwork/devices/:deviceId/operations/:operationId/result'], 'read', async (request, reply) => {
    const { deviceId, operationId } = request.params as Params;
    const operation = await store.getOperation(callerOf(request).tenantId, deviceId, operationId);
    if (!operation || !operation.result) throw notFound(`The operation '${operationId.slice(0, 64)}' has no result.`);
    return sendJson(reply, { id: operation.id, operationType: operation.operationType, status: operation.status, ...operation.result });
  });

  for (const action of Object.keys(actions) as ActionName[]) {
    const urls = [`/teamwork/devices/:deviceId/${action}`, `/teamwork/devices/:deviceId/microsoft.graph.${action}`];
    const body = action === 'updateSoftware' ? updateSoftwareBodySchema : optionalBody(emptyBodySchema(`microsoft.graph.${action}`));
    routes.add('POST', urls, 'write', async (request, reply) => {
      const { deviceId } = request.params as Params;
      const operation = await engine.request(callerOf(request), deviceId, action, actionRequest(action, request.body));
      // As documented: relative Location without the version segment, empty text/plain body.
      return reply
        .code(202)
        .header('location', `/teamwork/devices/${operation.deviceId}/operations/${operation.id}`)
        .type('text/plain')
        .header('content-length', '0')
        .send();
    }, { body, response: { 202: acceptedResponse } });
  }
}

/** A page position of the tenant's operations: the previous page's last operation's creation time and sequence number. */
function operationPosition(token: unknown): OperationPosition | undefined {
  const { createdDateTime, seq } = (token ?? {}) as Partial<OperationPosition>;
  const time = typeof createdDateTime === 'string' ? Date.parse(createdDateTime) : NaN;
  const iso = Number.isNaN(time) ? '' : new Date(time).toISOString();
  return storableInstant(iso) && Number.isSafeInteger(seq) ? { createdDateTime: iso, seq: seq! } : undefined;
}
