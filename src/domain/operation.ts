import type { Artifact } from './artifact.js';
import type { OperationType, SoftwareType } from './enums.js';
import type { IdentitySet } from './identity.js';

/**
 * Operation statuses, a closed set. The seed page says "succeeded"; the resource page and
 * every JSON example say "successful", which is what Graph clients compare against.
 */
export const operationStatuses = ['queued', 'scheduled', 'inProgress', 'successful', 'failed', 'cancelled'] as const;
export type OperationStatus = (typeof operationStatuses)[number];

/** Pending = not yet started; at most one pending operation per (device, type, softwareType). */
export const pendingStatuses: readonly OperationStatus[] = ['queued', 'scheduled'];
export const terminalStatuses: readonly OperationStatus[] = ['successful', 'failed', 'cancelled'];

/**
 * Every legal transition. The store performs each one as a single conditional statement
 * (`UPDATE … WHERE status IN (from)`), so a transition not listed here cannot happen and two
 * actors racing for the same transition cannot both win.
 */
export const transitions = {
  schedule: { from: ['queued'], to: 'scheduled' },
  start: { from: ['queued', 'scheduled'], to: 'inProgress' },
  succeed: { from: ['inProgress'], to: 'successful' },
  fail: { from: ['queued', 'scheduled', 'inProgress'], to: 'failed' },
  // An admin withdraws a pending operation at once; a running one ends 'cancelled' only by
  // the device's confirmation. Two transitions, so a withdrawal racing the device's ack can
  // never cancel an operation that has just started.
  withdraw: { from: ['queued', 'scheduled'], to: 'cancelled' },
  cancel: { from: ['inProgress'], to: 'cancelled' },
} as const satisfies Record<string, { from: readonly OperationStatus[]; to: OperationStatus }>;

export type Transition = keyof typeof transitions;

export interface OperationError {
  code: string | null;
  message: string | null;
}

export interface Operation {
  tenantId: string;
  deviceId: string;
  id: string;
  operationType: OperationType;
  softwareType: SoftwareType | null;
  softwareVersion: string | null;
  status: OperationStatus;
  createdDateTime: string;
  createdBy: IdentitySet | null;
  lastActionDateTime: string;
  lastActionBy: IdentitySet | null;
  startedDateTime: string | null;
  completedDateTime: string | null;
  error: OperationError | null;
  /** engine fields, not part of Graph's teamworkDeviceOperation */
  startDeadline: string | null;
  runDeadline: string | null;
  progressPercent: number | null;
  progressMessage: string | null;
  cancelRequested: boolean;
  /** what the device reported with its result (diagnostics, installed versions) */
  result: Record<string, unknown> | null;
  /**
   * a softwareUpdate's artifact, chosen from the catalog when the operation was accepted: the
   * device downloads the same file however often it polls, and resumes it across restarts
   */
  artifact: Artifact | null;
  /**
   * an extension beside Graph's properties: when an operation a maintenance window holds will
   * be released to its device (the windows' next opening); absent or null for one never held
   */
  scheduledDateTime?: string | null;
}

/** The three bound actions and the operation type each creates. */
export const actions = {
  updateSoftware: 'softwareUpdate',
  restart: 'deviceRestart',
  runDiagnostics: 'deviceDiagnostics',
} as const satisfies Record<string, OperationType>;

export type ActionName = keyof typeof actions;

/** Fields of teamworkDeviceOperation in the order the Graph docs list them. */
export const operationProperties = [
  'id', 'status', 'operationType', 'error', 'startedDateTime', 'completedDateTime',
  'createdDateTime', 'lastActionDateTime', 'createdBy', 'lastActionBy',
] as const;
