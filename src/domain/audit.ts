import type { Caller } from './identity.js';

/**
 * The audit log: who did what to which device, token or operation, from where. Shaped after
 * Graph's directoryAudit (activityDateTime, initiatedBy, targetResources, result). An event
 * never holds a secret: tokens and credentials are named by their id, never by their value.
 */
export const auditActivities = [
  'deviceEnrolled',
  'deviceReenrolled',
  'enrollmentRefused',
  'deviceCredentialRotated',
  'deviceCredentialRevoked',
  'deviceRemoved',
  'enrollmentTokenCreated',
  'enrollmentTokenRevoked',
  'operationCreated',
  'operationCancelled',
  'authenticationFailed',
  'rolloutCreated',
  'rolloutStarted',
  'rolloutPaused',
  'rolloutResumed',
  'rolloutApproved',
  'rolloutCancelled',
] as const;
export type AuditActivity = (typeof auditActivities)[number];

/** Who acted: an admin (user or app token), a device (its credential), an enrollment token (its id), the local operator (CLI), or nobody known. */
export interface AuditActor {
  type: 'user' | 'application' | 'device' | 'enrollmentToken' | 'operator' | 'anonymous';
  id: string | null;
  displayName: string | null;
  ipAddress: string | null;
}

export interface AuditTarget {
  type: 'device' | 'operation' | 'enrollmentToken' | 'rollout';
  id: string;
}

export interface AuditEvent {
  /** assigned by the store (its sequence), '' before */
  id: string;
  /** null when the tenant is not known (a token that failed verification) */
  tenantId: string | null;
  activityDateTime: string;
  activity: AuditActivity;
  result: 'success' | 'failure';
  resultReason: string | null;
  initiatedBy: AuditActor;
  target: AuditTarget | null;
  additionalDetails: Record<string, string | number | boolean | null> | null;
  /** failed authentications are counted per source, reason and minute rather than written one by one */
  occurrences: number;
}

export function actorOf(caller: Caller): AuditActor {
  return { type: caller.kind, id: caller.id, displayName: caller.displayName, ipAddress: caller.sourceAddress ?? null };
}

export function deviceActor(deviceId: string, ipAddress: string | null): AuditActor {
  return { type: 'device', id: deviceId, displayName: null, ipAddress };
}

/** The local operator: someone with access to the database who ran the command line. */
export const operatorActor: AuditActor = { type: 'operator', id: null, displayName: 'teamwork-devices CLI', ipAddress: null };

export function auditEvent(
  tenantId: string | null,
  activity: AuditActivity,
  initiatedBy: AuditActor,
  target: AuditTarget | null,
  more: Partial<Pick<AuditEvent, 'result' | 'resultReason' | 'additionalDetails' | 'activityDateTime' | 'occurrences'>> = {},
): AuditEvent {
  return {
    id: '',
    tenantId,
    activityDateTime: more.activityDateTime ?? new Date().toISOString(),
    activity,
    result: more.result ?? 'success',
    resultReason: more.resultReason ?? null,
    initiatedBy,
    target,
    additionalDetails: more.additionalDetails ?? null,
    occurrences: more.occurrences ?? 1,
  };
}
