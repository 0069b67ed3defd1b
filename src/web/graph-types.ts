import type { Device } from '../domain/device';
import type { Rollout, RolloutCounts, StageSpec } from '../domain/rollout';
import type { SoftwareType } from '../domain/enums';
import type { Operation } from '../domain/operation';

/** teamworkDevice as the API sends it, with the documents `$expand` asked for. */
export type DeviceJson = Pick<Device, 'id' | 'deviceType' | 'healthStatus' | 'activityState' | 'companyAssetTag' | 'notes' | 'currentUser' | 'createdDateTime' | 'lastModifiedDateTime'> & {
  hardwareDetail: Device['hardwareDetail'] | null;
  health?: Record<string, unknown>;
  activity?: Record<string, unknown>;
  configuration?: Record<string, unknown>;
};

/** teamworkDeviceOperation as the API sends it; `deviceId` only in the tenant's operation list. */
export type OperationJson = Pick<Operation, 'id' | 'status' | 'operationType' | 'error' | 'createdDateTime' | 'startedDateTime' | 'completedDateTime' | 'lastActionDateTime' | 'scheduledDateTime'> & Partial<Pick<Operation, 'progressPercent' | 'progressMessage'>> & {
  deviceId?: string;
};

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
