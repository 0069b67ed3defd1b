import type { Device } from '../domain/device.js';
import { deviceInsertColumns, deviceToRow, deviceUpdateColumns } from './rows.js';
import { insertSql } from './sql-driver.js';

/** The device statements both the store's reads and writes and its enrollments run. */

/** A newly enrolled device, its credential included. */
export const insertEnrolledDeviceSql = insertSql('devices', [...deviceInsertColumns, 'credential_hash', 'enrollment_state'], 1);

/** Writes a device's reported and derived state; last_seen_at is kept when the device has none. */
export const updateDeviceSql = `UPDATE devices SET ${deviceUpdateColumns.map((c) => `${c} = ?`).join(', ')},
    last_seen_at = coalesce(?, last_seen_at)
  WHERE tenant_id = ? AND id = ?`;

export function updateDeviceParams(device: Device): unknown[] {
  const row = deviceToRow(device);
  return [...deviceUpdateColumns.map((c) => row[c]), row.last_seen_at, device.tenantId, device.id];
}
