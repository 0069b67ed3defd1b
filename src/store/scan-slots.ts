import { availableParallelism } from 'node:os';
import { StoreUnavailableError } from './store-errors.js';

/**
 * Reads that examine thousands of rows (filtered device pages) run this many at a time per
 * process: half the cores, at least one. Clients that send them all at once then wait for one
 * another, and the other cores stay free for everything else (another tenant's reads, 202s,
 * long-polls), instead of every core being taken by scans.
 */
export const scanConcurrency = Math.max(1, Math.floor(availableParallelism() / 2));

interface Waiter {
  admit(): void;
  timer: NodeJS.Timeout;
}

/**
 * A first-come, first-served queue of `size` slots. A read that waits longer than `waitLimitMs`
 * for a slot fails with the store's "unavailable" error (a 503 with Retry-After), so a flood of
 * slow filters is turned away instead of queueing without end. The PostgreSQL driver queues
 * contended transactions (enrollments) the same way.
 */
export class ScanSlots {
  private free: number;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly waitLimitMs: number, size = scanConcurrency, private readonly what = 'slow reads') {
    this.free = size;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await this.slot();
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) {
        clearTimeout(next.timer);
        next.admit();
      } else {
        this.free++;
      }
    }
  }

  private slot(): Promise<void> {
    return new Promise<void>((admit, refuse) => {
      const waiter: Waiter = {
        admit,
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          refuse(new StoreUnavailableError(`too many ${this.what}: this one waited ${this.waitLimitMs} ms for its turn`));
        }, this.waitLimitMs),
      };
      this.waiting.push(waiter);
    });
  }
}
