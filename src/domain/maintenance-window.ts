import { badRequest } from './errors.js';
import { deviceTargetSchema, displayNameSchema, distinctTarget, type DeviceTarget } from './request-schemas.js';
import type { IdentitySet } from './identity.js';
import { daysOfWeek, isTimeZone, startTimePattern, type WindowSchedule } from './window-schedule.js';

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

export type WindowTarget = DeviceTarget;

/** The properties a POST or PATCH may set. */
export interface WindowChanges {
  displayName?: string;
  target?: WindowTarget;
  schedule?: WindowSchedule;
}

export const maintenanceWindowProperties = ['id', 'displayName', 'target', 'schedule', 'createdDateTime', 'lastModifiedDateTime', 'createdBy'] as const;

const windowScheduleSchema = {
  title: 'maintenanceWindowSchedule',
  type: 'object',
  required: ['daysOfWeek', 'startTime', 'durationMinutes', 'timeZone'],
  additionalProperties: false,
  properties: {
    daysOfWeek: { type: 'array', minItems: 1, items: { type: 'string', enum: daysOfWeek } },
    startTime: { type: 'string', pattern: startTimePattern.source, description: 'a time of day, HH:MM or HH:MM:SS (00:00 to 23:59:59)' },
    durationMinutes: { type: 'integer', minimum: 30, maximum: 1440 },
    timeZone: { type: 'string', description: "an IANA time zone name such as 'Europe/Berlin'" },
  },
} as const;

/**
 * A POST (`create`: every property required) or PATCH body (any of them). A PATCH replaces
 * what it names whole: a `schedule` or `target` is given complete.
 */
export function maintenanceWindowBodySchema(create: boolean) {
  return {
    title: 'maintenanceWindow',
    type: 'object',
    ...(create ? { required: ['displayName', 'target', 'schedule'] } : {}),
    additionalProperties: false,
    properties: {
      displayName: displayNameSchema,
      target: deviceTargetSchema('maintenanceWindowTarget'),
      schedule: windowScheduleSchema,
    },
  } as const;
}

/**
 * A window's changes from a body already checked against maintenanceWindowBodySchema, with
 * the rules it leaves out: a PATCH changes something, the time zone is one Intl knows. The
 * filter's grammar is the edge's to check (it owns the OData parser).
 */
export function windowChangesOf(body: WindowChanges, create: boolean): WindowChanges {
  const changes: WindowChanges = {};
  if (body.displayName !== undefined) changes.displayName = body.displayName;
  if (body.target !== undefined) changes.target = distinctTarget(body.target);
  if (body.schedule !== undefined) {
    const { timeZone } = body.schedule;
    if (!isTimeZone(timeZone)) throw badRequest(`'schedule.timeZone' must be an IANA time zone name such as 'Europe/Berlin'; '${timeZone.slice(0, 64)}' is not one.`);
    changes.schedule = { ...body.schedule, daysOfWeek: daysOfWeek.filter((day) => body.schedule!.daysOfWeek.includes(day)) };
  }
  if (!create && Object.keys(changes).length === 0) throw badRequest("The body must change at least one of 'displayName', 'target', 'schedule'.");
  return changes;
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
