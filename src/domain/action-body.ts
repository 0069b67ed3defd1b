import { softwareTypes, type SoftwareType } from './enums.js';
import type { ActionName } from './operation.js';
import { versionSchema } from './software-catalog.js';

export interface ActionRequest {
  softwareType: SoftwareType | null;
  softwareVersion: string | null;
}

/**
 * The updateSoftware body, strictly: unknown properties are refused by name, as Graph does
 * ("The property 'x' does not exist on type …"), and enum members are case-sensitive.
 */
export const updateSoftwareBodySchema = {
  title: 'microsoft.graph.updateSoftware',
  description: 'Without softwareVersion (or with null), the newest version the catalog offers the device.',
  type: 'object',
  required: ['softwareType'],
  additionalProperties: false,
  properties: {
    softwareType: { type: 'string', enum: softwareTypes },
    softwareVersion: { ...versionSchema, type: ['string', 'null'] },
  },
} as const;

/** A body documented as none (restart, runDiagnostics, cancel, revoke…): none, or `{}`. */
export function emptyBodySchema(typeName: string) {
  return { title: typeName, type: 'object', additionalProperties: false, properties: {} } as const;
}

/** The action's request from its body, already checked against its schema (undefined: none was sent). */
export function actionRequest(action: ActionName, body: unknown): ActionRequest {
  if (action !== 'updateSoftware') return { softwareType: null, softwareVersion: null };
  const { softwareType, softwareVersion = null } = body as { softwareType: SoftwareType; softwareVersion?: string | null };
  return { softwareType, softwareVersion };
}
