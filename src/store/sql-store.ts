import type { AuditEvent } from '../domain/audit.js';
import type { Device, HardwareDetail } from '../domain/device.js';
import type { DeviceType } from '../domain/enums.js';
import type { IdentitySet } from '../domain/identity.js';
import type { Operation, OperationError, Transition } from '../domain/operation.js';
import type { CatalogEntry } from '../domain/software-catalog.js';
import type { DevicePageQuery, OperationPageQuery, Page } from './device-query.js';
import * as access from './device-access.js';
import { updateDeviceParams, updateDeviceSql } from './device-sql.js';
import { candidateConditions, readsInPageOrder, unionOfIndexedConditions, type IndexedCondition } from './device-list-plan.js';
import { compileFilter, filterColumns, type CompiledSql } from './filter-sql.js';
import {
  catalogFromRow, deviceFromRow, deviceInsertColumns, deviceListColumns, deviceToRow, iso, jsonText, operationFromRow, parsed,
  type CatalogRow, type DeviceRow, type OperationRow,
} from './rows.js';
import type { SqlDriver, SqlExecutor } from './sql-driver.js';
import { StoreConflictError } from './store-errors.js';
import type {
  AuditQuery, DeviceModel, DeviceRef, EnrollmentOutcome, EnrollmentToken, EnrollmentWrite, OperationInsertOutcome,
  SeededDocuments, SigningKey, Store, StoredCredential, TransitionChanges,
} from './store.js';
import { nextOperationSql, transitionSql } from './transition-sql.js';

/**
 * Devices a filtered page examines at most. Timed by hand on SQLite with a 64 MiB page cache
 * over 200,000 seeded devices: about 10 ms for 5,000, well inside the 50 ms any request may
 * hold the event loop.
 */
const defaultScanRowsPerPage = 5000;

/**
 * Devices a page reads through its conditions' indexes at most; past this, the indexed
 * conditions are common, and the page examines the scan window instead (whose rows it reads
 * lazily, stopping at a full page). Counting candidates up to it is cheap at any fleet size.
 */
const maxCandidatesPerPage = 1000;

/**
 * Index ranges (one property, one value) a page walks side by side at most: an `in` of that
 * many values, or a startswith covering that many distinct values, reads at most this many
 * times a page's devices.
 */
const maxIndexWalks = 16;

/** Sets of candidate conditions a filtered page tries, and conditions in one set, before it scans. */
const maxCandidateSets = 4;
const maxConditionsPerSet = 16;

/** One index range of a walked page: the devices whose `column` holds `value`, in id order. */
interface IndexWalk {
  column: string;
  value: string;
}

/** Devices per presence UPDATE. */
const devicesPerMarkSeen = 500;

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

  constructor(
    private readonly sql: SqlDriver,
    seededDocuments?: SeededDocuments,
    private readonly scanRowsPerPage = defaultScanRowsPerPage,
  ) {
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

  refreshStatistics(): Promise<void> {
    return this.sql.analyze('devices');
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
    const filter = query.filter;
    if (readsInPageOrder(filter)) return this.devicePage(query, filter && compileFilter(filter));
    const union = unionOfIndexedConditions(filter!);
    const walks = union && (await this.indexWalks(query.tenantId, union));
    if (walks) return this.walkedDevicePage(query, walks);
    const compiled = compileFilter(filter!);
    for (const conditions of candidateConditions(filter!).slice(0, maxCandidateSets)) {
      if (conditions.length > maxConditionsPerSet) continue;
      if (await this.fewCandidates(query.tenantId, conditions)) return this.candidateDevicePage(query, conditions, compiled);
    }
    return this.scannedDevicePage(query, compiled);
  }

  private async devicePage(query: DevicePageQuery, filter: CompiledSql | null): Promise<Page<Device>> {
    const where = ['tenant_id = ?'];
    const params: unknown[] = [query.tenantId];
    if (filter) {
      where.push(filter.sql);
      params.push(...filter.params);
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

  /**
   * The (column, value) index ranges that together hold exactly the devices of a union of
   * indexed conditions, or null past maxIndexWalks. A startswith becomes the distinct values
   * its prefix covers, found by seeking the index from one value to the next: a few seeks,
   * however many devices share each value.
   */
  private async indexWalks(tenantId: string, conditions: IndexedCondition[]): Promise<IndexWalk[] | null> {
    const walks = new Map<string, IndexWalk>();
    const add = (column: string, values: string[]) => {
      for (const value of values) walks.set(JSON.stringify([column, value]), { column, value });
    };
    for (const condition of conditions) {
      const column = filterColumns[condition.property];
      if (condition.op === 'eq') add(column, [condition.value!]);
      else if (condition.op === 'in') add(column, condition.values);
      else add(column, await this.valuesWithPrefix(tenantId, column, condition.value, maxIndexWalks + 1 - walks.size));
      if (walks.size > maxIndexWalks) return null;
    }
    return [...walks.values()];
  }

  private async valuesWithPrefix(tenantId: string, column: string, prefix: string, limit: number): Promise<string[]> {
    const end = `${prefix}\u{10FFFF}`;
    const rows = await this.sql.query<{ value: string | null }>(
      `WITH RECURSIVE found (value, n) AS (
         SELECT (SELECT ${column} FROM devices WHERE tenant_id = ? AND ${column} >= ? AND ${column} < ? ORDER BY ${column} LIMIT 1), 1
         UNION ALL
         SELECT (SELECT ${column} FROM devices WHERE tenant_id = ? AND ${column} > found.value AND ${column} < ? ORDER BY ${column} LIMIT 1), n + 1
           FROM found WHERE found.value IS NOT NULL AND n < ?
       ) SELECT value FROM found WHERE value IS NOT NULL`,
      [tenantId, prefix, end, tenantId, end, limit],
    );
    return rows.map((row) => row.value!);
  }

  /**
   * A page of the devices in any of these index ranges: each range read in id order up to a
   * page, the ranges merged. Exact and cheap however common the values; a device in ranges of
   * several columns is listed once.
   */
  private async walkedDevicePage(query: DevicePageQuery, walks: IndexWalk[]): Promise<Page<Device>> {
    if (walks.length === 0) return { items: [], next: null };
    const branches: string[] = [];
    const params: unknown[] = [];
    walks.forEach((walk, i) => {
      branches.push(`SELECT * FROM (SELECT ${deviceListColumns} FROM devices WHERE tenant_id = ? AND ${walk.column} = ? AND id > ? ORDER BY id LIMIT ?) AS walk${i}`);
      params.push(query.tenantId, walk.value, query.afterId ?? '', query.top + 1);
    });
    // A device is in one range per column at most.
    const columns = new Set(walks.map((walk) => walk.column)).size;
    const rows = await this.sql.scan<DeviceRow>(
      `SELECT * FROM (${branches.join(' UNION ALL ')}) AS walked ORDER BY id LIMIT ?`, [...params, columns * (query.top + 1)],
    );
    const distinct = rows.filter((row, i) => i === 0 || row.id !== rows[i - 1].id);
    const items = distinct.slice(0, query.top).map((row) => deviceFromRow(row, this.seededDocuments));
    return { items, next: distinct.length > query.top ? items[items.length - 1].id : null };
  }

  /**
   * Whether the devices matching these conditions number at most maxCandidatesPerPage (or the
   * scan window, if smaller): each condition's index is counted up to that bound and no
   * further, so asking costs little whatever the answer.
   */
  private async fewCandidates(tenantId: string, conditions: IndexedCondition[]): Promise<boolean> {
    const bound = Math.min(maxCandidatesPerPage, this.scanRowsPerPage);
    let found = 0;
    for (const condition of conditions) {
      const { sql, params } = compileFilter(condition);
      const [row] = await this.sql.scan<{ n: number | string }>(
        `SELECT count(*) AS n FROM (SELECT 1 FROM devices WHERE tenant_id = ? AND ${sql} LIMIT ?) AS counted`,
        [tenantId, ...params, bound + 1 - found],
      );
      found += Number(row.n);
      if (found > bound) return false;
    }
    return true;
  }

  /**
   * A page read from few candidates: their ids come from the conditions' indexes, each read
   * whole (there are few), with nothing that would let a database prefer walking the tenant
   * in id order (no id range, no UNION's sorted merge); the set is materialised and joined to
   * devices from its side. Then the whole filter is checked on their rows.
   */
  private async candidateDevicePage(query: DevicePageQuery, conditions: IndexedCondition[], filter: CompiledSql): Promise<Page<Device>> {
    const branches: string[] = [];
    const params: unknown[] = [];
    for (const condition of conditions) {
      const compiled = compileFilter(condition);
      branches.push(`SELECT id AS candidate_id FROM devices WHERE tenant_id = ? AND ${compiled.sql}`);
      params.push(query.tenantId, ...compiled.params);
    }
    const rows = await this.sql.scan<DeviceRow>(
      `WITH candidates AS MATERIALIZED (SELECT DISTINCT candidate_id FROM (${branches.join(' UNION ALL ')}) AS found)
       SELECT ${deviceListColumns} FROM candidates CROSS JOIN devices
       WHERE devices.tenant_id = ? AND devices.id = candidates.candidate_id AND devices.id > ? AND ${filter.sql}
       ORDER BY devices.id LIMIT ?`,
      [...params, query.tenantId, query.afterId ?? '', ...filter.params, query.top + 1],
    );
    const items = rows.slice(0, query.top).map((row) => deviceFromRow(row, this.seededDocuments));
    return { items, next: rows.length > query.top ? items[items.length - 1].id : null };
  }

  /**
   * Any other filter is checked over the next `scanRowsPerPage` devices in id order and no
   * further: a rare match costs each page the same, however large the tenant. When the window
   * ends before the page is full, the page continues after the window's last device.
   */
  private async scannedDevicePage(query: DevicePageQuery, filter: CompiledSql): Promise<Page<Device>> {
    const after = query.afterId ?? '';
    const rows = await this.sql.scan<DeviceRow>(
      `SELECT ${deviceListColumns} FROM (
         SELECT * FROM devices WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?
       ) AS scanned WHERE ${filter.sql} ORDER BY id LIMIT ?`,
      [query.tenantId, after, this.scanRowsPerPage, ...filter.params, query.top + 1],
    );
    const items = rows.slice(0, query.top).map((row) => deviceFromRow(row, this.seededDocuments));
    if (rows.length > query.top) return { items, next: items[items.length - 1].id };
    const [windowEnd] = await this.sql.scan<{ id: string }>(
      'SELECT id FROM devices WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT 1 OFFSET ?',
      [query.tenantId, after, this.scanRowsPerPage - 1],
    );
    return { items, next: windowEnd ? windowEnd.id : null };
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

  recordAudit(events: AuditEvent[]): Promise<void> {
    return access.recordAudit(this.sql, events);
  }

  listAudit(query: AuditQuery): Promise<Page<AuditEvent>> {
    return access.listAudit(this.sql, query);
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
