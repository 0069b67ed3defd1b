import { parseActionBody } from '../domain/action-body.js';
import { notFound } from '../domain/errors.js';
import { actions, operationProperties, type ActionName } from '../domain/operation.js';
import { requestOperation } from '../engine/operation-requests.js';
import type { Store } from '../store/store.js';
import { findDevice, sendJson } from './device-routes.js';
import { operationBody, selectProperties } from './graph-shapes.js';
import { collectionBody, contextUrl, entityBody } from './odata-envelope.js';
import { parseODataQuery } from './odata-query.js';
import { callerOf } from './request-caller.js';
import type { RouteTable } from './route-table.js';

type Params = { deviceId: string; operationId: string };

/** The three bound actions and the operations they create. */
export function addOperationRoutes(routes: RouteTable, store: Store): void {
  routes.add('GET', ['/teamwork/devices/:deviceId/operations'], 'read', async (request, reply) => {
    const device = await findDevice(store, request);
    const query = parseODataQuery(request.query as Record<string, unknown>, ['select', 'top', 'skiptoken'], operationProperties, 'number');
    const page = await store.listOperations({
      tenantId: device.tenantId,
      deviceId: device.id,
      top: query.top,
      beforeSeq: query.position as number | null,
    });
    const value = page.items.map((op) => selectProperties(operationBody(op), query.select));
    return sendJson(reply, collectionBody(request, `teamwork/devices('${device.id}')/operations`, query, value, page.next));
  });

  routes.add('GET', ['/teamwork/devices/:deviceId/operations/:operationId'], 'read', async (request, reply) => {
    const { deviceId, operationId } = request.params as Params;
    const query = parseODataQuery(request.query as Record<string, unknown>, ['select'], operationProperties);
    const operation = await store.getOperation(callerOf(request).tenantId, deviceId, operationId);
    if (!operation) throw notFound(`The operation '${operationId.slice(0, 64)}' does not exist on device '${deviceId.slice(0, 64)}'.`);
    const context = contextUrl(request, `teamwork/devices('${operation.deviceId}')/operations`, query.select, '/$entity');
    return sendJson(reply, entityBody(context, selectProperties(operationBody(operation), query.select)));
  });

  for (const action of Object.keys(actions) as ActionName[]) {
    const urls = [`/teamwork/devices/:deviceId/${action}`, `/teamwork/devices/:deviceId/microsoft.graph.${action}`];
    routes.add('POST', urls, 'write', async (request, reply) => {
      const body = parseActionBody(action, request.body);
      const { deviceId } = request.params as Params;
      const operation = await requestOperation(store, callerOf(request), deviceId, action, body);
      // As documented: relative Location without the version segment, empty text/plain body.
      return reply
        .code(202)
        .header('location', `/teamwork/devices/${operation.deviceId}/operations/${operation.id}`)
        .type('text/plain')
        .header('content-length', '0')
        .send();
    });
  }
}
