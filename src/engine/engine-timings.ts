/** The engine's deadlines and intervals; `serve` derives them from its configuration. */
export interface EngineTimings {
  /** an operation not started by its device within this → failed (deviceUnreachable) */
  startTimeoutMs: number;
  /** an operation running longer than this → failed (timeout) */
  runTimeoutMs: number;
  /** an agent silent for longer than this → disconnected, healthStatus offline */
  heartbeatTimeoutMs: number;
  /** how often the supervisor looks for overdue operations and silent devices */
  supervisorIntervalMs: number;
  /** how often agents' presence is written to the store, in one transaction */
  presenceFlushMs: number;
  /** how often the schedulers (maintenance windows, rollouts, notifications) look for due work */
  schedulerIntervalMs: number;
  /** how often an operation someone follows live is read again (changes on other replicas are seen within this) */
  watchIntervalMs: number;
}

export const defaultTimings: EngineTimings = {
  startTimeoutMs: 24 * 3600_000,
  runTimeoutMs: 3600_000,
  heartbeatTimeoutMs: 90_000,
  supervisorIntervalMs: 1000,
  presenceFlushMs: 2000,
  schedulerIntervalMs: 1000,
  watchIntervalMs: 1000,
};
