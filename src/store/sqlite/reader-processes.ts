import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { StoreUnavailableError } from '../store-errors.js';
import { storeErrorFromSqlite } from './sqlite-errors.js';

/** Scheduling priority of reader processes (nice 10): below the server's. */
const readerNiceness = 10;

interface Read {
  id: number;
  sql: string;
  params: unknown[];
  resolve(rows: unknown[]): void;
  reject(error: unknown): void;
  /** the time limit, from the moment the read is asked for */
  timer: NodeJS.Timeout;
}

interface Reader {
  process: ChildProcess;
  ready: boolean;
  running: Read | null;
}

type ReaderMessage = { ready: true } | { id: number; rows?: unknown[]; failure?: { error: string; code: string | null } };

const readerScript = fileURLToPath(new URL('./reader-process.js', import.meta.url));

/** A reader that ends before it is ready (the file cannot be opened) is started again after this, not at once. */
const restartDelayMs = 1000;

/**
 * Processes for the reads that may examine thousands of rows (filtered device pages). SQLite
 * runs a statement synchronously: on the event loop's connection one such read holds every
 * other request, long-polls and heartbeats included; here it holds a process of its own.
 *
 * Processes and not threads, for the time limit: better-sqlite3 cannot interrupt a running
 * statement, and a thread cannot be stopped inside one, but a process can be killed. A read
 * not answered within `timeLimitMs` fails with the store's "unavailable" error (a 503); if it
 * was running, its process is killed, which ends the statement, and a new one takes its place.
 */
export class ReaderProcesses {
  private readonly readers: Reader[] = [];
  private readonly waiting: Read[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly path: string, size: number, private readonly timeLimitMs: number) {
    for (let i = 0; i < size; i++) this.readers.push(this.startReader());
  }

  get size(): number {
    return this.readers.length;
  }

  /** Readers running a statement now. */
  get busy(): number {
    return this.readers.filter((reader) => reader.running).length;
  }

  read<R>(sql: string, params: unknown[]): Promise<R[]> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('the store is closed'));
    return new Promise<R[]>((resolve, reject) => {
      const read: Read = {
        id: this.nextId++, sql, params, resolve: resolve as (rows: unknown[]) => void, reject,
        timer: setTimeout(() => this.timedOut(read), this.timeLimitMs),
      };
      this.waiting.push(read);
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const unavailable = new StoreUnavailableError('the store is closed');
    for (const read of this.waiting.splice(0)) this.settle(read, null, unavailable);
    for (const reader of this.readers) {
      if (reader.running) this.settle(reader.running, null, unavailable);
      reader.running = null;
      reader.process.kill('SIGKILL');
    }
  }

  private startReader(): Reader {
    // execArgv: none of the parent's (a test runner's or profiler's flags are not the reader's).
    const child = fork(readerScript, [this.path], { serialization: 'advanced', execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const reader: Reader = { process: child, ready: false, running: null };
    // A long read yields the CPU to the server's own process, which answers every other request.
    try {
      if (child.pid !== undefined) setPriority(child.pid, readerNiceness);
    } catch {
      // not permitted here: the reader runs at the server's priority
    }
    child.unref();
    child.channel?.unref();
    child.on('message', (message: ReaderMessage) => {
      if ('ready' in message) {
        reader.ready = true;
        this.dispatch();
      } else if (reader.running?.id === message.id) {
        const read = reader.running;
        reader.running = null;
        if (message.failure) this.settle(read, null, storeErrorFromSqlite(Object.assign(new Error(message.failure.error), { code: message.failure.code ?? undefined })));
        else this.settle(read, message.rows!, null);
        this.dispatch();
      }
    });
    child.once('exit', (code, signal) => this.replace(reader, new StoreUnavailableError(`a reader process ended (${signal ?? `code ${code}`})`)));
    child.on('error', () => {});
    return reader;
  }

  private dispatch(): void {
    for (const reader of this.readers) {
      if (!reader.ready || reader.running || this.waiting.length === 0) continue;
      const read = this.waiting.shift()!;
      reader.running = read;
      reader.process.send({ id: read.id, sql: read.sql, params: read.params });
    }
    this.holdProcessOpen();
  }

  private settle(read: Read, rows: unknown[] | null, error: unknown): void {
    clearTimeout(read.timer);
    if (error) read.reject(error);
    else read.resolve(rows!);
  }

  private timedOut(read: Read): void {
    const error = new StoreUnavailableError(`a read ran past its ${this.timeLimitMs} ms time limit`);
    const reader = this.readers.find((r) => r.running === read);
    if (reader) {
      this.replace(reader, error);
      return;
    }
    const index = this.waiting.indexOf(read);
    if (index !== -1) this.waiting.splice(index, 1);
    this.settle(read, null, error);
    this.holdProcessOpen();
  }

  /** A reader that ran out of time or ended: its read fails, it is killed, a new one takes its place. */
  private replace(reader: Reader, error: unknown): void {
    const index = this.readers.indexOf(reader);
    if (this.closed || index === -1) return;
    this.readers.splice(index, 1);
    reader.process.kill('SIGKILL');
    if (reader.running) this.settle(reader.running, null, error);
    reader.running = null;
    const restart = () => {
      if (this.closed) return;
      this.readers.push(this.startReader());
      this.dispatch();
    };
    if (reader.ready) restart();
    else setTimeout(restart, restartDelayMs).unref();
    this.dispatch();
  }

  /** The readers keep this process running only while a read waits for them. */
  private holdProcessOpen(): void {
    const busy = this.waiting.length > 0 || this.readers.some((reader) => reader.running);
    for (const reader of this.readers) {
      if (busy) reader.process.channel?.ref();
      else reader.process.channel?.unref();
    }
  }
}
