import { badRequest } from './errors.js';
import { softwareTypes, type SoftwareType } from './enums.js';
import type { ActionName } from './operation.js';
import { versionTextPattern } from './software-catalog.js';

export interface ActionRequest {
  softwareType: SoftwareType | null;
  softwareVersion: string | null;
}


/**
 * Validates an action body strictly. `undefined` means no body was sent. Unknown properties
 * are rejected by name, as Graph does ("The property 'x' does not exist on type …").
 */
export function parseActionBody(action: ActionName, body: unknown): ActionRequest {
  if (action !== 'updateSoftware') {
    requireEmptyBody(body, `microsoft.graph.${action}`);
    return { softwareType: null, softwareVersion: null };
  }
  if (body === undefined) throw badRequest("The request body is required and must contain 'softwareType'.");
  const object = requireObject(body);
  rejectUnknown(object, ['softwareType', 'softwareVersion'], 'microsoft.graph.updateSoftware');

  const rawType = object.softwareType;
  if (rawType === undefined || rawType === null) throw badRequest("The parameter 'softwareType' is required.");
  if (typeof rawType !== 'string') throw badRequest("The parameter 'softwareType' must be a string.");
  // Exact match: enum members are case-sensitive on the wire in request bodies.
  const softwareType = softwareTypes.find((t) => t === rawType);
  if (!softwareType) {
    throw badRequest(`The parameter 'softwareType' has an invalid value '${truncate(rawType)}'; valid values are ${softwareTypes.join(', ')}.`);
  }

  const rawVersion = object.softwareVersion;
  if (rawVersion === undefined || rawVersion === null) return { softwareType, softwareVersion: null };
  if (typeof rawVersion !== 'string') throw badRequest("The parameter 'softwareVersion' must be a string.");
  if (!versionTextPattern.test(rawVersion)) {
    throw badRequest("The parameter 'softwareVersion' must be 1 to 64 characters of letters, digits and '.', '-', '+', '_'.");
  }
  return { softwareType, softwareVersion: rawVersion };
}

/** For requests documented without a body: none, or `{}`. */
export function requireEmptyBody(body: unknown, typeName: string): void {
  if (body === undefined) return;
  rejectUnknown(requireObject(body), [], typeName);
}

export function requireObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object.');
  }
  return body as Record<string, unknown>;
}

export function rejectUnknown(object: Record<string, unknown>, allowed: string[], typeName: string): void {
  const unknown = Object.keys(object).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    const names = unknown.map((k) => `'${truncate(k)}'`).join(', ');
    throw badRequest(`The propert${unknown.length === 1 ? 'y' : 'ies'} ${names} do${unknown.length === 1 ? 'es' : ''} not exist on type '${typeName}'.`);
  }
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
