import type { Logger } from 'pino';
import { terminalStatuses, type Operation } from '../domain/operation.js';
import type { Store } from '../store/store.js';
import { BackgroundLoop } from './background-loop.js';

/** Told each newer state of a watched operation; null when it is gone or the engine stops (the watch has ended). */
export type OperationListener = (operation: Operation | null) => void;

interface Watch {
  tenantId: string;
  deviceId: string;
  latest: Operation;
  listeners: Set<OperationListener>;
}

/**
 * Operations someone follows live (the console's event streams). Each watched operation is
 * read again every interval, however many follow it, so a change made by another replica is
 * seen within an interval; a change made here is passed on at once (`changed`). Between reads
 * nothing is held: no statement, no pooled connection. A watch ends with its operation's
 * terminal state, its last listener, or the engine's stop.
 */
export class OperationWatches {
  private readonly watches = new Map<string, Watch>();
  private readonly loop: BackgroundLoop;
  private stopped = false;

  constructor(private readonly store: Store, intervalMs: number, private readonly log: Logger) {
    this.loop = new BackgroundLoop('operation-watches', intervalMs, () => this.readAll(), log);
  }

  start(): void {
    this.stopped = false;
    this.loop.start();
  }

  /** Ends every watch (its listeners are told null), so event streams close before the server does. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop.stop();
    for (const [id, watch] of this.watches) this.end(id, watch, null);
  }

  /**
   * Follows an operation from the state the caller has read; the listener is told the newest
   * state known here at once when it is newer, then each change. Returns the unwatch function.
   */
  watch(operation: Operation, listener: OperationListener): () => void {
    if (this.stopped) {
      queueMicrotask(() => listener(null));
      return () => {};
    }
    let watch = this.watches.get(operation.id);
    if (!watch) {
      watch = { tenantId: operation.tenantId, deviceId: operation.deviceId, latest: operation, listeners: new Set() };
      this.watches.set(operation.id, watch);
    } else if (isNewer(watch.latest, operation)) {
      const latest = watch.latest;
      queueMicrotask(() => listener(latest));
    }
    watch.listeners.add(listener);
    const joined = watch;
    return () => {
      joined.listeners.delete(listener);
      if (joined.listeners.size === 0 && this.watches.get(operation.id) === joined) this.watches.delete(operation.id);
    };
  }

  /** A change made on this replica: its watchers hear of it now rather than at the next read. */
  changed(operation: Operation): void {
    const watch = this.watches.get(operation.id);
    if (watch) this.update(operation.id, watch, operation);
  }

  get watched(): number {
    return this.watches.size;
  }

  private async readAll(): Promise<void> {
    await Promise.all([...this.watches].map(async ([id, watch]) => {
      try {
        const operation = await this.store.getOperation(watch.tenantId, watch.deviceId, id);
        if (this.watches.get(id) !== watch) return;
        if (operation) this.update(id, watch, operation);
        else this.end(id, watch, null);
      } catch (error) {
        // The next interval reads it again; a stream waits meanwhile (its heartbeats go on).
        this.log.warn({ err: error, operationId: id }, 'could not read a watched operation');
      }
    }));
  }

  private update(id: string, watch: Watch, operation: Operation): void {
    // A read that began before a change made here may return after it: never go back.
    if (operation.lastActionDateTime < watch.latest.lastActionDateTime) return;
    if (JSON.stringify(operation) === JSON.stringify(watch.latest)) return;
    watch.latest = operation;
    if (terminalStatuses.includes(operation.status)) this.end(id, watch, operation);
    else for (const listener of watch.listeners) listener(operation);
  }

  private end(id: string, watch: Watch, last: Operation | null): void {
    this.watches.delete(id);
    for (const listener of watch.listeners) {
      if (last) listener(last);
      listener(null);
    }
  }
}

function isNewer(known: Operation, read: Operation): boolean {
  return known.lastActionDateTime > read.lastActionDateTime
    || (known.lastActionDateTime === read.lastActionDateTime && JSON.stringify(known) !== JSON.stringify(read));
}
