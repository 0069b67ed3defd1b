import { migrations } from './migrations.js';
import type { SqlDriver } from './sql-driver.js';
import { StoreUnavailableError } from './store-errors.js';
import type { DatabaseConnections, OperationCount, StoreMonitor } from './store-monitor.js';

const newestMigration = Math.max(...migrations.map((m) => m.version));

/** The monitor of a SqlStore; the store reports operation statuses to it through `operationEntered`. */
export class SqlStoreMonitor implements StoreMonitor {
  private readonly statusListeners: ((operationType: string, status: string) => void)[] = [];

  constructor(private readonly sql: SqlDriver) {}

  async openOperations(): Promise<OperationCount[]> {
    // Each half reads one partial index (its status condition word for word, and a range on its
    // column, without which SQLite scans the table): the work is the open operations', however
    // many ended ones the table holds. Every pending operation has a start deadline and every
    // running one a run deadline (both set since migration 2 added them). Still one row per open
    // operation: a scan, so SQLite reads them in a reader process, off the event loop.
    const rows = await this.sql.scan<{ operation_type: string; status: string; n: number | string }>(
      `SELECT operation_type, status, count(*) AS n FROM operations
       WHERE status IN ('queued', 'scheduled') AND start_deadline IS NOT NULL GROUP BY operation_type, status
       UNION ALL
       SELECT operation_type, status, count(*) AS n FROM operations
       WHERE status = 'inProgress' AND run_deadline IS NOT NULL GROUP BY operation_type, status`,
      [],
    );
    return rows.map((r) => ({ operationType: r.operation_type, status: r.status, count: Number(r.n) }));
  }

  async connectedDevices(): Promise<number> {
    // devices_connected_by_last_seen's condition: the partial index holds exactly these rows, one
    // per connected device (a scan, like the open operations).
    const [row] = await this.sql.scan<{ n: number | string }>(
      `SELECT count(*) AS n FROM devices WHERE connection_status = 'connected' AND last_seen_at IS NOT NULL`, [],
    );
    return Number(row.n);
  }

  connections(): DatabaseConnections {
    return this.sql.connections();
  }

  onCommitBatch(listener: (size: number) => void): void {
    this.sql.onCommitBatch(listener);
  }

  onOperationStatus(listener: (operationType: string, status: string) => void): void {
    this.statusListeners.push(listener);
  }

  /** Called by the store after a statement moved operations into their current status. */
  operationEntered(operations: readonly { operationType: string; status: string }[]): void {
    if (this.statusListeners.length === 0) return;
    for (const operation of operations) for (const listener of this.statusListeners) listener(operation.operationType, operation.status);
  }

  async checkReady(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError(`the database did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const [row] = await Promise.race([
        this.sql.query<{ version: number | string | null }>('SELECT max(version) AS version FROM schema_migrations', [], 'newest-migration'),
        late,
      ]);
      const version = Number(row?.version ?? 0);
      if (version < newestMigration) throw new StoreUnavailableError(`the database is at migration ${version}; this release needs ${newestMigration}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
