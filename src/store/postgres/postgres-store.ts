import pg from 'pg';
import type { Device } from '../../domain/device.js';
import type { Operation, OperationError, Transition } from '../../domain/operation.js';
import type { CatalogEntry } from '../../domain/software-catalog.js';
import type { DevicePageQuery, OperationPageQuery, Page } from '../device-query.js';
import { compileFilter, type FilterDialect } from '../filter-sql.js';
import {
  catalogFromRow, deviceFromRow, deviceListColumns, deviceToRow, deviceUpdateColumns, jsonText, operationFromRow, type CatalogRow, type DeviceRow, type OperationRow,
} from '../rows.js';
import { StoreUnavailableError, isPgUnavailable } from '../store-errors.js';
import type { DeviceType } from '../../domain/enums.js';
import type { DeviceModel, DeviceRef, EnrollmentToken, OperationInsertOutcome, SigningKey, Store, TransitionChanges } from '../store.js';
import { nextOperationSql, transitionSql } from '../transition-sql.js';
import { postgresMigrations } from './migrations.js';

const postgresFilterDialect: FilterDialect = {
  placeholder: (n) => `$${n}`,
  distinctFrom: 'IS DISTINCT FROM',
  isNotTrue: (expression) => `(${expression}) IS NOT TRUE`,
  // Columns are COLLATE "C": the range is byte order and uses the (tenant_id, column, id) indexes.
  startsWith: (column, param, prefix) => `(${column} >= ${param(prefix)} AND ${column} < ${param(`${prefix}\u{10FFFF}`)})`,
};

const migrationLock = 0x7477_6401;
const supervisorLock = 0x7477_6402;
const workChannel = 'teamwork_devices_work';
/** Asked on every long-poll: prepared once per pooled connection. */
const nextOperationStatement = nextOperationSql('$1', '$2');
/** Between the device ids of one work notification; device ids are GUIDs, which hold no comma. */
const deviceIdSeparator = ',';

/**
 * The store for several replicas on one PostgreSQL. The same rules as SQLite hold across
 * processes: the 409 rule and "one running operation per device" are unique partial indexes,
 * transitions are single conditional UPDATEs, overdue work is claimed with SKIP LOCKED,
 * long-polls on every replica are woken by NOTIFY, and one replica at a time supervises.
 */
export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  private readonly pool: pg.Pool;
  private listener: pg.Client | null = null;
  private lease: pg.Client | null = null;
  private leaseHeld = false;
  private readonly workListeners: ((deviceId: string) => void)[] = [];
  private closed = false;
  private pendingInserts: { op: Operation; resolve(result: OperationInsertOutcome): void; reject(error: unknown): void }[] = [];
  private insertInFlight = false;

  private constructor(readonly url: string, poolSize: number) {
    // query_timeout: a connection that went silent (a network partition) fails the request with a
    // 503 after a few seconds instead of holding it forever; keepAlive notices dead peers.
    this.pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5000, query_timeout: 5000, keepAlive: true });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    this.pool.on('error', () => {});
  }

  static async open(url: string, options: { poolSize?: number } = {}): Promise<PostgresStore> {
    const store = new PostgresStore(url, options.poolSize ?? 10);
    await store.migrate();
    return store;
  }

  /** Applies pending migrations under an advisory lock, so replicas starting together take turns. */
  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [migrationLock]);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`);
      const done = new Set((await client.query('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      for (const migration of postgresMigrations) {
        if (done.has(migration.version)) continue;
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())', [migration.version, migration.name]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.listener?.end().catch(() => {});
    await this.lease?.end().catch(() => {});
    await this.pool.end();
  }

  /** `name`: a statement run often enough to keep prepared (each pooled connection plans it once). */
  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = [], name?: string): Promise<R[]> {
    try {
      return (await this.pool.query<R>({ text: sql, values: params, name })).rows;
    } catch (error) {
      if (isPgUnavailable(error)) throw new StoreUnavailableError((error as Error).message, error);
      throw error;
    }
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw new StoreUnavailableError((error as Error).message, error);
    }
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      if (isPgUnavailable(error)) throw new StoreUnavailableError((error as Error).message, error);
      throw error;
    } finally {
      client.release();
    }
  }

  async devSigningKey(create: () => Promise<SigningKey>): Promise<SigningKey> {
    const read = async () => (await this.query('SELECT * FROM signing_keys ORDER BY created_at, kid LIMIT 1'))[0];
    let row = await read();
    if (!row) {
      const key = await create();
      await this.query(
        'INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at) VALUES ($1, $2, $3, $4, now()) ON CONFLICT DO NOTHING',
        [key.kid, key.alg, JSON.stringify(key.privateJwk), JSON.stringify(key.publicJwk)],
      );
      row = await read();
    }
    return { kid: row.kid, alg: row.alg, privateJwk: row.private_jwk, publicJwk: row.public_jwk };
  }

  async insertDevices(devices: Device[]): Promise<void> {
    // One statement per batch: the rows travel as one JSON parameter (no 65,535-parameter limit).
    await this.query(
      `INSERT INTO devices SELECT * FROM jsonb_populate_recordset(NULL::devices, $1::jsonb)`,
      [JSON.stringify(devices.map(pgDeviceRow))],
    );
  }

  async getDevice(tenantId: string, deviceId: string): Promise<Device | null> {
    const rows = await this.query<DeviceRow>('SELECT * FROM devices WHERE tenant_id = $1 AND id = $2', [tenantId, deviceId]);
    return rows[0] ? deviceFromRow(rows[0]) : null;
  }

  async getDeviceModel(tenantId: string, deviceId: string): Promise<DeviceModel | null> {
    const [row] = await this.query<{ id: string; device_type: string; hw_model: string | null }>(
      'SELECT id, device_type, hw_model FROM devices WHERE tenant_id = $1 AND id = $2',
      [tenantId, deviceId],
    );
    return row ? { id: row.id, deviceType: row.device_type as DeviceType, model: row.hw_model } : null;
  }

  async countDevices(tenantId: string): Promise<number> {
    return Number((await this.query<{ n: string }>('SELECT count(*) AS n FROM devices WHERE tenant_id = $1', [tenantId]))[0].n);
  }

  async listDevices(query: DevicePageQuery): Promise<Page<Device>> {
    const params: unknown[] = [query.tenantId];
    const where = ['tenant_id = $1'];
    if (query.filter) {
      const compiled = compileFilter(query.filter, postgresFilterDialect, params.length + 1);
      where.push(compiled.sql);
      params.push(...compiled.params);
    }
    if (query.afterId !== null) {
      params.push(query.afterId);
      where.push(`id > $${params.length}`);
    }
    params.push(query.top + 1);
    const rows = await this.query<DeviceRow>(
      `SELECT ${deviceListColumns} FROM devices WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${params.length}`,
      params,
    );
    const items = rows.slice(0, query.top).map(deviceFromRow);
    return { items, next: rows.length > query.top ? items[items.length - 1].id : null };
  }

  async createOperation(op: Operation): Promise<OperationInsertOutcome> {
    return new Promise((resolve, reject) => {
      this.pendingInserts.push({ op, resolve, reject });
      if (!this.insertInFlight) void this.flushInserts();
    });
  }

  /**
   * Group commit: the operations accepted while one batch commits go together in the next,
   * as one INSERT … ON CONFLICT DO NOTHING that also NOTIFYs the replicas of the new rows'
   * devices (a list of device ids per notification, under PostgreSQL's 8,000-byte payload).
   * Each caller is answered after the commit that holds its row. Rows whose device is not in
   * its tenant are never inserted (the 404); rows the unique partial index turned away come
   * back with created = false (the 409).
   */
  private async flushInserts(): Promise<void> {
    this.insertInFlight = true;
    while (this.pendingInserts.length > 0) {
      const batch = this.pendingInserts;
      this.pendingInserts = [];
      try {
        const rows = await this.query<{ id: string; created: boolean }>(
          `WITH incoming AS (
             SELECT r.* FROM jsonb_to_recordset($1::jsonb) AS r(
               id text, tenant_id text, device_id text, operation_type text, software_type text, software_version text,
               status text, created_at timestamptz, created_by jsonb, last_action_at timestamptz, last_action_by jsonb,
               start_deadline timestamptz)
             WHERE EXISTS (SELECT 1 FROM devices d WHERE d.tenant_id = r.tenant_id AND d.id = r.device_id)
           ), inserted AS (
             INSERT INTO operations (id, tenant_id, device_id, operation_type, software_type, software_version, status,
               created_at, created_by, last_action_at, last_action_by, start_deadline)
             SELECT id, tenant_id, device_id, operation_type, software_type, software_version, status,
               created_at, created_by, last_action_at, last_action_by, start_deadline FROM incoming
             ON CONFLICT DO NOTHING RETURNING id, device_id
           ), notified AS (
             SELECT pg_notify($2, string_agg(device_id, '${deviceIdSeparator}')) FROM (
               SELECT device_id, sum(octet_length(device_id) + 1) OVER (ORDER BY id) / 7000 AS payload FROM inserted
             ) AS ids GROUP BY payload
           )
           -- counting the notifications makes them happen: an unreferenced CTE is never run
           SELECT incoming.id, inserted.id IS NOT NULL AS created
           FROM incoming LEFT JOIN inserted USING (id) CROSS JOIN (SELECT count(*) FROM notified) AS sent`,
          [JSON.stringify(batch.map(({ op }) => ({
            id: op.id, tenant_id: op.tenantId, device_id: op.deviceId, operation_type: op.operationType,
            software_type: op.softwareType, software_version: op.softwareVersion, status: op.status,
            created_at: op.createdDateTime, created_by: op.createdBy, last_action_at: op.lastActionDateTime,
            last_action_by: op.lastActionBy, start_deadline: op.startDeadline,
          }))), workChannel],
          'insert-operations',
        );
        const outcomes = new Map<string, OperationInsertOutcome>(rows.map((r) => [r.id, r.created ? 'created' : 'conflict']));
        for (const { op, resolve } of batch) resolve(outcomes.get(op.id) ?? 'noDevice');
      } catch (error) {
        for (const { reject } of batch) reject(error);
      }
    }
    this.insertInFlight = false;
  }

  async getOperation(tenantId: string, deviceId: string, operationId: string): Promise<Operation | null> {
    const rows = await this.query<OperationRow>(
      'SELECT * FROM operations WHERE tenant_id = $1 AND device_id = $2 AND id = $3',
      [tenantId, deviceId, operationId],
    );
    return rows[0] ? operationFromRow(rows[0]) : null;
  }

  async listOperations(query: OperationPageQuery): Promise<Page<Operation>> {
    const rows = await this.query<OperationRow>(
      'SELECT * FROM operations WHERE tenant_id = $1 AND device_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4',
      [query.tenantId, query.deviceId, query.beforeSeq ?? Number.MAX_SAFE_INTEGER, query.top + 1],
    );
    const page = rows.slice(0, query.top);
    return { items: page.map(operationFromRow), next: rows.length > query.top ? Number(page[page.length - 1].seq) : null };
  }

  async transitionOperation(tenantId: string, operationId: string, transition: Transition, changes: TransitionChanges): Promise<Operation | null> {
    const { sql, params } = transitionSql(transition, tenantId, operationId, changes, (n) => `$${n}`);
    try {
      const rows = await this.query<OperationRow>(sql, params);
      return rows[0] ? operationFromRow(rows[0]) : null;
    } catch (error) {
      if ((error as { code?: string }).code === '23505') return null; // operations_one_running
      throw error;
    }
  }

  async nextOperation(tenantId: string, deviceId: string): Promise<Operation | null> {
    const rows = await this.query<OperationRow>(
      nextOperationStatement,
      [tenantId, deviceId],
      'next-operation',
    );
    return rows[0] ? operationFromRow(rows[0]) : null;
  }

  async setProgress(tenantId: string, operationId: string, percent: number | null, message: string | null, at: string): Promise<Operation | null> {
    const rows = await this.query<OperationRow>(
      `UPDATE operations SET progress_percent = $1, progress_message = $2, last_action_at = $3
       WHERE tenant_id = $4 AND id = $5 AND status = 'inProgress' RETURNING *`,
      [percent, message, at, tenantId, operationId],
    );
    return rows[0] ? operationFromRow(rows[0]) : null;
  }

  async requestCancel(tenantId: string, operationId: string, by: unknown, at: string): Promise<Operation | null> {
    const rows = await this.query<OperationRow>(
      `UPDATE operations SET cancel_requested = true, last_action_at = $1, last_action_by = $2
       WHERE tenant_id = $3 AND id = $4 AND status = 'inProgress' RETURNING *`,
      [at, jsonText(by), tenantId, operationId],
    );
    return rows[0] ? operationFromRow(rows[0]) : null;
  }

  async expireOverdue(now: string, errors: { start: OperationError; run: OperationError }, limit: number): Promise<Operation[]> {
    // SKIP LOCKED: rows another transaction (a device's result, another supervisor) holds are left to it.
    const expire = (statuses: string, deadline: string, error: OperationError) =>
      this.query<OperationRow>(
        `WITH overdue AS (
           SELECT seq FROM operations WHERE status IN (${statuses}) AND ${deadline} < $1 LIMIT $4 FOR UPDATE SKIP LOCKED
         )
         UPDATE operations SET status = 'failed', completed_at = $1, last_action_at = $1, last_action_by = NULL,
           error_code = $2, error_message = $3
         FROM overdue WHERE operations.seq = overdue.seq AND operations.status IN (${statuses})
         RETURNING operations.*`,
        [now, error.code, error.message, limit],
      );
    const rows = [
      ...(await expire("'queued', 'scheduled'", 'start_deadline', errors.start)),
      ...(await expire("'inProgress'", 'run_deadline', errors.run)),
    ];
    return rows.map(operationFromRow);
  }

  async createEnrollmentToken(token: EnrollmentToken): Promise<void> {
    await this.query(
      'INSERT INTO enrollment_tokens (id, tenant_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
      [token.id, token.tenantId, token.tokenHash, token.createdDateTime, token.expiresDateTime],
    );
  }

  async findEnrollmentToken(tokenHash: string): Promise<EnrollmentToken | null> {
    const row = (await this.query('SELECT * FROM enrollment_tokens WHERE token_hash = $1', [tokenHash]))[0];
    return row
      ? {
          id: row.id,
          tenantId: row.tenant_id,
          tokenHash: row.token_hash,
          createdDateTime: (row.created_at as Date).toISOString(),
          expiresDateTime: (row.expires_at as Date).toISOString(),
        }
      : null;
  }

  async findDeviceByHardware(tenantId: string, uniqueId: string | null, serialNumber: string | null): Promise<Device | null> {
    const rows = await this.query<DeviceRow>(
      `SELECT * FROM devices WHERE tenant_id = $1 AND (hw_unique_id = $2 OR hw_serial_number = $3)
       ORDER BY hw_unique_id = $2 DESC NULLS LAST LIMIT 1`,
      [tenantId, uniqueId, serialNumber],
    );
    return rows[0] ? deviceFromRow(rows[0]) : null;
  }

  async saveEnrolledDevice(device: Device, credentialHash: string): Promise<string> {
    return this.transaction(async (client) => {
      // Serialises enrollments of the same hardware across replicas; the lookup is redone under the lock.
      const { uniqueId, serialNumber } = device.hardwareDetail;
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${device.tenantId}/${uniqueId ?? serialNumber}`]);
      const found = await client.query<{ id: string }>(
        `SELECT id FROM devices WHERE tenant_id = $1 AND (hw_unique_id = $2 OR hw_serial_number = $3)
         ORDER BY hw_unique_id = $2 DESC NULLS LAST LIMIT 1`,
        [device.tenantId, uniqueId, serialNumber],
      );
      device = { ...device, id: found.rows[0]?.id ?? device.id };
      await client.query(
        `INSERT INTO devices SELECT * FROM jsonb_populate_record(NULL::devices, $1::jsonb)
         ON CONFLICT (tenant_id, id) DO NOTHING`,
        [JSON.stringify(pgDeviceRow(device))],
      );
      const { sql, params } = updateDeviceSql(device);
      await client.query(sql, params);
      await client.query('UPDATE devices SET credential_hash = $1 WHERE tenant_id = $2 AND id = $3', [credentialHash, device.tenantId, device.id]);
      return device.id;
    });
  }

  async updateDevice(tenantId: string, deviceId: string, change: (device: Device) => Device): Promise<Device | null> {
    return this.transaction(async (client) => {
      const { rows } = await client.query<DeviceRow>('SELECT * FROM devices WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [tenantId, deviceId]);
      if (!rows[0]) return null;
      const updated = change(deviceFromRow(rows[0]));
      const { sql, params } = updateDeviceSql(updated);
      await client.query(sql, params);
      return updated;
    });
  }

  async deviceCredential(deviceId: string): Promise<{ tenantId: string; credentialHash: string } | null> {
    const row = (await this.query('SELECT tenant_id, credential_hash FROM devices WHERE id = $1 AND credential_hash IS NOT NULL', [deviceId]))[0];
    return row ? { tenantId: row.tenant_id, credentialHash: row.credential_hash } : null;
  }

  async updateDeviceState(device: Device): Promise<void> {
    const { sql, params } = updateDeviceSql(device);
    await this.query(sql, params);
  }

  async markSeen(devices: DeviceRef[], at: string): Promise<DeviceRef[]> {
    const rows = await this.query<{ tenant_id: string; id: string; connection_status: string | null }>(
      `UPDATE devices d SET last_seen_at = $1
       FROM unnest($2::text[], $3::text[]) AS seen(tenant_id, id)
       WHERE d.tenant_id = seen.tenant_id AND d.id = seen.id
       RETURNING d.tenant_id, d.id, d.connection_status`,
      [at, devices.map((d) => d.tenantId), devices.map((d) => d.deviceId)],
    );
    return rows.filter((r) => r.connection_status !== 'connected').map((r) => ({ tenantId: r.tenant_id, deviceId: r.id }));
  }

  async silentDevices(cutoff: string, limit: number): Promise<Device[]> {
    const rows = await this.query<DeviceRow>(
      "SELECT * FROM devices WHERE connection_status = 'connected' AND last_seen_at < $1 LIMIT $2",
      [cutoff, limit],
    );
    return rows.map(deviceFromRow);
  }

  async notifyWork(deviceId: string): Promise<void> {
    await this.query('SELECT pg_notify($1, $2)', [workChannel, deviceId]);
  }

  onWork(listener: (deviceId: string) => void): void {
    this.workListeners.push(listener);
    if (this.workListeners.length === 1) void this.listen();
  }

  /** One LISTEN connection per process; reconnects by itself when the database comes back. */
  private async listen(): Promise<void> {
    let delay = 250;
    while (!this.closed) {
      const client = new pg.Client({ connectionString: this.url, keepAlive: true });
      // Listened for before connecting: an error while LISTEN is being set up must not go unhandled.
      const lost = new Promise<void>((resolve) => {
        client.on('error', () => resolve());
        client.once('end', () => resolve());
      });
      try {
        await client.connect();
        client.on('notification', (message) => {
          for (const deviceId of message.payload?.split(deviceIdSeparator) ?? []) {
            if (deviceId) for (const listener of this.workListeners) listener(deviceId);
          }
        });
        await client.query(`LISTEN ${workChannel}`);
        this.listener = client;
        delay = 250;
        await lost;
      } catch {
        // unreachable database: retry below
      }
      this.listener = null;
      await client.end().catch(() => {});
      if (this.closed) return;
      await new Promise((r) => setTimeout(r, delay).unref());
      delay = Math.min(delay * 2, 5000);
    }
  }

  async holdsSupervisorLease(): Promise<boolean> {
    if (this.leaseHeld) return true;
    // One dedicated connection per process: the lock lives and dies with it, so a replica
    // that goes away releases it, and the others take it at their next try.
    try {
      if (!this.lease) {
        const client = new pg.Client({ connectionString: this.url, keepAlive: true });
        client.on('error', () => this.dropLease(client));
        client.on('end', () => this.dropLease(client));
        await client.connect();
        this.lease = client;
      }
      const { rows } = await this.lease.query('SELECT pg_try_advisory_lock($1) AS locked', [supervisorLock]);
      this.leaseHeld = rows[0].locked === true;
      return this.leaseHeld;
    } catch {
      if (this.lease) this.dropLease(this.lease);
      return false;
    }
  }

  private dropLease(client: pg.Client): void {
    if (this.lease !== client) return;
    this.lease = null;
    this.leaseHeld = false;
    client.end().catch(() => {});
  }

  async takeRateToken(key: string, capacity: number, perSecond: number): Promise<number | null> {
    // One statement refills and takes, so replicas share the bucket without a lock of their own.
    const [row] = await this.query<{ tokens: number; taken: boolean }>(
      `INSERT INTO rate_buckets AS b (key, tokens, updated_at) VALUES ($1, $2 - 1, clock_timestamp())
       ON CONFLICT (key) DO UPDATE SET
         tokens = least($2, b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * $3)
                  - CASE WHEN least($2, b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * $3) >= 1 THEN 1 ELSE 0 END,
         updated_at = clock_timestamp(),
         taken = least($2, b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * $3) >= 1
       RETURNING tokens, taken`,
      [key, capacity, perSecond],
    );
    if (row.taken) return null;
    return Math.max(1, Math.ceil((1 - row.tokens) / perSecond));
  }

  async addCatalogEntry(entry: CatalogEntry): Promise<'added' | 'exists'> {
    const rows = await this.query(
      `INSERT INTO catalog_entries (tenant_id, software_type, version, device_type, model, created_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING seq`,
      [entry.tenantId, entry.softwareType, entry.version, entry.deviceType, entry.model, entry.createdDateTime],
    );
    return rows.length === 1 ? 'added' : 'exists';
  }

  async listCatalog(tenantId: string): Promise<CatalogEntry[]> {
    return (await this.query<CatalogRow>('SELECT * FROM catalog_entries WHERE tenant_id = $1 ORDER BY seq', [tenantId])).map(catalogFromRow);
  }
}

/** A devices row with JSON columns as JSON values, for jsonb_populate_record(set). */
function pgDeviceRow(device: Device): Record<string, unknown> {
  return {
    ...deviceToRow(device),
    hw_mac_addresses: device.hardwareDetail.macAddresses,
    created_by: device.createdBy,
    last_modified_by: device.lastModifiedBy,
    health: device.generatedFrom ? null : device.health,
    activity: device.generatedFrom ? null : device.activity,
    configuration: device.generatedFrom ? null : device.configuration,
    installed: device.installed,
    documents_seed: device.generatedFrom ?? null,
  };
}

function updateDeviceSql(device: Device): { sql: string; params: unknown[] } {
  const row = deviceToRow(device);
  const params = deviceUpdateColumns.map((c) => row[c]);
  const set = deviceUpdateColumns.map((c, i) => `${c} = $${i + 1}`);
  params.push(row.last_seen_at);
  set.push(`last_seen_at = coalesce($${params.length}, last_seen_at)`);
  params.push(device.tenantId, device.id);
  return { sql: `UPDATE devices SET ${set.join(', ')} WHERE tenant_id = $${params.length - 1} AND id = $${params.length}`, params };
}
