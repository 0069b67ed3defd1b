import { availableParallelism } from 'node:os';

/**
 * Reads that examine thousands of rows (filtered device pages) run this many at a time per
 * process: half the cores, at least one. Clients that send them all at once then wait for one
 * another, and the other cores stay free for everything else (another tenant's reads, 202s,
 * long-polls), instead of every core being taken by scans.
 */
export const scanConcurrency = Math.max(1, Math.floor(availableParallelism() / 2));

/** A first-come, first-served queue of `size` slots. */
export class ScanSlots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size = scanConcurrency) {
    this.free = size;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}
