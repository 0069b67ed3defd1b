import type { EnrollRequest, ProgressBody } from '../../domain/agent-protocol.js';
import type { HardwareDetail } from '../../domain/device.js';
import { activityStates, deviceTypes, type DeviceType } from '../../domain/enums.js';
import { badRequest } from '../../domain/errors.js';
import { installedSchema } from '../../domain/operation-result.js';

/** The agent protocol's request bodies (docs/agent-protocol.md), as the routes validate them and /openapi.json shows them. */

const hardwareText = { type: ['string', 'null'], maxLength: 128 } as const;
/** A Graph-shaped part of an inventory, stored as sent (the body limit bounds its size). */
const graphPart = { type: ['object', 'null'] } as const;

export const enrollRequestSchema = {
  title: 'enrollRequest',
  description: "New hardware brings an enrollment token; an enrolled device re-enrolls with its credential in Authorization instead. hardwareDetail needs a uniqueId or a serialNumber.",
  type: 'object',
  required: ['deviceType', 'hardwareDetail'],
  additionalProperties: false,
  properties: {
    enrollmentToken: { type: ['string', 'null'], maxLength: 200 },
    deviceType: { type: 'string', enum: deviceTypes },
    hardwareDetail: {
      title: 'teamworkHardwareDetail',
      type: 'object',
      additionalProperties: false,
      properties: {
        uniqueId: hardwareText,
        serialNumber: hardwareText,
        manufacturer: hardwareText,
        model: hardwareText,
        macAddresses: {
          type: 'array',
          maxItems: 8,
          items: { type: 'string', pattern: '^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$', description: 'a MAC address, such as 00-15-5D-01-02-03' },
        },
      },
    },
    installed: installedSchema,
    displayName: { type: ['string', 'null'], description: 'kept to its first 256 characters' },
  },
} as const;

/** The inventory message, also the heartbeat; every part is optional. */
export const inventoryReportSchema = {
  title: 'inventoryReport',
  type: 'object',
  additionalProperties: false,
  properties: {
    installed: installedSchema,
    activityState: { type: 'string', enum: activityStates },
    peripheralsHealth: graphPart,
    hardwareHealth: graphPart,
    loginStatus: graphPart,
    activePeripherals: graphPart,
  },
} as const;

export const progressReportSchema = {
  title: 'progressReport',
  type: 'object',
  additionalProperties: false,
  properties: {
    percent: { type: ['integer', 'null'], minimum: 0, maximum: 100 },
    message: { type: ['string', 'null'], maxLength: 512 },
  },
} as const;

type EnrollBody = Partial<Omit<EnrollRequest, 'hardwareDetail'>> & { deviceType: DeviceType; hardwareDetail: Partial<HardwareDetail> };

/** An enrollment from its body, already checked against enrollRequestSchema, and the one rule the schema leaves out. */
export function enrollRequestOf(body: EnrollBody): EnrollRequest {
  const hw = body.hardwareDetail;
  const uniqueId = hw.uniqueId ?? null;
  const serialNumber = hw.serialNumber ?? null;
  if (!uniqueId && !serialNumber) throw badRequest("'hardwareDetail' needs a 'uniqueId' or a 'serialNumber'.");
  return {
    enrollmentToken: body.enrollmentToken ?? null,
    deviceType: body.deviceType,
    hardwareDetail: { uniqueId, serialNumber, manufacturer: hw.manufacturer ?? null, model: hw.model ?? null, macAddresses: hw.macAddresses ?? [] },
    installed: body.installed ?? {},
    displayName: body.displayName?.slice(0, 256) ?? null,
  };
}

/** A progress report from its body (none: no news), already checked against progressReportSchema. */
export function progressOf(body: Partial<ProgressBody> | undefined): ProgressBody {
  return { percent: body?.percent ?? null, message: body?.message ?? null };
}
