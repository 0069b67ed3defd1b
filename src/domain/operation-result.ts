import type { ResultBody } from './agent-protocol.js';
import { badRequest } from './errors.js';
import { softwareTypes } from './enums.js';
import type { InstalledVersions } from './device-health.js';
import type { Operation, OperationError, Transition } from './operation.js';
import { versionTextPattern } from './software-catalog.js';

/** What a device reports when it has finished (or given up on) an operation, every part present. */
export type ResultReport = Required<ResultBody>;

export interface ResultDecision {
  transition: Transition;
  error: OperationError | null;
}

/**
 * Decides how a report ends an operation. Success is truthful: a softwareUpdate succeeds only
 * when the device reports the requested version installed; otherwise it fails and says what
 * the device reported. A device may only report `cancelled` after a cancel was requested.
 */
export function decideResult(operation: Operation, report: ResultReport, cancelRequested: boolean): ResultDecision {
  if (report.status === 'cancelled') {
    if (!cancelRequested) throw badRequest('The operation was not cancelled; report successful or failed.');
    return { transition: 'cancel', error: null };
  }
  if (report.status === 'failed') {
    return {
      transition: 'fail',
      error: { code: report.error?.code ?? 'deviceError', message: report.error?.message ?? 'The device reported a failure without details.' },
    };
  }
  if (operation.operationType === 'softwareUpdate' && operation.softwareType) {
    const reported = report.installed?.[operation.softwareType] ?? null;
    if (reported !== operation.softwareVersion) {
      return {
        transition: 'fail',
        error: {
          code: 'versionMismatch',
          message: `The device reported ${operation.softwareType} ${reported ?? '(nothing)'} installed; ${operation.softwareVersion} was requested.`,
        },
      };
    }
  }
  return { transition: 'succeed', error: null };
}

/** Reads an `installed` map: software type → version, both strictly checked. */
export function parseInstalled(raw: unknown): InstalledVersions {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw badRequest("'installed' must be an object of softwareType → version.");
  const installed: InstalledVersions = {};
  for (const [type, version] of Object.entries(raw as Record<string, unknown>)) {
    const known = softwareTypes.find((t) => t === type);
    if (!known) throw badRequest(`'installed' names an unknown software type '${type.slice(0, 64)}'.`);
    if (typeof version !== 'string' || !versionTextPattern.test(version)) throw badRequest(`'installed.${known}' must be a version string.`);
    installed[known] = version;
  }
  return installed;
}

/** Validates the body of a result report. */
export function parseResultReport(body: unknown): ResultReport {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The result must be a JSON object.');
  const object = body as Record<string, unknown>;
  const unknown = Object.keys(object).filter((k) => !['status', 'installed', 'error', 'diagnostics'].includes(k));
  if (unknown.length) throw badRequest(`Unknown properties in the result: ${unknown.map((k) => `'${k.slice(0, 64)}'`).join(', ')}.`);
  const status = object.status;
  if (status !== 'successful' && status !== 'failed' && status !== 'cancelled') {
    throw badRequest("'status' must be successful, failed or cancelled.");
  }
  let error: OperationError | null = null;
  if (object.error !== undefined && object.error !== null) {
    const e = object.error as Record<string, unknown>;
    if (typeof e !== 'object' || typeof e.code !== 'string' || typeof e.message !== 'string') {
      throw badRequest("'error' must be an object with string 'code' and 'message'.");
    }
    error = { code: e.code.slice(0, 128), message: e.message.slice(0, 1024) };
  }
  const diagnostics = object.diagnostics;
  if (diagnostics !== undefined && diagnostics !== null && (typeof diagnostics !== 'object' || Array.isArray(diagnostics))) {
    throw badRequest("'diagnostics' must be an object.");
  }
  return {
    status,
    installed: object.installed === undefined || object.installed === null ? null : parseInstalled(object.installed),
    error,
    diagnostics: (diagnostics as Record<string, unknown> | undefined) ?? null,
  };
}
