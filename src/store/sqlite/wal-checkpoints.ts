import { Worker } from 'node:worker_threads';
import { closeWorker } from './worker-close.js';

/** How often the thread checkpoints: the WAL of 18,000 devices' presence and reports stays a few MB. */
const checkpointIntervalMs = 1000;

/**
 * Checkpoints of the WAL on a thread of their own. SQLite checkpoints in whichever connection
 * commits past 1,000 WAL pages, and a checkpoint writes those pages into the database file and
 * fsyncs both files: on the event loop's connection (device reports, presence, transitions)
 * that held every request for as long as the disk took. The event loop's connection turns
 * its automatic checkpoints off and this thread runs them instead. Durability is unchanged:
 * a commit is in the WAL either way; the checkpoint only moves it into the main file.
 */
export class WalCheckpoints {
  private readonly worker: Worker;

  /** `fallback`: the thread failed; the event loop's connection must checkpoint again, or the WAL grows without end. */
  constructor(path: string, fallback: () => void) {
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { path, intervalMs: checkpointIntervalMs } });
    this.worker.unref();
    this.worker.on('error', fallback);
  }

  async close(): Promise<void> {
    await closeWorker(this.worker);
  }
}
