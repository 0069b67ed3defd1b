import type { HardwareDetail, UserIdentity } from '../domain/device';
import type { Rollout, RolloutCounts, StageSpec } from '../domain/rollout';
import type { ActivityState, DeviceType, HealthStatus, OperationType, SoftwareType } from '../domain/enums';
import type { OperationError, OperationStatus } from '../domain/operation';

/** teamworkDevice as the API sends it. */
export interface DeviceJson {
  id: string;
  deviceType: DeviceType;
  hardwareDetail: HardwareDetail | null;
  healthStatus: HealthStatus | null;
  activityState: ActivityState | null;
  companyAssetTag: string | null;
  notes: string | null;
  currentUser: UserIdentity | null;
  createdDateTime: string;
  lastModifiedDateTime: string;
  health?: Record<string, unknown>;
  activity?: Record<string, unknown>;
  configuration?: Record<string, unknown>;
}

/** teamworkDeviceOperation as the API sends it; `deviceId` only in the tenant's operation list. */
export interface OperationJson {
  id: string;
  deviceId?: string;
  status: OperationStatus;
  operationType: OperationType;
  error: OperationError | null;
  createdDateTime: string;
  startedDateTime: string | null;
  completedDateTime: string | null;
  lastActionDateTime: string;
  scheduledDateTime?: string | null;
}

/** One version updateSoftware accepts for a device (`…/availableSoftwareVersions`). */
export interface AvailableVersion {
  softwareType: SoftwareType;
  softwareVersion: string;
}

/** A rollout's counts as the API sends them: `skipped` summed, its reasons apart. */
export type RolloutCountsJson = Omit<RolloutCounts, 'skipped'> & { skipped: number; skippedReasons: RolloutCounts['skipped'] };

/** A software rollout as the API sends it (`/teamwork/softwareRollouts`). */
export interface RolloutJson extends Pick<Rollout, 'id' | 'displayName' | 'softwareType' | 'softwareVersion' | 'target' | 'status' | 'pausedReason' | 'currentStage' | 'createdDateTime'> {
  stages: (StageSpec & { status: 'notStarted' | 'awaitingApproval' | 'running' | 'soaking' | 'completed'; counts: RolloutCountsJson })[];
  counts: RolloutCountsJson;
}
