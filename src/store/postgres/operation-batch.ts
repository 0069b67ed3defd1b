import type { AuditEvent } from '../../domain/audit.js';
import type { Operation } from '../../domain/operation.js';
import { auditInsertColumns, auditValues } from '../rows.js';
import type { OperationInsertOutcome } from '../store.js';
import { notifyDevicesSql } from './work-notifications.js';

/**
 * One statement per batch: inserts the operations whose device exists in their tenant
 * (ON CONFLICT DO NOTHING: the unique partial index turns away a second pending one) and
 * NOTIFYs the replicas of the new rows' devices. $1 the rows as JSON, $2 the channel.
 */
const insertBatchSql = `WITH incoming AS (
    SELECT r.* FROM jsonb_to_recordset($1::jsonb) AS r(
      id text, tenant_id text, device_id text, operation_type text, software_type text, software_version text,
      status text, created_at timestamptz, created_by jsonb, last_action_at timestamptz, last_action_by jsonb,
      start_deadline timestamptz, artifact_sha256 text, artifact_size bigint, artifact_url text, scheduled_at timestamptz, audit jsonb)
    WHERE EXISTS (SELECT 1 FROM devices d WHERE d.tenant_id = r.tenant_id AND d.id = r.device_id)
  ), inserted AS (
    INSERT INTO operations (id, tenant_id, device_id, operation_type, software_type, software_version, status,
      created_at, created_by, last_action_at, last_action_by, start_deadline, artifact_sha256, artifact_size, artifact_url, scheduled_at)
    SELECT id, tenant_id, device_id, operation_type, software_type, software_version, status,
      created_at, created_by, last_action_at, last_action_by, start_deadline, artifact_sha256, artifact_size, artifact_url, scheduled_at FROM incoming
    ON CONFLICT DO NOTHING RETURNING id, device_id
  ), audited AS (
    -- the audit event of each created operation, in the same commit (run whether read or not)
    INSERT INTO audit_events (${auditInsertColumns.join(', ')})
    SELECT a.* FROM incoming JOIN inserted USING (id) CROSS JOIN LATERAL jsonb_to_record(incoming.audit) AS a(
      tenant_id text, at timestamptz, activity text, result text, result_reason text, actor_type text, actor_id text,
      actor_name text, source_address text, target_type text, target_id text, detail jsonb, occurrences integer)
  ), notified AS (${notifyDevicesSql('inserted', '$2')})
  -- counting the notifications makes them happen: an unreferenced CTE is never run
  SELECT incoming.id, inserted.id IS NOT NULL AS created
  FROM incoming LEFT JOIN inserted USING (id) CROSS JOIN (SELECT count(*) FROM notified) AS sent`;

interface Pending {
  operation: Operation;
  audit: AuditEvent;
  resolve(outcome: OperationInsertOutcome): void;
  reject(error: unknown): void;
}

type RunStatement = (sql: string, params: unknown[], name: string) => Promise<{ id: string; created: boolean }[]>;

/**
 * Group commit for PostgreSQL: the operations accepted while one batch commits go together in
 * the next. Each caller is answered after the commit that holds its row: 'created' (the 202),
 * 'conflict' (the 409, the row the index turned away) or 'noDevice' (the 404, never inserted).
 */
export class OperationBatches {
  private pending: Pending[] = [];
  private flushing = false;
  private batchListener: ((size: number) => void) | null = null;

  constructor(private readonly run: RunStatement, private readonly channel: string) {}

  submit(operation: Operation, audit: AuditEvent): Promise<OperationInsertOutcome> {
    return new Promise((resolve, reject) => {
      this.pending.push({ operation, audit, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /** Calls `listener` with each batch's size as it is sent. */
  onBatch(listener: (size: number) => void): void {
    this.batchListener = listener;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      this.batchListener?.(batch.length);
      try {
        const rows = await this.run(insertBatchSql, [JSON.stringify(batch.map(({ operation: op, audit }) => ({
          id: op.id, tenant_id: op.tenantId, device_id: op.deviceId, operation_type: op.operationType,
          software_type: op.softwareType, software_version: op.softwareVersion, status: op.status,
          created_at: op.createdDateTime, created_by: op.createdBy, last_action_at: op.lastActionDateTime,
          last_action_by: op.lastActionBy, start_deadline: op.startDeadline, artifact_sha256: op.artifact?.sha256 ?? null,
          artifact_size: op.artifact?.size ?? null, artifact_url: op.artifact?.url ?? null, scheduled_at: op.scheduledDateTime ?? null,
          audit: auditRecord(audit),
        }))), this.channel], 'insert-operations');
        const outcomes = new Map<string, OperationInsertOutcome>(rows.map((r) => [r.id, r.created ? 'created' : 'conflict']));
        for (const { operation, resolve } of batch) resolve(outcomes.get(operation.id) ?? 'noDevice');
      } catch (error) {
        for (const { reject } of batch) reject(error);
      }
    }
    this.flushing = false;
  }
}

/** An audit event as the JSON record the batch statement unpacks (keys: the audit columns). */
function auditRecord(audit: AuditEvent): Record<string, unknown> {
  const values = auditValues(audit);
  return Object.fromEntries(auditInsertColumns.map((column, i) => [column, column === 'detail' ? audit.additionalDetails : values[i]]));
}
