import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { OperationInsertOutcome } from '../store.js';
import { deviceExistsSql, operationInsertSql } from './operation-insert.js';
import { auditInsertColumns } from '../rows.js';
import { insertSql } from '../sql-driver.js';
import { walLimitBytes } from './wal-checkpoints.js';

/**
 * The writer thread of the group commit: inserts each batch of accepted operations in one
 * transaction on its own connection. Its fsync blocks this thread, not the event loop that
 * serves requests.
 */
const db = new Database((workerData as { path: string }).path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
// Off on this connection alone: the insert's own WHERE EXISTS is the operation's device check,
// in the write transaction that holds the lock, so nothing can remove the device in between.
// The foreign key's check would read the same index again and, on a statement that may insert
// several rows, make SQLite keep a statement journal of every page the row touches.
db.pragma('foreign_keys = OFF');
db.pragma('busy_timeout = 5000');
// The WAL file is cut back to its limit whenever this connection starts it over (wal-checkpoints.ts).
db.pragma(`journal_size_limit = ${walLimitBytes}`);
// Small: at the end of every write transaction SQLite walks this connection's page-cache hash
// table, whose size follows the cache's (with 64 MiB it was a tenth of the writer's time per
// row when devices are updated in random order). The file's pages stay in the OS page cache.
db.pragma('cache_size = -4096');
const insert = db.prepare(operationInsertSql);
const deviceExists = db.prepare(deviceExistsSql).pluck();
const insertAudit = db.prepare(insertSql('audit_events', auditInsertColumns, 1));

/**
 * Each row: the operation's values and its audit event's, written only when the operation is.
 * An insert that wrote nothing met either no device or a unique index (operations_one_pending:
 * a pending operation of the same kind); the device's presence, read in this transaction, says
 * which. Any error (disk full, I/O) fails the whole batch as one, so no row is written for a
 * request that gets an error.
 */
const writeBatch = db.transaction((rows: [unknown[], unknown[]][]) =>
  rows.map(([values, audit]): OperationInsertOutcome => {
    if (insert.run(...values).changes === 1) {
      insertAudit.run(...audit);
      return 'created';
    }
    // The device's tenant and id are the insert's last two values (its WHERE EXISTS).
    return deviceExists.get(...values.slice(-2)) === undefined ? 'noDevice' : 'conflict';
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
