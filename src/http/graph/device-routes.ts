import type { FastifyRequest } from 'fastify';
import { deviceProperties, orderableDeviceProperties, type Device } from '../../domain/device.js';
import { badRequest, notFound } from '../../domain/errors.js';
import { offeredVersions } from '../../domain/software-catalog.js';
import { devicePageOrder } from '../../store/device-list-plan.js';
import type { DeviceOrderKey, DevicePosition } from '../../store/device-query.js';
import type { Store } from '../../store/store.js';
import { deviceBody, documentBody, documentProperties, selectProperties, type DocumentKind } from './graph-shapes.js';
import { sendCollection, sendCount, sendJson } from './graph-replies.js';
import { deviceExpandable, expandDevices } from './device-expansion.js';
import { contextUrl, entityBody } from './odata-envelope.js';
import { odataQuerySchema, parseODataQuery, type PositionReader, type QueryOptionName } from './odata-query.js';
import { responseSchemas } from './response-schemas.js';
import { callerOf } from '../request-caller.js';
import type { RouteTable } from '../route-table.js';

type Params = { deviceId: string };

const listQuery: QueryOptionName[] = ['filter', 'select', 'top', 'skiptoken', 'skip', 'count', 'orderby', 'expand'];
const deviceQuery: QueryOptionName[] = ['select', 'expand'];

/** GET routes of /teamwork/devices and the device's three documents. */
export function addDeviceRoutes(routes: RouteTable, store: Store): void {
  const listOptions = { position: devicePosition, orderable: orderableDeviceProperties, expandable: deviceExpandable };

  routes.add('GET', ['/teamwork/devices'], 'read', async (request, reply) => {
    const caller = callerOf(request);
    const query = parseODataQuery(request.query as Record<string, unknown>, listQuery, deviceProperties, listOptions);
    const order = (query.orderBy as DeviceOrderKey[] | null) ?? devicePageOrder(query.filter);
    if (query.position && query.position.keys.length !== order.length) throw badRequest('Invalid $skiptoken.');
    const [page, count] = await Promise.all([
      store.listDevices({ tenantId: caller.tenantId, filter: query.filter, order, top: query.top, after: query.position, skip: query.skip }),
      query.count ? store.countDevices(caller.tenantId, query.filter) : undefined,
    ]);
    const expanded = await expandDevices(store, request, page.items, query.expand, false);
    return sendCollection(request, reply, 'teamwork/devices', query, page, deviceBody, count, (device) => expanded.get(device.id));
  }, { querystring: odataQuerySchema(listQuery), response: responseSchemas.deviceList });

  routes.add('GET', ['/teamwork/devices/$count'], 'read', async (request, reply) => {
    const query = parseODataQuery(request.query as Record<string, unknown>, ['filter'], deviceProperties);
    return sendCount(reply, await store.countDevices(callerOf(request).tenantId, query.filter));
  }, { querystring: odataQuerySchema(['filter']) });

  routes.add('GET', ['/teamwork/devices/:deviceId'], 'read', async (request, reply) => {
    const device = await findDevice(store, request);
    const query = parseODataQuery(request.query as Record<string, unknown>, deviceQuery, deviceProperties, { expandable: deviceExpandable });
    const expanded = await expandDevices(store, request, [device], query.expand, true);
    const body = { ...selectProperties(deviceBody(device), query.select), ...expanded.get(device.id) };
    return sendJson(reply, entityBody(contextUrl(request, 'teamwork/devices', query.select, '/$entity'), body));
  }, { querystring: odataQuerySchema(deviceQuery), response: responseSchemas.device });

  // An extension beside Graph (which has no catalog): what updateSoftware would accept for this
  // device, so a client (the console's version picker) offers only versions that are not a 404.
  routes.add('GET', ['/teamwork/devices/:deviceId/availableSoftwareVersions'], 'read', async (request, reply) => {
    const device = await findDevice(store, request);
    const offered = offeredVersions(await store.listCatalog(device.tenantId), device.deviceType, device.hardwareDetail.model);
    return sendJson(reply, { '@odata.context': contextUrl(request, `teamwork/devices('${device.id}')/availableSoftwareVersions`, null, ''), value: offered });
  });

  for (const kind of ['health', 'activity', 'configuration'] as DocumentKind[]) {
    routes.add('GET', [`/teamwork/devices/:deviceId/${kind}`], 'read', async (request, reply) => {
      const device = await findDevice(store, request);
      const query = parseODataQuery(request.query as Record<string, unknown>, ['select'], documentProperties[kind]);
      const body = selectProperties(documentBody(device, kind), query.select);
      const context = contextUrl(request, `teamwork/devices('${device.id}')/${kind}`, query.select, '/$entity');
      return sendJson(reply, entityBody(context, body));
    }, { querystring: odataQuerySchema(['select']) });
  }
}

/**
 * A device page's position: the order keys' values and the id of the previous page's last
 * device. A bare id is a token from before pages had orders, which were all id order.
 */
const devicePosition: PositionReader<DevicePosition> = (token) => {
  if (typeof token === 'string') return { keys: [], id: token };
  const { keys, id } = (token ?? {}) as Partial<DevicePosition>;
  const valid = typeof id === 'string' && Array.isArray(keys) && keys.every((key) => key === null || typeof key === 'string');
  return valid ? { keys, id } : undefined;
};

/** The caller's device or a 404: another tenant's device does not exist for this caller. */
export async function findDevice(store: Store, request: FastifyRequest): Promise<Device> {
  const { deviceId } = request.params as Params;
  const device = await store.getDevice(callerOf(request).tenantId, deviceId);
  if (!device) throw notFound(`The device '${deviceId.slice(0, 64)}' does not exist.`);
  return device;
}
