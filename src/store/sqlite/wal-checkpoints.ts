import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { closeWorker } from './worker-close.js';

/** How often the thread checkpoints: the WAL of 18,000 devices' presence and reports stays a few MB. */
const checkpointIntervalMs = 1000;
/**
 * 64 MiB. Every connection that writes sets it as its journal_size_limit, so the WAL file is cut
 * back to it whenever SQLite starts the WAL over: a file larger than this holds more than this.
 */
export const walLimitBytes = 64 * 1024 * 1024;

/**
 * Checkpoints of the WAL on a thread of their own. SQLite checkpoints in whichever connection
 * commits past 1,000 WAL pages, and a checkpoint writes those pages into the database file and
 * fsyncs both files: on the event loop's connection (device reports, presence, transitions)
 * that held every request for as long as the disk took. The event loop's connection turns
 * its automatic checkpoints off and this thread runs them instead. Durability is unchanged:
 * a commit is in the WAL either way; the checkpoint only moves it into the main file.
 *
 * SQLite starts the WAL over only when a write begins after a checkpoint has copied all of it.
 * A connection that writes back to back (seeding a million devices) never left the thread that
 * moment, and the WAL grew with everything written (16 GB while the filters benchmark seeded a
 * million devices, until the disk was full). So once the WAL is past its limit, the event loop's
 * connection waits, without blocking the event loop, for a round run at once before its next
 * transaction; when that round copied everything, the transaction's write starts the WAL over.
 */
export class WalCheckpoints {
  private readonly worker: Worker;
  private readonly walPath: string;
  private roundWaiters: (() => void)[] = [];
  private running = true;

  /** `fallback`: the thread failed; the event loop's connection must checkpoint again, or the WAL grows without end. */
  constructor(path: string, fallback: () => void, private readonly limitBytes = walLimitBytes) {
    this.walPath = `${path}-wal`;
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { path, intervalMs: checkpointIntervalMs } });
    this.worker.unref();
    this.worker.on('message', () => this.endWaits());
    this.worker.on('error', () => {
      this.running = false;
      this.endWaits();
      fallback();
    });
  }

  /**
   * Null while the WAL is within its limit; past it, a promise of the end of a round the
   * thread runs now. One round per call, whatever it achieved: a writer that keeps coming back
   * is slowed to the thread's pace, never stopped (a reader may keep the WAL from starting over).
   */
  room(): Promise<void> | null {
    if (!this.running || walSize(this.walPath) <= this.limitBytes) return null;
    if (this.roundWaiters.length === 0) {
      // Referenced while a transaction waits for it: a process with nothing else to do (the
      // `seed` command) would otherwise end with the transaction never run.
      this.worker.ref();
      this.worker.postMessage('now');
    }
    return new Promise((resolve) => this.roundWaiters.push(resolve));
  }

  private endWaits(): void {
    const waiters = this.roundWaiters;
    this.roundWaiters = [];
    this.worker.unref();
    for (const resolve of waiters) resolve();
  }

  async close(): Promise<void> {
    this.running = false;
    this.endWaits();
    await closeWorker(this.worker);
  }
}

function walSize(walPath: string): number {
  return statSync(walPath, { throwIfNoEntry: false })?.size ?? 0;
}
