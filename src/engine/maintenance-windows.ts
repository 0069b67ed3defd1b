import type { Logger } from 'pino';
import { isoNow, type Clock } from '../domain/clock.js';
import { badRequest, notFound } from '../domain/errors.js';
import { identitySetOf, type Caller } from '../domain/identity.js';
import type { MaintenanceWindow, WindowChanges } from '../domain/maintenance-window.js';
import { newOperationId } from '../domain/operation-id.js';
import { combinedState, windowState, type WindowState } from '../domain/window-schedule.js';
import type { DeviceFilter } from '../store/device-query.js';
import type { Store } from '../store/store.js';
import { BackgroundLoop } from './background-loop.js';

/** Windows one tenant may have: each is a condition of the read every held action makes. */
export const maxWindowsPerTenant = 100;

/** Operations released per UPDATE. */
const releaseBatch = 500;

/**
 * Whether the device's maintenance windows are open at `at`: null when none covers it (its
 * work is never held), else open until, or closed until, in its own time zone when it has one.
 */
export async function windowsOfDevice(store: Store, tenantId: string, deviceId: string, at: number): Promise<WindowState | null> {
  const { windows, timeZone } = await store.windows.deviceWindows(tenantId, deviceId);
  return combinedState(windows.map((w) => windowState(w.schedule, at, timeZone ?? w.schedule.timeZone)));
}

/** A new window; `filter` is the parsed tree of a filter target. */
export async function createWindow(store: Store, caller: Caller, changes: Required<WindowChanges>, filter: DeviceFilter | null, clock: Clock): Promise<MaintenanceWindow> {
  // A soft limit: two creations racing may both pass it, which costs nothing worse than 101.
  if ((await store.windows.count(caller.tenantId)) >= maxWindowsPerTenant) {
    throw badRequest(`A tenant may have at most ${maxWindowsPerTenant} maintenance windows.`);
  }
  const now = clock.now();
  const window: MaintenanceWindow = {
    tenantId: caller.tenantId,
    id: newOperationId(now),
    ...changes,
    createdDateTime: new Date(now).toISOString(),
    createdBy: identitySetOf(caller),
    lastModifiedDateTime: new Date(now).toISOString(),
  };
  await store.windows.create(window, filter);
  return window;
}

/**
 * Changes what the PATCH names; the tenant's scheduled operations are then decided again
 * against the windows as they now are (released, and held again by the work poll if still closed).
 */
export async function updateWindow(
  store: Store, caller: Caller, id: string, changes: WindowChanges, filter: DeviceFilter | null | undefined, clock: Clock,
): Promise<MaintenanceWindow> {
  const now = isoNow(clock);
  const updated = await store.windows.update(caller.tenantId, id, (window) => ({
    window: { ...window, ...changes, lastModifiedDateTime: now },
    filter,
  }));
  if (!updated) throw windowNotFound(id);
  await store.windows.reviewScheduled(caller.tenantId, now);
  return updated;
}

export async function deleteWindow(store: Store, caller: Caller, id: string, clock: Clock): Promise<void> {
  if (!(await store.windows.delete(caller.tenantId, id))) throw windowNotFound(id);
  await store.windows.reviewScheduled(caller.tenantId, isoNow(clock));
}

export function windowNotFound(id: string) {
  return notFound(`The maintenance window '${id.slice(0, 64)}' does not exist.`);
}

/**
 * Releases scheduled operations when their windows open: every `schedulerIntervalMs`, only on
 * the replica that holds the supervisor lease, one conditional UPDATE per batch; each released
 * device's long-poll is woken here (the store's statement tells other replicas).
 */
export class WindowScheduler {
  private readonly loop: BackgroundLoop;

  constructor(
    private readonly store: Store,
    intervalMs: number,
    private readonly wake: (deviceId: string) => void,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    this.loop = new BackgroundLoop('maintenance windows', intervalMs, () => this.tick(), log);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  async tick(): Promise<void> {
    if (!(await this.store.holdsSupervisorLease())) return;
    for (;;) {
      const released = await this.store.windows.releaseDue(isoNow(this.clock), releaseBatch);
      for (const deviceId of new Set(released.map((op) => op.deviceId))) this.wake(deviceId);
      if (released.length > 0) this.log.info({ operations: released.length }, 'maintenance windows opened: operations released');
      if (released.length < releaseBatch) return;
    }
  }
}
