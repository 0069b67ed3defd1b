import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FleetCommand, FleetDevice, FleetInventoryOptions, FleetMessage, FleetStats, InventoryChange } from './fleet-messages.js';

const fleetScript = fileURLToPath(new URL('./long-poll-fleet.js', import.meta.url));
const running = new Set<ChildProcess>();

// Never leave a fleet behind, whatever way this process ends.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface FleetProcess {
  pid: number;
  devices: FleetDevice[];
  enrollSeconds: number;
  /** operation id → Date.now() in the fleet process when the device's long-poll delivered it */
  receipts: Map<string, number>;
  /** the fleet's counters; resetLoopDelay starts a new event-loop-delay interval after this reading */
  stats(resetLoopDelay?: boolean): Promise<FleetStats>;
  /** every device starts reporting its inventory once per interval */
  startInventory(options: FleetInventoryOptions): void;
  /** the changed inventory reports answered since `since` (wall-clock ms) */
  inventoryChanges(since: number): Promise<InventoryChange[]>;
  stop(): Promise<void>;
}

/**
 * Starts long-poll-fleet.js in a child process (with an IPC channel) and waits until all
 * `count` devices are enrolled and have sent their first long-poll. Given several servers
 * (replicas), device i talks to `url[i mod n]` (FleetDevice.server).
 */
export function startFleet(
  url: string | readonly string[],
  enrollmentToken: string,
  count: number,
  options: { enrollConcurrency?: number; prefix?: string; timeoutMs?: number; onProgress?: (enrolled: number) => void } = {},
): Promise<FleetProcess> {
  const args = [typeof url === 'string' ? url : url.join(','), enrollmentToken, String(count), String(options.enrollConcurrency ?? 100), options.prefix ?? `bench-${Date.now()}`];
  const child = fork(fleetScript, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
  running.add(child);
  const receipts = new Map<string, number>();
  const statsWaiters: ((stats: FleetStats) => void)[] = [];
  const changesWaiters: ((changes: InventoryChange[]) => void)[] = [];
  child.on('message', (message: FleetMessage) => {
    if (message.type === 'received') {
      if (!receipts.has(message.operationId)) receipts.set(message.operationId, message.receivedAt); // the first delivery counts
    } else if (message.type === 'stats') statsWaiters.shift()?.(message.stats);
    else if (message.type === 'inventoryChanges') changesWaiters.shift()?.(message.changes);
    else if (message.type === 'progress') options.onProgress?.(message.enrolled);
  });
  child.once('exit', () => running.delete(child));
  const timeoutMs = options.timeoutMs ?? 600_000;
  return new Promise<FleetProcess>((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`fleet of ${count} not ready after ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code: number | null, signal: string | null) => fail(new Error(`fleet exited before it was ready (code ${code}, signal ${signal})`));
    const onMessage = (message: FleetMessage) => {
      if (message.type === 'fatal') return fail(new Error(`fleet failed: ${message.message}`));
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve({
        pid: child.pid!,
        devices: message.devices,
        enrollSeconds: message.enrollSeconds,
        receipts,
        stats: (resetLoopDelay = false) =>
          new Promise<FleetStats>((resolveStats, rejectStats) => {
            if (!child.connected) return rejectStats(new Error('fleet is gone'));
            statsWaiters.push(resolveStats);
            child.send({ type: 'stats', resetLoopDelay } satisfies FleetCommand);
          }),
        startInventory: (inventory) => {
          if (child.connected) child.send({ type: 'startInventory', options: inventory } satisfies FleetCommand);
        },
        inventoryChanges: (since) =>
          new Promise<InventoryChange[]>((resolveChanges, rejectChanges) => {
            if (!child.connected) return rejectChanges(new Error('fleet is gone'));
            changesWaiters.push(resolveChanges);
            child.send({ type: 'inventoryChanges', since } satisfies FleetCommand);
          }),
        stop: () => stopFleet(child),
      });
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

function stopFleet(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    if (child.connected) child.send({ type: 'stop' } satisfies FleetCommand);
    else child.kill('SIGTERM');
  });
}
