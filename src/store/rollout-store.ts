import type { OperationError } from '../domain/operation.js';
import type {
  PausedReason, Rollout, RolloutCounts, RolloutDeviceState, RolloutStatus, SkipReason, StagePhase,
} from '../domain/rollout.js';
import type { DeviceType, SoftwareType } from '../domain/enums.js';
import type { InstalledVersions } from '../domain/device-health.js';
import type { DeviceFilter, Page } from './device-query.js';

/** A rollout as kept: its target's filter already parsed into the store's filter tree. */
export interface RolloutRecord extends Rollout {
  targetFilter: DeviceFilter | null;
  /** where expansion continues, in (created_at, id) order */
  expansionAfter: { createdAt: string; id: string } | null;
}

export interface RolloutDevice {
  deviceId: string;
  /** null until a stage takes the device */
  stage: number | null;
  state: RolloutDeviceState;
  skipReason: SkipReason | null;
  operationId: string | null;
  attempts: number;
  nextAttemptDateTime: string | null;
  error: OperationError | null;
  lastChangedDateTime: string;
}

/** A device a stage may ask now, with what deciding whether to skip it needs. */
export interface DueDevice {
  deviceId: string;
  attempts: number;
  deviceType: DeviceType;
  model: string | null;
  installed: InstalledVersions;
  /** a newer rollout of the same software type (not cancelled) targets the device */
  newerRollout: boolean;
}

/** Asked targets, named by their operations, that move to one state. */
export interface TargetMove {
  state: 'running' | 'successful' | 'cancelled';
  operationIds: string[];
}

/** A pending target about to be asked, with the id its operation will have. */
export interface TargetClaim {
  deviceId: string;
  operationId: string;
  attempts: number;
}

/** An asked device whose operation moved on since the rollout last looked. */
export interface OperationProgress {
  deviceId: string;
  state: RolloutDeviceState;
  attempts: number;
  operationId: string;
  /** null: the operation does not exist (its creation never committed) */
  operationStatus: string | null;
  error: OperationError | null;
}

/** What a control verb or the scheduler changes on a rollout row (absent: left as is). */
export interface RolloutChange {
  status?: RolloutStatus;
  pausedReason?: PausedReason;
  currentStage?: number;
  stagePhase?: StagePhase | null;
  soakUntil?: string | null;
  approvedStage?: number;
  expanded?: boolean;
  expansionAfter?: { createdAt: string; id: string } | null;
  acceptedFailures?: number;
  startedDateTime?: string;
  completedDateTime?: string;
  at: string;
}

/** The rollout row's state a change requires (it changes nothing otherwise: someone else moved first). */
export interface RolloutCondition {
  status: readonly RolloutStatus[];
  currentStage?: number;
  stagePhase?: StagePhase | null;
}

export interface RolloutPageQuery {
  tenantId: string;
  status: RolloutStatus | null;
  top: number;
  /** keyset position: the id of the last rollout of the previous page (newest first) */
  beforeId: string | null;
}

/** A change to one target device, made only while it is in `from` (and names `operationId` when given). */
export interface RolloutDeviceChange {
  from: readonly RolloutDeviceState[];
  operationId?: string | null;
  state: RolloutDeviceState;
  skipReason?: SkipReason | null;
  newOperationId?: string | null;
  attempts?: number;
  nextAttemptAt?: string | null;
  error?: OperationError | null;
  at: string;
}

/**
 * The rollouts part of the store. A rollout row holds its plan and where it is; each target
 * device is a row of rollout_devices whose state follows its operation. Every change is one
 * conditional statement, so the API's verbs and the scheduler (on whichever replica holds the
 * lease) cannot undo each other's work.
 */
export interface RolloutStore {
  createRollout(rollout: RolloutRecord): Promise<void>;
  getRollout(tenantId: string, id: string): Promise<RolloutRecord | null>;
  listRollouts(query: RolloutPageQuery): Promise<Page<RolloutRecord, string>>;
  /**
   * Rollouts in one of these statuses not yet ended, every tenant's, oldest first (the
   * scheduler's work): a cancelled rollout stays until its last running operation ends.
   */
  rolloutsIn(statuses: readonly RolloutStatus[], limit: number): Promise<RolloutRecord[]>;
  /** Changes a rollout if it is in the condition's state; null otherwise (or when there is no such rollout). */
  changeRollout(tenantId: string, id: string, condition: RolloutCondition, change: RolloutChange): Promise<RolloutRecord | null>;
  /** Counts of the whole rollout and of each stage (index = stage; targets in no stage yet count only in the whole). */
  rolloutCounts(tenantId: string, id: string): Promise<{ all: RolloutCounts; stages: RolloutCounts[] }>;
  /** Counts of one stage (an index range: what the scheduler reads every tick). */
  stageCounts(tenantId: string, id: string, stage: number): Promise<RolloutCounts>;

  /**
   * Reads up to `limit` devices of the tenant after `after` in (created_at, id) order and adds
   * those the rollout targets, in no stage yet (stages take them as they begin); a device
   * already a target is left as it is. Returns where it stopped (null: no device after
   * `after`) and how many it read.
   */
  expandTargets(rollout: RolloutRecord, after: { createdAt: string; id: string } | null, limit: number, at: string): Promise<{ read: number; last: { createdAt: string; id: string } | null }>;
  /** Adds the devices of a list of ids that exist in the tenant. */
  addTargetIds(rollout: RolloutRecord, deviceIds: string[], at: string): Promise<void>;
  /** Puts up to `size` targets that are in no stage yet, in expansion order, into `stage`; returns how many. */
  assignStage(tenantId: string, rolloutId: string, stage: number, size: number): Promise<number>;
  /** Targets in no stage yet. */
  unassignedTargets(tenantId: string, rolloutId: string): Promise<number>;
  /** Pending devices of a stage whose next attempt is due, in expansion order, with what the skip rules need. */
  dueDevices(rollout: RolloutRecord, stage: number, now: string, limit: number): Promise<DueDevice[]>;
  /** Moves asked targets to the state their operation reached (started, succeeded, cancelled), in one transaction. */
  followOperations(tenantId: string, rolloutId: string, moves: TargetMove[], at: string): Promise<void>;
  /** Records each target's operation id before it is created (pending → scheduled), in one transaction; returns the devices claimed. */
  claimTargets(tenantId: string, rolloutId: string, claims: TargetClaim[], at: string): Promise<Set<string>>;
  /** Skips pending targets, in one transaction. */
  skipTargets(tenantId: string, rolloutId: string, skips: { deviceId: string; reason: SkipReason }[], at: string): Promise<void>;
  /** Asked devices (scheduled, running) whose operation's status no longer matches their state, or is missing. */
  operationProgress(tenantId: string, rolloutId: string, limit: number): Promise<OperationProgress[]>;
  /** Applies a change to a target if it is in `change.from`; false when it was not. */
  changeRolloutDevice(tenantId: string, rolloutId: string, deviceId: string, change: RolloutDeviceChange): Promise<boolean>;
  /** Targets in order of expansion, after the position (a seq). */
  listRolloutDevices(tenantId: string, rolloutId: string, top: number, afterSeq: number | null): Promise<Page<RolloutDevice>>;
  /**
   * The rollout (and its target row) whose pending operation this is, if a rollout created it:
   * what supersession needs to know about an operation in the way.
   */
  rolloutOfOperation(tenantId: string, operationId: string): Promise<{ rolloutId: string; deviceId: string } | null>;
  /** The pending softwareUpdate of this software type on a device, if any. */
  pendingUpdate(tenantId: string, deviceId: string, softwareType: SoftwareType): Promise<string | null>;
  /** Ends a cancelled rollout's targets that wait (pending → cancelled); returns the operation ids of those already asked but not started. */
  cancelTargets(tenantId: string, rolloutId: string, at: string): Promise<string[]>;
}
