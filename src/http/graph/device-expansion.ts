import type { FastifyRequest } from 'fastify';
import type { Device } from '../../domain/device.js';
import { operationProperties } from '../../domain/operation.js';
import type { Store } from '../../store/store.js';
import { documentBody, documentProperties, operationBody, selectProperties, type DocumentKind } from './graph-shapes.js';
import type { ExpandItem } from './odata-expand.js';
import { encodeSkipToken } from './odata-query.js';

/** What `$expand` may name on a device, with the properties a nested `$select` may keep. */
export const deviceExpandable = { ...documentProperties, operations: operationProperties };

/**
 * Operations an expanded device carries inline, newest first; more continue at
 * `operations@odata.nextLink` (Graph caps expanded collections likewise, at 20 for most).
 */
const expandedOperations = 20;

/**
 * The expanded navigation properties of each device, keyed by id: one read of the documents
 * and one of the operations for the whole page, however many devices it holds. Devices read
 * whole (a single GET) already carry their documents.
 */
export async function expandDevices(
  store: Store,
  request: FastifyRequest,
  devices: Device[],
  expand: ExpandItem[] | null,
  documentsRead: boolean,
): Promise<Map<string, Record<string, unknown>>> {
  const expanded = new Map(devices.map((device) => [device.id, {} as Record<string, unknown>]));
  if (!expand || devices.length === 0) return expanded;
  const tenantId = devices[0].tenantId;
  const ids = devices.map((device) => device.id);
  const documentItems = expand.filter((item) => item.property !== 'operations');
  const operationsItem = expand.find((item) => item.property === 'operations');
  const [documents, operations] = await Promise.all([
    documentItems.length > 0 && !documentsRead ? store.getDeviceDocuments(tenantId, ids) : null,
    operationsItem ? store.listRecentOperations(tenantId, ids, expandedOperations) : null,
  ]);
  for (const device of devices) {
    const body = expanded.get(device.id)!;
    const whole = documents ? { ...device, ...documents.get(device.id) } : device;
    for (const item of documentItems) body[item.property] = selectProperties(documentBody(whole, item.property as DocumentKind), item.select);
    const page = operations?.get(device.id);
    if (operationsItem && page) {
      body.operations = page.items.map((operation) => selectProperties(operationBody(operation), operationsItem.select));
      if (page.next !== null) body['operations@odata.nextLink'] = operationsLink(request, device.id, page.next, operationsItem.select);
    }
  }
  return expanded;
}

/** Where a device's expanded operations continue: its operations list, from the next page on. */
function operationsLink(request: FastifyRequest, deviceId: string, next: number, select: string[] | null): string {
  const version = /^\/beta\//i.test(request.url) ? '/beta' : '';
  const params = new URLSearchParams();
  if (select) params.set('$select', select.join(','));
  params.set('$top', String(expandedOperations));
  // The operations list binds its tokens to no filter and no order.
  params.set('$skiptoken', encodeSkipToken(next, ''));
  return `${request.serviceUrl}${version}/teamwork/devices/${encodeURIComponent(deviceId)}/operations?${params.toString()}`;
}
