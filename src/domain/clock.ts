/**
 * The engine's time. Maintenance windows, rollout soak times and retry backoff are decided by
 * it, so tests move it forward instead of sleeping for a window to open.
 */
export interface Clock {
  /** milliseconds since the epoch */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** The clock's time as an ISO 8601 string, the form every stored timestamp takes. */
export function isoNow(clock: Clock): string {
  return new Date(clock.now()).toISOString();
}
