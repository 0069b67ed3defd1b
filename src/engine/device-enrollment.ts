import { randomUUID } from 'node:crypto';
import type { EnrollRequest } from '../domain/agent-protocol.js';
import { auditEvent, deviceActor, type AuditActor } from '../domain/audit.js';
import type { Device } from '../domain/device.js';
import { ServiceError } from '../domain/errors.js';
import { deviceIdentitySet } from '../domain/identity.js';
import type { DeviceRef, EnrollmentProof, EnrollmentRefusal, EnrollmentToken, Store } from '../store/store.js';
import type { AuditLog } from './audit-log.js';
import type { DeviceReports } from './device-reports.js';

/** A device asking to enroll, its secrets already hashed by the agent protocol's edge. */
export interface EnrollmentClaim extends Omit<EnrollRequest, 'enrollmentToken'> {
  /** absent when the device proves itself with its credential instead */
  enrollmentTokenHash: string | null;
  /** the device whose valid credential came with the request, if one did */
  credentialOf: DeviceRef | null;
  /** hash of the new device credential's secret, stored in place of any older one */
  credentialHash: string;
  sourceAddress: string | null;
  /** devices an enrollment token may bring into its tenant */
  deviceQuota: number;
}

export interface EnrolledDevice {
  tenantId: string;
  deviceId: string;
  reenrolled: boolean;
}

/**
 * Enrolls a device. New hardware needs a usable enrollment token (one use of it, and room in
 * the tenant's quota). Hardware that is already a device must prove it is that device: its
 * current credential, or an admin's reset (revokeCredential) before; otherwise nothing changes
 * and the answer is a 409. An enrolled device keeps its id, operations and history.
 */
export async function enrollDevice(store: Store, reports: DeviceReports, audit: AuditLog, claim: EnrollmentClaim): Promise<EnrolledDevice> {
  let tenantId: string;
  let proof: EnrollmentProof;
  let actor: AuditActor;
  if (claim.credentialOf) {
    ({ tenantId } = claim.credentialOf);
    proof = { kind: 'credential', deviceId: claim.credentialOf.deviceId };
    actor = deviceActor(claim.credentialOf.deviceId, claim.sourceAddress);
  } else {
    const token = claim.enrollmentTokenHash ? await store.findEnrollmentToken(claim.enrollmentTokenHash) : null;
    const unusable = token ? tokenUnusable(token) : 'unknown';
    if (unusable) {
      audit.authenticationFailed(token?.tenantId ?? null, tokenActor(token, claim.sourceAddress), `enrollment token ${unusable}`);
      throw new ServiceError('unauthenticated', `The enrollment token is ${unusable}.`);
    }
    tenantId = token!.tenantId;
    proof = { kind: 'token', tokenId: token!.id };
    actor = tokenActor(token, claim.sourceAddress);
  }

  const existing = claim.credentialOf
    ? await store.getDevice(tenantId, claim.credentialOf.deviceId)
    : await store.findDeviceByHardware(tenantId, claim.hardwareDetail);
  const now = new Date().toISOString();
  const device = enrolledDevice(tenantId, existing, claim, now);
  const enrolled = await store.enrollDevice({
    device,
    credentialHash: claim.credentialHash,
    proof,
    deviceQuota: claim.deviceQuota,
    audit: (outcome, deviceId) => auditEvent(tenantId, outcome === 'created' ? 'deviceEnrolled' : 'deviceReenrolled', actor, { type: 'device', id: deviceId }, {
      activityDateTime: now,
      additionalDetails: hardwareDetails(claim),
    }),
  });
  if (enrolled.outcome === 'refused') {
    await audit.record(auditEvent(tenantId, 'enrollmentRefused', actor, existing ? { type: 'device', id: existing.id } : null, {
      result: 'failure',
      resultReason: enrolled.reason,
      additionalDetails: hardwareDetails(claim),
    }));
    throw refusal(enrolled.reason, claim.deviceQuota);
  }
  await reports.applyInventory(tenantId, enrolled.deviceId, { installed: claim.installed }, now);
  return { tenantId, deviceId: enrolled.deviceId, reenrolled: enrolled.outcome === 'reenrolled' };
}

function enrolledDevice(tenantId: string, existing: Device | null, claim: EnrollmentClaim, now: string): Device {
  const deviceId = existing?.id ?? randomUUID();
  const by = deviceIdentitySet(deviceId, claim.displayName);
  return {
    tenantId,
    id: deviceId,
    deviceType: claim.deviceType,
    hardwareDetail: claim.hardwareDetail,
    healthStatus: existing?.healthStatus ?? 'unknown',
    activityState: existing?.activityState ?? 'idle',
    companyAssetTag: existing?.companyAssetTag ?? null,
    notes: existing?.notes ?? null,
    currentUser: claim.displayName
      ? { id: existing?.currentUser?.id ?? null, displayName: claim.displayName, userIdentityType: 'aadUser' }
      : existing?.currentUser ?? null,
    createdDateTime: existing?.createdDateTime ?? now,
    createdBy: existing?.createdBy ?? by,
    lastModifiedDateTime: now,
    lastModifiedBy: by,
    health: existing?.health ?? { createdDateTime: now },
    activity: existing?.activity ?? { activePeripherals: null, createdDateTime: now },
    configuration: existing?.configuration ?? { createdDateTime: now },
    installed: claim.installed,
    lastSeenDateTime: now,
  };
}

/** Why a token cannot enroll now, or null when it can (the store checks again atomically). */
function tokenUnusable(token: EnrollmentToken): string | null {
  if (token.revokedDateTime) return 'revoked';
  if (token.expiresDateTime <= new Date().toISOString()) return 'expired';
  if (token.maxUses !== null && token.uses >= token.maxUses) return 'used up';
  return null;
}

function tokenActor(token: EnrollmentToken | null, ipAddress: string | null): AuditActor {
  return token ? { type: 'enrollmentToken', id: token.id, displayName: token.description, ipAddress } : { type: 'anonymous', id: null, displayName: null, ipAddress };
}

/** What the audit log keeps of the hardware: identifiers, never a secret. */
function hardwareDetails(claim: EnrollmentClaim): Record<string, string | null> {
  const hw = claim.hardwareDetail;
  return { deviceType: claim.deviceType, uniqueId: hw.uniqueId, serialNumber: hw.serialNumber, manufacturer: hw.manufacturer, model: hw.model };
}

function refusal(reason: EnrollmentRefusal, quota: number): ServiceError {
  switch (reason) {
    case 'hardwareEnrolled':
      return new ServiceError('conflict',
        'This hardware is already enrolled as a device of the tenant. Re-enroll with that device\'s credential, or have an admin reset the device (POST /teamwork/devices/{id}/revokeCredential) first.');
    case 'hardwareOfAnotherDevice':
      return new ServiceError('conflict', 'This hardware identity belongs to another enrolled device of the tenant.');
    case 'tokenUnusable':
      return new ServiceError('unauthenticated', 'The enrollment token is revoked, expired or used up.');
    case 'quotaReached':
      return new ServiceError('accessDenied', `The tenant has reached its quota of ${quota} enrolled devices.`);
    case 'deviceGone':
      return new ServiceError('unauthenticated', 'The device credential has been revoked.');
  }
}
