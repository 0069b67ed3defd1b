/**
 * When a failed notification is tried again, and when a receiver is given up on. Exponential
 * backoff with "equal jitter" (half the delay fixed, half random), so receivers that failed
 * together (one outage) are not all retried in the same instant.
 */

/** The delay after the first failure. */
export const retryBaseMs = 10_000;
/** No delay is longer than this. */
export const retryCapMs = 30 * 60_000;
/**
 * After this many failed deliveries in a row a subscription is `suspended`: its pending
 * notifications are dropped and no new ones are queued until it is renewed (PATCH). With the
 * delays above that is about an hour of retrying (from 40 minutes to 80, by the jitter).
 */
export const suspendAfterFailures = 10;

/** The wait before the next attempt after the `failures`-th failure in a row (1, 2, …). */
export function retryDelayMs(failures: number, random: () => number = Math.random): number {
  const full = Math.min(retryCapMs, retryBaseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
  return Math.round(full / 2 + (random() * full) / 2);
}

export function shouldSuspend(failures: number): boolean {
  return failures >= suspendAfterFailures;
}
