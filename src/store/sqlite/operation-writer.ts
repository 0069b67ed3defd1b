import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { OperationInsertOutcome } from '../store.js';
import { operationInsertSql } from './operation-insert.js';
import { auditInsertColumns } from '../rows.js';
import { insertSql } from '../sql-driver.js';

/**
 * The writer thread of the group commit: inserts each batch of accepted operations in one
 * transaction on its own connection. Its fsync blocks this thread, not the event loop that
 * serves requests.
 */
const db = new Database((workerData as { path: string }).path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');
db.pragma('busy_timeout = 5000');
// The device check of every insert reads the devices index: keep it cached, as the main connection does.
db.pragma('cache_size = -65536');
const insert = db.prepare(operationInsertSql);
const insertAudit = db.prepare(insertSql('audit_events', auditInsertColumns, 1));

/** Each row: the operation's values and its audit event's, written only when the operation is. */
const writeBatch = db.transaction((rows: [unknown[], unknown[]][]) =>
  rows.map(([values, audit]): OperationInsertOutcome => {
    try {
      if (insert.run(...values).changes !== 1) return 'noDevice';
      insertAudit.run(...audit);
      return 'created';
    } catch (error) {
      // operations_one_pending: the statement is undone, the rest of the batch commits.
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return 'conflict';
      // Anything else (disk full, I/O) may have rolled the transaction back already: fail the
      // whole batch as one, so no row is written for a request that gets an error.
      throw error;
    }
  }),
);

// One batch at a time is in flight, so answers need no id: the next answer is the batch's.
parentPort!.on('message', (message: { rows: [unknown[], unknown[]][] } | 'close') => {
  if (message === 'close') {
    db.close();
    parentPort!.close();
    return;
  }
  try {
    parentPort!.postMessage({ outcomes: writeBatch.immediate(message.rows) });
  } catch (error) {
    // The commit failed (disk full, I/O error, lock timeout): nothing of the batch was accepted.
    parentPort!.postMessage({ failure: { error: (error as Error).message, code: (error as { code?: string }).code ?? null } });
  }
});
