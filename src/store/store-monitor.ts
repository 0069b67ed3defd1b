/** Open operations of one type and status, as counted by the store. */
export interface OperationCount {
  operationType: string;
  status: string;
  count: number;
}

/**
 * The database's connections as this process holds them: PostgreSQL's pool, or SQLite's
 * reader processes (the scans run there; the one connection on the event loop is never "busy").
 */
export type DatabaseConnections =
  | { kind: 'postgres'; total: number; idle: number; waiting: number }
  | { kind: 'sqlite'; readers: number; readersBusy: number };

/**
 * What the operator's metrics and readiness probe need from the store (`Store.monitor`), so
 * the http layer never reaches into a driver. Reads here run at scrape or probe time, each
 * one statement served by a partial index.
 */
export interface StoreMonitor {
  /** Operations not yet ended (queued, scheduled, inProgress) by type and status, store-wide (every replica's). */
  openOperations(): Promise<OperationCount[]>;
  /** Devices the store considers connected (heard from within the heartbeat timeout), store-wide. */
  connectedDevices(): Promise<number>;
  connections(): DatabaseConnections;
  /** Calls `listener` with the size of each group commit of accepted operations this process writes. */
  onCommitBatch(listener: (size: number) => void): void;
  /** Calls `listener` each time a statement of this process moves an operation into a status (created included). */
  onOperationStatus(listener: (operationType: string, status: string) => void): void;
  /**
   * Resolves when the database answers within `timeoutMs` and has every migration this
   * release knows; else throws StoreUnavailableError saying which.
   */
  checkReady(timeoutMs: number): Promise<void>;
}
