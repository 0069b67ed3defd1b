import type { MaintenanceWindow } from '../domain/maintenance-window.js';
import type { Operation } from '../domain/operation.js';
import type { DeviceFilter, Page } from './device-query.js';

export interface MaintenanceWindowQuery {
  tenantId: string;
  top: number;
  /** keyset position: windows older than this sequence number */
  beforeSeq: number | null;
}

export interface DeviceWindows {
  windows: MaintenanceWindow[];
  /** the device's own time zone (its configuration's), which replaces its windows' */
  timeZone: string | null;
}

/** The maintenance-windows part of the Store (`store.windows`): windows and the operations they hold. */
export interface MaintenanceWindowStore {
  /** `filter`: the parsed tree of a filter target (null for deviceIds), kept to match devices with. */
  create(window: MaintenanceWindow, filter: DeviceFilter | null): Promise<void>;
  get(tenantId: string, id: string): Promise<MaintenanceWindow | null>;
  count(tenantId: string): Promise<number>;
  /** Newest first. */
  list(query: MaintenanceWindowQuery): Promise<Page<MaintenanceWindow>>;
  /** Read-modify-write of one window as a unit (`filter` absent: target unchanged); null when the tenant has no such window. */
  update(
    tenantId: string,
    id: string,
    change: (window: MaintenanceWindow) => { window: MaintenanceWindow; filter?: DeviceFilter | null },
  ): Promise<MaintenanceWindow | null>;
  delete(tenantId: string, id: string): Promise<boolean>;
  /**
   * The windows covering a device and the time zone it reads them in. A tenant with no
   * windows costs one empty index range: every action on a device asks this.
   */
  deviceWindows(tenantId: string, deviceId: string): Promise<DeviceWindows>;
  /**
   * Scheduled operations due by `now` become queued, a batch per conditional UPDATE; returns
   * them. Where replicas share the store, the same statement tells them (no notifyWork after it).
   */
  releaseDue(now: string, limit: number): Promise<Operation[]>;
  /** Makes the tenant's scheduled operations due now, to be decided again (a window changed); returns how many. */
  reviewScheduled(tenantId: string, now: string): Promise<number>;
}
