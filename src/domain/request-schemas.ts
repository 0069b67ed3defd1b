/**
 * JSON Schemas more than one request body shares. The words in `description` are the API
 * description's and the 400's (src/http/request-validation.ts).
 */

/** Devices an admin names, for a rollout or a maintenance window. */
export type DeviceTarget = { filter: string } | { deviceIds: string[] };

/** Most devices one target may name by id. */
export const maxTargetDeviceIds = 1000;

/** A target: a devices `$filter` (its grammar is the edge's to check: it owns the OData parser) or a list of ids. */
export function deviceTargetSchema(title: string) {
  return {
    title,
    description: "exactly one of 'filter' (a devices $filter) and 'deviceIds'",
    type: 'object',
    minProperties: 1,
    maxProperties: 1,
    additionalProperties: false,
    properties: {
      filter: { type: 'string', minLength: 1, maxLength: 2048, description: "a devices $filter of 1 to 2048 characters, as GET /teamwork/devices takes it, e.g. \"deviceType eq 'teamsRoom'\"" },
      deviceIds: { type: 'array', minItems: 1, maxItems: maxTargetDeviceIds, items: { type: 'string', minLength: 1, maxLength: 128 } },
    },
  } as const;
}

/** A target as kept: ids once each. */
export function distinctTarget(target: DeviceTarget): DeviceTarget {
  return 'deviceIds' in target ? { deviceIds: [...new Set(target.deviceIds)] } : target;
}

export const displayNameSchema = { type: 'string', maxLength: 256, pattern: '\\S', description: 'a name of 1 to 256 characters, not only spaces' } as const;
