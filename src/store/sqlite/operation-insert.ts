import type { Operation } from '../../domain/operation.js';
import { artifactValues, jsonText } from '../rows.js';

/**
 * The INSERT of a new operation, run by the writer thread: it inserts nothing when the
 * device does not exist in the tenant, so the request needs no lookup of its own.
 */
export const operationInsertSql = `INSERT INTO operations (
    id, tenant_id, device_id, operation_type, software_type, software_version, status,
    created_at, created_by, last_action_at, last_action_by, started_at, completed_at, error_code, error_message,
    start_deadline, artifact_sha256, artifact_size, artifact_url, scheduled_at
  ) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
    WHERE EXISTS (SELECT 1 FROM devices WHERE tenant_id = ? AND id = ?)`;

export function operationInsertValues(op: Operation): unknown[] {
  return [
    op.id, op.tenantId, op.deviceId, op.operationType, op.softwareType, op.softwareVersion, op.status,
    op.createdDateTime, jsonText(op.createdBy), op.lastActionDateTime, jsonText(op.lastActionBy),
    op.startedDateTime, op.completedDateTime, op.error?.code ?? null, op.error?.message ?? null, op.startDeadline,
    ...artifactValues(op.artifact), op.scheduledDateTime ?? null, op.tenantId, op.deviceId,
  ];
}
