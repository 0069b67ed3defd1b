import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './cli-process.js';

/**
 * The real `teamwork-devices` command as separate processes (bin/ loads dist/), for tests
 * that need several server replicas on one database.
 */
export const cliPath = fileURLToPath(new URL('../../../bin/teamwork-devices.js', import.meta.url));
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs a CLI command to its end; resolves with stdout, rejects with stderr on a non-zero exit. */
export function runCli(args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`teamwork-devices ${args[0]} exited with ${code ?? signal}: ${stderr || stdout}`));
    });
  });
}


/** Every replica started and not yet known to have exited, so an after() hook can always kill them. */
const live = new Set<Replica>();

/** SIGKILLs every replica this process started that is still running, and waits for them to exit. */
export async function killAllReplicas(): Promise<void> {
  await Promise.all([...live].map((replica) => replica.kill('SIGKILL')));
}

export interface Replica {
  name: string;
  url: string;
  child: ChildProcess;
  /** everything the process wrote to stdout and stderr so far */
  output(): string;
  /** resolves when the process has exited */
  exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `teamwork-devices serve` on a free port and waits until it prints its address. The
 * port is free when chosen; should another process take it first, a new one is tried.
 */
export async function startReplica(name: string, args: string[], timeoutMs = 30_000): Promise<Replica> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(name, args, timeoutMs);
    } catch (error) {
      if (attempt >= 3 || !/EADDRINUSE/.test((error as Error).message)) throw error;
    }
  }
}

async function startOnce(name: string, args: string[], timeoutMs: number): Promise<Replica> {
  const port = await freePort();
  const child = spawn(process.execPath, [cliPath, 'serve', '--port', String(port), ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  child.once('error', (error) => (output += `spawn error: ${error.message}\n`));
  const replica: Replica = {
    name,
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => output,
    exited,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  live.add(replica);
  void exited.then(() => live.delete(replica));
  const deadline = Date.now() + timeoutMs;
  while (!/listening on http/.test(output)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`replica ${name} exited with ${child.exitCode ?? child.signalCode} before listening: ${output}`);
    }
    if (Date.now() > deadline) {
      await replica.kill();
      throw new Error(`replica ${name} did not start within ${timeoutMs} ms: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return replica;
}
