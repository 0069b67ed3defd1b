import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cliScript = fileURLToPath(new URL('../../bin/teamwork-devices.js', import.meta.url));
const probeScript = fileURLToPath(new URL('./process-probe.js', import.meta.url));
const running = new Set<ChildProcess>();

// Never leave a server behind, whatever way this process ends.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** What process-probe.js answers: process.memoryUsage() and the live resources by type. */
export interface ProbeSample extends NodeJS.MemoryUsage {
  gc: boolean;
  resources: Record<string, number>;
}

export interface ServeProcess {
  pid: number;
  url: string;
  /** the dev token the welcome prints (8 hours, TeamworkDevice.ReadWrite.All) */
  token: string;
  /** memory and resources now, no garbage collection */
  sample(): Promise<ProbeSample>;
  /** the same after two full garbage collections */
  sampleAfterGc(): Promise<ProbeSample>;
  /** writes a heap snapshot of the server to `file` */
  heapSnapshot(file: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs `teamwork-devices serve <args>` as a user would (the package's bin), with
 * process-probe.js preloaded and --expose-gc, and waits for its welcome: the address, the dev
 * token and, with --simulate, the line saying the simulated fleet is enrolled.
 */
export function startServe(args: string[], timeoutMs = 300_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', probeScript, cliScript, 'serve', ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    // the probe answers in the server's main thread only (its workers and children load it too)
    env: { ...process.env, PROCESS_PROBE_PARENT: String(process.pid) },
  });
  running.add(child);
  const waiters: Record<string, ((text: string) => void)[]> = { SAMPLE: [], GC: [], SNAPSHOT: [] };
  let url: string | null = null;
  let token: string | null = null;
  const recent: string[] = [];
  const exited = { text: '' };
  return new Promise<ServeProcess>((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => fail(new Error(`serve not ready after ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    child.once('exit', (code, signal) => {
      running.delete(child);
      exited.text = `serve exited (code ${code}, signal ${signal}); its last lines:\n${recent.join('\n')}`;
      if (!ready) fail(new Error(exited.text));
    });
    let lines = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      lines += chunk;
      let newline: number;
      while ((newline = lines.indexOf('\n')) >= 0) {
        const line = lines.slice(0, newline);
        lines = lines.slice(newline + 1);
        const word = line.slice(0, line.indexOf(' '));
        if (waiters[word]) {
          waiters[word].shift()?.(line.slice(word.length + 1));
          continue;
        }
        // the server's own lines: the last few are kept for the error if it exits
        recent.push(line);
        if (recent.length > 20) recent.shift();
        if (ready) continue;
        url ??= /listening on (https?:\/\/\S+)/.exec(line)?.[1] ?? null;
        token ??= /^export TOKEN=(\S+)/.exec(line)?.[1] ?? null;
        const fleetReady = /simulated devices are enrolled/.test(line) || (!args.includes('--simulate') && token !== null);
        if (url && token && fleetReady) {
          ready = true;
          clearTimeout(timer);
          resolve(handle(child, url, token, waiters, exited));
        }
      }
    });
  });
}

function handle(child: ChildProcess, url: string, token: string, waiters: Record<string, ((text: string) => void)[]>, exited: { text: string }): ServeProcess {
  const ask = (command: string, word: string) =>
    new Promise<string>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(exited.text || 'serve has exited'));
      waiters[word].push(resolve);
      child.stdin!.write(`${command}\n`);
    });
  return {
    pid: child.pid!,
    url,
    token,
    sample: async () => JSON.parse(await ask('SAMPLE', 'SAMPLE')) as ProbeSample,
    sampleAfterGc: async () => JSON.parse(await ask('GC', 'GC')) as ProbeSample,
    heapSnapshot: async (file) => void (await ask(`SNAPSHOT ${file}`, 'SNAPSHOT')),
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** VmRSS of a process in bytes (0 once it is gone). */
export function rssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Open file descriptors of a process. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Process ids whose parent is `pid` (the SQLite reader processes of a server). */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}
