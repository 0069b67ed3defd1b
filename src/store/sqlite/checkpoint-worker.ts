import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/**
 * The checkpoint thread: copies the WAL's committed pages into the database file every
 * `intervalMs` on its own connection (wal-checkpoints.ts says why), and at once when asked
 * (`'now'`, answered with `'done'`). PASSIVE: it never waits for readers or the writer, and
 * leaves what they still use for the next round.
 */
const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const db = new Database(path);
db.pragma('busy_timeout = 5000');
// This connection's own commits (it makes none) would checkpoint anyway; rounds are explicit.
db.pragma('wal_autocheckpoint = 0');

function round(): void {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // SQLITE_BUSY and the like: the next round tries again; the WAL keeps every commit meanwhile.
  }
}

const timer = setInterval(round, intervalMs);

parentPort!.on('message', (message: 'close' | 'now') => {
  if (message === 'now') {
    round();
    parentPort!.postMessage('done');
    return;
  }
  if (message !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort!.close();
});
