import type { Artifact } from '../domain/artifact.js';
import type { AuditActivity, AuditActor, AuditEvent, AuditTarget } from '../domain/audit.js';
import type { Device, GeneratedFrom } from '../domain/device.js';
import { softwareFreshnessOf } from '../domain/device-health.js';
import { softwareTypes, type ActivityState, type DeviceType, type HealthStatus, type OperationType, type SoftwareFreshness, type SoftwareType } from '../domain/enums.js';
import type { Operation, OperationStatus } from '../domain/operation.js';
import type { CatalogEntry } from '../domain/software-catalog.js';
import type { DeviceDocuments, EnrollmentToken, SeededDocuments } from './store.js';
import type { Page } from './device-query.js';
import { freshnessColumns } from './filter-sql.js';

/** A devices row; JSON columns are text in SQLite and jsonb (already parsed) in PostgreSQL. */
export interface DeviceRow {
  tenant_id: string;
  id: string;
  device_type: string;
  health_status: string | null;
  activity_state: string | null;
  company_asset_tag: string | null;
  notes: string | null;
  hw_unique_id: string | null;
  hw_serial_number: string | null;
  hw_manufacturer: string | null;
  hw_model: string | null;
  hw_mac_addresses: unknown;
  current_user_id: string | null;
  current_user_display_name: string | null;
  current_user_type: string | null;
  created_at: string | Date;
  created_by: unknown;
  last_modified_at: string | Date;
  last_modified_by: unknown;
  health: unknown;
  activity: unknown;
  configuration: unknown;
  documents_seed?: unknown;
  installed: unknown;
  credential_hash: string | null;
  enrollment_state?: string | null;
  connection_status: string | null;
  last_seen_at: string | Date | null;
}

export interface OperationRow extends ArtifactColumns {
  seq: number | string;
  id: string;
  tenant_id: string;
  device_id: string;
  operation_type: string;
  software_type: string | null;
  software_version: string | null;
  status: string;
  created_at: string | Date;
  created_by: unknown;
  last_action_at: string | Date;
  last_action_by: unknown;
  started_at: string | Date | null;
  completed_at: string | Date | null;
  error_code: string | null;
  error_message: string | null;
  start_deadline: string | Date | null;
  run_deadline: string | Date | null;
  progress_percent: number | null;
  progress_message: string | null;
  cancel_requested: number | boolean;
  result: unknown;
  scheduled_at: string | Date | null;
}

/** The three artifact columns a catalog entry and an operation both have. */
export interface ArtifactColumns {
  artifact_sha256: string | null;
  artifact_size: number | string | null;
  artifact_url: string | null;
}

/** An artifact from its columns (PostgreSQL gives a bigint as text); null when the row has none. */
export function artifactFromRow(row: ArtifactColumns): Artifact | null {
  if (row.artifact_sha256 === null) return null;
  return { sha256: row.artifact_sha256, size: Number(row.artifact_size), url: row.artifact_url };
}

/** The artifact columns' values: sha256, size, url. */
export function artifactValues(artifact: Artifact | null | undefined): [string | null, number | null, string | null] {
  return artifact ? [artifact.sha256, artifact.size, artifact.url] : [null, null, null];
}

/** A JSON column's value: text in SQLite, already parsed (jsonb) in PostgreSQL. */
export const parsed = <T>(value: unknown): T => (typeof value === 'string' ? JSON.parse(value) : value) as T;
/** A timestamp column's value: ISO text in SQLite, a Date in PostgreSQL. */
export const iso = (value: string | Date): string => (value instanceof Date ? value.toISOString() : value);
export const isoOrNull = (value: string | Date | null): string | null => (value === null ? null : iso(value));

/** A JSON column value as text; null stays SQL NULL. */
export function jsonText(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/**
 * Columns a device list page needs: everything but the three documents, which a
 * teamworkDevice body does not show and which are most of a row's bytes.
 */
export const deviceListColumns = [
  'tenant_id', 'id', 'device_type', 'health_status', 'activity_state', 'company_asset_tag', 'notes',
  'hw_unique_id', 'hw_serial_number', 'hw_manufacturer', 'hw_model', 'hw_mac_addresses',
  'current_user_id', 'current_user_display_name', 'current_user_type',
  'created_at', 'created_by', 'last_modified_at', 'last_modified_by', 'installed', 'last_seen_at',
].join(', ');

/** Every column a new device row is written with, in deviceToRow's terms. */
export const deviceInsertColumns = [
  'tenant_id', 'id', 'device_type', 'health_status', 'activity_state', 'company_asset_tag', 'notes',
  'hw_unique_id', 'hw_serial_number', 'hw_manufacturer', 'hw_model', 'hw_mac_addresses',
  'current_user_id', 'current_user_display_name', 'current_user_type',
  'created_at', 'created_by', 'last_modified_at', 'last_modified_by', 'health', 'activity', 'configuration',
  'installed', 'connection_status', 'last_seen_at', 'documents_seed', ...Object.values(freshnessColumns),
];

/**
 * The columns a device update writes, in both stores: everything of deviceToRow but the key,
 * what never changes after the insert (created_*), the credential (written on its own) and
 * last_seen_at, which an update keeps when it has none (coalesce).
 */
export const deviceUpdateColumns = [
  'device_type', 'health_status', 'activity_state', 'company_asset_tag', 'notes', 'hw_unique_id', 'hw_serial_number', 'hw_manufacturer', 'hw_model',
  'hw_mac_addresses', 'current_user_id', 'current_user_display_name', 'current_user_type', 'last_modified_at',
  'last_modified_by', 'health', 'activity', 'configuration', 'installed', 'connection_status', 'documents_seed',
  ...Object.values(freshnessColumns),
];

export function deviceToRow(device: Device): Record<string, unknown> {
  return {
    tenant_id: device.tenantId,
    id: device.id,
    device_type: device.deviceType,
    health_status: device.healthStatus,
    activity_state: device.activityState,
    company_asset_tag: device.companyAssetTag,
    notes: device.notes,
    hw_unique_id: device.hardwareDetail.uniqueId,
    hw_serial_number: device.hardwareDetail.serialNumber,
    hw_manufacturer: device.hardwareDetail.manufacturer,
    hw_model: device.hardwareDetail.model,
    hw_mac_addresses: JSON.stringify(device.hardwareDetail.macAddresses),
    current_user_id: device.currentUser?.id ?? null,
    current_user_display_name: device.currentUser?.displayName ?? null,
    current_user_type: device.currentUser?.userIdentityType ?? null,
    created_at: device.createdDateTime,
    created_by: jsonText(device.createdBy),
    last_modified_at: device.lastModifiedDateTime,
    last_modified_by: jsonText(device.lastModifiedBy),
    health: device.generatedFrom ? null : JSON.stringify(device.health),
    activity: device.generatedFrom ? null : JSON.stringify(device.activity),
    configuration: device.generatedFrom ? null : JSON.stringify(device.configuration),
    documents_seed: device.generatedFrom ? JSON.stringify(device.generatedFrom) : null,
    installed: JSON.stringify(device.installed),
    connection_status: (device.health.connection as { connectionStatus?: string } | undefined)?.connectionStatus ?? null,
    last_seen_at: device.lastSeenDateTime,
    ...freshnessValues(device.health),
  };
}

/**
 * The freshness columns' values: each software type's softwareFreshness as the health document
 * says it (a seeded device's generated document too), so `$filter` agrees with the document.
 */
export function freshnessValues(health: Record<string, unknown>): Record<string, SoftwareFreshness | null> {
  return Object.fromEntries(softwareTypes.map((type) => [freshnessColumns[type], softwareFreshnessOf(health, type)]));
}

/** `seededDocuments` regenerates the documents of a row that holds a generator descriptor instead. */
export function deviceFromRow(row: DeviceRow, seededDocuments: SeededDocuments): Device {
  const hasUser = row.current_user_id !== null || row.current_user_display_name !== null;
  return {
    tenantId: row.tenant_id,
    id: row.id,
    deviceType: row.device_type as DeviceType,
    healthStatus: row.health_status as HealthStatus | null,
    activityState: row.activity_state as ActivityState | null,
    companyAssetTag: row.company_asset_tag,
    notes: row.notes,
    hardwareDetail: {
      uniqueId: row.hw_unique_id,
      serialNumber: row.hw_serial_number,
      manufacturer: row.hw_manufacturer,
      model: row.hw_model,
      macAddresses: parsed<string[]>(row.hw_mac_addresses),
    },
    currentUser: hasUser
      ? { id: row.current_user_id, displayName: row.current_user_display_name, userIdentityType: row.current_user_type }
      : null,
    createdDateTime: iso(row.created_at),
    createdBy: row.created_by === null ? null : parsed(row.created_by),
    lastModifiedDateTime: iso(row.last_modified_at),
    lastModifiedBy: row.last_modified_by === null ? null : parsed(row.last_modified_by),
    ...documentsOf(row, seededDocuments),
    installed: parsed(row.installed),
    lastSeenDateTime: isoOrNull(row.last_seen_at),
  };
}

/**
 * The three documents of a row: absent when it was read with deviceListColumns, regenerated
 * when the row holds a generator descriptor instead (seeded demo devices), else as stored.
 */
export function documentsOf(row: DeviceRow, seededDocuments: SeededDocuments): DeviceDocuments {
  if (row.health === undefined) return { health: {}, activity: {}, configuration: {} };
  if (row.health === null && row.documents_seed) return seededDocuments(row.tenant_id, parsed<GeneratedFrom>(row.documents_seed));
  return { health: parsed(row.health), activity: parsed(row.activity), configuration: parsed(row.configuration) };
}

export function operationFromRow(row: OperationRow): Operation {
  return {
    tenantId: row.tenant_id,
    deviceId: row.device_id,
    id: row.id,
    operationType: row.operation_type as OperationType,
    softwareType: row.software_type as SoftwareType | null,
    softwareVersion: row.software_version,
    status: row.status as OperationStatus,
    createdDateTime: iso(row.created_at),
    createdBy: row.created_by === null ? null : parsed(row.created_by),
    lastActionDateTime: iso(row.last_action_at),
    lastActionBy: row.last_action_by === null ? null : parsed(row.last_action_by),
    startedDateTime: isoOrNull(row.started_at),
    completedDateTime: isoOrNull(row.completed_at),
    error: row.error_code === null && row.error_message === null ? null : { code: row.error_code, message: row.error_message },
    startDeadline: isoOrNull(row.start_deadline),
    runDeadline: isoOrNull(row.run_deadline),
    progressPercent: row.progress_percent,
    progressMessage: row.progress_message,
    cancelRequested: Boolean(row.cancel_requested),
    result: row.result === null ? null : parsed(row.result),
    artifact: artifactFromRow(row),
    ...(row.scheduled_at ? { scheduledDateTime: iso(row.scheduled_at) } : {}),
  };
}

export interface CatalogRow extends ArtifactColumns {
  tenant_id: string;
  software_type: string;
  version: string;
  device_type: string | null;
  model: string | null;
  created_at: string | Date;
}

export function catalogFromRow(row: CatalogRow): CatalogEntry {
  return {
    tenantId: row.tenant_id,
    softwareType: row.software_type as SoftwareType,
    version: row.version,
    deviceType: row.device_type as DeviceType | null,
    model: row.model,
    createdDateTime: iso(row.created_at),
    artifact: artifactFromRow(row),
  };
}

/** The columns an audit event is written with (seq, its id, is assigned by the database). */
export const auditInsertColumns = [
  'tenant_id', 'at', 'activity', 'result', 'result_reason', 'actor_type', 'actor_id', 'actor_name', 'source_address',
  'target_type', 'target_id', 'detail', 'occurrences',
] as const;

export interface AuditRow {
  seq: number | string;
  tenant_id: string | null;
  at: string | Date;
  activity: string;
  result: string;
  result_reason: string | null;
  actor_type: string;
  actor_id: string | null;
  actor_name: string | null;
  source_address: string | null;
  target_type: string | null;
  target_id: string | null;
  detail: unknown;
  occurrences: number | string;
}

/** An audit event's values in auditInsertColumns order. */
export function auditValues(event: AuditEvent): unknown[] {
  return [
    event.tenantId, event.activityDateTime, event.activity, event.result, event.resultReason,
    event.initiatedBy.type, event.initiatedBy.id, event.initiatedBy.displayName, event.initiatedBy.ipAddress,
    event.target?.type ?? null, event.target?.id ?? null, jsonText(event.additionalDetails), event.occurrences,
  ];
}

export function auditFromRow(row: AuditRow): AuditEvent {
  return {
    id: String(row.seq),
    tenantId: row.tenant_id,
    activityDateTime: iso(row.at),
    activity: row.activity as AuditActivity,
    result: row.result as AuditEvent['result'],
    resultReason: row.result_reason,
    initiatedBy: {
      type: row.actor_type as AuditActor['type'],
      id: row.actor_id,
      displayName: row.actor_name,
      ipAddress: row.source_address,
    },
    target: row.target_type === null || row.target_id === null ? null : { type: row.target_type as AuditTarget['type'], id: row.target_id },
    additionalDetails: row.detail === null ? null : parsed(row.detail),
    occurrences: Number(row.occurrences),
  };
}

export interface EnrollmentTokenRow {
  id: string;
  tenant_id: string;
  token_hash: string;
  created_at: string | Date;
  expires_at: string | Date;
  max_uses: number | string | null;
  uses: number | string;
  revoked_at: string | Date | null;
  description: string | null;
}

export function enrollmentTokenFromRow(row: EnrollmentTokenRow): EnrollmentToken {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    tokenHash: row.token_hash,
    createdDateTime: iso(row.created_at),
    expiresDateTime: iso(row.expires_at),
    maxUses: row.max_uses === null ? null : Number(row.max_uses),
    uses: Number(row.uses),
    revokedDateTime: isoOrNull(row.revoked_at),
    description: row.description,
  };
}

/** Up to `top` operations from rows newest first; `next` when one more row was read. */
export function operationPage(rows: OperationRow[], top: number): Page<Operation> {
  const page = rows.slice(0, top);
  return { items: page.map(operationFromRow), next: rows.length > top ? Number(page[page.length - 1].seq) : null };
}
