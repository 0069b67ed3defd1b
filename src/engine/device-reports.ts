import type { InventoryBody } from '../domain/agent-protocol.js';
import type { Device } from '../domain/device.js';
import {
  healthStatusOf, softwareUpdateHealth, softwareVersionsOf, withConnection, type InstalledVersions,
} from '../domain/device-health.js';
import type { ActivityState, ConnectionStatus } from '../domain/enums.js';
import { changesDevice } from '../domain/device-changes.js';
import { deviceIdentitySet } from '../domain/identity.js';
import type { CatalogVersion } from '../domain/software-catalog.js';
import type { Store } from '../store/store.js';

/**
 * Turns what devices report into the Graph documents: health (with softwareUpdateHealth
 * computed against the catalog), activity, configuration.softwareVersions, healthStatus.
 * Each change is applied to the current row inside one store transaction, so changes from
 * different sources (a result, a heartbeat, the supervisor) never overwrite each other; a
 * change that leaves everything but the stamps as it was is not written.
 */
export class DeviceReports {
  constructor(private readonly store: Store) {}

  /**
   * `before`: told the device as it was (the engine wakes a device that stops being busy).
   * A report that changes nothing but stamps writes nothing: it is compared with the device
   * read without a lock first, so a repeated report (most of them) takes no row lock and no
   * transaction; only a report that changes something goes on to the locked read-modify-write.
   */
  async applyInventory(tenantId: string, deviceId: string, report: InventoryBody, now: string, before?: (device: Device) => void): Promise<Device | null> {
    const apply = (device: Device) => {
      before?.(device);
      return inventoryChange(device, report, now);
    };
    const current = await this.store.getDevice(tenantId, deviceId);
    if (!current) return null;
    // The entries for the device's type are all its derivation needs (a re-enrolment that
    // changes the type between this read and the locked one is put right by the next report).
    const catalog = await this.store.catalogVersionsFor(tenantId, current.deviceType);
    const { device, installed } = apply(current);
    if (!changesDevice(current, derive(device, installed, catalog, now))) return current;
    return this.change(tenantId, deviceId, now, apply, catalog);
  }

  async setConnection(tenantId: string, deviceId: string, status: ConnectionStatus, now: string): Promise<Device | null> {
    return this.change(tenantId, deviceId, now, (device) => connectionChange(device, status, now));
  }

  /** setConnection for many devices (presence, the supervisor): one catalog read per tenant, not per device. */
  async setConnections(devices: { tenantId: string; deviceId: string }[], status: ConnectionStatus, now: string): Promise<void> {
    const catalogs = new Map<string, CatalogVersion[]>();
    for (const { tenantId, deviceId } of devices) {
      let catalog = catalogs.get(tenantId);
      if (!catalog) catalogs.set(tenantId, (catalog = await this.store.listCatalog(tenantId)));
      await this.change(tenantId, deviceId, now, (device) => connectionChange(device, status, now), catalog);
    }
  }

  async applyInstalled(tenantId: string, deviceId: string, installed: InstalledVersions, now: string): Promise<Device | null> {
    return this.change(tenantId, deviceId, now, (device) => ({ device, installed: { ...device.installed, ...installed } }));
  }

  private async change(
    tenantId: string,
    deviceId: string,
    now: string,
    apply: (device: Device) => { device: Device; installed: InstalledVersions },
    // Read before the store's transaction, inside which the change function runs.
    catalog?: readonly CatalogVersion[],
  ): Promise<Device | null> {
    catalog ??= await this.store.listCatalog(tenantId);
    return this.store.updateDevice(tenantId, deviceId, (current) => {
      const { device, installed } = apply(current);
      const next = derive(device, installed, catalog, now);
      return changesDevice(current, next) ? next : current;
    });
  }
}

/** What an inventory report makes of a device, before the derived parts. Graph-shaped parts are stored as sent. */
function inventoryChange(device: Device, report: InventoryBody, now: string): { device: Device; installed: InstalledVersions } {
  let health: Record<string, unknown> = { ...device.health };
  for (const part of ['peripheralsHealth', 'hardwareHealth', 'loginStatus'] as const) {
    if (report[part] !== undefined) health[part] = report[part];
  }
  health = withConnection(health, 'connected', now);
  const activity = report.activePeripherals === undefined
    ? device.activity
    : { ...device.activity, activePeripherals: report.activePeripherals, lastModifiedDateTime: now };
  return {
    device: { ...device, health, activity, activityState: report.activityState ?? device.activityState, lastSeenDateTime: now },
    installed: report.installed ?? device.installed,
  };
}

function connectionChange(device: Device, status: ConnectionStatus, now: string): { device: Device; installed: InstalledVersions } {
  const activityState = status === 'disconnected' ? 'unavailable' : device.activityState === 'unavailable' ? 'idle' : device.activityState;
  return { device: { ...device, health: withConnection(device.health, status, now), activityState }, installed: device.installed };
}

/** The derived parts of a device: software health, software versions, healthStatus, audit fields. */
function derive(device: Device, installed: InstalledVersions, catalog: readonly CatalogVersion[], now: string): Device {
  const health = {
    ...device.health,
    softwareUpdateHealth: softwareUpdateHealth(device.deviceType, device.hardwareDetail.model, installed, catalog),
    lastModifiedDateTime: now,
  };
  const configuration = {
    ...device.configuration,
    softwareVersions: { ...(device.configuration.softwareVersions as object | undefined), ...softwareVersionsOf(installed) },
    lastModifiedDateTime: now,
  };
  return {
    ...device,
    installed,
    health,
    configuration,
    healthStatus: healthStatusOf(health),
    lastModifiedDateTime: now,
    lastModifiedBy: deviceIdentitySet(device.id, device.currentUser?.displayName ?? null),
  };
}
