import type { Device } from '../domain/device.js';
import {
  healthStatusOf, softwareUpdateHealth, softwareVersionsOf, withConnection, type InstalledVersions,
} from '../domain/device-health.js';
import type { ActivityState, ConnectionStatus } from '../domain/enums.js';
import { deviceIdentitySet } from '../domain/identity.js';
import type { Store } from '../store/store.js';

/** What an agent reports about itself (the inventory/heartbeat message). */
export interface InventoryReport {
  installed?: InstalledVersions;
  activityState?: ActivityState;
  /** Graph-shaped parts, taken as reported */
  peripheralsHealth?: Record<string, unknown> | null;
  hardwareHealth?: Record<string, unknown> | null;
  loginStatus?: Record<string, unknown> | null;
  activePeripherals?: Record<string, unknown> | null;
}

/**
 * Turns what devices report into the Graph documents: health (with softwareUpdateHealth
 * computed against the catalog), activity, configuration.softwareVersions, healthStatus.
 */
export class DeviceReports {
  constructor(private readonly store: Store) {}

  async applyInventory(device: Device, report: InventoryReport, now: string): Promise<Device> {
    let health: Record<string, unknown> = { ...device.health };
    for (const part of ['peripheralsHealth', 'hardwareHealth', 'loginStatus'] as const) {
      if (report[part] !== undefined) health[part] = report[part];
    }
    health = withConnection(health, 'connected', now);
    const activity = report.activePeripherals === undefined
      ? device.activity
      : { ...device.activity, activePeripherals: report.activePeripherals, lastModifiedDateTime: now };
    return this.save(
      { ...device, health, activity, activityState: report.activityState ?? device.activityState, lastSeenDateTime: now },
      report.installed ?? device.installed,
      now,
    );
  }

  async setConnection(device: Device, status: ConnectionStatus, now: string): Promise<Device> {
    const activityState = status === 'disconnected' ? 'unavailable' : device.activityState === 'unavailable' ? 'idle' : device.activityState;
    return this.save({ ...device, health: withConnection(device.health, status, now), activityState }, device.installed, now);
  }

  async applyInstalled(device: Device, installed: InstalledVersions, now: string): Promise<Device> {
    return this.save(device, { ...device.installed, ...installed }, now);
  }

  private async save(device: Device, installed: InstalledVersions, now: string): Promise<Device> {
    const catalog = await this.store.listCatalog(device.tenantId);
    const health = {
      ...device.health,
      softwareUpdateHealth: softwareUpdateHealth(device, installed, catalog),
      lastModifiedDateTime: now,
    };
    const configuration = {
      ...device.configuration,
      softwareVersions: { ...(device.configuration.softwareVersions as object | undefined), ...softwareVersionsOf(installed) },
      lastModifiedDateTime: now,
    };
    const updated: Device = {
      ...device,
      installed,
      health,
      configuration,
      healthStatus: healthStatusOf(health),
      lastModifiedDateTime: now,
      lastModifiedBy: deviceIdentitySet(device.id, device.currentUser?.displayName ?? null),
    };
    await this.store.updateDeviceState(updated);
    return updated;
  }
}
