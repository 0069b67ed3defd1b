import Database from 'better-sqlite3';
import type { AuditEvent } from '../../domain/audit.js';
import type { Operation } from '../../domain/operation.js';
import { insertSql, statementTimeoutMs, type SqlDialect, type SqlDriver, type SqlExecutor, type TransactionOptions } from '../sql-driver.js';
import type { DatabaseConnections } from '../store-monitor.js';
import type { OperationInsertOutcome } from '../store.js';
import { createDatabaseFilePrivately } from './file-modes.js';
import { GroupCommit } from './group-commit.js';
import { ReaderProcesses } from './reader-processes.js';
import { ScanSlots, scanConcurrency } from '../scan-slots.js';
import { storeErrorFromSqlite } from './sqlite-errors.js';
import { TokenBuckets } from '../../domain/token-buckets.js';
import { walLimitBytes, WalCheckpoints } from './wal-checkpoints.js';

const sqliteDialect: SqlDialect = {
  name: 'sqlite',
  types: { key: 'text', timestamp: 'text', json: 'text', boolean: 'integer', sequenceKey: 'integer PRIMARY KEY', bytes: 'blob' },
  skipLocked: '',
  forUpdate: '',
  coalescesReads: false,
};

/** SQLite's own wal_autocheckpoint (pages), for when the checkpoint thread is gone. */
const sqliteDefaultAutocheckpoint = 1000;

/** Statements kept prepared; past this many (distinct $filter texts), the cache starts over. */
const maxPreparedStatements = 2000;

/**
 * The embedded database: one SQLite file, WAL journal. One process uses it: accepted
 * operations are committed by a writer thread (group-commit.ts), rate buckets live in memory,
 * and this process is always the supervisor.
 */
export class SqliteDriver implements SqlDriver {
  readonly dialect = sqliteDialect;
  private readonly db: Database.Database;
  /** preparing a statement costs far more than running it */
  private readonly statements = new Map<string, Database.Statement>();
  /** opened at the first accepted operation: its writer thread prepares against the migrated schema */
  private operationInserts: GroupCommit | null = null;
  /** started at the first scan, like the writer thread */
  private readers: ReaderProcesses | null = null;
  private readonly scans = new ScanSlots(statementTimeoutMs);
  private readonly rateBuckets = new TokenBuckets();
  /** transactions on the one connection run one after another */
  private transactionTail: Promise<unknown> = Promise.resolve();
  private batchListener: ((size: number) => void) | null = null;
  private readonly checkpoints: WalCheckpoints;

  /** `walLimitBytes`: the WAL size past which this connection's transactions wait for the checkpoint thread (tests lower it). */
  constructor(readonly path: string, options: { walLimitBytes?: number } = {}) {
    const walLimit = options.walLimitBytes ?? walLimitBytes;
    // A file, not ':memory:': the group commit's writer thread opens it too.
    createDatabaseFilePrivately(path);
    try {
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
      // Checkpoints (a write of the file and two fsyncs) run on a thread, not on the event loop.
      this.db.pragma('wal_autocheckpoint = 0');
      this.db.pragma(`journal_size_limit = ${walLimit}`);
    } catch (error) {
      throw storeErrorFromSqlite(error);
    }
    this.checkpoints = new WalCheckpoints(path, () => {
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${sqliteDefaultAutocheckpoint}`);
    }, walLimit);
  }

  async query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.run<R>(sql, params);
  }

  scan<R>(sql: string, params: readonly unknown[]): Promise<R[]> {
    const readers = (this.readers ??= new ReaderProcesses(this.path, scanConcurrency, statementTimeoutMs));
    return this.scans.run(() => readers.read<R>(sql, params.map(bindable)));
  }

  async script(sql: string): Promise<void> {
    try {
      this.db.exec(sql);
    } catch (error) {
      throw storeErrorFromSqlite(error);
    }
  }

  async insertRows(table: string, columns: readonly string[], rows: unknown[][]): Promise<void> {
    try {
      const insert = this.prepared(insertSql(table, columns, 1));
      for (const row of rows) insert.run(...row.map(bindable));
    } catch (error) {
      throw storeErrorFromSqlite(error);
    }
  }

  private run<R>(sql: string, params: readonly unknown[]): R[] {
    try {
      const statement = this.prepared(sql);
      const values = params.map(bindable);
      if (statement.reader) return statement.all(...values) as R[];
      statement.run(...values);
      return [];
    } catch (error) {
      throw storeErrorFromSqlite(error);
    }
  }

  private prepared(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= maxPreparedStatements) this.statements.clear();
      this.statements.set(sql, (statement = this.db.prepare(sql)));
    }
    return statement;
  }

  /**
   * BEGIN IMMEDIATE takes the write lock at once, so the transaction cannot fail half-way for
   * want of it. `work` runs only this connection's synchronous statements, so no other request
   * interleaves; the queue keeps a second transaction from opening inside the first anyway.
   */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const run = async () => {
      const room = this.checkpoints.room();
      if (room) await room;
      if (options.durable === false) this.db.pragma('synchronous = OFF');
      try {
        await this.script('BEGIN IMMEDIATE');
        try {
          const result = await work(this);
          await this.script('COMMIT');
          return result;
        } catch (error) {
          if (this.db.inTransaction) this.db.exec('ROLLBACK');
          throw error;
        }
      } finally {
        if (options.durable === false) this.db.pragma('synchronous = NORMAL');
      }
    };
    const result = this.transactionTail.then(run, run);
    this.transactionTail = result.catch(() => {});
    return result;
  }

  insertOperation(operation: Operation, audit: AuditEvent): Promise<OperationInsertOutcome> {
    if (!this.operationInserts) {
      this.operationInserts = new GroupCommit(this.path);
      if (this.batchListener) this.operationInserts.onBatch(this.batchListener);
    }
    return this.operationInserts.submit(operation, audit);
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

  async afterBulkLoad(): Promise<void> {
    // SQLite plans the store's statements from their indexes alone, and an ANALYZE of a large
    // table would hold the event loop: nothing to do.
  }

  connections(): DatabaseConnections {
    // Reader processes start with the first scan: none before it.
    return { kind: 'sqlite', readers: this.readers?.size ?? 0, readersBusy: this.readers?.busy ?? 0 };
  }

  onCommitBatch(listener: (size: number) => void): void {
    this.batchListener = listener;
    this.operationInserts?.onBatch(listener);
  }

  async close(): Promise<void> {
    await this.operationInserts?.close();
    await this.readers?.close();
    await this.checkpoints.close();
    if (this.db.open) this.db.close();
  }
}

/** better-sqlite3 binds numbers, strings, bigints, buffers and null; booleans become 1/0. */
function bindable(value: unknown): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value === undefined ? null : value;
}
