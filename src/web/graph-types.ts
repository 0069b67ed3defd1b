import type { Device } from '../domain/device';
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
export type OperationJson = Pick<Operation, 'id' | 'status' | 'operationType' | 'error' | 'createdDateTime' | 'startedDateTime' | 'completedDateTime' | 'lastActionDateTime' | 'scheduledDateTime'> & {
  deviceId?: string;
};

/** One version updateSoftware accepts for a device (`…/availableSoftwareVersions`). */
export interface AvailableVersion {
  softwareType: SoftwareType;
  softwareVersion: string;
}
