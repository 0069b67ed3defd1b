import type { DeviceTarget } from './request-schemas.js';
import type { SoftwareType } from './enums.js';
import type { IdentitySet } from './identity.js';

/** A rollout's statuses, a closed set (issue 14; hawkBit's and AWS IoT Jobs' in Graph's spelling). */
export const rolloutStatuses = ['notStarted', 'running', 'paused', 'completed', 'cancelled'] as const;
export type RolloutStatus = (typeof rolloutStatuses)[number];

/** Why a rollout paused by itself (null when an admin paused it). */
export type PausedReason = 'failureThreshold' | 'successThresholdNotMet' | null;

/**
 * Where the current stage is: its targets being chosen, waiting for an admin's approval, its
 * devices being updated, or its soak time running after they finished.
 */
export type StagePhase = 'awaitingApproval' | 'running' | 'soaking';

export interface StageSpec {
  /** share of the targets not yet in a stage, 1–100 (the last stage always takes them all) */
  percent: number | null;
  /** or a number of them */
  count: number | null;
  /** devices of the stage with an operation open at once; null: no limit */
  concurrency: number | null;
  /** share of the stage's finished devices that must succeed for the rollout to go on */
  minSuccessPercent: number;
  /** share of the stage's devices whose failure pauses the rollout at once; null: never */
  maxFailurePercent: number | null;
  /** minutes to wait after the stage finished before the next one begins */
  soakMinutes: number;
  /** the stage begins only after `approve` */
  requiresApproval: boolean;
}

export interface RetryPolicy {
  /** attempts per device in all, the first included (1: no retry) */
  maxAttempts: number;
  /** the wait before the second attempt; doubled for each later one, with jitter */
  initialBackoffSeconds: number;
}

export type RolloutTarget = DeviceTarget;

/** Each target device's place in a rollout. */
export const rolloutDeviceStates = [
  'pending', 'scheduled', 'running', 'successful', 'failed', 'skipped', 'cancelled',
] as const;
export type RolloutDeviceState = (typeof rolloutDeviceStates)[number];

/** Why a target was not asked: it runs the version already, the catalog does not offer it, or a newer rollout took it over. */
export type SkipReason = 'alreadyOnVersion' | 'notOffered' | 'superseded';

export interface RolloutCounts {
  total: number;
  pending: number;
  scheduled: number;
  running: number;
  successful: number;
  failed: number;
  cancelled: number;
  skipped: { alreadyOnVersion: number; notOffered: number; superseded: number };
}

export interface Rollout {
  tenantId: string;
  id: string;
  displayName: string;
  softwareType: SoftwareType;
  /** null: the newest version the catalog offers each device */
  softwareVersion: string | null;
  target: RolloutTarget;
  includeNewDevices: boolean;
  stages: StageSpec[];
  retry: RetryPolicy;
  status: RolloutStatus;
  pausedReason: PausedReason;
  /** index of the stage being run (stages.length once all are done) */
  currentStage: number;
  stagePhase: StagePhase | null;
  /** when the current stage's soak time ends */
  soakUntil: string | null;
  /** the highest stage an admin approved (-1: none) */
  approvedStage: number;
  /** whether every device the target named when the rollout started is in rollout_devices */
  expanded: boolean;
  /** failures of the current stage an admin accepted by resuming after the failure threshold paused it */
  acceptedFailures: number;
  createdDateTime: string;
  createdBy: IdentitySet;
  lastModifiedDateTime: string;
  startedDateTime: string | null;
  completedDateTime: string | null;
}

export function emptyCounts(): RolloutCounts {
  return { total: 0, pending: 0, scheduled: 0, running: 0, successful: 0, failed: 0, cancelled: 0, skipped: { alreadyOnVersion: 0, notOffered: 0, superseded: 0 } };
}

/**
 * How many of the `remaining` targets (those in no stage yet) a stage takes: its count, or its
 * percent rounded up (a stage of 1 % of 50 devices still updates one); the last stage takes
 * every remaining target, so no target is left out by rounding.
 */
export function stageSize(stage: StageSpec, remaining: number, isLast: boolean): number {
  if (isLast) return remaining;
  const wanted = stage.count ?? Math.ceil(((stage.percent ?? 100) * remaining) / 100);
  return Math.min(remaining, wanted);
}

/**
 * Whether a stage's failures pause the rollout: more than maxFailurePercent of its devices
 * (skipped ones not counted) failed, beyond the failures an admin accepted by resuming.
 */
export function failureThresholdCrossed(stage: StageSpec, counts: RolloutCounts, acceptedFailures: number): boolean {
  if (stage.maxFailurePercent === null) return false;
  const considered = counts.total - skippedOf(counts);
  if (considered === 0) return false;
  return ((counts.failed - acceptedFailures) * 100) / considered > stage.maxFailurePercent;
}

/** A finished stage's verdict: enough of its finished devices succeeded to go on (no finished device: it does). */
export function stageSucceeded(stage: StageSpec, counts: RolloutCounts): boolean {
  const finished = counts.successful + counts.failed;
  if (finished === 0) return true;
  return (counts.successful * 100) / finished >= stage.minSuccessPercent;
}

/** A stage is finished when none of its devices waits or runs. */
export function stageFinished(counts: RolloutCounts): boolean {
  return counts.pending + counts.scheduled + counts.running === 0;
}

export function skippedOf(counts: RolloutCounts): number {
  return counts.skipped.alreadyOnVersion + counts.skipped.notOffered + counts.skipped.superseded;
}

/**
 * Failure codes worth another attempt: the device could not be reached or was busy, a
 * download broke, the install was interrupted or ran out of time. Anything else (a bad
 * signature, no storage, an installer that failed, a version the device did not end up on)
 * would fail the same way again.
 */
export const transientErrorCodes: ReadonlySet<string> = new Set([
  'deviceUnreachable', 'deviceBusy', 'timeout', 'downloadFailed', 'installInterrupted',
]);

/** Longest wait between two attempts. */
const maxBackoffMs = 3600_000;

/**
 * When a failed device is tried again, or null when it is not: a permanent error, or its
 * attempts used up. Exponential backoff with "equal jitter" (half fixed, half random), so
 * devices that failed together do not all come back in the same second.
 */
export function retryAt(policy: RetryPolicy, errorCode: string | null, attemptsMade: number, now: number, random: () => number = Math.random): number | null {
  if (errorCode === null || !transientErrorCodes.has(errorCode)) return null;
  if (attemptsMade >= policy.maxAttempts) return null;
  const backoff = Math.min(maxBackoffMs, policy.initialBackoffSeconds * 1000 * 2 ** (attemptsMade - 1));
  return now + Math.round(backoff / 2 + (random() * backoff) / 2);
}
