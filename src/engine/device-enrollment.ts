import { randomUUID } from 'node:crypto';
import type { EnrollRequest } from '../domain/agent-protocol.js';
import type { Device } from '../domain/device.js';
import { ServiceError } from '../domain/errors.js';
import { deviceIdentitySet } from '../domain/identity.js';
import type { Store } from '../store/store.js';
import type { DeviceReports } from './device-reports.js';

/** A device asking to enroll, its secrets already hashed by the agent protocol's edge. */
export interface EnrollmentClaim extends Omit<EnrollRequest, 'enrollmentToken'> {
  enrollmentTokenHash: string;
  /** hash of the new device credential's secret, stored in place of any older one */
  credentialHash: string;
}

export interface EnrolledDevice {
  tenantId: string;
  deviceId: string;
  reenrolled: boolean;
}

/**
 * Enrolls a device with a tenant enrollment token. The same hardware (uniqueId, else serial
 * number) keeps its device id and operations; its new credential replaces the old one.
 */
export async function enrollDevice(store: Store, reports: DeviceReports, claim: EnrollmentClaim): Promise<EnrolledDevice> {
  const token = await store.findEnrollmentToken(claim.enrollmentTokenHash);
  if (!token || token.expiresDateTime < new Date().toISOString()) {
    throw new ServiceError('unauthenticated', 'The enrollment token is unknown or has expired.');
  }
  const now = new Date().toISOString();
  const existing = await store.findDeviceByHardware(token.tenantId, claim.hardwareDetail.uniqueId, claim.hardwareDetail.serialNumber);
  const deviceId = existing?.id ?? randomUUID();
  const by = deviceIdentitySet(deviceId, claim.displayName);
  const device: Device = {
    tenantId: token.tenantId,
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
  const savedId = await store.saveEnrolledDevice(device, claim.credentialHash);
  await reports.applyInventory(token.tenantId, savedId, { installed: claim.installed }, now);
  return { tenantId: token.tenantId, deviceId: savedId, reenrolled: existing !== null || savedId !== deviceId };
}
