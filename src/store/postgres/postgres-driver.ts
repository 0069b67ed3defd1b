import pg from 'pg';
import type { Operation } from '../../domain/operation.js';
import { insertSql, type SqlDialect, type SqlDriver, type SqlExecutor, type TransactionOptions } from '../sql-driver.js';
import { StoreUnavailableError } from '../store-errors.js';
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
  },
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  forUpdate: ' FOR UPDATE',
};

/** Rows per INSERT: a few hundred keep the round trips few and the statement well under 65,535 parameters. */
const rowsPerInsert = 500;

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
export class PostgresDriver implements SqlDriver {
  readonly dialect = postgresDialect;
  private readonly pool: pg.Pool;
  private readonly notifications: WorkNotifications;
  private readonly lease: SupervisorLease;
  private readonly operationBatches: OperationBatches;

  constructor(url: string, poolSize: number) {
    // query_timeout: a connection that went silent (a network partition) fails the request with a
    // 503 after a few seconds instead of holding it forever; keepAlive notices dead peers.
    this.pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5000, query_timeout: 5000, keepAlive: true });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    this.pool.on('error', () => {});
    this.notifications = new WorkNotifications(url);
    this.lease = new SupervisorLease(url);
    this.operationBatches = new OperationBatches((sql, params, name) => this.queryNumbered(sql, params, name), this.notifications.channel);
  }

  query<R>(sql: string, params: readonly unknown[] = [], name?: string): Promise<R[]> {
    return this.queryNumbered<R>(numberPlaceholders(sql), params, name);
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
    return insertRowsWith(this, table, columns, rows);
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw new StoreUnavailableError((error as Error).message, error);
    }
    const tx: SqlExecutor = {
      async query<R>(sql: string, params: readonly unknown[] = []) {
        try {
          return (await client.query(numberPlaceholders(sql), params as unknown[])).rows as R[];
        } catch (error) {
          throw storeErrorFromPostgres(error);
        }
      },
      async script(sql: string) {
        await tx.query(sql);
      },
      insertRows(table: string, columns: readonly string[], rows: unknown[][]) {
        return insertRowsWith(tx, table, columns, rows);
      },
    };
    try {
      await tx.query('BEGIN');
      if (options.durable === false) await tx.query('SET LOCAL synchronous_commit = off');
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

  insertOperation(operation: Operation): Promise<OperationInsertOutcome> {
    return this.operationBatches.submit(operation);
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

  async close(): Promise<void> {
    await this.notifications.close();
    await this.lease.close();
    await this.pool.end();
  }
}

async function insertRowsWith(executor: SqlExecutor, table: string, columns: readonly string[], rows: unknown[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += rowsPerInsert) {
    const chunk = rows.slice(i, i + rowsPerInsert);
    await executor.query(insertSql(table, columns, chunk.length), chunk.flat());
  }
}
