import type { FastifyRequest } from 'fastify';
import { badRequest } from '../../domain/errors.js';
import { maintenanceWindowBodySchema, maintenanceWindowProperties, windowChangesOf, type MaintenanceWindow, type WindowChanges } from '../../domain/maintenance-window.js';
import type { Engine } from '../../engine/engine.js';
import { windowNotFound } from '../../engine/maintenance-windows.js';
import type { DeviceFilter } from '../../store/device-query.js';
import type { Store } from '../../store/store.js';
import { callerOf } from '../request-caller.js';
import type { RouteTable } from '../route-table.js';
import { sendCollection, sendJson } from './graph-replies.js';
import { parseDeviceFilter } from './odata-filter.js';
import { contextUrl, entityBody } from './odata-envelope.js';
import { odataQuerySchema, parseODataQuery, sequencePosition, type QueryOptionName } from './odata-query.js';

const path = 'teamwork/maintenanceWindows';
const listQuery: QueryOptionName[] = ['select', 'top', 'skiptoken'];

/**
 * `/teamwork/maintenanceWindows`, an extension beside the Graph API: Graph-styled bodies and
 * errors, the same tokens and tenants (another tenant's window is a 404).
 */
export function addMaintenanceWindowRoutes(routes: RouteTable, store: Store, engine: Engine): void {
  const idOf = (request: FastifyRequest) => (request.params as { windowId: string }).windowId;
  const entity = (request: FastifyRequest, window: MaintenanceWindow, select: string[] | null = null) =>
    entityBody(contextUrl(request, path, select, '/$entity'), selected(windowBody(window), select));

  routes.add('POST', [`/${path}`], 'write', async (request, reply) => {
    const changes = windowChangesOf(request.body as WindowChanges, true) as Required<WindowChanges>;
    const window = await engine.createWindow(callerOf(request), changes, filterOf(changes) ?? null);
    return sendJson(reply.code(201).header('location', `/${path}/${window.id}`), entity(request, window));
  }, { body: maintenanceWindowBodySchema(true) });

  routes.add('GET', [`/${path}`], 'read', async (request, reply) => {
    const query = parseODataQuery(request.query as Record<string, unknown>, listQuery, maintenanceWindowProperties, { position: sequencePosition });
    const page = await store.windows.list({ tenantId: callerOf(request).tenantId, top: query.top, beforeSeq: query.position });
    return sendCollection(request, reply, path, query, page, windowBody);
  }, { querystring: odataQuerySchema(listQuery) });

  routes.add('GET', [`/${path}/:windowId`], 'read', async (request, reply) => {
    const query = parseODataQuery(request.query as Record<string, unknown>, ['select'], maintenanceWindowProperties);
    const window = await store.windows.get(callerOf(request).tenantId, idOf(request));
    if (!window) throw windowNotFound(idOf(request));
    return sendJson(reply, entity(request, window, query.select));
  }, { querystring: odataQuerySchema(['select']) });

  routes.add('PATCH', [`/${path}/:windowId`], 'write', async (request, reply) => {
    const changes = windowChangesOf(request.body as WindowChanges, false);
    const window = await engine.updateWindow(callerOf(request), idOf(request), changes, filterOf(changes));
    return sendJson(reply, entity(request, window));
  }, { body: maintenanceWindowBodySchema(false) });

  routes.add('DELETE', [`/${path}/:windowId`], 'write', async (request, reply) => {
    await engine.deleteWindow(callerOf(request), idOf(request));
    return reply.code(204).send();
  });
}

/** A target's filter checked with the devices `$filter` grammar; undefined when the body names no target. */
function filterOf(changes: WindowChanges): DeviceFilter | null | undefined {
  if (!changes.target) return undefined;
  if (!('filter' in changes.target)) return null;
  try {
    return parseDeviceFilter(changes.target.filter);
  } catch (error) {
    throw badRequest(`'target.filter' is not a valid devices $filter: ${(error as Error).message}`);
  }
}

export function windowBody(window: MaintenanceWindow): Record<string, unknown> {
  return {
    id: window.id,
    displayName: window.displayName,
    target: window.target,
    schedule: window.schedule,
    createdDateTime: window.createdDateTime,
    lastModifiedDateTime: window.lastModifiedDateTime,
    createdBy: window.createdBy,
  };
}

function selected(body: Record<string, unknown>, select: string[] | null): Record<string, unknown> {
  if (!select) return body;
  return Object.fromEntries(select.map((name) => [name, body[name]]));
}
