import { badRequest } from './errors.js';
import type { IdentitySet } from './identity.js';
import { daysOfWeek, isTimeZone, startSeconds, type DayOfWeek, type WindowSchedule } from './window-schedule.js';

/**
 * A maintenance window (an extension beside Graph): the devices it covers are given work only
 * while one of their windows is open. `target` names them by a devices `$filter` (the grammar
 * of GET /teamwork/devices, evaluated whenever an operation is decided, so devices that come to
 * match later are covered) or by id.
 */
export interface MaintenanceWindow {
  tenantId: string;
  id: string;
  displayName: string;
  target: WindowTarget;
  schedule: WindowSchedule;
  createdDateTime: string;
  createdBy: IdentitySet | null;
  lastModifiedDateTime: string;
}

export type WindowTarget = { filter: string } | { deviceIds: string[] };

/** The properties a POST or PATCH may set. */
export interface WindowChanges {
  displayName?: string;
  target?: WindowTarget;
  schedule?: WindowSchedule;
}

export const maxTargetDeviceIds = 1000;
export const maintenanceWindowProperties = ['id', 'displayName', 'target', 'schedule', 'createdDateTime', 'lastModifiedDateTime', 'createdBy'] as const;

/**
 * Checks a POST (`create`: every property required) or PATCH body (any of them). A PATCH
 * replaces what it names whole: a `schedule` or `target` is given complete. The filter's
 * grammar is the edge's to check (it owns the OData parser); here only its size.
 */
export function parseWindowBody(body: unknown, create: boolean): WindowChanges {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The body must be a JSON object.');
  const { displayName, target, schedule, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw badRequest(`Unknown or read-only properties: ${unknown.slice(0, 8).map((k) => `'${k.slice(0, 64)}'`).join(', ')}.`);
  const changes: WindowChanges = {};
  if (displayName !== undefined || create) {
    if (typeof displayName !== 'string' || displayName.trim().length === 0 || displayName.length > 256) {
      throw badRequest("'displayName' must be a non-empty string of at most 256 characters.");
    }
    changes.displayName = displayName;
  }
  if (target !== undefined || create) changes.target = parseTarget(target);
  if (schedule !== undefined || create) changes.schedule = parseSchedule(schedule);
  if (!create && Object.keys(changes).length === 0) throw badRequest("The body must change at least one of 'displayName', 'target', 'schedule'.");
  return changes;
}

function parseTarget(target: unknown): WindowTarget {
  if (typeof target !== 'object' || target === null || Array.isArray(target)) {
    throw badRequest("'target' must be an object with either 'filter' or 'deviceIds'.");
  }
  const { filter, deviceIds, ...rest } = target as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw badRequest(`Unknown properties in 'target': ${unknown.slice(0, 8).map((k) => `'${k.slice(0, 64)}'`).join(', ')}.`);
  if ((filter === undefined) === (deviceIds === undefined)) throw badRequest("'target' must have exactly one of 'filter' and 'deviceIds'.");
  if (filter !== undefined) {
    if (typeof filter !== 'string' || filter.trim().length === 0 || filter.length > 2048) {
      throw badRequest("'target.filter' must be a devices $filter of 1 to 2048 characters.");
    }
    return { filter };
  }
  if (!Array.isArray(deviceIds) || deviceIds.length === 0 || deviceIds.length > maxTargetDeviceIds) {
    throw badRequest(`'target.deviceIds' must be an array of 1 to ${maxTargetDeviceIds} device ids.`);
  }
  for (const id of deviceIds) {
    if (typeof id !== 'string' || id.length === 0 || id.length > 128) throw badRequest("'target.deviceIds' must hold device ids (strings of 1 to 128 characters).");
  }
  return { deviceIds: [...new Set(deviceIds as string[])] };
}

function parseSchedule(schedule: unknown): WindowSchedule {
  if (typeof schedule !== 'object' || schedule === null || Array.isArray(schedule)) {
    throw badRequest("'schedule' must be an object with 'daysOfWeek', 'startTime', 'durationMinutes' and 'timeZone'.");
  }
  const { daysOfWeek: days, startTime, durationMinutes, timeZone, ...rest } = schedule as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw badRequest(`Unknown properties in 'schedule': ${unknown.slice(0, 8).map((k) => `'${k.slice(0, 64)}'`).join(', ')}.`);
  if (!Array.isArray(days) || days.length === 0 || days.some((d) => !daysOfWeek.includes(d as DayOfWeek))) {
    throw badRequest(`'schedule.daysOfWeek' must be a non-empty array of ${daysOfWeek.join(', ')}.`);
  }
  if (typeof startTime !== 'string' || startSeconds(startTime) === null) {
    throw badRequest("'schedule.startTime' must be a time of day, HH:MM or HH:MM:SS (00:00 to 23:59:59).");
  }
  if (typeof durationMinutes !== 'number' || !Number.isInteger(durationMinutes) || durationMinutes < 30 || durationMinutes > 1440) {
    throw badRequest("'schedule.durationMinutes' must be a whole number from 30 to 1440.");
  }
  if (typeof timeZone !== 'string' || !isTimeZone(timeZone)) {
    throw badRequest(`'schedule.timeZone' must be an IANA time zone name such as 'Europe/Berlin'${typeof timeZone === 'string' ? `; '${timeZone.slice(0, 64)}' is not one` : ''}.`);
  }
  const ordered = daysOfWeek.filter((day) => (days as string[]).includes(day));
  return { daysOfWeek: ordered, startTime, durationMinutes, timeZone };
}

/**
 * Windows time zone names as Teams devices report them (systemConfiguration's
 * dateTimeConfiguration.timeZone), for the zones most rooms are in; a name not listed here
 * (and not an IANA name) leaves the device on its windows' time zone.
 */
const windowsTimeZones: Record<string, string> = {
  'Dateline Standard Time': 'Etc/GMT+12',
  'Hawaiian Standard Time': 'Pacific/Honolulu',
  'Alaskan Standard Time': 'America/Anchorage',
  'Pacific Standard Time': 'America/Los_Angeles',
  'Mountain Standard Time': 'America/Denver',
  'US Mountain Standard Time': 'America/Phoenix',
  'Central Standard Time': 'America/Chicago',
  'Eastern Standard Time': 'America/New_York',
  'Atlantic Standard Time': 'America/Halifax',
  'E. South America Standard Time': 'America/Sao_Paulo',
  'UTC': 'Etc/UTC',
  'GMT Standard Time': 'Europe/London',
  'W. Europe Standard Time': 'Europe/Berlin',
  'Romance Standard Time': 'Europe/Paris',
  'Central Europe Standard Time': 'Europe/Budapest',
  'Central European Standard Time': 'Europe/Warsaw',
  'GTB Standard Time': 'Europe/Bucharest',
  'FLE Standard Time': 'Europe/Kiev',
  'Russian Standard Time': 'Europe/Moscow',
  'Arabian Standard Time': 'Asia/Dubai',
  'India Standard Time': 'Asia/Kolkata',
  'China Standard Time': 'Asia/Shanghai',
  'Singapore Standard Time': 'Asia/Singapore',
  'Tokyo Standard Time': 'Asia/Tokyo',
  'Korea Standard Time': 'Asia/Seoul',
  'AUS Eastern Standard Time': 'Australia/Sydney',
  'New Zealand Standard Time': 'Pacific/Auckland',
};

/**
 * The time zone a device's windows are read in: its configuration document's `timeZone`, else
 * the `systemConfiguration.dateTimeConfiguration.timeZone` Graph has (an IANA name, or a
 * Windows name listed above); null when it has neither or names no zone Intl knows.
 */
export function deviceTimeZone(configuration: Record<string, unknown> | null | undefined): string | null {
  const system = configuration?.systemConfiguration as Record<string, unknown> | null | undefined;
  const dateTime = system?.dateTimeConfiguration as Record<string, unknown> | null | undefined;
  for (const name of [configuration?.timeZone, dateTime?.timeZone]) {
    if (typeof name !== 'string') continue;
    const zone = windowsTimeZones[name] ?? name;
    if (isTimeZone(zone)) return zone;
  }
  return null;
}
