import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const targetScript = fileURLToPath(new URL('./bench-target.js', import.meta.url));
const running = new Set<ChildProcess>();

// Never leave a target behind, whatever way this process ends.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface TargetMemory extends NodeJS.MemoryUsage {
  /** whether a full garbage collection ran first (the target was started with --expose-gc) */
  gc: boolean;
  /** each V8 heap space (new_space, old_space, code_space, large_object_space …): bytes committed and used */
  spaces: Record<string, { size: number; used: number }>;
}

/** event loop delay in ms (percentiles and max) over an interval */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** bench-target.js's targets: a bare Fastify 202, a bare Fastify long-poll, the real service */
export type TargetKind = 'bare' | 'bare-poll' | 'real';

export interface TargetProcess {
  kind: TargetKind;
  url: string;
  pid: number;
  /** the target's process.memoryUsage(), after a full GC when started with nodeArgs ['--expose-gc'] */
  memory(): Promise<TargetMemory>;
  /** the target's event loop delay since the previous call (the first call starts measuring); starts a new interval */
  loopDelay(): Promise<LoopDelay>;
  /** writes a V8 heap snapshot of the target to `path` (the target stops while it writes) */
  heapSnapshot(path: string): Promise<void>;
  /** CPU seconds the target has used so far, all its threads (user + system); null where /proc is missing */
  cpuSeconds(): number | null;
  stop(): Promise<void>;
}

/** Starts bench-target.js in a child process and waits for its `READY <port>` line. */
export function startTarget(kind: TargetKind, dbPath?: string, timeoutMs = 120_000, nodeArgs: string[] = []): Promise<TargetProcess> {
  const args = [...nodeArgs, targetScript, kind, '0', ...(dbPath ? [dbPath] : [])];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  running.add(child);
  return new Promise<TargetProcess>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench target '${kind}' not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      running.delete(child);
      reject(new Error(`bench target '${kind}' exited before it was ready (code ${code}, signal ${signal})`));
    };
    child.once('exit', onExit);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      const match = /READY (\d+)\n/.exec(buffered);
      if (!match) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout!.removeAllListeners('data');
      // After READY, stdout carries only answers to MEMORY, LOOP and HEAPSNAPSHOT requests (anything else is dropped).
      const memoryWaiters: ((memory: TargetMemory) => void)[] = [];
      const loopWaiters: ((delay: LoopDelay) => void)[] = [];
      const snapshotWaiters: (() => void)[] = [];
      let lines = buffered.slice(match.index + match[0].length);
      child.stdout!.on('data', (more: string) => {
        lines += more;
        let newline: number;
        while ((newline = lines.indexOf('\n')) >= 0) {
          const line = lines.slice(0, newline);
          lines = lines.slice(newline + 1);
          if (line.startsWith('MEMORY ')) memoryWaiters.shift()?.(JSON.parse(line.slice('MEMORY '.length)) as TargetMemory);
          if (line.startsWith('LOOP ')) loopWaiters.shift()?.(JSON.parse(line.slice('LOOP '.length)) as LoopDelay);
          if (line.startsWith('HEAPSNAPSHOT ')) snapshotWaiters.shift()?.();
        }
      });
      resolve({
        kind,
        url: `http://127.0.0.1:${match[1]}`,
        pid: child.pid!,
        memory: () =>
          new Promise<TargetMemory>((resolveMemory, rejectMemory) => {
            if (child.exitCode !== null || child.signalCode !== null) return rejectMemory(new Error(`bench target '${kind}' has exited`));
            memoryWaiters.push(resolveMemory);
            child.stdin!.write('MEMORY\n');
          }),
        loopDelay: () =>
          new Promise<LoopDelay>((resolveDelay, rejectDelay) => {
            if (child.exitCode !== null || child.signalCode !== null) return rejectDelay(new Error(`bench target '${kind}' has exited`));
            loopWaiters.push(resolveDelay);
            child.stdin!.write('LOOP\n');
          }),
        heapSnapshot: (path: string) =>
          new Promise<void>((resolveSnapshot, rejectSnapshot) => {
            if (child.exitCode !== null || child.signalCode !== null) return rejectSnapshot(new Error(`bench target '${kind}' has exited`));
            snapshotWaiters.push(resolveSnapshot);
            child.stdin!.write(`HEAPSNAPSHOT ${path}\n`);
          }),
        cpuSeconds: () => processCpuSeconds(child.pid!),
        stop: () => stopChild(child),
      });
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    running.delete(child);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(force);
      running.delete(child);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Linux's USER_HZ: the unit of the CPU times in /proc/<pid>/stat (100 on every Linux build that matters here). */
const clockTicksPerSecond = 100;

/** utime + stime of a process (every thread) from /proc/<pid>/stat, in seconds. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
  } catch {
    return null;
  }
}

/** A server's memory: VmRSS (median of 5 readings) and its process.memoryUsage() right after a full GC. */
export interface MemoryReading {
  /** VmRSS, median of 5 readings */
  rss: number;
  /** the server's process.memoryUsage() right after a full GC */
  gc: TargetMemory;
}

export async function readMemory(target: TargetProcess): Promise<MemoryReading> {
  const rss = await sampleRss(target.pid);
  return { rss, gc: await target.memory() };
}

/** VmRSS, median of 5 readings 200 ms apart. */
export async function sampleRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    if (i) await sleep(200);
    readings.push(readStatusBytes(pid, 'VmRSS'));
  }
  return readings.sort((a, b) => a - b)[2];
}

export function readStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
