import type { AuditEvent } from '../domain/audit.js';
import type { Device, HardwareDetail } from '../domain/device.js';
import type { DeviceType } from '../domain/enums.js';
import type { IdentitySet } from '../domain/identity.js';
import type { Operation, OperationError, Transition } from '../domain/operation.js';
import type { CatalogEntry } from '../domain/software-catalog.js';
import type { DevicePageQuery, OperationPageQuery, Page } from './device-query.js';
import { compileFilter } from './filter-sql.js';
import {
  auditFromRow, auditInsertColumns, auditValues, catalogFromRow, deviceFromRow, deviceInsertColumns, deviceListColumns, deviceToRow,
  deviceUpdateColumns, enrollmentTokenFromRow, iso, jsonText, operationFromRow, parsed,
  type AuditRow, type CatalogRow, type DeviceRow, type EnrollmentTokenRow, type OperationRow,
} from './rows.js';
import { insertSql, type SqlDriver, type SqlExecutor } from './sql-driver.js';
import { StoreConflictError } from './store-errors.js';
import type {
  AuditQuery, DeviceModel, DeviceRef, EnrollmentOutcome, EnrollmentRefusal, EnrollmentToken, EnrollmentWrite, OperationInsertOutcome,
  SeededDocuments, SigningKey, Store, StoredCredential, TransitionChanges,
} from './store.js';
import { nextOperationSql, transitionSql } from './transition-sql.js';

/** Devices per presence UPDATE. */
const devicesPerMarkSeen = 500;

const insertDeviceSql = insertSql('devices', deviceInsertColumns, 1);

/**
 * The unique id wins over the serial number; two indexed lookups. A serial number matches
 * only within the same manufacturer and model, and never a device with another uniqueId
 * (the coalesce pair is true when either uniqueId is absent or both are equal).
 */
const findByHardwareSql = `SELECT * FROM (
    SELECT *, 0 AS hardware_rank FROM devices WHERE tenant_id = ? AND hw_unique_id = ?
    UNION ALL SELECT *, 1 AS hardware_rank FROM devices
      WHERE tenant_id = ? AND hw_serial_number = ?
        AND hw_manufacturer IS NOT DISTINCT FROM ? AND hw_model IS NOT DISTINCT FROM ?
        AND coalesce(hw_unique_id, ?, '') = coalesce(?, hw_unique_id, '')
  ) AS found ORDER BY hardware_rank LIMIT 1`;

function hardwareParams(tenantId: string, hw: HardwareDetail): unknown[] {
  return [tenantId, hw.uniqueId, tenantId, hw.serialNumber, hw.manufacturer, hw.model, hw.uniqueId, hw.uniqueId];
}

const insertAuditSql = insertSql('audit_events', auditInsertColumns, 1);

/** Thrown inside an enrollment's transaction to roll back what it took (a token use) and say why. */
class EnrollmentRefused extends Error {
  constructor(readonly reason: EnrollmentRefusal) {
    super(reason);
  }
}

/** Writes a device's reported and derived state; last_seen_at is kept when the device has none. */
const updateDeviceSql = `UPDATE devices SET ${deviceUpdateColumns.map((c) => `${c} = ?`).join(', ')},
    last_seen_at = coalesce(?, last_seen_at)
  WHERE tenant_id = ? AND id = ?`;

function updateDeviceParams(device: Device): unknown[] {
  const row = deviceToRow(device);
  return [...deviceUpdateColumns.map((c) => row[c]), row.last_seen_at, device.tenantId, device.id];
}

const refuseSeededDocuments: SeededDocuments = () => {
  throw new Error('This store was opened without the seeded documents source, so it cannot read a seeded device.');
};

/**
 * The store: every statement written once, run by a driver for SQLite or PostgreSQL. State
 * changes are single statements or single transactions, so concurrent callers (and, on
 * PostgreSQL, replicas) cannot interleave.
 */
export class SqlStore implements Store {
  private readonly seededDocuments: SeededDocuments;

  constructor(private readonly sql: SqlDriver, seededDocuments?: SeededDocuments) {
    this.seededDocuments = seededDocuments ?? refuseSeededDocuments;
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

  async getDevice(tenantId: string, deviceId: string): Promise<Device | null> {
    const [row] = await this.sql.query<DeviceRow>('SELECT * FROM devices WHERE tenant_id = ? AND id = ?', [tenantId, deviceId]);
    return this.device(row);
  }

  async getDeviceModel(tenantId: string, deviceId: string): Promise<DeviceModel | null> {
    const [row] = await this.sql.query<{ id: string; device_type: string; hw_model: string | null }>(
      'SELECT id, device_type, hw_model FROM devices WHERE tenant_id = ? AND id = ?', [tenantId, deviceId],
    );
    return row ? { id: row.id, deviceType: row.device_type as DeviceType, model: row.hw_model } : null;
  }

  async countDevices(tenantId: string): Promise<number> {
    const [row] = await this.sql.query<{ n: number | string }>('SELECT count(*) AS n FROM devices WHERE tenant_id = ?', [tenantId]);
    return Number(row.n);
  }

  async listDevices(query: DevicePageQuery): Promise<Page<Device>> {
    const where = ['tenant_id = ?'];
    const params: unknown[] = [query.tenantId];
    if (query.filter) {
      const compiled = compileFilter(query.filter);
      where.push(compiled.sql);
      params.push(...compiled.params);
    }
    if (query.afterId !== null) {
      where.push('id > ?');
      params.push(query.afterId);
    }
    params.push(query.top + 1);
    const rows = await this.sql.query<DeviceRow>(
      `SELECT ${deviceListColumns} FROM devices WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, params,
    );
    const items = rows.slice(0, query.top).map((row) => deviceFromRow(row, this.seededDocuments));
    return { items, next: rows.length > query.top ? items[items.length - 1].id : null };
  }

  createOperation(operation: Operation, audit: AuditEvent): Promise<OperationInsertOutcome> {
    return this.sql.insertOperation(operation, audit);
  }

  getOperation(tenantId: string, deviceId: string, operationId: string): Promise<Operation | null> {
    return this.operation(this.sql.query<OperationRow>(
      'SELECT * FROM operations WHERE tenant_id = ? AND device_id = ? AND id = ?', [tenantId, deviceId, operationId],
    ));
  }

  async listOperations(query: OperationPageQuery): Promise<Page<Operation>> {
    const rows = await this.sql.query<OperationRow>(
      'SELECT * FROM operations WHERE tenant_id = ? AND device_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
      [query.tenantId, query.deviceId, query.beforeSeq ?? Number.MAX_SAFE_INTEGER, query.top + 1],
    );
    const page = rows.slice(0, query.top);
    return { items: page.map(operationFromRow), next: rows.length > query.top ? Number(page[page.length - 1].seq) : null };
  }

  async transitionOperation(tenantId: string, operationId: string, transition: Transition, changes: TransitionChanges): Promise<Operation | null> {
    const { sql, params } = transitionSql(transition, tenantId, operationId, changes);
    try {
      return await this.operation(this.sql.query<OperationRow>(sql, params));
    } catch (error) {
      // operations_one_running: the device already runs another operation.
      if (error instanceof StoreConflictError) return null;
      throw error;
    }
  }

  nextOperation(tenantId: string, deviceId: string): Promise<Operation | null> {
    return this.operation(this.sql.query<OperationRow>(nextOperationSql, [tenantId, deviceId, tenantId, deviceId], 'next-operation'));
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

  async expireOverdue(now: string, errors: { start: OperationError; run: OperationError }, limit: number): Promise<Operation[]> {
    // Each status condition is its partial index's own (operations_by_start_deadline,
    // operations_by_run_deadline) word for word: SQLite uses a partial index only then, and
    // scans the whole table otherwise. The status is checked again outside the claim: a row
    // may have moved on since it was picked.
    const expire = (status: string, deadline: string, error: OperationError) => this.sql.query<OperationRow>(
      `UPDATE operations SET status = 'failed', completed_at = ?, last_action_at = ?, last_action_by = NULL,
         error_code = ?, error_message = ?
       WHERE seq IN (SELECT seq FROM operations WHERE ${status} AND ${deadline} < ? LIMIT ?${this.sql.dialect.skipLocked})
         AND ${status}
       RETURNING *`,
      [now, now, error.code, error.message, now, limit],
    );
    const rows = [
      ...(await expire("status IN ('queued', 'scheduled')", 'start_deadline', errors.start)),
      ...(await expire("status = 'inProgress'", 'run_deadline', errors.run)),
    ];
    return rows.map(operationFromRow);
  }

  async createEnrollmentToken(token: EnrollmentToken, audit: AuditEvent): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO enrollment_tokens (id, tenant_id, token_hash, created_at, expires_at, max_uses, uses, description)
         VALUES (?, ?, ?, ?, ?, ?, 0, ?)`,
        [token.id, token.tenantId, token.tokenHash, token.createdDateTime, token.expiresDateTime, token.maxUses, token.description],
      );
      await tx.query(insertAuditSql, auditValues(audit));
    });
  }

  async findEnrollmentToken(tokenHash: string): Promise<EnrollmentToken | null> {
    const [row] = await this.sql.query<EnrollmentTokenRow>('SELECT * FROM enrollment_tokens WHERE token_hash = ?', [tokenHash]);
    return row ? enrollmentTokenFromRow(row) : null;
  }

  async listEnrollmentTokens(tenantId: string): Promise<EnrollmentToken[]> {
    const rows = await this.sql.query<EnrollmentTokenRow>(
      'SELECT * FROM enrollment_tokens WHERE tenant_id = ? ORDER BY created_at DESC, id', [tenantId],
    );
    return rows.map(enrollmentTokenFromRow);
  }

  revokeEnrollmentToken(tenantId: string, tokenId: string, audit: AuditEvent): Promise<EnrollmentToken | null> {
    return this.sql.transaction(async (tx) => {
      const [row] = await tx.query<EnrollmentTokenRow>(
        'UPDATE enrollment_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE tenant_id = ? AND id = ? RETURNING *',
        [audit.activityDateTime, tenantId, tokenId],
      );
      if (!row) return null;
      await tx.query(insertAuditSql, auditValues(audit));
      return enrollmentTokenFromRow(row);
    });
  }

  async findDeviceByHardware(tenantId: string, hardware: HardwareDetail): Promise<Device | null> {
    const [row] = await this.sql.query<DeviceRow>(findByHardwareSql, hardwareParams(tenantId, hardware));
    return this.device(row);
  }

  async enrollDevice(write: EnrollmentWrite): Promise<EnrollmentOutcome> {
    const { device, proof } = write;
    const hardware = device.hardwareDetail;
    try {
      // The lock serialises enrollments of the same hardware (across replicas); the lookup is redone under it.
      return await this.sql.transaction(async (tx) => {
        const [match] = await tx.query<DeviceRow>(findByHardwareSql, hardwareParams(device.tenantId, hardware));
        let outcome: 'created' | 'reenrolled';
        let deviceId: string;
        if (proof.kind === 'credential') {
          if (match && match.id !== proof.deviceId) throw new EnrollmentRefused('hardwareOfAnotherDevice');
          const [own] = await tx.query<{ id: string }>(
            `SELECT id FROM devices WHERE tenant_id = ? AND id = ? AND credential_hash IS NOT NULL${this.sql.dialect.forUpdate}`,
            [device.tenantId, proof.deviceId],
          );
          if (!own) throw new EnrollmentRefused('deviceGone');
          outcome = 'reenrolled';
          deviceId = proof.deviceId;
        } else {
          // Existing hardware enrolls again only once an admin has reset it (revoked its credential).
          if (match && !(match.credential_hash === null && match.enrollment_state === 'reset')) throw new EnrollmentRefused('hardwareEnrolled');
          const [used] = await tx.query(
            `UPDATE enrollment_tokens SET uses = uses + 1
             WHERE id = ? AND revoked_at IS NULL AND expires_at > ? AND (max_uses IS NULL OR uses < max_uses) RETURNING id`,
            [proof.tokenId, new Date().toISOString()],
          );
          if (!used) throw new EnrollmentRefused('tokenUnusable');
          if (!match) {
            await tx.query('INSERT INTO tenant_enrolled_devices (tenant_id, enrolled) VALUES (?, 0) ON CONFLICT DO NOTHING', [device.tenantId]);
            const [counted] = await tx.query(
              'UPDATE tenant_enrolled_devices SET enrolled = enrolled + 1 WHERE tenant_id = ? AND enrolled < ? RETURNING enrolled',
              [device.tenantId, write.deviceQuota],
            );
            if (!counted) throw new EnrollmentRefused('quotaReached');
          }
          outcome = match ? 'reenrolled' : 'created';
          deviceId = match?.id ?? device.id;
        }
        const saved = { ...device, id: deviceId };
        const row = deviceToRow(saved);
        await tx.query(`${insertDeviceSql} ON CONFLICT (tenant_id, id) DO NOTHING`, deviceInsertColumns.map((c) => row[c]));
        await tx.query(updateDeviceSql, updateDeviceParams(saved));
        await tx.query(
          `UPDATE devices SET credential_hash = ?, previous_credential_hash = NULL, previous_credential_until = NULL, enrollment_state = 'enrolled'
           WHERE tenant_id = ? AND id = ?`,
          [write.credentialHash, saved.tenantId, saved.id],
        );
        await tx.query(insertAuditSql, auditValues(write.audit(outcome, deviceId)));
        return { outcome, deviceId };
      }, { lockKey: `enroll/${device.tenantId}/${hardware.uniqueId ?? hardware.serialNumber}` });
    } catch (error) {
      if (error instanceof EnrollmentRefused) return { outcome: 'refused', reason: error.reason };
      throw error;
    }
  }

  async deviceCredential(deviceId: string): Promise<StoredCredential | null> {
    const [row] = await this.sql.query<{
      tenant_id: string; credential_hash: string; previous_credential_hash: string | null; previous_credential_until: string | Date | null;
    }>(
      `SELECT tenant_id, credential_hash, previous_credential_hash, previous_credential_until
       FROM devices WHERE id = ? AND credential_hash IS NOT NULL`, [deviceId],
    );
    return row
      ? {
          tenantId: row.tenant_id,
          credentialHash: row.credential_hash,
          previousCredentialHash: row.previous_credential_hash,
          previousUntil: row.previous_credential_until === null ? null : iso(row.previous_credential_until),
        }
      : null;
  }

  rotateDeviceCredential(tenantId: string, deviceId: string, presentedHash: string, newHash: string, previousUntil: string, audit: AuditEvent): Promise<boolean> {
    return this.sql.transaction(async (tx) => {
      const rows = await tx.query(
        `UPDATE devices SET credential_hash = ?, previous_credential_hash = ?, previous_credential_until = ?
         WHERE tenant_id = ? AND id = ? AND credential_hash IS NOT NULL AND (credential_hash = ? OR previous_credential_hash = ?)
         RETURNING id`,
        [newHash, presentedHash, previousUntil, tenantId, deviceId, presentedHash, presentedHash],
      );
      if (rows.length === 0) return false;
      await tx.query(insertAuditSql, auditValues(audit));
      return true;
    });
  }

  revokeDeviceCredential(tenantId: string, deviceId: string, audit: AuditEvent): Promise<boolean> {
    return this.sql.transaction(async (tx) => {
      const [row] = await tx.query<{ enrollment_state: string | null }>(
        `SELECT enrollment_state FROM devices WHERE tenant_id = ? AND id = ?${this.sql.dialect.forUpdate}`, [tenantId, deviceId],
      );
      if (!row) return false;
      await tx.query(
        `UPDATE devices SET credential_hash = NULL, previous_credential_hash = NULL, previous_credential_until = NULL,
           enrollment_state = 'reset' WHERE tenant_id = ? AND id = ?`,
        [tenantId, deviceId],
      );
      // A device that never enrolled (seeded) now counts, as its hardware may enroll.
      if (row.enrollment_state === null) await this.countEnrolled(tx, tenantId, 1);
      await tx.query(insertAuditSql, auditValues(audit));
      return true;
    });
  }

  removeDevice(tenantId: string, deviceId: string, audit: AuditEvent): Promise<boolean> {
    return this.sql.transaction(async (tx) => {
      const [row] = await tx.query<{ enrollment_state: string | null }>(
        `SELECT enrollment_state FROM devices WHERE tenant_id = ? AND id = ?${this.sql.dialect.forUpdate}`, [tenantId, deviceId],
      );
      if (!row) return false;
      await tx.query('DELETE FROM operations WHERE tenant_id = ? AND device_id = ?', [tenantId, deviceId]);
      await tx.query('DELETE FROM devices WHERE tenant_id = ? AND id = ?', [tenantId, deviceId]);
      if (row.enrollment_state !== null) await this.countEnrolled(tx, tenantId, -1);
      await tx.query(insertAuditSql, auditValues(audit));
      return true;
    });
  }

  private async countEnrolled(tx: SqlExecutor, tenantId: string, change: number): Promise<void> {
    await tx.query('INSERT INTO tenant_enrolled_devices (tenant_id, enrolled) VALUES (?, 0) ON CONFLICT DO NOTHING', [tenantId]);
    await tx.query('UPDATE tenant_enrolled_devices SET enrolled = enrolled + ? WHERE tenant_id = ?', [change, tenantId]);
  }

  updateDevice(tenantId: string, deviceId: string, change: (device: Device) => Device): Promise<Device | null> {
    return this.sql.transaction(async (tx: SqlExecutor) => {
      const [row] = await tx.query<DeviceRow>(`SELECT * FROM devices WHERE tenant_id = ? AND id = ?${this.sql.dialect.forUpdate}`, [tenantId, deviceId]);
      const current = this.device(row);
      if (!current) return null;
      const updated = change(current);
      await tx.query(updateDeviceSql, updateDeviceParams(updated));
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

  async recordAudit(events: AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.sql.transaction((tx) => tx.insertRows('audit_events', auditInsertColumns, events.map(auditValues)));
  }

  async listAudit(query: AuditQuery): Promise<Page<AuditEvent>> {
    const rows = await this.sql.query<AuditRow>(
      query.tenantId === null
        ? 'SELECT * FROM audit_events WHERE seq < ? ORDER BY seq DESC LIMIT ?'
        : 'SELECT * FROM audit_events WHERE tenant_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
      [...(query.tenantId === null ? [] : [query.tenantId]), query.beforeSeq ?? Number.MAX_SAFE_INTEGER, query.top + 1],
    );
    const page = rows.slice(0, query.top);
    return { items: page.map(auditFromRow), next: rows.length > query.top ? Number(page[page.length - 1].seq) : null };
  }

  async addCatalogEntry(entry: CatalogEntry): Promise<'added' | 'exists'> {
    const rows = await this.sql.query(
      `INSERT INTO catalog_entries (tenant_id, software_type, version, device_type, model, created_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING seq`,
      [entry.tenantId, entry.softwareType, entry.version, entry.deviceType, entry.model, entry.createdDateTime],
    );
    return rows.length === 1 ? 'added' : 'exists';
  }

  async listCatalog(tenantId: string): Promise<CatalogEntry[]> {
    const rows = await this.sql.query<CatalogRow>('SELECT * FROM catalog_entries WHERE tenant_id = ? ORDER BY seq', [tenantId]);
    return rows.map(catalogFromRow);
  }
}

interface KeyRow {
  kid: string;
  alg: string;
  private_jwk: unknown;
  public_jwk: unknown;
  created_at: string | Date;
}
