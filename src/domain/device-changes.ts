import type { Device } from './device.js';

/**
 * Whether `after` says anything `before` does not, apart from the stamps a change sets
 * (lastModified*, lastSeen). An inventory that repeats what the device already reported
 * derives the same documents with new stamps only: that is no change, and writes nothing
 * (the heartbeat it also is goes to the presence batch).
 */
export function changesDevice(before: Device, after: Device): boolean {
  return !sameJson(withoutStamps(before), withoutStamps(after));
}

/** The device with its change stamps blanked, so only what was reported and derived is compared. */
function withoutStamps(device: Device): Record<string, unknown> {
  return {
    ...device,
    lastModifiedDateTime: null,
    lastModifiedBy: null,
    lastSeenDateTime: null,
    health: { ...device.health, lastModifiedDateTime: null },
    activity: { ...device.activity, lastModifiedDateTime: null },
    configuration: { ...device.configuration, lastModifiedDateTime: null },
  };
}

/**
 * Equality of JSON values as JSON means them: an object's keys in any order (a device may
 * send its parts in another order; the stored text keeps one), a key whose value is undefined
 * as absent (JSON.stringify drops it), -0 as 0 (stored as 0).
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => sameJson(item, b[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  let leftKeys = 0;
  for (const key in left) {
    if (left[key] === undefined) continue;
    leftKeys++;
    if (!Object.hasOwn(right, key) || !sameJson(left[key], right[key])) return false;
  }
  let rightKeys = 0;
  for (const key in right) if (right[key] !== undefined) rightKeys++;
  return leftKeys === rightKeys;
}
