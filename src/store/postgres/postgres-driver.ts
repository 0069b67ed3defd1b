import pg from 'pg';
import type { AuditEvent } from '../../domain/audit.js';
import type { Operation } from '../../domain/operation.js';
import { statementTimeoutMs, type SqlDialect, type SqlDriver, type SqlExecutor, type TransactionOptions } from '../sql-driver.js';
import { ScanSlots } from '../scan-slots.js';
import { StoreUnavailableError } from '../store-errors.js';
import type { DatabaseConnections } from '../store-monitor.js';
import type { OperationInsertOutcome } from '../store.js';
import { OperationBatches } from './operation-batch.js';
import { storeErrorFromPostgres } from './postgres-errors.js';
import { takeRateTokenSql } from './rate-buckets.js';
import { SupervisorLease } from './supervisor-lease.js';
import { WorkNotifications } from './work-notifications.js';

const postgresDialect: SqlDialect = {
  name: 'postgres',
  types: {
    key: 'text COLLATE "C"',
    timestamp: 'timestamptz',
    json: 'jsonb',
    boolean: 'boolean',
    sequenceKey: 'bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY',
    bytes: 'bytea',
  },
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  forUpdate: ' FOR UPDATE',
  coalescesReads: true,
};

/** Rows per bulk INSERT; each column travels as one array, whatever the number of rows. */
const rowsPerInsert = 5000;

/** `?` placeholders numbered as PostgreSQL wants them ($1, $2, …), once per statement text. */
const numbered = new Map<string, string>();
function numberPlaceholders(sql: string): string {
  let text = numbered.get(sql);
  if (text === undefined) {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
    if (numbered.size < 2000) numbered.set(sql, text);
  }
  return text;
}

/**
 * PostgreSQL shared by several replicas: a pool for statements, plus one connection each for
 * LISTEN and the supervisor lease. Accepted operations go in batches that NOTIFY the replicas.
 */
/** pg's query_timeout cannot be switched off per query; this is the longest a Node timer waits (24.8 days). */
const longestTimerMs = 2 ** 31 - 1;
/** How long a contended transaction may wait for its turn before it is a 503. */
const contendedWaitLimitMs = 20_000;

export class PostgresDriver implements SqlDriver {
  readonly dialect = postgresDialect;
  private readonly pool: pg.Pool;
  private readonly notifications: WorkNotifications;
  private readonly lease: SupervisorLease;
  private readonly operationBatches: OperationBatches;
  private readonly columnTypes = new ColumnTypesByTable();
  private readonly scans = new ScanSlots(statementTimeoutMs);
  /** contended transactions (TransactionOptions.contended): half the pool at most */
  private readonly contendedTransactions: ScanSlots;

  constructor(url: string, poolSize: number) {
    // statement_timeout: a statement that still runs after 5 s is cancelled by the server itself,
    // which frees its connection and its work (a 503 here). query_timeout, a little later, covers
    // a connection that went silent (a network partition); keepAlive notices dead peers.
    this.pool = new pg.Pool({
      connectionString: url, max: poolSize, connectionTimeoutMillis: 5000,
      statement_timeout: statementTimeoutMs, query_timeout: statementTimeoutMs + 1000, keepAlive: true,
    });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    this.pool.on('error', () => {});
    // Queued below the agent's 30 s request timeout: a queued enrollment has done nothing yet, so its 503 is safe to retry.
    this.contendedTransactions = new ScanSlots(contendedWaitLimitMs, Math.max(1, Math.floor(poolSize / 2)), 'enrollments at once');
    this.notifications = new WorkNotifications(url);
    this.lease = new SupervisorLease(url);
    this.operationBatches = new OperationBatches((sql, params, name) => this.queryNumbered(sql, params, name), this.notifications.channel);
  }

  query<R>(sql: string, params: readonly unknown[] = [], name?: string): Promise<R[]> {
    return this.queryNumbered<R>(numberPlaceholders(sql), params, name);
  }

  /** The server does the examining; the event loop only waits. */
  scan<R>(sql: string, params: readonly unknown[]): Promise<R[]> {
    return this.scans.run(() => this.query<R>(sql, params));
  }

  /** A statement already in PostgreSQL's own $n form (the PostgreSQL-only ones). */
  private async queryNumbered<R>(text: string, values: readonly unknown[], name?: string): Promise<R[]> {
    try {
      return (await this.pool.query({ text, values: values as unknown[], name })).rows as R[];
    } catch (error) {
      throw storeErrorFromPostgres(error);
    }
  }

  async script(sql: string): Promise<void> {
    await this.query(sql);
  }

  insertRows(table: string, columns: readonly string[], rows: unknown[][]): Promise<void> {
    return insertRowsWith(this, this.columnTypes, table, columns, rows);
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (options.contended) return this.contendedTransactions.run(() => this.runTransaction(work, options));
    return this.runTransaction(work, options);
  }

  private async runTransaction<T>(work: (tx: SqlExecutor) => Promise<T>, options: TransactionOptions): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw new StoreUnavailableError((error as Error).message, error);
    }
    const columnTypes = this.columnTypes;
    const tx: SqlExecutor = {
      async query<R>(sql: string, params: readonly unknown[] = []) {
        try {
          const text = numberPlaceholders(sql);
          const query = options.unlimitedTime ? { text, values: params as unknown[], query_timeout: longestTimerMs } : { text, values: params as unknown[] };
          return (await client.query(query)).rows as R[];
        } catch (error) {
          throw storeErrorFromPostgres(error);
        }
      },
      async script(sql: string) {
        await tx.query(sql);
      },
      insertRows(table: string, columns: readonly string[], rows: unknown[][]) {
        return insertRowsWith(tx, columnTypes, table, columns, rows);
      },
    };
    try {
      await tx.query('BEGIN');
      if (options.durable === false) await tx.query('SET LOCAL synchronous_commit = off');
      if (options.unlimitedTime) await tx.query('SET LOCAL statement_timeout = 0');
      if (options.lockKey) await tx.query('SELECT pg_advisory_xact_lock(hashtext(?))', [options.lockKey]);
      const result = await work(tx);
      await tx.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async afterBulkLoad(table: string): Promise<void> {
    // VACUUM cannot run in a transaction: a connection of its own, without the statement limit.
    // Table names come from the store's own code, never from a request.
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw new StoreUnavailableError((error as Error).message, error);
    }
    try {
      await client.query('SET statement_timeout = 0');
      await client.query({ text: `VACUUM (ANALYZE) ${table}`, query_timeout: longestTimerMs } as pg.QueryConfig);
      await client.query('RESET statement_timeout');
      client.release();
    } catch (error) {
      // A connection left in an unknown state is not given back to the pool.
      client.release(true);
      throw storeErrorFromPostgres(error);
    }
  }

  insertOperation(operation: Operation, audit: AuditEvent): Promise<OperationInsertOutcome> {
    return this.operationBatches.submit(operation, audit);
  }

  async notifyWork(deviceId: string): Promise<void> {
    await this.query('SELECT pg_notify(?, ?)', [this.notifications.channel, deviceId]);
  }

  onWork(listener: (deviceId: string) => void): void {
    this.notifications.subscribe(listener);
  }

  holdsSupervisorLease(): Promise<boolean> {
    return this.lease.holds();
  }

  async takeRateToken(key: string, capacity: number, perSecond: number): Promise<number | null> {
    const [row] = await this.queryNumbered<{ tokens: number; taken: boolean }>(takeRateTokenSql, [key, capacity, perSecond]);
    if (row.taken) return null;
    return Math.max(1, Math.ceil((1 - row.tokens) / perSecond));
  }

  connections(): DatabaseConnections {
    return { kind: 'postgres', total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  onCommitBatch(listener: (size: number) => void): void {
    this.operationBatches.onBatch(listener);
  }

  async close(): Promise<void> {
    await this.notifications.close();
    await this.lease.close();
    await this.pool.end();
  }
}

/**
 * Bulk insert as one statement per 5,000 rows: every column is sent as one text array and
 * cast back to its column's type (read once per table from the catalog), which PostgreSQL
 * parses far faster than a VALUES list with a parameter per value.
 */
async function insertRowsWith(
  executor: SqlExecutor, columnTypes: ColumnTypesByTable, table: string, columns: readonly string[], rows: unknown[][],
): Promise<void> {
  const types = await columnTypes.of(executor, table);
  const casts = columns.map((c) => {
    const type = types.get(c);
    if (!type) throw new Error(`${table} has no column ${c}`);
    return `${c}::${type}`;
  });
  const sql = `INSERT INTO ${table} (${columns.join(', ')}) SELECT ${casts.join(', ')}
    FROM unnest(${columns.map(() => '?::text[]').join(', ')}) AS r(${columns.join(', ')})`;
  for (let i = 0; i < rows.length; i += rowsPerInsert) {
    const chunk = rows.slice(i, i + rowsPerInsert);
    await executor.query(sql, columns.map((_, c) => chunk.map((row) => (row[c] === null || row[c] === undefined ? null : String(row[c])))));
  }
}

/** Column name → type as PostgreSQL spells it, per table; a table's columns change only by a migration. */
class ColumnTypesByTable {
  private readonly tables = new Map<string, Map<string, string>>();

  async of(executor: SqlExecutor, table: string): Promise<Map<string, string>> {
    let types = this.tables.get(table);
    if (!types) {
      const rows = await executor.query<{ name: string; type: string }>(
        'SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = ?::regclass AND attnum > 0 AND NOT attisdropped',
        [table],
      );
      types = new Map(rows.map((r) => [r.name, r.type]));
      this.tables.set(table, types);
    }
    return types;
  }
}
