import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createPostgresDatabase, testStore } from './test-database.js';

/**
 * The `teamwork-devices` command as an operator runs it: the built bin as a child process,
 * from the repository root, on a fresh database of the store under test (a SQLite file in a
 * temporary folder, or a fresh PostgreSQL database when TWD_TEST_STORE=postgres).
 */

// dist/test/helpers/cli-process.js → repository root
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const binPath = join(repoRoot, 'bin', 'teamwork-devices.js');
const execFileAsync = promisify(execFile);

/** Runs one CLI command to completion; rejects on a non-zero exit code. */
export async function runCli(args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(process.execPath, [binPath, ...args], {
    cwd: repoRoot,
    timeout: timeoutMs,
    env: { ...process.env, NO_COLOR: '1' },
    maxBuffer: 16 * 1024 * 1024,
  });
}

/** How a CLI process ended, and everything it wrote. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running CLI process: its output so far, and its end. */
export interface RunningCli {
  output(): string;
  done: Promise<CliRun>;
}

/** Starts a process with stdout and stderr piped and collected; killed after 30 s. */
export function spawnCollected(file: string, args: string[], env: NodeJS.ProcessEnv): RunningCli {
  const child = spawn(file, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const done = new Promise<CliRun>((resolve) => child.once('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
  return { output: () => stdout + stderr, done };
}

/** `teamwork-devices …` with stdout and stderr piped (no terminal), in the environment given. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv): RunningCli {
  return spawnCollected(process.execPath, [binPath, ...args], env);
}

const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

/**
 * `teamwork-devices …` under a pseudo-terminal (stdin, stdout and stderr) made by util-linux
 * `script`, its output merged as a terminal shows it (in `stdout`, with CR LF line ends).
 */
export function spawnCliOnTerminal(args: string[], env: NodeJS.ProcessEnv): RunningCli {
  const command = [process.execPath, binPath, ...args].map(quote).join(' ');
  return spawnCollected('script', ['-qfec', command, '/dev/null'], { ...env, TERM: 'xterm' });
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((done) => probe.close(() => done()));
  return port;
}

export interface FreshDatabase {
  /** the --db value */
  db: string;
  /** a temporary folder for this database's files (SQLite) or anything else */
  dir: string;
  drop(): Promise<void>;
}

/** A fresh database of the store under test. */
export async function freshDatabase(): Promise<FreshDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'twd-proc-'));
  if (testStore === 'postgres') {
    const pg = await createPostgresDatabase();
    return {
      db: pg.url,
      dir,
      async drop() {
        await pg.drop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  return {
    db: join(dir, 'teamwork-devices.db'),
    dir,
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when the process exited */
  at: number;
}

/** `teamwork-devices serve` as a child process. */
export class ServeProcess {
  readonly exited: Promise<Exit>;
  private output = '';

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    this.exited = new Promise((done) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        done({ code: child.exitCode, signal: child.signalCode as NodeJS.Signals | null, at: Date.now() });
      } else child.once('exit', (code, signal) => done({ code, signal, at: Date.now() }));
    });
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
  }

  /** Starts `serve --db <db> --port <free port> --log-level warn [...extra]` and waits until it listens. */
  static async start(db: string, extra: string[] = [], timeoutMs = 20_000): Promise<ServeProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [binPath, 'serve', '--db', db, '--port', String(port), '--log-level', 'warn', ...extra], {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => (output += chunk.toString());
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => finish(new Error(`serve did not start within ${timeoutMs} ms; output:\n${output}`)), timeoutMs);
      const check = () => {
        if (/listening on http:\/\/\S+/.test(output)) finish(null);
      };
      const exited = (code: number | null, signal: string | null) =>
        finish(new Error(`serve exited (${code ?? signal}) before listening; output:\n${output}`));
      const finish = (error: Error | null) => {
        clearTimeout(timer);
        child.stdout.off('data', check);
        child.off('exit', exited);
        if (error) {
          child.kill('SIGKILL');
          fail(error);
        } else done();
      };
      child.stdout.on('data', check);
      child.once('exit', exited);
      check();
    });
    child.stdout.off('data', collect);
    child.stderr.off('data', collect);
    const server = new ServeProcess(child, `http://127.0.0.1:${port}`);
    server.output = output;
    return server;
  }

  /** Everything the process wrote so far (stdout and stderr). */
  log(): string {
    return this.output;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Waits for the exit, at most `timeoutMs`; null when it did not exit in time. */
  async exitWithin(timeoutMs: number): Promise<Exit | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((done) => (timer = setTimeout(() => done(null), timeoutMs)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, and SIGKILL if it has not exited after `graceMs`. Never throws. */
  async stop(graceMs = 5000): Promise<Exit> {
    this.kill('SIGTERM');
    if (!(await this.exitWithin(graceMs))) this.kill('SIGKILL');
    return this.exited;
  }
}
