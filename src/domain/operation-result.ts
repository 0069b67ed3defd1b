import type { ResultBody } from './agent-protocol.js';
import { badRequest } from './errors.js';
import { softwareTypes } from './enums.js';
import type { Operation, OperationError, Transition } from './operation.js';
import { versionSchema } from './software-catalog.js';

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

/** An `installed` map: software type → version. */
export const installedSchema = {
  title: 'installedVersions',
  description: 'the version installed of each software type the device runs',
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(softwareTypes.map((type) => [type, versionSchema])),
} as const;

/** POST /agent/v1/operations/{id}/result. An error's code and message are cut to 128 and 1024 characters, not refused. */
export const resultReportSchema = {
  title: 'resultReport',
  type: 'object',
  required: ['status'],
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: ['successful', 'failed', 'cancelled'] },
    installed: { ...installedSchema, type: ['object', 'null'] },
    error: {
      type: ['object', 'null'],
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
    diagnostics: { type: ['object', 'null'], description: 'what a deviceDiagnostics operation collected' },
  },
} as const;

/** A result report from its body, already checked against resultReportSchema; absent parts are null. */
export function resultReportOf(body: ResultBody): ResultReport {
  const error = body.error as { code: string; message: string } | null | undefined;
  return {
    status: body.status,
    installed: body.installed ?? null,
    error: error ? { code: error.code.slice(0, 128), message: error.message.slice(0, 1024) } : null,
    diagnostics: body.diagnostics ?? null,
  };
}
