import type { IdentitySet } from '../domain/identity.js';
import type { SoftwareType } from '../domain/enums.js';
import type {
  PausedReason, RetryPolicy, RolloutDeviceState, RolloutStatus, RolloutTarget, SkipReason, StagePhase, StageSpec,
} from '../domain/rollout.js';
import type { DeviceFilter } from './device-query.js';
import type { RolloutDevice, RolloutRecord } from './rollout-store.js';
import { iso, isoOrNull, parsed } from './rows.js';

/** Rows of rollouts and rollout_devices ↔ their domain shapes (JSON columns: text in SQLite, jsonb in PostgreSQL). */

export interface RolloutRow {
  tenant_id: string;
  id: string;
  display_name: string;
  software_type: string;
  software_version: string | null;
  target: unknown;
  target_filter: unknown;
  include_new_devices: number | boolean;
  stages: unknown;
  retry: unknown;
  status: string;
  paused_reason: string | null;
  current_stage: number;
  stage_phase: string | null;
  soak_until: string | Date | null;
  approved_stage: number;
  expanded: number | boolean;
  expansion_after: unknown;
  accepted_failures: number;
  created_at: string | Date;
  created_by: unknown;
  last_modified_at: string | Date;
  started_at: string | Date | null;
  completed_at: string | Date | null;
}

export interface RolloutDeviceRow {
  seq: number | string;
  device_id: string;
  stage: number | null;
  state: string;
  skip_reason: string | null;
  operation_id: string | null;
  attempts: number;
  next_attempt_at: string | Date | null;
  error_code: string | null;
  error_message: string | null;
  last_changed_at: string | Date;
}

export interface CountRow {
  stage: number | null;
  state: string;
  skip_reason: string | null;
  n: number | string;
}

export function rolloutFromRow(row: RolloutRow): RolloutRecord {
  return {
    tenantId: row.tenant_id,
    id: row.id,
    displayName: row.display_name,
    softwareType: row.software_type as SoftwareType,
    softwareVersion: row.software_version,
    target: parsed<RolloutTarget>(row.target),
    targetFilter: row.target_filter === null ? null : parsed<DeviceFilter>(row.target_filter),
    includeNewDevices: Boolean(row.include_new_devices),
    stages: parsed<StageSpec[]>(row.stages),
    retry: parsed<RetryPolicy>(row.retry),
    status: row.status as RolloutStatus,
    pausedReason: row.paused_reason as PausedReason,
    currentStage: Number(row.current_stage),
    stagePhase: row.stage_phase as StagePhase | null,
    soakUntil: isoOrNull(row.soak_until),
    approvedStage: Number(row.approved_stage),
    expanded: Boolean(row.expanded),
    expansionAfter: row.expansion_after === null ? null : parsed<{ createdAt: string; id: string }>(row.expansion_after),
    acceptedFailures: Number(row.accepted_failures),
    createdDateTime: iso(row.created_at),
    createdBy: parsed<IdentitySet>(row.created_by),
    lastModifiedDateTime: iso(row.last_modified_at),
    startedDateTime: isoOrNull(row.started_at),
    completedDateTime: isoOrNull(row.completed_at),
  };
}

export function rolloutDeviceFromRow(row: RolloutDeviceRow): RolloutDevice {
  return {
    deviceId: row.device_id,
    stage: row.stage === null ? null : Number(row.stage),
    state: row.state as RolloutDeviceState,
    skipReason: row.skip_reason as SkipReason | null,
    operationId: row.operation_id,
    attempts: Number(row.attempts),
    nextAttemptDateTime: isoOrNull(row.next_attempt_at),
    error: row.error_code === null && row.error_message === null ? null : { code: row.error_code, message: row.error_message },
    lastChangedDateTime: iso(row.last_changed_at),
  };
}
