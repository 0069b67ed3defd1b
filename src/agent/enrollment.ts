import { randomBytes, randomUUID } from 'node:crypto';
import type { Device } from '../domain/device.js';
import type { EnrollRequest } from '../domain/agent-protocol.js';
import { ServiceError } from '../domain/errors.js';
import { deviceIdentitySet } from '../domain/identity.js';
import type { DeviceReports } from '../engine/device-reports.js';
import type { Store } from '../store/store.js';
import { deviceCredential, hashSecret, newSecret, type DeviceCredentialVerifier } from './device-credentials.js';

/** Creates a tenant enrollment token; only its hash is kept, the token is shown once. */
export async function createEnrollmentToken(store: Store, tenantId: string, ttlSeconds: number): Promise<{ token: string; expiresDateTime: string }> {
  const token = `twd-enroll.${randomBytes(32).toString('base64url')}`;
  const now = Date.now();
  const expiresDateTime = new Date(now + ttlSeconds * 1000).toISOString();
  await store.createEnrollmentToken({
    id: randomUUID(),
    tenantId,
    tokenHash: hashSecret(token),
    createdDateTime: new Date(now).toISOString(),
    expiresDateTime,
  });
  return { token, expiresDateTime };
}

export interface Enrollment {
  tenantId: string;
  deviceId: string;
  credential: string;
  reenrolled: boolean;
}

/**
 * Enrolls a device with a tenant enrollment token. The same hardware (uniqueId, else serial
 * number) keeps its device id and operations; it gets a new credential and the old one stops working.
 */
export async function enrollDevice(
  store: Store,
  reports: DeviceReports,
  credentials: DeviceCredentialVerifier,
  request: EnrollRequest,
): Promise<Enrollment> {
  const token = await store.findEnrollmentToken(hashSecret(request.enrollmentToken));
  if (!token || token.expiresDateTime < new Date().toISOString()) {
    throw new ServiceError('unauthenticated', 'The enrollment token is unknown or has expired.');
  }
  const now = new Date().toISOString();
  const existing = await store.findDeviceByHardware(token.tenantId, request.hardwareDetail.uniqueId, request.hardwareDetail.serialNumber);
  const deviceId = existing?.id ?? randomUUID();
  const by = deviceIdentitySet(deviceId, request.displayName);
  const device: Device = {
    tenantId: token.tenantId,
    id: deviceId,
    deviceType: request.deviceType,
    hardwareDetail: request.hardwareDetail,
    healthStatus: existing?.healthStatus ?? 'unknown',
    activityState: existing?.activityState ?? 'idle',
    companyAssetTag: existing?.companyAssetTag ?? null,
    notes: existing?.notes ?? null,
    currentUser: request.displayName
      ? { id: existing?.currentUser?.id ?? null, displayName: request.displayName, userIdentityType: 'aadUser' }
      : existing?.currentUser ?? null,
    createdDateTime: existing?.createdDateTime ?? now,
    createdBy: existing?.createdBy ?? by,
    lastModifiedDateTime: now,
    lastModifiedBy: by,
    health: existing?.health ?? { createdDateTime: now },
    activity: existing?.activity ?? { activePeripherals: null, createdDateTime: now },
    configuration: existing?.configuration ?? { createdDateTime: now },
    installed: request.installed,
    lastSeenDateTime: now,
  };
  const secret = newSecret();
  const savedId = await store.saveEnrolledDevice(device, hashSecret(secret));
  credentials.forget(savedId);
  await reports.applyInventory(token.tenantId, savedId, { installed: request.installed }, now);
  return {
    tenantId: token.tenantId,
    deviceId: savedId,
    credential: deviceCredential(savedId, secret),
    reenrolled: existing !== null || savedId !== deviceId,
  };
}
