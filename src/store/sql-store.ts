import type { Readable } from 'node:stream';
import { sha256Pattern } from '../domain/artifact.js';
import type { AuditEvent } from '../domain/audit.js';
import type { Device, HardwareDetail } from '../domain/device.js';
import type { DeviceType, SoftwareType } from '../domain/enums.js';
import type { IdentitySet } from '../domain/identity.js';
import type { Operation, OperationError, Transition } from '../domain/operation.js';
import type { CatalogEntry, CatalogOffer, CatalogVersion, NewCatalogEntry } from '../domain/software-catalog.js';
import type { ArtifactContent, ArtifactStore, StoredArtifact } from './artifact-store.js';
import type { DeviceFilter, DevicePage, DevicePageQuery, OperationFilter, OperationPageQuery, OperationPosition, Page, TenantOperationQuery } from './device-query.js';
import { compileFilter } from './filter-sql.js';
import * as access from './device-access.js';
import * as expansions from './expansion-reads.js';
import { MaintenanceWindowSql } from './maintenance-window-sql.js';
import { updateDeviceParams, updateDeviceSql } from './device-sql.js';
import { DevicePages } from './device-pages.js';
import { CoalescedDeviceReads } from './device-reads.js';
import { OperationPages } from './operation-pages.js';
import {
  artifactFromRow, artifactValues, catalogFromRow, deviceFromRow, deviceInsertColumns, deviceToRow, iso, jsonText, operationFromRow, operationPage, parsed,
  type ArtifactColumns, type CatalogRow, type DeviceRow, type OperationRow,
} from './rows.js';
import type { SqlDriver, SqlExecutor } from './sql-driver.js';
import { StoreConflictError } from './store-errors.js';
import { SqlStoreMonitor } from './sql-store-monitor.js';
import type {
  AuditQuery, DeviceCatalog, DeviceRef, EnrollmentOutcome, EnrollmentToken, EnrollmentWrite, OperationInsertOutcome,
  DeviceDocuments, SeededDocuments, SigningKey, Store, StoredCredential, TransitionChanges,
} from './store.js';
import { RolloutSql } from './rollout-sql.js';
import { nextOperationSql, transitionSql } from './transition-sql.js';
import { SqlSubscriptions } from './subscription-sql.js';
import type { SubscriptionStore } from './subscription-store.js';

/** Devices per presence UPDATE. */
const devicesPerMarkSeen = 500;

const refuseSeededDocuments: SeededDocuments = () => {
  throw new Error('This store was opened without the seeded documents source, so it cannot read a seeded device.');
};

/**
 * The store: every statement written once, run by a driver for SQLite or PostgreSQL. State
 * changes are single statements or single transactions, so concurrent callers (and, on
 * PostgreSQL, replicas) cannot interleave. Past 400 lines because it is the one class of the
 * one Store interface; every concern with statements of its own (device pages, device access,
 * rollouts, windows, subscriptions, $expand reads) already lives in its own file.
 */
export class SqlStore implements Store {
  private readonly seededDocuments: SeededDocuments;

  private readonly devicePages: DevicePages;

  private readonly operationPages: OperationPages;

  private readonly deviceReads: CoalescedDeviceReads;

  readonly rollouts: RolloutSql;

  readonly windows: MaintenanceWindowSql;
  readonly subscriptions: SubscriptionStore;
  readonly monitor: SqlStoreMonitor;

  constructor(
    private readonly sql: SqlDriver,
    private readonly artifacts: ArtifactStore,
    seededDocuments?: SeededDocuments,
    scanRowsPerPage?: number,
  ) {
    this.seededDocuments = seededDocuments ?? refuseSeededDocuments;
    this.devicePages = new DevicePages(sql, this.seededDocuments, scanRowsPerPage);
    this.operationPages = new OperationPages(sql);
    this.deviceReads = new CoalescedDeviceReads(sql);
    this.rollouts = new RolloutSql(sql);
    this.monitor = new SqlStoreMonitor(sql);
    this.windows = new MaintenanceWindowSql(sql, this.seededDocuments, (released) => this.monitor.operationEntered(released));
    this.subscriptions = new SqlSubscriptions(sql);
  }

  close(): Promise<void> {
    return this.sql.close();
  }

  private device(row: DeviceRow | undefined): Device | null {
    return row ? deviceFromRow(row, this.seededDocuments) : null;
  }

  private async operation(rows: Promise<OperationRow[]>): Promise<Operation | null> {
    const [row] = await rows;
    return row ? operationFromRow(row) : null;
  }

  async signingKeys(): Promise<SigningKey[]> {
    const rows = await this.sql.query<KeyRow>('SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC');
    return rows.map((row) => ({
      kid: row.kid,
      alg: row.alg,
      privateJwk: parsed(row.private_jwk),
      publicJwk: parsed(row.public_jwk),
      createdAt: iso(row.created_at),
    }));
  }

  async addSigningKey(key: SigningKey): Promise<void> {
    await this.sql.query(
      'INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      [key.kid, key.alg, JSON.stringify(key.privateJwk), JSON.stringify(key.publicJwk), key.createdAt],
    );
  }

  async insertDevices(devices: Device[]): Promise<void> {
    // Bulk registration (seed) is not an accepted operation: a batch lost to a power cut is
    // seeded again, so it does not wait for the disk.
    await this.sql.transaction(async (tx) => {
      const rows = devices.map((device) => {
        const row = deviceToRow(device);
        return deviceInsertColumns.map((column) => row[column]);
      });
      await tx.insertRows('devices', deviceInsertColumns, rows);
    }, { durable: false });
  }

  refreshStatistics(): Promise<void> {
    return this.sql.afterBulkLoad('devices');
  }

  async getDevice(tenantId: string, deviceId: string): Promise<Device | null> {
    if (this.sql.dialect.coalescesReads) return this.device(await this.deviceReads.read(tenantId, deviceId));
    const [row] = await this.sql.query<DeviceRow>('SELECT * FROM devices WHERE tenant_id = ? AND id = ?', [tenantId, deviceId]);
    return this.device(row);
  }

  async getDeviceCatalog(tenantId: string, deviceId: string, softwareType: SoftwareType, version: string | null): Promise<DeviceCatalog | null> {
    // One statement: the device by its primary key, its tenant's entries by the catalog's
    // unique index (tenant_id, software_type, version, …); a device without entries is one row
    // of NULLs. Only the columns the rule reads: this is on every updateSoftware's path.
    // All of a type's entries in the order they were added, as listCatalog gives them (of two
    // versions that compare equal, newestVersion keeps the first); one version's need no order.
    const rows = await this.sql.query<DeviceCatalogRow>(
      `SELECT d.device_type AS device_device_type, d.hw_model AS device_model, c.version, c.device_type, c.model,
         c.artifact_sha256, c.artifact_size, c.artifact_url
       FROM devices d LEFT JOIN catalog_entries c
         ON c.tenant_id = d.tenant_id AND c.software_type = ?${version === null ? '' : ' AND c.version = ?'}
       WHERE d.tenant_id = ? AND d.id = ?${version === null ? ' ORDER BY c.seq' : ''}`,
      version === null ? [softwareType, tenantId, deviceId] : [softwareType, version, tenantId, deviceId],
    );
    if (rows.length === 0) return null;
    const [first] = rows;
    const entries: CatalogOffer[] = [];
    for (const row of rows) {
      if (row.version !== null) entries.push({ softwareType, version: row.version, deviceType: row.device_type as DeviceType | null, model: row.model, artifact: artifactFromRow(row) });
    }
    return { device: { id: deviceId, deviceType: first.device_device_type as DeviceType, model: first.device_model }, entries };
  }

  async countDevices(tenantId: string, filter: DeviceFilter | null = null): Promise<number> {
    const compiled = filter ? compileFilter(filter) : { sql: 'TRUE', params: [] };
    const [row] = await this.sql.scan<{ n: number | string }>(
      `SELECT count(*) AS n FROM devices WHERE tenant_id = ? AND ${compiled.sql}`, [tenantId, ...compiled.params],
    );
    return Number(row.n);
  }

  getDeviceDocuments(tenantId: string, deviceIds: string[]): Promise<Map<string, DeviceDocuments>> {
    return expansions.deviceDocuments(this.sql, this.seededDocuments, tenantId, deviceIds);
  }


  listDevices(query: DevicePageQuery): Promise<DevicePage> {
    return this.devicePages.list(query);
  }

  async createOperation(operation: Operation, audit: AuditEvent): Promise<OperationInsertOutcome> {
    const outcome = await this.sql.insertOperation(operation, audit);
    if (outcome === 'created') this.monitor.operationEntered([operation]);
    return outcome;
  }

  getOperation(tenantId: string, deviceId: string, operationId: string): Promise<Operation | null> {
    return this.operation(this.sql.query<OperationRow>(
      'SELECT * FROM operations WHERE tenant_id = ? AND device_id = ? AND id = ?', [tenantId, deviceId, operationId],
    ));
  }

  async listOperations(query: OperationPageQuery): Promise<Page<Operation>> {
    // A device's operations are few enough that an OFFSET for $skip reads little.
    const rows = await this.sql.query<OperationRow>(
      'SELECT * FROM operations WHERE tenant_id = ? AND device_id = ? AND seq < ? ORDER BY seq DESC LIMIT ? OFFSET ?',
      [query.tenantId, query.deviceId, query.beforeSeq ?? Number.MAX_SAFE_INTEGER, query.top + 1, query.skip ?? 0],
    );
    return operationPage(rows, query.top);
  }

  async countOperations(tenantId: string, deviceId: string): Promise<number> {
    const [row] = await this.sql.query<{ n: number | string }>(
      'SELECT count(*) AS n FROM operations WHERE tenant_id = ? AND device_id = ?', [tenantId, deviceId],
    );
    return Number(row.n);
  }

  listTenantOperations(query: TenantOperationQuery): Promise<Page<Operation, OperationPosition>> {
    return this.operationPages.list(query);
  }

  countTenantOperations(tenantId: string, filter: OperationFilter | null): Promise<number> {
    return this.operationPages.count(tenantId, filter);
  }

  listRecentOperations(tenantId: string, deviceIds: string[], top: number): Promise<Map<string, Page<Operation>>> {
    return expansions.recentOperations(this.sql, tenantId, deviceIds, top);
  }


  async transitionOperation(tenantId: string, operationId: string, transition: Transition, changes: TransitionChanges): Promise<Operation | null> {
    const { sql, params } = transitionSql(transition, tenantId, operationId, changes);
    try {
      const moved = await this.operation(this.sql.query<OperationRow>(sql, params));
      if (moved) this.monitor.operationEntered([moved]);
      return moved;
    } catch (error) {
      // operations_one_running: the device already runs another operation.
      if (error instanceof StoreConflictError) return null;
      throw error;
    }
  }

  nextOperation(tenantId: string, deviceId: string): Promise<Operation | null> {
    return this.operation(this.sql.query<OperationRow>(nextOperationSql, [tenantId, deviceId, tenantId, deviceId, tenantId, deviceId], 'next-operation'));
  }

  setProgress(tenantId: string, operationId: string, percent: number | null, message: string | null, at: string): Promise<Operation | null> {
    return this.operation(this.sql.query<OperationRow>(
      `UPDATE operations SET progress_percent = ?, progress_message = ?, last_action_at = ?
       WHERE tenant_id = ? AND id = ? AND status = 'inProgress' RETURNING *`,
      [percent, message, at, tenantId, operationId],
    ));
  }

  requestCancel(tenantId: string, operationId: string, by: IdentitySet, at: string): Promise<Operation | null> {
    return this.operation(this.sql.query<OperationRow>(
      `UPDATE operations SET cancel_requested = true, last_action_at = ?, last_action_by = ?
       WHERE tenant_id = ? AND id = ? AND status = 'inProgress' RETURNING *`,
      [at, jsonText(by), tenantId, operationId],
    ));
  }

  async expireOverdue(now: string, errors: { start: OperationError; busy?: OperationError; run: OperationError }, limit: number): Promise<Operation[]> {
    // Each status condition is its partial index's own (operations_by_start_deadline,
    // operations_by_run_deadline) word for word: SQLite uses a partial index only then, and
    // scans the whole table otherwise. The status is checked again outside the claim: a row
    // may have moved on since it was picked. A pending operation of a device in a meeting at
    // its deadline says so (`busy`) rather than that the device was unreachable.
    const busyDevice = `EXISTS (SELECT 1 FROM devices d WHERE d.tenant_id = operations.tenant_id AND d.id = operations.device_id
      AND d.activity_state = 'busy')`;
    const expire = (status: string, deadline: string, error: OperationError, busy?: OperationError) => this.sql.query<OperationRow>(
      `UPDATE operations SET status = 'failed', completed_at = ?, last_action_at = ?, last_action_by = NULL,
         ${busy ? `error_code = CASE WHEN ${busyDevice} THEN ? ELSE ? END, error_message = CASE WHEN ${busyDevice} THEN ? ELSE ? END`
    : 'error_code = ?, error_message = ?'}
       WHERE seq IN (SELECT seq FROM operations WHERE ${status} AND ${deadline} < ? LIMIT ?${this.sql.dialect.skipLocked})
         AND ${status}
       RETURNING *`,
      [now, now, ...(busy ? [busy.code, error.code, busy.message, error.message] : [error.code, error.message]), now, limit],
    );
    const rows = [
      ...(await expire("status IN ('queued', 'scheduled')", 'start_deadline', errors.start, errors.busy)),
      ...(await expire("status = 'inProgress'", 'run_deadline', errors.run)),
    ];
    const failed = rows.map(operationFromRow);
    this.monitor.operationEntered(failed);
    return failed;
  }

  createEnrollmentToken(token: EnrollmentToken, audit: AuditEvent): Promise<void> {
    return access.createEnrollmentToken(this.sql, token, audit);
  }

  findEnrollmentToken(tokenHash: string): Promise<EnrollmentToken | null> {
    return access.findEnrollmentToken(this.sql, tokenHash);
  }

  listEnrollmentTokens(tenantId: string): Promise<EnrollmentToken[]> {
    return access.listEnrollmentTokens(this.sql, tenantId);
  }

  revokeEnrollmentToken(tenantId: string, tokenId: string, audit: AuditEvent): Promise<EnrollmentToken | null> {
    return access.revokeEnrollmentToken(this.sql, tenantId, tokenId, audit);
  }

  async findDeviceByHardware(tenantId: string, hardware: HardwareDetail): Promise<Device | null> {
    const [row] = await this.sql.query<DeviceRow>(access.findByHardwareSql, access.hardwareParams(tenantId, hardware));
    return this.device(row);
  }

  enrollDevice(write: EnrollmentWrite): Promise<EnrollmentOutcome> {
    return access.enrollDevice(this.sql, write);
  }

  deviceCredential(deviceId: string): Promise<StoredCredential | null> {
    return access.deviceCredential(this.sql, deviceId);
  }

  rotateDeviceCredential(tenantId: string, deviceId: string, presentedHash: string, newHash: string, previousUntil: string, audit: AuditEvent): Promise<boolean> {
    return access.rotateDeviceCredential(this.sql, tenantId, deviceId, presentedHash, newHash, previousUntil, audit);
  }

  revokeDeviceCredential(tenantId: string, deviceId: string, audit: AuditEvent): Promise<boolean> {
    return access.revokeDeviceCredential(this.sql, tenantId, deviceId, audit);
  }

  removeDevice(tenantId: string, deviceId: string, audit: AuditEvent): Promise<boolean> {
    return access.removeDevice(this.sql, tenantId, deviceId, audit);
  }

  updateDevice(tenantId: string, deviceId: string, change: (device: Device) => Device): Promise<Device | null> {
    return this.sql.transaction(async (tx: SqlExecutor) => {
      const [row] = await tx.query<DeviceRow>(`SELECT * FROM devices WHERE tenant_id = ? AND id = ?${this.sql.dialect.forUpdate}`, [tenantId, deviceId]);
      const current = this.device(row);
      if (!current) return null;
      const updated = change(current);
      if (updated !== current) await tx.query(updateDeviceSql, updateDeviceParams(updated));
      return updated;
    });
  }

  async markSeen(devices: DeviceRef[], at: string): Promise<DeviceRef[]> {
    const notConnected: DeviceRef[] = [];
    await this.sql.transaction(async (tx) => {
      for (let i = 0; i < devices.length; i += devicesPerMarkSeen) {
        const chunk = devices.slice(i, i + devicesPerMarkSeen);
        const rows = await tx.query<{ tenant_id: string; id: string; connection_status: string | null }>(
          `UPDATE devices SET last_seen_at = ?
           WHERE (tenant_id, id) IN (VALUES ${chunk.map(() => '(?, ?)').join(', ')})
           RETURNING tenant_id, id, connection_status`,
          [at, ...chunk.flatMap((d) => [d.tenantId, d.deviceId])],
        );
        for (const r of rows) if (r.connection_status !== 'connected') notConnected.push({ tenantId: r.tenant_id, deviceId: r.id });
      }
    });
    return notConnected;
  }

  async silentDevices(cutoff: string, limit: number): Promise<Device[]> {
    const rows = await this.sql.query<DeviceRow>(
      "SELECT * FROM devices WHERE connection_status = 'connected' AND last_seen_at < ? LIMIT ?", [cutoff, limit],
    );
    return rows.map((row) => deviceFromRow(row, this.seededDocuments));
  }

  notifyWork(deviceId: string): Promise<void> {
    return this.sql.notifyWork(deviceId);
  }

  onWork(listener: (deviceId: string) => void): void {
    this.sql.onWork(listener);
  }

  holdsSupervisorLease(): Promise<boolean> {
    return this.sql.holdsSupervisorLease();
  }

  takeRateToken(key: string, capacity: number, perSecond: number): Promise<number | null> {
    return this.sql.takeRateToken(key, capacity, perSecond);
  }

  recordAudit(events: AuditEvent[]): Promise<void> {
    return access.recordAudit(this.sql, events);
  }

  listAudit(query: AuditQuery): Promise<Page<AuditEvent>> {
    return access.listAudit(this.sql, query);
  }

  async addCatalogEntry(entry: NewCatalogEntry): Promise<'added' | 'exists'> {
    return (await this.addCatalogEntries([entry])) === 1 ? 'added' : 'exists';
  }

  async addCatalogEntries(entries: NewCatalogEntry[]): Promise<number> {
    // Checked before the transaction: a device must never be told of an artifact it cannot
    // download. Stored artifacts are never deleted, so one found here is still there after.
    for (const { artifact } of entries) {
      if (artifact && artifact.url === null && (await this.artifacts.open(artifact.sha256))?.size !== artifact.size) {
        throw new Error(`The artifact ${artifact.sha256} of ${artifact.size} bytes is not stored; put it first.`);
      }
    }
    return this.sql.transaction(async (tx) => {
      let added = 0;
      for (const entry of entries) {
        const rows = await tx.query(
          `INSERT INTO catalog_entries (tenant_id, software_type, version, device_type, model, created_at, artifact_sha256, artifact_size, artifact_url)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING seq`,
          [entry.tenantId, entry.softwareType, entry.version, entry.deviceType, entry.model, entry.createdDateTime, ...artifactValues(entry.artifact)],
        );
        added += rows.length;
      }
      return added;
    });
  }

  async catalogVersionsFor(tenantId: string, deviceType: DeviceType): Promise<CatalogVersion[]> {
    const rows = await this.sql.query<{ software_type: string; version: string; device_type: string | null; model: string | null }>(
      'SELECT software_type, version, device_type, model FROM catalog_entries WHERE tenant_id = ? AND (device_type IS NULL OR device_type = ?) ORDER BY seq',
      [tenantId, deviceType],
      'catalogVersionsFor',
    );
    return rows.map((row) => ({ softwareType: row.software_type as SoftwareType, version: row.version, deviceType: row.device_type as DeviceType | null, model: row.model }));
  }

  async listCatalog(tenantId: string): Promise<CatalogEntry[]> {
    const rows = await this.sql.query<CatalogRow>('SELECT * FROM catalog_entries WHERE tenant_id = ? ORDER BY seq', [tenantId]);
    return rows.map(catalogFromRow);
  }

  putArtifact(content: Readable): Promise<StoredArtifact> {
    return this.artifacts.put(content);
  }

  async tenantArtifact(tenantId: string, sha256: string): Promise<ArtifactContent | null> {
    if (!sha256Pattern.test(sha256)) return null;
    // An external entry of the same SHA-256 does not count: its tenant never gave this service the bytes.
    const named = await this.sql.query(
      'SELECT 1 AS named FROM catalog_entries WHERE tenant_id = ? AND artifact_sha256 = ? AND artifact_url IS NULL LIMIT 1', [tenantId, sha256],
    );
    return named.length === 0 ? null : this.artifacts.open(sha256);
  }
}

interface KeyRow {
  kid: string;
  alg: string;
  private_jwk: unknown;
  public_jwk: unknown;
  created_at: string | Date;
}

/** A device joined with its catalog entries: the entry's columns are NULL when none matched. */
interface DeviceCatalogRow extends ArtifactColumns {
  device_device_type: string;
  device_model: string | null;
  version: string | null;
  device_type: string | null;
  model: string | null;
}
