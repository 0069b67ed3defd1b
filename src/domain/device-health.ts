import { softwareFreshnesses, softwareTypes, type ConnectionStatus, type DeviceType, type HealthStatus, type SoftwareFreshness, type SoftwareType } from './enums.js';
import { compareVersions, newestVersion, type CatalogVersion } from './software-catalog.js';

export type InstalledVersions = Partial<Record<SoftwareType, string>>;

interface Connection {
  connectionStatus: ConnectionStatus;
  lastModifiedDateTime: string;
}

interface PeripheralHealth {
  connection?: Connection | null;
  isOptional?: boolean | null;
}

/** teamworkSoftwareUpdateHealth from what a device of this type and model runs and what the catalog offers it. */
export function softwareUpdateHealth(
  deviceType: DeviceType,
  model: string | null,
  installed: InstalledVersions,
  catalog: readonly CatalogVersion[],
): Record<string, unknown> {
  const health: Record<string, unknown> = {};
  for (const type of softwareTypes) {
    const current = installed[type] ?? null;
    const available = newestVersion(catalog, type, deviceType, model);
    health[`${type}SoftwareUpdateStatus`] =
      current === null && available === null
        ? null
        : {
            currentVersion: current,
            availableVersion: available,
            // A device ahead of the catalog (a pilot build) is not behind: latest.
            softwareFreshness:
              current === null || available === null ? 'unknown' : compareVersions(current, available) >= 0 ? 'latest' : 'updateAvailable',
          };
  }
  return health;
}

/**
 * The roll-up healthStatus, by these rules in order (README "Health"):
 * 1. the device is disconnected → offline;
 * 2. a required (non-optional) peripheral or hardware part is disconnected, or Teams is signed out → critical;
 * 3. some software has an update available → nonUrgent;
 * 4. otherwise → healthy.
 */
export function healthStatusOf(health: Record<string, unknown>): HealthStatus {
  const connection = health.connection as Connection | undefined;
  if (connection?.connectionStatus === 'disconnected') return 'offline';
  const parts: PeripheralHealth[] = [];
  for (const group of [health.peripheralsHealth, health.hardwareHealth]) {
    if (!group || typeof group !== 'object') continue;
    for (const value of Object.values(group as Record<string, unknown>)) {
      if (Array.isArray(value)) parts.push(...(value as PeripheralHealth[]));
      else if (value && typeof value === 'object') parts.push(value as PeripheralHealth);
    }
  }
  if (parts.some((p) => p && p.isOptional === false && p.connection?.connectionStatus === 'disconnected')) return 'critical';
  const teams = (health.loginStatus as { teamsConnection?: Connection } | undefined)?.teamsConnection;
  if (teams?.connectionStatus === 'disconnected') return 'critical';
  const updates = Object.values((health.softwareUpdateHealth as Record<string, { softwareFreshness?: string } | null>) ?? {});
  if (updates.some((u) => u?.softwareFreshness === 'updateAvailable')) return 'nonUrgent';
  return 'healthy';
}

/** The health document with a new connection state; "since" changes only when the state does. */
export function withConnection(health: Record<string, unknown>, status: ConnectionStatus, now: string): Record<string, unknown> {
  const previous = health.connection as Connection | undefined;
  const connection = previous?.connectionStatus === status ? previous : { connectionStatus: status, lastModifiedDateTime: now };
  return { ...health, connection };
}

/** configuration.softwareVersions as Graph names them (companyPortal has no slot there). */
export function softwareVersionsOf(installed: InstalledVersions): Record<string, string | null> {
  return {
    adminAgentSoftwareVersion: installed.adminAgent ?? null,
    operatingSystemSoftwareVersion: installed.operatingSystem ?? null,
    teamsClientSoftwareVersion: installed.teamsClient ?? null,
    firmwareSoftwareVersion: installed.firmware ?? null,
    partnerAgentSoftwareVersion: installed.partnerAgent ?? null,
  };
}

/**
 * A software type's softwareFreshness as a health document gives it; null when the document
 * has no status for that software (neither installed nor offered). What `$filter` compares.
 */
export function softwareFreshnessOf(health: Record<string, unknown>, softwareType: SoftwareType): SoftwareFreshness | null {
  const updates = health.softwareUpdateHealth as Record<string, { softwareFreshness?: unknown } | null> | undefined;
  const freshness = updates?.[`${softwareType}SoftwareUpdateStatus`]?.softwareFreshness;
  return softwareFreshnesses.includes(freshness as SoftwareFreshness) ? (freshness as SoftwareFreshness) : null;
}
