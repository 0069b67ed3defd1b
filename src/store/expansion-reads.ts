import type { Operation } from '../domain/operation.js';
import type { Page } from './device-query.js';
import { documentsOf, operationPage, type DeviceRow, type OperationRow } from './rows.js';
import type { SqlExecutor } from './sql-driver.js';
import type { DeviceDocuments, SeededDocuments } from './store.js';

/**
 * The reads behind `$expand`: a page's documents and its devices' newest operations, each in
 * one statement however many devices the page holds.
 */

/** The three documents of each device named that exists in the tenant. */
export async function deviceDocuments(sql: SqlExecutor, seededDocuments: SeededDocuments, tenantId: string, deviceIds: string[]): Promise<Map<string, DeviceDocuments>> {
  if (deviceIds.length === 0) return new Map();
  const rows = await sql.query<DeviceRow>(
    `SELECT tenant_id, id, health, activity, configuration, documents_seed FROM devices
     WHERE tenant_id = ? AND id IN (${deviceIds.map(() => '?').join(', ')})`,
    [tenantId, ...deviceIds],
  );
  return new Map(rows.map((row) => [row.id, documentsOf(row, seededDocuments)]));
}

/** The first page (newest first, `top`) of each device's operations. */
export async function recentOperations(sql: SqlExecutor, tenantId: string, deviceIds: string[], top: number): Promise<Map<string, Page<Operation>>> {
  if (deviceIds.length === 0) return new Map();
  // One bounded index range per device, newest first: no device's history is read whole.
  const branches = deviceIds.map((_, i) => `SELECT * FROM (SELECT * FROM operations WHERE tenant_id = ? AND device_id = ? ORDER BY seq DESC LIMIT ?) AS recent${i}`);
  const rows = await sql.query<OperationRow>(
    branches.join(' UNION ALL '), deviceIds.flatMap((deviceId) => [tenantId, deviceId, top + 1]),
  );
  const byDevice = new Map<string, OperationRow[]>(deviceIds.map((deviceId) => [deviceId, []]));
  for (const row of rows) byDevice.get(row.device_id)?.push(row);
  return new Map([...byDevice].map(([deviceId, deviceRows]) => [deviceId, operationPage(deviceRows.sort((a, b) => Number(b.seq) - Number(a.seq)), top)]));
}
