import type { Worker } from 'node:worker_threads';

/**
 * Asks a store thread to close (its `'close'` message) and waits for it to exit, at most
 * `limitMs`: a thread stuck in a statement must not hold the server's shutdown for ever.
 */
export async function closeWorker(worker: Worker, limitMs = 2000): Promise<void> {
  // Referenced while closing: an unreferenced worker would let the process end mid-close.
  worker.ref();
  worker.postMessage('close');
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, limitMs);
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
