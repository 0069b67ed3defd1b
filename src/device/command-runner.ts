import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** How a command ended. */
export interface CommandOutcome {
  /** exit code; null when it was killed */
  exitCode: number | null;
  /** it ran past its time limit and its process group was killed */
  timedOut: boolean;
  /** the signal aborted it and its process group was killed */
  aborted: boolean;
  /** stdout, up to `maxOutputBytes` (progress lines included) */
  stdout: string;
  /** it printed more than `maxOutputBytes` */
  truncated: boolean;
  /** the last `stderrTailBytes` of stderr */
  stderrTail: string;
}

export interface CommandOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  maxOutputBytes?: number;
  /** each stdout line `progress <percent> <message>` */
  onProgress?: (percent: number, message: string) => void;
}

const stderrTailBytes = 4096;
/** Between SIGTERM to the group and SIGKILL. */
const killGraceMs = 2000;

/**
 * Runs a configured command through the shell, in a process group of its own, so that a
 * timeout or a cancel kills what it started too (an installer's children), not only the shell.
 */
export function runCommand(command: string, options: CommandOptions): Promise<CommandOutcome> {
  const windows = process.platform === 'win32';
  const child = spawn(windows ? 'cmd.exe' : '/bin/sh', windows ? ['/d', '/s', '/c', command] : ['-c', command], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: !windows,
    windowsHide: true,
  });
  const maxOutput = options.maxOutputBytes ?? 1024 * 1024;
  let stdout = '';
  let truncated = false;
  let stderr = '';
  let timedOut = false;
  let aborted = false;

  createInterface({ input: child.stdout! }).on('line', (line) => {
    const progress = /^progress\s+(\d{1,3})(?:\s+(.*))?$/.exec(line);
    if (progress) options.onProgress?.(Math.min(100, Number(progress[1])), progress[2] ?? '');
    if (stdout.length + line.length + 1 > maxOutput) truncated = true;
    else stdout += `${line}\n`;
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-stderrTailBytes);
  });

  const killGroup = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    signalGroup(child.pid, 'SIGTERM');
    setTimeout(() => signalGroup(child.pid, 'SIGKILL'), killGraceMs).unref();
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, options.timeoutMs);
  const onAbort = () => {
    aborted = true;
    killGroup();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  return new Promise((resolve) => {
    const finish = (exitCode: number | null) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve({ exitCode, timedOut, aborted, stdout, truncated, stderrTail: stderr });
    };
    child.on('error', (error) => {
      stderr = (stderr + error.message).slice(-stderrTailBytes);
      finish(null);
    });
    // 'close' waits for the pipes: every line has been read.
    child.on('close', (code) => finish(timedOut || aborted ? null : code));
  });
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    // A negative pid is the process group (POSIX); Windows has none, so the child alone.
    process.kill(process.platform === 'win32' ? pid : -pid, signal);
  } catch {
    // already gone
  }
}
