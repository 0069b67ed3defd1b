import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { StoreUnavailableError } from '../store-errors.js';
import { storeErrorFromSqlite } from './sqlite-errors.js';

interface Read {
  id: number;
  sql: string;
  params: unknown[];
  resolve(rows: unknown[]): void;
  reject(error: unknown): void;
}

interface Reader {
  process: ChildProcess;
  ready: boolean;
  /** the read it runs, with the timer of its time limit */
  running: { read: Read; timer: NodeJS.Timeout } | null;
}

type ReaderMessage = { ready: true } | { id: number; rows?: unknown[]; failure?: { error: string; code: string | null } };

const readerScript = fileURLToPath(new URL('./reader-process.js', import.meta.url));

/**
 * Processes for the reads that may examine thousands of rows (filtered device pages). SQLite
 * runs a statement synchronously: on the event loop's connection one such read holds every
 * other request, long-polls and heartbeats included; here it holds a process of its own.
 *
 * Processes and not threads, for the time limit: better-sqlite3 cannot interrupt a running
 * statement, and a thread cannot be stopped inside one, but a process can be killed. A read
 * still running after `timeLimitMs` fails with the store's "unavailable" error (a 503), its
 * process is killed, which ends the statement, and a new one takes its place.
 */
export class ReaderProcesses {
  private readonly readers: Reader[] = [];
  private readonly waiting: Read[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly path: string, size: number, private readonly timeLimitMs: number) {
    for (let i = 0; i < size; i++) this.readers.push(this.startReader());
  }

  read<R>(sql: string, params: unknown[]): Promise<R[]> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('the store is closed'));
    return new Promise<R[]>((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, sql, params, resolve: resolve as (rows: unknown[]) => void, reject });
      this.dispatch();
      this.holdProcessOpen();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const read of this.waiting.splice(0)) read.reject(new StoreUnavailableError('the store is closed'));
    for (const reader of this.readers) {
      if (reader.running) this.finish(reader, null, new StoreUnavailableError('the store is closed'));
      reader.process.kill('SIGKILL');
    }
  }

  private startReader(): Reader {
    // execArgv: none of the parent's (a test runner's or profiler's flags are not the reader's).
    const child = fork(readerScript, [this.path], { serialization: 'advanced', execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const reader: Reader = { process: child, ready: false, running: null };
    child.unref();
    child.channel?.unref();
    child.on('message', (message: ReaderMessage) => {
      if ('ready' in message) {
        reader.ready = true;
        this.dispatch();
      } else if (reader.running?.read.id === message.id) {
        if (message.failure) this.finish(reader, null, storeErrorFromSqlite(Object.assign(new Error(message.failure.error), { code: message.failure.code ?? undefined })));
        else this.finish(reader, message.rows!, null);
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
      const timer = setTimeout(() => this.replace(reader, new StoreUnavailableError(`a read ran past its ${this.timeLimitMs} ms time limit`)), this.timeLimitMs);
      reader.running = { read, timer };
      reader.process.send({ id: read.id, sql: read.sql, params: read.params });
    }
  }

  private finish(reader: Reader, rows: unknown[] | null, error: unknown): void {
    const running = reader.running!;
    clearTimeout(running.timer);
    reader.running = null;
    if (error) running.read.reject(error);
    else running.read.resolve(rows!);
    this.dispatch();
    this.holdProcessOpen();
  }

  /** The readers keep this process running only while a read waits for them. */
  private holdProcessOpen(): void {
    const busy = this.waiting.length > 0 || this.readers.some((reader) => reader.running);
    for (const reader of this.readers) {
      if (busy) reader.process.channel?.ref();
      else reader.process.channel?.unref();
    }
  }

  /** A reader that ran out of time or ended: its read fails, it is killed, a new one takes its place. */
  private replace(reader: Reader, error: unknown): void {
    const index = this.readers.indexOf(reader);
    if (this.closed || index === -1) return;
    reader.process.kill('SIGKILL');
    this.readers[index] = this.startReader();
    if (reader.running) this.finish(reader, null, error);
    else this.holdProcessOpen();
  }
}
