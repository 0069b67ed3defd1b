import type { AuditEvent } from '../domain/audit.js';
import type { HardwareDetail } from '../domain/device.js';
import type { Page } from './device-query.js';
import { insertEnrolledDeviceSql, updateDeviceParams, updateDeviceSql } from './device-sql.js';
import {
  auditFromRow, auditInsertColumns, auditValues, deviceInsertColumns, deviceToRow, enrollmentTokenFromRow, iso,
  type AuditRow, type DeviceRow, type EnrollmentTokenRow,
} from './rows.js';
import { insertSql, type SqlDriver, type SqlExecutor } from './sql-driver.js';
import type { AuditQuery, EnrollmentOutcome, EnrollmentRefusal, EnrollmentToken, EnrollmentWrite, StoredCredential } from './store.js';

/**
 * Who may act on a device and what they did: enrollment tokens, enrollments (with their
 * hardware match, token use and quota in one transaction), device credentials and their
 * rotation, revocation and removal, and the audit log. Each change writes its audit event in
 * its own transaction. SqlStore's methods of the same names call these.
 */

/**
 * The unique id wins over the serial number; two indexed lookups. A serial number matches
 * only within the same manufacturer and model, and never a device with another uniqueId
 * (the coalesce pair is true when either uniqueId is absent or both are equal).
 */
export const findByHardwareSql = `SELECT * FROM (
    SELECT *, 0 AS hardware_rank FROM devices WHERE tenant_id = ? AND hw_unique_id = ?
    UNION ALL SELECT *, 1 AS hardware_rank FROM devices
      WHERE tenant_id = ? AND hw_serial_number = ?
        AND hw_manufacturer IS NOT DISTINCT FROM ? AND hw_model IS NOT DISTINCT FROM ?
        AND coalesce(hw_unique_id, ?, '') = coalesce(?, hw_unique_id, '')
  ) AS found ORDER BY hardware_rank LIMIT 1`;

export function hardwareParams(tenantId: string, hw: HardwareDetail): unknown[] {
  return [tenantId, hw.uniqueId, tenantId, hw.serialNumber, hw.manufacturer, hw.model, hw.uniqueId, hw.uniqueId];
}

const insertAuditSql = insertSql('audit_events', auditInsertColumns, 1);

/** Thrown inside an enrollment's transaction to roll back what it took (a token use) and say why. */
class EnrollmentRefused extends Error {
  constructor(readonly reason: EnrollmentRefusal) {
    super(reason);
  }
}

export async function createEnrollmentToken(sql: SqlDriver, token: EnrollmentToken, audit: AuditEvent): Promise<void> {
  await sql.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO enrollment_tokens (id, tenant_id, token_hash, created_at, expires_at, max_uses, uses, description)
       VALUES (?, ?, ?, ?, ?, ?, 0, ?)`,
      [token.id, token.tenantId, token.tokenHash, token.createdDateTime, token.expiresDateTime, token.maxUses, token.description],
    );
    await tx.query(insertAuditSql, auditValues(audit));
  });
}

export async function findEnrollmentToken(sql: SqlDriver, tokenHash: string): Promise<EnrollmentToken | null> {
  const [row] = await sql.query<EnrollmentTokenRow>('SELECT * FROM enrollment_tokens WHERE token_hash = ?', [tokenHash]);
  return row ? enrollmentTokenFromRow(row) : null;
}

export async function listEnrollmentTokens(sql: SqlDriver, tenantId: string): Promise<EnrollmentToken[]> {
  const rows = await sql.query<EnrollmentTokenRow>(
    'SELECT * FROM enrollment_tokens WHERE tenant_id = ? ORDER BY created_at DESC, id', [tenantId],
  );
  return rows.map(enrollmentTokenFromRow);
}

export function revokeEnrollmentToken(sql: SqlDriver, tenantId: string, tokenId: string, audit: AuditEvent): Promise<EnrollmentToken | null> {
  return sql.transaction(async (tx) => {
    const [row] = await tx.query<EnrollmentTokenRow>(
      'UPDATE enrollment_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE tenant_id = ? AND id = ? RETURNING *',
      [audit.activityDateTime, tenantId, tokenId],
    );
    if (!row) return null;
    await tx.query(insertAuditSql, auditValues(audit));
    return enrollmentTokenFromRow(row);
  });
}

export async function enrollDevice(sql: SqlDriver, write: EnrollmentWrite): Promise<EnrollmentOutcome> {
  const { device, proof } = write;
  const hardware = device.hardwareDetail;
  try {
    // The lock serialises enrollments of the same hardware (across replicas); the lookup is redone under it.
    return await sql.transaction(async (tx) => {
      const [match] = await tx.query<DeviceRow>(findByHardwareSql, hardwareParams(device.tenantId, hardware));
      let outcome: 'created' | 'reenrolled';
      let deviceId: string;
      if (proof.kind === 'credential') {
        if (match && match.id !== proof.deviceId) throw new EnrollmentRefused('hardwareOfAnotherDevice');
        const [own] = await tx.query<{ id: string }>(
          `SELECT id FROM devices WHERE tenant_id = ? AND id = ? AND credential_hash IS NOT NULL${sql.dialect.forUpdate}`,
          [device.tenantId, proof.deviceId],
        );
        if (!own) throw new EnrollmentRefused('deviceGone');
        outcome = 'reenrolled';
        deviceId = proof.deviceId;
      } else {
        // Existing hardware enrolls again only once an admin has reset it (revoked its credential).
        if (match && !(match.credential_hash === null && match.enrollment_state === 'reset')) throw new EnrollmentRefused('hardwareEnrolled');
        outcome = match ? 'reenrolled' : 'created';
        deviceId = match?.id ?? device.id;
      }
      const saved = { ...device, id: deviceId };
      if (outcome === 'created') {
        // One row version: on PostgreSQL each UPDATE of a device writes an entry in every one of
        // its filter indexes again, and a new device would have been written three times.
        const row = deviceToRow(saved);
        await tx.query(insertEnrolledDeviceSql, [...deviceInsertColumns.map((c) => row[c]), write.credentialHash, 'enrolled']);
      } else {
        await tx.query(updateDeviceSql, updateDeviceParams(saved));
        await tx.query(
          `UPDATE devices SET credential_hash = ?, previous_credential_hash = NULL, previous_credential_until = NULL, enrollment_state = 'enrolled'
           WHERE tenant_id = ? AND id = ?`,
          [write.credentialHash, saved.tenantId, saved.id],
        );
      }
      await tx.query(insertAuditSql, auditValues(write.audit(outcome, deviceId)));
      if (proof.kind === 'token') {
        // Last, just before the commit: every enrollment of the tenant (across replicas) waits
        // for the row locks these two counters take, so they are held for two statements and
        // the commit, not for the whole transaction. A refusal rolls back what came before.
        const [used] = await tx.query(
          `UPDATE enrollment_tokens SET uses = uses + 1
           WHERE id = ? AND revoked_at IS NULL AND expires_at > ? AND (max_uses IS NULL OR uses < max_uses) RETURNING id`,
          [proof.tokenId, new Date().toISOString()],
        );
        if (!used) throw new EnrollmentRefused('tokenUnusable');
        if (!match && !(await countNewDevice(tx, device.tenantId, write.deviceQuota))) throw new EnrollmentRefused('quotaReached');
      }
      return { outcome, deviceId };
    }, { lockKey: `enroll/${device.tenantId}/${hardware.uniqueId ?? hardware.serialNumber}`, contended: true });
  } catch (error) {
    if (error instanceof EnrollmentRefused) return { outcome: 'refused', reason: error.reason };
    throw error;
  }
}

export async function deviceCredential(sql: SqlDriver, deviceId: string): Promise<StoredCredential | null> {
  const [row] = await sql.query<{
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

export function rotateDeviceCredential(sql: SqlDriver, tenantId: string, deviceId: string, presentedHash: string, newHash: string, previousUntil: string, audit: AuditEvent): Promise<boolean> {
  return sql.transaction(async (tx) => {
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

export function revokeDeviceCredential(sql: SqlDriver, tenantId: string, deviceId: string, audit: AuditEvent): Promise<boolean> {
  return changeLockedDevice(sql, tenantId, deviceId, audit, async (tx, enrollmentState) => {
    await tx.query(
      `UPDATE devices SET credential_hash = NULL, previous_credential_hash = NULL, previous_credential_until = NULL,
         enrollment_state = 'reset' WHERE tenant_id = ? AND id = ?`,
      [tenantId, deviceId],
    );
    // A device that never enrolled (seeded) now counts, as its hardware may enroll.
    if (enrollmentState === null) await countEnrolled(tx, tenantId, 1);
  });
}

export function removeDevice(sql: SqlDriver, tenantId: string, deviceId: string, audit: AuditEvent): Promise<boolean> {
  return changeLockedDevice(sql, tenantId, deviceId, audit, async (tx, enrollmentState) => {
    await tx.query('DELETE FROM operations WHERE tenant_id = ? AND device_id = ?', [tenantId, deviceId]);
    await tx.query('DELETE FROM devices WHERE tenant_id = ? AND id = ?', [tenantId, deviceId]);
    if (enrollmentState !== null) await countEnrolled(tx, tenantId, -1);
  });
}

/**
 * An admin's change to one device, in one transaction with its audit event: the device's row
 * is locked first (false when there is none), and `change` sees its enrollment state as it is.
 */
function changeLockedDevice(
  sql: SqlDriver, tenantId: string, deviceId: string, audit: AuditEvent,
  change: (tx: SqlExecutor, enrollmentState: string | null) => Promise<void>,
): Promise<boolean> {
  return sql.transaction(async (tx) => {
    const row = await lockDevice(sql, tx, tenantId, deviceId);
    if (!row) return false;
    await change(tx, row.enrollment_state);
    await tx.query(insertAuditSql, auditValues(audit));
    return true;
  });
}

/** The device's row, locked for the rest of the transaction: its enrollment state, or undefined when there is none. */
async function lockDevice(sql: SqlDriver, tx: SqlExecutor, tenantId: string, deviceId: string): Promise<{ enrollment_state: string | null } | undefined> {
  const [row] = await tx.query<{ enrollment_state: string | null }>(
    `SELECT enrollment_state FROM devices WHERE tenant_id = ? AND id = ?${sql.dialect.forUpdate}`, [tenantId, deviceId],
  );
  return row;
}

/**
 * One more enrolled device in the tenant, if its quota allows. The counter row is created by
 * the tenant's first enrollment, not before every one: on PostgreSQL an INSERT … ON CONFLICT
 * meeting the row while another enrollment holds it waits for that enrollment's commit, so
 * each enrollment would queue behind the last from its first statements, not only at the end.
 */
async function countNewDevice(tx: SqlExecutor, tenantId: string, quota: number): Promise<boolean> {
  const count = () => tx.query('UPDATE tenant_enrolled_devices SET enrolled = enrolled + 1 WHERE tenant_id = ? AND enrolled < ? RETURNING enrolled', [tenantId, quota]);
  if ((await count()).length > 0) return true;
  // No row yet, or the quota is reached. A first enrollment racing this one may have inserted
  // the row meanwhile: the INSERT then waits for it, and the second UPDATE sees its row.
  await tx.query('INSERT INTO tenant_enrolled_devices (tenant_id, enrolled) VALUES (?, 0) ON CONFLICT DO NOTHING', [tenantId]);
  return (await count()).length > 0;
}

async function countEnrolled(tx: SqlExecutor, tenantId: string, change: number): Promise<void> {
  await tx.query('INSERT INTO tenant_enrolled_devices (tenant_id, enrolled) VALUES (?, 0) ON CONFLICT DO NOTHING', [tenantId]);
  await tx.query('UPDATE tenant_enrolled_devices SET enrolled = enrolled + ? WHERE tenant_id = ?', [change, tenantId]);
}

export async function recordAudit(sql: SqlDriver, events: AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  await sql.transaction((tx) => tx.insertRows('audit_events', auditInsertColumns, events.map(auditValues)));
}

export async function listAudit(sql: SqlDriver, query: AuditQuery): Promise<Page<AuditEvent>> {
  const where = [...(query.tenantId === null ? [] : ['tenant_id = ?']), ...(query.activity ? ['activity = ?'] : []), 'seq < ?'];
  // One tenant's events of one activity are one range of audit_events_by_activity (migration 13).
  const rows = await sql.query<AuditRow>(
    `SELECT * FROM audit_events WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`,
    [...(query.tenantId === null ? [] : [query.tenantId]), ...(query.activity ? [query.activity] : []), query.beforeSeq ?? Number.MAX_SAFE_INTEGER, query.top + 1],
  );
  const page = rows.slice(0, query.top);
  return { items: page.map(auditFromRow), next: rows.length > query.top ? Number(page[page.length - 1].seq) : null };
}
