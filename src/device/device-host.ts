import type { EnrollRequest, InventoryBody, ResultBody, WorkItem } from '../domain/agent-protocol.js';

/** How reporting progress went: go on, an admin asked to cancel, the server ended the operation, or the agent is stopping. */
export type ProgressOutcome = 'ok' | 'cancel' | 'gone' | 'stopped';

/** An acknowledged operation, handed to the host to do its work. */
export interface OperationRun {
  operation: WorkItem;
  /** it was already inProgress when this agent started: the host went down while doing it */
  resumed: boolean;
  /** aborted when the agent stops */
  signal: AbortSignal;
  /** one best-effort progress report; its answer carries an admin's cancel */
  progress(percent: number | null, message: string | null): Promise<ProgressOutcome>;
  /** waits, or less when the agent stops */
  sleep(ms: number): Promise<void>;
  log(message: string): void;
}

/**
 * How the host's work ended: a result for the agent to report (and a restart of the host to
 * follow once the server accepted it), a cancel to report, or nothing to report (the server
 * ended the operation, or the agent is stopping).
 */
export type HostOutcome =
  | { kind: 'report'; result: ResultBody; restart?: boolean }
  | { kind: 'cancelled' }
  | { kind: 'abandoned' };

/** How an operation ends when progress says stop: a cancel to report, or nothing to report. */
export function stoppedOutcome(progress: Exclude<ProgressOutcome, 'ok'>): HostOutcome {
  return progress === 'cancel' ? { kind: 'cancelled' } : { kind: 'abandoned' };
}

/**
 * The machine an agent runs for: what the agent core (device-agent.ts) asks of it. The
 * simulated fleet and the real agent are two hosts of the one core, which alone speaks the
 * protocol: enrollment, the work poll, acknowledgements, progress, results, inventory.
 */
export interface DeviceHost {
  /** who the device is and what it runs, sent with every enrollment */
  enrollment(): Promise<Omit<EnrollRequest, 'enrollmentToken'>>;
  /** the agent enrolled as `deviceId` with `credential` (a real host keeps them on disk) */
  enrolled(deviceId: string, credential: string): Promise<void>;
  /** the next inventory report, also the heartbeat */
  inventory(): Promise<InventoryBody>;
  /** the server took that report */
  inventoryDelivered(body: InventoryBody): void;
  /** does an operation's work */
  run(run: OperationRun): Promise<HostOutcome>;
  /** restarts the host after an accepted result asked for it; resolves when the host is back (if it ever returns here) */
  restart(signal: AbortSignal): Promise<void>;
}
