import { Worker } from 'node:worker_threads';
import type { AuditEvent } from '../../domain/audit.js';
import type { Operation } from '../../domain/operation.js';
import { auditValues } from '../rows.js';
import type { OperationInsertOutcome } from '../store.js';
import { operationInsertValues } from './operation-insert.js';
import { StoreUnavailableError } from '../store-errors.js';
import { storeErrorFromSqlite } from './sqlite-errors.js';
import { closeWorker } from './worker-close.js';

interface Pending {
  operation: Operation;
  audit: AuditEvent;
  resolve(result: OperationInsertOutcome): void;
  reject(error: unknown): void;
}

/**
 * Group commit of accepted operations. Requests that arrive while a batch is being written
 * wait together for the next one, so one fsync covers many 202s; each caller is answered
 * only after the commit that holds its row, so a 202 still means "on disk". The writing
 * (and its fsync) happens on a worker thread, so the event loop keeps serving meanwhile.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private inFlight: Pending[] | null = null;
  private readonly worker: Worker;
  private closed = false;
  private batchListener: ((size: number) => void) | null = null;

  constructor(path: string) {
    this.worker = new Worker(new URL('./operation-writer.js', import.meta.url), { workerData: { path } });
    this.worker.unref();
    this.worker.on('message', (message: { outcomes?: OperationInsertOutcome[]; failure?: { error: string; code: string | null } }) =>
      this.settle(message));
    this.worker.on('error', (error) => this.failAll(storeErrorFromSqlite(error)));
  }

  submit(operation: Operation, audit: AuditEvent): Promise<OperationInsertOutcome> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('the store is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ operation, audit, resolve, reject });
      if (!this.inFlight) this.send();
    });
  }

  /** Calls `listener` with each batch's size as it goes to the writer thread. */
  onBatch(listener: (size: number) => void): void {
    this.batchListener = listener;
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.inFlight || this.queue.length) await new Promise((r) => setTimeout(r, 5));
    await closeWorker(this.worker);
  }

  private send(): void {
    if (this.queue.length === 0) return;
    this.inFlight = this.queue;
    this.queue = [];
    this.batchListener?.(this.inFlight.length);
    // Rows as plain value arrays: cheaper to copy to the thread than operation objects.
    this.worker.postMessage({ rows: this.inFlight.map((p) => [operationInsertValues(p.operation), auditValues(p.audit)]) });
  }

  private settle(message: { outcomes?: OperationInsertOutcome[]; failure?: { error: string; code: string | null } }): void {
    const batch = this.inFlight ?? [];
    this.inFlight = null;
    batch.forEach((pending, i) => {
      if (message.failure) pending.reject(storeError(message.failure));
      else pending.resolve(message.outcomes![i]);
    });
    this.send();
  }

  private failAll(error: unknown): void {
    const batch = [...(this.inFlight ?? []), ...this.queue];
    this.inFlight = null;
    this.queue = [];
    for (const pending of batch) pending.reject(error);
  }
}

/** The writer thread's failure as the store's error (SQLITE_BUSY / SQLITE_FULL: unavailable, a 503). */
function storeError(failure: { error: string; code: string | null }): unknown {
  return storeErrorFromSqlite(Object.assign(new Error(failure.error), { code: failure.code ?? undefined }));
}
