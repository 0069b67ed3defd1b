import type { LoopDelay } from './target-process.js';

/** What long-poll-fleet.js (a child process) and its parent (fleet-process.ts) say to each other. */

export type FleetDeviceType = 'teamsRoom' | 'collaborationBar';

export interface FleetDevice {
  deviceId: string;
  deviceType: FleetDeviceType;
  /** index in the fleet's server list of the server this device talks to (0 with one server) */
  server: number;
}

export interface FleetStats {
  /** work polls answered 200 / 204 */
  polls200: number;
  polls204: number;
  acks: number;
  results: number;
  /** operations whose result was not a 200 */
  resultFailures: number;
  /** non-2xx answers, by "METHOD route status" */
  httpErrors: Record<string, number>;
  /** socket-level failures (reset, refused, timeout), by message */
  networkErrors: Record<string, number>;
  /** polls currently sent and not yet answered */
  pollsInFlight: number;
  rssBytes: number;
  /** enrolments retried as new hardware after a 409: an earlier attempt had committed but its answer was lost */
  lostEnrolments?: number;
  /** the fleet's event loop delay in ms since the last stats request with reset (or the start) */
  loopDelay: LoopDelay;
  /** inventory reports, when the fleet sends them (fleet-inventory.ts) */
  inventory?: FleetInventoryStats;
}

/** How each device of the bench fleet reports its inventory (long-poll-fleet.js, issue 16's inventory benchmark). */
export interface FleetInventoryOptions {
  /** every device reports once per interval, the devices' phases spread evenly over it */
  intervalSeconds: number;
  /** share of reports that change something (the room goes in or out of a meeting); each device's first report always does */
  changeShare: number;
}

export interface FleetInventoryStats {
  sent: number;
  /** answered 200 */
  accepted: number;
  failed: number;
  /** sent with something the server did not hold yet (each device's first report among them) */
  changed: number;
  inFlight: number;
  /** round trip of the accepted reports in ms, since the last stats request with reset */
  latency: LoopDelay;
}

/** A changed inventory report: wall-clock ms (Date.now()) when sent and when answered 200 (Number.MAX_SAFE_INTEGER: never answered, so the server may write it at any later time). */
export interface InventoryChange {
  deviceId: string;
  sentAt: number;
  repliedAt: number;
}

/** Messages from the fleet to its parent. */
export type FleetMessage =
  | { type: 'progress'; enrolled: number }
  | { type: 'ready'; devices: FleetDevice[]; enrollSeconds: number; stats: FleetStats }
  /** receivedAt: monotonicMs() when the poll's 200 body was complete */
  | { type: 'received'; operationId: string; deviceId: string; receivedAt: number }
  | { type: 'stats'; stats: FleetStats }
  | { type: 'inventoryChanges'; changes: InventoryChange[] }
  | { type: 'fatal'; message: string };

/** Messages from the parent. */
export type FleetCommand =
  | { type: 'stats'; resetLoopDelay?: boolean }
  | { type: 'stop' }
  /** every device starts reporting its inventory (fleet-inventory.ts) */
  | { type: 'startInventory'; options: FleetInventoryOptions }
  /** answered with the changed reports answered since `since` (wall-clock ms) */
  | { type: 'inventoryChanges'; since: number };

/**
 * CLOCK_MONOTONIC in milliseconds, fractional (process.hrtime is libuv's uv_hrtime). Every
 * process on the machine reads the same clock, so a time taken in the fleet process and one
 * taken in the parent can be subtracted; Date.now() would give whole milliseconds only.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
