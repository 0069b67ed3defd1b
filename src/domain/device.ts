import { softwareTypes, type ActivityState, type DeviceType, type HealthStatus, type SoftwareType } from './enums.js';
import type { InstalledVersions } from './device-health.js';
import type { IdentitySet } from './identity.js';

export interface HardwareDetail {
  uniqueId: string | null;
  serialNumber: string | null;
  manufacturer: string | null;
  model: string | null;
  macAddresses: string[];
}

export interface UserIdentity {
  id: string | null;
  displayName: string | null;
  userIdentityType: string | null;
}

/** A device as the store holds it: the teamworkDevice scalars plus its three documents. */
export interface Device {
  tenantId: string;
  id: string;
  deviceType: DeviceType;
  hardwareDetail: HardwareDetail;
  healthStatus: HealthStatus | null;
  activityState: ActivityState | null;
  companyAssetTag: string | null;
  notes: string | null;
  currentUser: UserIdentity | null;
  createdDateTime: string;
  createdBy: IdentitySet | null;
  lastModifiedDateTime: string;
  lastModifiedBy: IdentitySet | null;
  /** Graph-shaped bodies of teamworkDeviceHealth/Activity/Configuration without id/audit fields. */
  health: Record<string, unknown>;
  activity: Record<string, unknown>;
  configuration: Record<string, unknown>;
  /** versions the device last reported per software type (seeded devices: from their health) */
  installed: InstalledVersions;
  /** last time the device's agent was heard from; null for devices without an agent */
  lastSeenDateTime: string | null;
  /**
   * Set on devices fresh from the demo generator: the store keeps this instead of their three
   * documents and regenerates them on read. Any change writes the documents out for good.
   */
  generatedFrom?: GeneratedFrom;
}

export interface GeneratedFrom {
  seed: number;
  index: number;
  now: string;
}

/**
 * The device properties `$filter` may name. Graph documents only `eq` on deviceType,
 * hardwareDetail/uniqueId and currentUser/id; the rest is this service's extension.
 * teamworkDevice has no displayName of its own: `displayName` is the name Teams admin
 * center shows for a device, the display name of the account signed in on it.
 */
export const filterableDeviceProperties = {
  deviceType: 'enum:deviceType',
  healthStatus: 'enum:healthStatus',
  activityState: 'enum:activityState',
  companyAssetTag: 'string',
  notes: 'string',
  displayName: 'string',
  'hardwareDetail/uniqueId': 'string',
  'hardwareDetail/serialNumber': 'string',
  'hardwareDetail/manufacturer': 'string',
  'hardwareDetail/model': 'string',
  'currentUser/id': 'string',
  'currentUser/displayName': 'string',
  ...freshnessProperties(),
} as const;

export type FilterableProperty = keyof typeof filterableDeviceProperties;

/** The `$filter` path of one software type's freshness, as Graph nests it in the device's health. */
export type FreshnessProperty = `health/softwareUpdateHealth/${SoftwareType}SoftwareUpdateStatus/softwareFreshness`;

/** The `$filter` path of a software type's freshness. */
export function freshnessProperty(softwareType: SoftwareType): FreshnessProperty {
  return `health/softwareUpdateHealth/${softwareType}SoftwareUpdateStatus/softwareFreshness`;
}

/** Whether a filterable property is a software type's freshness. */
export function isFreshnessProperty(property: string): property is FreshnessProperty {
  return property.endsWith('/softwareFreshness');
}

/** Each software type's freshness, as its health document says it (latest, updateAvailable, unknown). */
function freshnessProperties(): Record<FreshnessProperty, 'enum:softwareFreshness'> {
  return Object.fromEntries(softwareTypes.map((type) => [freshnessProperty(type), 'enum:softwareFreshness'])) as Record<FreshnessProperty, 'enum:softwareFreshness'>;
}

/**
 * The device properties `$orderby` may name: those `$filter` may but the freshness of each
 * software type (three values sort nothing a reader needs), and the two timestamps.
 */
export const orderableDeviceProperties = [
  ...(Object.keys(filterableDeviceProperties) as FilterableProperty[]).filter((p): p is Exclude<FilterableProperty, FreshnessProperty> => !isFreshnessProperty(p)),
  'createdDateTime', 'lastModifiedDateTime',
] as const;

export type OrderableProperty = (typeof orderableDeviceProperties)[number];

/** Properties of teamworkDevice in the order the Graph docs list them. */
export const deviceProperties = [
  'activityState', 'companyAssetTag', 'createdBy', 'createdDateTime', 'currentUser', 'deviceType',
  'hardwareDetail', 'healthStatus', 'id', 'lastModifiedBy', 'lastModifiedDateTime', 'notes',
] as const;

export const healthProperties = [
  'id', 'connection', 'loginStatus', 'peripheralsHealth', 'softwareUpdateHealth', 'hardwareHealth',
  'createdDateTime', 'createdBy', 'lastModifiedDateTime', 'lastModifiedBy',
] as const;

export const activityProperties = [
  'id', 'activePeripherals', 'createdDateTime', 'createdBy', 'lastModifiedDateTime', 'lastModifiedBy',
] as const;

export const configurationProperties = [
  'id', 'softwareVersions', 'displayConfiguration', 'cameraConfiguration', 'speakerConfiguration',
  'microphoneConfiguration', 'teamsClientConfiguration', 'hardwareConfiguration', 'systemConfiguration',
  'createdDateTime', 'createdBy', 'lastModifiedDateTime', 'lastModifiedBy',
] as const;
