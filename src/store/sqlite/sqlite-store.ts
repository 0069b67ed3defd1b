import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Device } from '../../domain/device.js';
import type { Operation, OperationError, Transition } from '../../domain/operation.js';
import type { CatalogEntry } from '../../domain/software-catalog.js';
import type { DevicePageQuery, OperationPageQuery, Page } from '../device-query.js';
import { compileFilter, type FilterDialect } from '../filter-sql.js';
import type { DeviceType } from '../../domain/enums.js';
import type { DeviceModel, DeviceRef, EnrollmentToken, OperationInsertOutcome, SigningKey, Store, TransitionChanges } from '../store.js';
import { TokenBuckets } from '../token-buckets.js';
import { GroupCommit } from './group-commit.js';
import { sqliteMigrations } from './migrations.js';
import {
  catalogFromRow, deviceFromRow, deviceListColumns, deviceToRow, deviceUpdateColumns, jsonText, operationFromRow, type CatalogRow, type DeviceRow, type OperationRow,
} from '../rows.js';
import { nextOperationSql, transitionSql } from '../transition-sql.js';

const sqliteFilterDialect: FilterDialect = {
  placeholder: () => '?',
  distinctFrom: 'IS NOT',
  isNotTrue: (expression) => `(${expression}) IS NOT 1`,
  // A range over the binary collation uses the index; U+10FFFF sorts after every other character.
  startsWith: (column, param, prefix) => `(${column} >= ${param(prefix)} AND ${column} < ${param(`${prefix}\u{10FFFF}`)})`,
};

/** The embedded store: one SQLite file, WAL journal, every commit synced before it returns. */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly db: Database.Database;
  private readonly statements;
  /** transitionSql gives a few dozen distinct statements; preparing one costs far more than running it. */
  private readonly transitionStatements = new Map<string, Database.Statement>();
  private readonly operationInserts: GroupCommit;
  private readonly rateBuckets = new TokenBuckets();

  constructor(readonly path: string) {
    // A file, not ':memory:': the group commit's writer thread opens it too.
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // FULL: a 202 is only sent for an operation that survives power loss, not just a crash.
    // Accepted operations are committed with FULL by the group commit's writer thread. Device
    // reports, transitions and presence commit here with NORMAL: durable across a crash of the
    // process, and made durable on disk by the next FULL commit of the shared WAL.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    // Short: a wait for the lock blocks the event loop (better-sqlite3 is synchronous). A write
    // that cannot get it in time fails with SQLITE_BUSY, which the edge answers with a 503.
    this.db.pragma('busy_timeout = 200');
    this.db.pragma('cache_size = -65536');
    migrate(this.db);
    this.statements = {
      getKey: this.db.prepare('SELECT * FROM signing_keys ORDER BY created_at LIMIT 1'),
      insertKey: this.db.prepare(
        'INSERT OR IGNORE INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
      getDevice: this.db.prepare('SELECT * FROM devices WHERE tenant_id = ? AND id = ?'),
      getDeviceModel: this.db.prepare('SELECT id, device_type, hw_model FROM devices WHERE tenant_id = ? AND id = ?'),
      countDevices: this.db.prepare('SELECT count(*) AS n FROM devices WHERE tenant_id = ?'),
      insertDevice: this.db.prepare(`INSERT INTO devices (
          tenant_id, id, device_type, health_status, activity_state, company_asset_tag, notes,
          hw_unique_id, hw_serial_number, hw_manufacturer, hw_model, hw_mac_addresses,
          current_user_id, current_user_display_name, current_user_type,
          created_at, created_by, last_modified_at, last_modified_by, health, activity, configuration,
          installed, connection_status, last_seen_at, documents_seed
        ) VALUES (
          @tenant_id, @id, @device_type, @health_status, @activity_state, @company_asset_tag, @notes,
          @hw_unique_id, @hw_serial_number, @hw_manufacturer, @hw_model, @hw_mac_addresses,
          @current_user_id, @current_user_display_name, @current_user_type,
          @created_at, @created_by, @last_modified_at, @last_modified_by, @health, @activity, @configuration,
          @installed, @connection_status, @last_seen_at, @documents_seed
        )`),
      getOperation: this.db.prepare('SELECT * FROM operations WHERE tenant_id = ? AND device_id = ? AND id = ?'),
      listOperations: this.db.prepare(
        'SELECT * FROM operations WHERE tenant_id = ? AND device_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
      ),
      nextOperation: this.db.prepare(nextOperationSql('@tenant', '@device')),
      setProgress: this.db.prepare(`UPDATE operations SET progress_percent = ?, progress_message = ?, last_action_at = ?
        WHERE tenant_id = ? AND id = ? AND status = 'inProgress' RETURNING *`),
      requestCancel: this.db.prepare(`UPDATE operations SET cancel_requested = 1, last_action_at = ?, last_action_by = ?
        WHERE tenant_id = ? AND id = ? AND status = 'inProgress' RETURNING *`),
      expireStart: this.db.prepare(`UPDATE operations SET status = 'failed', completed_at = ?, error_code = ?, error_message = ?,
          last_action_at = ?, last_action_by = NULL
        WHERE seq IN (SELECT seq FROM operations WHERE status IN ('queued', 'scheduled') AND start_deadline < ? LIMIT ?)
        RETURNING *`),
      expireRun: this.db.prepare(`UPDATE operations SET status = 'failed', completed_at = ?, error_code = ?, error_message = ?,
          last_action_at = ?, last_action_by = NULL
        WHERE seq IN (SELECT seq FROM operations WHERE status = 'inProgress' AND run_deadline < ? LIMIT ?)
        RETURNING *`),
      insertEnrollmentToken: this.db.prepare(
        'INSERT INTO enrollment_tokens (id, tenant_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
      ),
      findEnrollmentToken: this.db.prepare('SELECT * FROM enrollment_tokens WHERE token_hash = ?'),
      // Two indexed lookups: the unique id wins over the serial number.
      findByHardware: this.db.prepare(`SELECT * FROM (
          SELECT *, 0 AS rank FROM devices WHERE tenant_id = ? AND hw_unique_id = ?
          UNION ALL SELECT *, 1 AS rank FROM devices WHERE tenant_id = ? AND hw_serial_number = ?
        ) ORDER BY rank LIMIT 1`),
      setCredential: this.db.prepare('UPDATE devices SET credential_hash = ? WHERE tenant_id = ? AND id = ?'),
      deviceCredential: this.db.prepare('SELECT tenant_id, credential_hash FROM devices WHERE id = ? AND credential_hash IS NOT NULL'),
      updateDeviceState: this.db.prepare(`UPDATE devices SET
          ${deviceUpdateColumns.map((c) => `${c} = @${c}`).join(', ')}, last_seen_at = coalesce(@last_seen_at, last_seen_at)
        WHERE tenant_id = @tenant_id AND id = @id`),
      markSeen: this.db.prepare(
        'UPDATE devices SET last_seen_at = ? WHERE tenant_id = ? AND id = ? RETURNING connection_status',
      ),
      silentDevices: this.db.prepare(
        "SELECT * FROM devices WHERE connection_status = 'connected' AND last_seen_at < ? LIMIT ?",
      ),
      insertCatalog: this.db.prepare(`INSERT OR IGNORE INTO catalog_entries
        (tenant_id, software_type, version, device_type, model, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
      listCatalog: this.db.prepare('SELECT * FROM catalog_entries WHERE tenant_id = ? ORDER BY seq'),
    };
    this.operationInserts = new GroupCommit(path);
  }

  async close(): Promise<void> {
    await this.operationInserts.close();
    if (this.db.open) this.db.close();
  }

  async devSigningKey(create: () => Promise<SigningKey>): Promise<SigningKey> {
    let row = this.statements.getKey.get() as KeyRow | undefined;
    if (!row) {
      const key = await create();
      this.statements.insertKey.run(key.kid, key.alg, JSON.stringify(key.privateJwk), JSON.stringify(key.publicJwk), new Date().toISOString());
      row = this.statements.getKey.get() as KeyRow;
    }
    return { kid: row.kid, alg: row.alg, privateJwk: JSON.parse(row.private_jwk), publicJwk: JSON.parse(row.public_jwk) };
  }

  async insertDevices(devices: Device[]): Promise<void> {
    const insert = this.statements.insertDevice;
    // Bulk registration (seed) is not an accepted operation: a batch lost to a power cut is
    // seeded again, so it skips the fsync that every 202 waits for. The transaction runs
    // synchronously, so no other write can slip in while the setting is off.
    this.db.pragma('synchronous = OFF');
    try {
      this.db.transaction(() => {
        for (const device of devices) insert.run(deviceToRow(device));
      })();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  async getDevice(tenantId: string, deviceId: string): Promise<Device | null> {
    const row = this.statements.getDevice.get(tenantId, deviceId) as DeviceRow | undefined;
    return row ? deviceFromRow(row) : null;
  }

  async getDeviceModel(tenantId: string, deviceId: string): Promise<DeviceModel | null> {
    const row = this.statements.getDeviceModel.get(tenantId, deviceId) as { id: string; device_type: string; hw_model: string | null } | undefined;
    return row ? { id: row.id, deviceType: row.device_type as DeviceType, model: row.hw_model } : null;
  }

  async countDevices(tenantId: string): Promise<number> {
    return (this.statements.countDevices.get(tenantId) as { n: number }).n;
  }

  async listDevices(query: DevicePageQuery): Promise<Page<Device>> {
    const where = ['tenant_id = ?'];
    const params: unknown[] = [query.tenantId];
    if (query.filter) {
      const compiled = compileFilter(query.filter, sqliteFilterDialect);
      where.push(compiled.sql);
      params.push(...compiled.params);
    }
    if (query.afterId !== null) {
      where.push('id > ?');
      params.push(query.afterId);
    }
    params.push(query.top + 1);
    const sql = `SELECT ${deviceListColumns} FROM devices WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params) as DeviceRow[];
    const items = rows.slice(0, query.top).map(deviceFromRow);
    return { items, next: rows.length > query.top ? items[items.length - 1].id : null };
  }

  async createOperation(op: Operation): Promise<OperationInsertOutcome> {
    return this.operationInserts.submit(op);
  }

  async getOperation(tenantId: string, deviceId: string, operationId: string): Promise<Operation | null> {
    const row = this.statements.getOperation.get(tenantId, deviceId, operationId) as OperationRow | undefined;
    return row ? operationFromRow(row) : null;
  }

  async listOperations(query: OperationPageQuery): Promise<Page<Operation>> {
    const rows = this.statements.listOperations.all(
      query.tenantId, query.deviceId, query.beforeSeq ?? Number.MAX_SAFE_INTEGER, query.top + 1,
    ) as OperationRow[];
    const page = rows.slice(0, query.top);
    return { items: page.map(operationFromRow), next: rows.length > query.top ? page[page.length - 1].seq : null };
  }

  async transitionOperation(
    tenantId: string, operationId: string, transition: Transition, changes: TransitionChanges,
  ): Promise<Operation | null> {
    const { sql, params } = transitionSql(transition, tenantId, operationId, changes, () => '?');
    try {
      const row = this.transitionStatement(sql).get(...params) as OperationRow | undefined;
      return row ? operationFromRow(row) : null;
    } catch (error) {
      // operations_one_running: the device already runs another operation.
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return null;
      throw error;
    }
  }

  private transitionStatement(sql: string): Database.Statement {
    let statement = this.transitionStatements.get(sql);
    if (!statement) this.transitionStatements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  async nextOperation(tenantId: string, deviceId: string): Promise<Operation | null> {
    const row = this.statements.nextOperation.get({ tenant: tenantId, device: deviceId }) as OperationRow | undefined;
    return row ? operationFromRow(row) : null;
  }

  async setProgress(tenantId: string, operationId: string, percent: number | null, message: string | null, at: string): Promise<Operation | null> {
    const row = this.statements.setProgress.get(percent, message, at, tenantId, operationId) as OperationRow | undefined;
    return row ? operationFromRow(row) : null;
  }

  async requestCancel(tenantId: string, operationId: string, by: unknown, at: string): Promise<Operation | null> {
    const row = this.statements.requestCancel.get(at, jsonText(by), tenantId, operationId) as OperationRow | undefined;
    return row ? operationFromRow(row) : null;
  }

  async expireOverdue(now: string, errors: { start: OperationError; run: OperationError }, limit: number): Promise<Operation[]> {
    const rows = this.db.transaction(() => [
      ...(this.statements.expireStart.all(now, errors.start.code, errors.start.message, now, now, limit) as OperationRow[]),
      ...(this.statements.expireRun.all(now, errors.run.code, errors.run.message, now, now, limit) as OperationRow[]),
    ])();
    return rows.map(operationFromRow);
  }

  async notifyWork(): Promise<void> {
    // One process: the engine's in-process signal already woke the poll.
  }

  onWork(): void {}

  async holdsSupervisorLease(): Promise<boolean> {
    return true;
  }

  async takeRateToken(key: string, capacity: number, perSecond: number): Promise<number | null> {
    return this.rateBuckets.take(key, capacity, perSecond, Date.now());
  }

  async createEnrollmentToken(token: EnrollmentToken): Promise<void> {
    this.statements.insertEnrollmentToken.run(token.id, token.tenantId, token.tokenHash, token.createdDateTime, token.expiresDateTime);
  }

  async findEnrollmentToken(tokenHash: string): Promise<EnrollmentToken | null> {
    const row = this.statements.findEnrollmentToken.get(tokenHash) as
      | { id: string; tenant_id: string; token_hash: string; created_at: string; expires_at: string }
      | undefined;
    return row
      ? { id: row.id, tenantId: row.tenant_id, tokenHash: row.token_hash, createdDateTime: row.created_at, expiresDateTime: row.expires_at }
      : null;
  }

  async findDeviceByHardware(tenantId: string, uniqueId: string | null, serialNumber: string | null): Promise<Device | null> {
    const row = this.statements.findByHardware.get(tenantId, uniqueId, tenantId, serialNumber) as DeviceRow | undefined;
    return row ? deviceFromRow(row) : null;
  }

  async saveEnrolledDevice(device: Device, credentialHash: string): Promise<string> {
    return this.db.transaction(() => {
      const { uniqueId, serialNumber } = device.hardwareDetail;
      const existing = this.statements.findByHardware.get(device.tenantId, uniqueId, device.tenantId, serialNumber) as DeviceRow | undefined;
      const row = deviceToRow({ ...device, id: existing?.id ?? device.id });
      if (existing || this.statements.getDevice.get(device.tenantId, device.id)) this.statements.updateDeviceState.run(row);
      else this.statements.insertDevice.run(row);
      this.statements.setCredential.run(credentialHash, device.tenantId, row.id);
      return row.id as string;
    }).immediate();
  }

  async updateDevice(tenantId: string, deviceId: string, change: (device: Device) => Device): Promise<Device | null> {
    return this.db.transaction(() => {
      const row = this.statements.getDevice.get(tenantId, deviceId) as DeviceRow | undefined;
      if (!row) return null;
      const updated = change(deviceFromRow(row));
      this.statements.updateDeviceState.run(deviceToRow(updated));
      return updated;
    }).immediate();
  }

  async deviceCredential(deviceId: string): Promise<{ tenantId: string; credentialHash: string } | null> {
    const row = this.statements.deviceCredential.get(deviceId) as { tenant_id: string; credential_hash: string } | undefined;
    return row ? { tenantId: row.tenant_id, credentialHash: row.credential_hash } : null;
  }

  async updateDeviceState(device: Device): Promise<void> {
    this.statements.updateDeviceState.run(deviceToRow(device));
  }

  async markSeen(devices: DeviceRef[], at: string): Promise<DeviceRef[]> {
    const returning: DeviceRef[] = [];
    this.db.transaction(() => {
      for (const d of devices) {
        const row = this.statements.markSeen.get(at, d.tenantId, d.deviceId) as { connection_status: string | null } | undefined;
        if (row && row.connection_status !== 'connected') returning.push(d);
      }
    })();
    return returning;
  }

  async silentDevices(cutoff: string, limit: number): Promise<Device[]> {
    return (this.statements.silentDevices.all(cutoff, limit) as DeviceRow[]).map(deviceFromRow);
  }

  async addCatalogEntry(entry: CatalogEntry): Promise<'added' | 'exists'> {
    const result = this.statements.insertCatalog.run(
      entry.tenantId, entry.softwareType, entry.version, entry.deviceType, entry.model, entry.createdDateTime,
    );
    return result.changes === 1 ? 'added' : 'exists';
  }

  async listCatalog(tenantId: string): Promise<CatalogEntry[]> {
    return (this.statements.listCatalog.all(tenantId) as CatalogRow[]).map(catalogFromRow);
  }
}

interface KeyRow {
  kid: string;
  alg: string;
  private_jwk: string;
  public_jwk: string;
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  // IMMEDIATE takes the write lock first, so two processes opening a new file cannot both migrate.
  const apply = db.transaction(() => {
    const done = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
    for (const migration of sqliteMigrations) {
      if (done.has(migration.version)) continue;
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        migration.version, migration.name, new Date().toISOString(),
      );
    }
  });
  apply.immediate();
}
