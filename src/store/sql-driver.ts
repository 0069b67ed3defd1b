import type { AuditEvent } from '../domain/audit.js';
import type { Operation } from '../domain/operation.js';
import type { DatabaseConnections } from './store-monitor.js';
import type { OperationInsertOutcome } from './store.js';

/**
 * Runs statements written once for both databases: `?` placeholders (the PostgreSQL driver
 * numbers them), values always as parameters. A `?` never appears inside an SQL literal here.
 */
export interface SqlExecutor {
  /**
   * Runs one statement and returns its rows (none for a statement without RETURNING).
   * `name`: a statement run often enough to keep prepared on every PostgreSQL connection;
   * SQLite keeps every statement it has run prepared.
   */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[], name?: string): Promise<R[]>;
  /** Runs several statements without parameters (migrations). */
  script(sql: string): Promise<void>;
  /**
   * Inserts rows (values in `columns` order) in as few round trips as the database needs:
   * SQLite runs one prepared single-row INSERT per row (no network, and binding a long
   * VALUES list costs it more); PostgreSQL sends thousands of rows per INSERT, one array per column.
   */
  insertRows(table: string, columns: readonly string[], rows: unknown[][]): Promise<void>;
}

/**
 * How long one statement may run before the store gives up on it with StoreUnavailableError (a
 * 503 with Retry-After): PostgreSQL's server cancels it; a SQLite reader process is killed.
 */
export const statementTimeoutMs = 5000;

/** `INSERT INTO table (columns) VALUES (?, …), …` for `rowCount` rows. */
export function insertSql(table: string, columns: readonly string[], rowCount: number): string {
  const row = `(${columns.map(() => '?').join(', ')})`;
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array.from({ length: rowCount }, () => row).join(', ')}`;
}

export interface TransactionOptions {
  /**
   * Transactions naming the same key run one after another (PostgreSQL: an advisory lock;
   * SQLite: every write transaction already holds the database's one write lock).
   */
  lockKey?: string;
  /** false: data that can be written again (seeding) commits without waiting for the disk. */
  durable?: boolean;
  /**
   * true: no statementTimeoutMs for the transaction's statements. Only for work no request
   * waits on: migrations (an index built over a million devices takes longer) and ANALYZE.
   */
  unlimitedTime?: boolean;
  /**
   * true: the transaction waits on rows that many concurrent ones lock (an enrollment: its
   * token's use count and its tenant's device count). At most half the pool runs such
   * transactions at once (PostgreSQL; SQLite runs one write transaction at a time anyway), so
   * a burst of them queues in memory instead of taking every connection while it waits, and
   * polls, presence and admins keep the rest.
   */
  contended?: boolean;
}

/** Column types a migration names; each dialect spells them its own way. */
export interface ColumnTypes {
  /** text that is filtered, ordered or range-scanned: byte order in both databases */
  key: string;
  timestamp: string;
  json: string;
  boolean: string;
  /** an ever-increasing 64-bit row number that is the primary key */
  sequenceKey: string;
  /** raw bytes (artifact chunks) */
  bytes: string;
}

/** What differs in the statements themselves. */
export interface SqlDialect {
  readonly name: 'sqlite' | 'postgres';
  readonly types: ColumnTypes;
  /** ends a SELECT that claims rows to change: PostgreSQL leaves rows other transactions hold to them */
  readonly skipLocked: string;
  /** ends the SELECT of a read-modify-write transaction: PostgreSQL locks the row (SQLite's transaction holds the write lock) */
  readonly forUpdate: string;
  /**
   * Whether reads of single rows made together are worth coalescing into one statement: on
   * PostgreSQL each statement is a round trip; SQLite's are calls within the process, where
   * waiting a turn of the event loop to coalesce costs more than it saves.
   */
  readonly coalescesReads: boolean;
}

/**
 * One database behind the store: the statements it runs, and the few mechanisms that really
 * differ between SQLite (one process) and PostgreSQL (several replicas). Every error it
 * throws for a database condition is one of the store's own (store-errors.ts).
 */
export interface SqlDriver extends SqlExecutor {
  readonly dialect: SqlDialect;
  /** Runs `work` in one transaction; `work` must use only the executor it is given. */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Group commit of accepted operations: answers after the commit that holds the row, and
   * tells other replicas' long-polls (see Store.createOperation); the audit event is written
   * in the same commit when the row is created.
   */
  insertOperation(operation: Operation, audit: AuditEvent): Promise<OperationInsertOutcome>;
  notifyWork(deviceId: string): Promise<void>;
  onWork(listener: (deviceId: string) => void): void;
  holdsSupervisorLease(): Promise<boolean>;
  takeRateToken(key: string, capacity: number, perSecond: number): Promise<number | null>;
  /**
   * A read that may examine thousands of rows (a filtered device page): SQLite runs it in a
   * reader process, so the event loop keeps serving meanwhile; PostgreSQL's server does the
   * work anyway. Past statementTimeoutMs it fails with StoreUnavailableError.
   */
  scan<R = Record<string, unknown>>(sql: string, params: readonly unknown[]): Promise<R[]>;
  /**
   * After a bulk load (seeding): PostgreSQL refreshes the planner's statistics and the
   * visibility map, without which an index-only read visits the table for every entry (what
   * autovacuum would do a minute later); SQLite has nothing to do.
   */
  afterBulkLoad(table: string): Promise<void>;
  /** The connections this process holds now (for metrics; no statement is run). */
  connections(): DatabaseConnections;
  /** Calls `listener` with the number of operations in each group commit. */
  onCommitBatch(listener: (size: number) => void): void;
  close(): Promise<void>;
}
