/**
 * Loaded into the real `teamwork-devices serve` with `node --import`, so the soak benchmark
 * (soak-bench.ts) reads the memory and the live handles of the very process a user runs,
 * without a line of benchmark code in the server. Commands, one a line on stdin; each answer
 * is one line on stdout, among the server's own (its log lines never start with these words):
 *
 *   SAMPLE           → `SAMPLE {rss, heapUsed, heapTotal, external, arrayBuffers, resources}`
 *                      without a garbage collection (sampling must not change what it measures)
 *   GC               → the same after two full collections (node --expose-gc), for the reading points
 *   SNAPSHOT <file>  → `SNAPSHOT <file>` once v8.writeHeapSnapshot has written it
 *
 * `resources` counts process.getActiveResourcesInfo() by type: `Timeout` is one per ref'd timer,
 * `TCPSocketWrap` one per socket, and so on. The parent going away closes stdin: the server is
 * then told SIGTERM, its own clean shutdown.
 */
import { writeHeapSnapshot } from 'node:v8';
import { isMainThread } from 'node:worker_threads';

function sample(collect: boolean): Record<string, unknown> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (collect && gc) {
    gc();
    gc();
  }
  const resources: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) resources[type] = (resources[type] ?? 0) + 1;
  return { ...process.memoryUsage(), gc: collect && gc !== undefined, resources };
}

function answer(command: string): string | null {
  if (command === 'SAMPLE') return `SAMPLE ${JSON.stringify(sample(false))}`;
  if (command === 'GC') return `GC ${JSON.stringify(sample(true))}`;
  if (command.startsWith('SNAPSHOT ')) return `SNAPSHOT ${writeHeapSnapshot(command.slice('SNAPSHOT '.length))}`;
  return null;
}

/**
 * `--import` reaches every thread and child of the server too: the group commit's writer
 * thread (whose process.stdin ends at once: it would SIGTERM the server) and the SQLite reader
 * processes (fork passes execArgv on, and they share the server's stdin). Only the server's
 * main thread answers: the one whose parent set PROCESS_PROBE_PARENT to its own pid.
 */
if (isMainThread && process.env.PROCESS_PROBE_PARENT === String(process.ppid)) listen();

function listen(): void {
  let commands = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    commands += chunk;
    let newline: number;
    while ((newline = commands.indexOf('\n')) >= 0) {
      const line = answer(commands.slice(0, newline).trim());
      commands = commands.slice(newline + 1);
      if (line) process.stdout.write(`${line}\n`);
    }
  });
  process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
  // The stdin pipe must not keep a server alive that has closed by itself.
  (process.stdin as unknown as { unref?: () => void }).unref?.();
}
