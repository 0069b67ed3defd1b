import type { Operation } from '../../domain/operation.js';
import { artifactValues, jsonText } from '../rows.js';

/**
 * The INSERT of a new operation, run by the writer thread: it inserts nothing when the
 * device does not exist in the tenant, so the request needs no lookup of its own, and nothing
 * when a unique index refuses the row (OR IGNORE): a statement that cannot fail half-way needs
 * no statement journal, which cost the writer about a tenth of its time per row. Which of the
 * two it was is read afterwards in the same write transaction (`deviceExistsSql`).
 */
export const operationInsertSql = `INSERT OR IGNORE INTO operations (
    id, tenant_id, device_id, operation_type, software_type, software_version, status,
    created_at, created_by, last_action_at, last_action_by, started_at, completed_at, error_code, error_message,
    start_deadline, artifact_sha256, artifact_size, artifact_url, scheduled_at
  ) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
    WHERE EXISTS (SELECT 1 FROM devices WHERE tenant_id = ? AND id = ?)`;

/** Whether the device exists in the tenant: after an insert that wrote nothing, tells a 404 from a 409. */
export const deviceExistsSql = 'SELECT 1 FROM devices WHERE tenant_id = ? AND id = ?';

export function operationInsertValues(op: Operation): unknown[] {
  return [
    op.id, op.tenantId, op.deviceId, op.operationType, op.softwareType, op.softwareVersion, op.status,
    op.createdDateTime, jsonText(op.createdBy), op.lastActionDateTime, jsonText(op.lastActionBy),
    op.startedDateTime, op.completedDateTime, op.error?.code ?? null, op.error?.message ?? null, op.startDeadline,
    ...artifactValues(op.artifact), op.scheduledDateTime ?? null, op.tenantId, op.deviceId,
  ];
}
