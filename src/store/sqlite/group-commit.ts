import type Database from 'better-sqlite3';

interface Pending<T, R> {
  item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/**
 * Group commit: writes that arrive in the same turn of the event loop share one transaction,
 * so one fsync covers many accepted requests. Each caller is answered only after the commit
 * that holds its write, so a 202 still means "on disk". `write` runs inside the transaction;
 * an error it throws for one item fails that item alone.
 */
export class GroupCommit<T, R> {
  private queue: Pending<T, R>[] = [];
  private scheduled = false;

  constructor(
    private readonly db: Database.Database,
    private readonly write: (item: T) => R,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    const outcomes: ({ ok: true; value: R } | { ok: false; error: unknown })[] = [];
    try {
      this.db.transaction(() => {
        for (const pending of batch) {
          try {
            outcomes.push({ ok: true, value: this.write(pending.item) });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      })();
    } catch (error) {
      // The commit itself failed (disk full, I/O error): nothing in the batch was accepted.
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, i) => {
      const outcome = outcomes[i];
      if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
  }
}
