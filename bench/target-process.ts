import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const targetScript = fileURLToPath(new URL('./bench-target.js', import.meta.url));
const running = new Set<ChildProcess>();

// Never leave a target behind, whatever way this process ends.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface TargetProcess {
  kind: 'bare' | 'real';
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts bench-target.js in a child process and waits for its `READY <port>` line. */
export function startTarget(kind: 'bare' | 'real', dbPath?: string, timeoutMs = 120_000): Promise<TargetProcess> {
  const args = [targetScript, kind, '0', ...(dbPath ? [dbPath] : [])];
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
      child.stdout!.resume();
      resolve({
        kind,
        url: `http://127.0.0.1:${match[1]}`,
        pid: child.pid!,
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
