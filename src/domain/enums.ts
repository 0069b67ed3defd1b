/** Enum members as Graph's CSDL names them (camelCase on the wire). */
export const deviceTypes = [
  'unknown', 'ipPhone', 'teamsRoom', 'surfaceHub', 'collaborationBar', 'teamsDisplay',
  'touchConsole', 'lowCostPhone', 'teamsPanel', 'sip', 'unknownFutureValue',
] as const;
export type DeviceType = (typeof deviceTypes)[number];

export const healthStatuses = ['unknown', 'offline', 'critical', 'nonUrgent', 'healthy', 'unknownFutureValue'] as const;
export type HealthStatus = (typeof healthStatuses)[number];

export const activityStates = ['unknown', 'busy', 'idle', 'unavailable', 'unknownFutureValue'] as const;
export type ActivityState = (typeof activityStates)[number];

/** The six values updateSoftware accepts (the docs exclude unknownFutureValue). */
export const softwareTypes = ['adminAgent', 'operatingSystem', 'teamsClient', 'firmware', 'partnerAgent', 'companyPortal'] as const;
export type SoftwareType = (typeof softwareTypes)[number];

/** teamworkSoftwareFreshness as a device's health gives it (unknownFutureValue is never written). */
export const softwareFreshnesses = ['latest', 'updateAvailable', 'unknown'] as const;
export type SoftwareFreshness = (typeof softwareFreshnesses)[number];

export const operationTypes = [
  'deviceRestart', 'configUpdate', 'deviceDiagnostics', 'softwareUpdate',
  'deviceManagementAgentConfigUpdate', 'remoteLogin', 'remoteLogout', 'unknownFutureValue',
] as const;
export type OperationType = (typeof operationTypes)[number];

export type ConnectionStatus = 'unknown' | 'connected' | 'disconnected' | 'unknownFutureValue';

/** Case-insensitive lookup of an enum member; Graph's own docs spell members in PascalCase. */
export function enumMember<T extends string>(members: readonly T[], raw: string): T | undefined {
  const lower = raw.toLowerCase();
  return members.find((m) => m.toLowerCase() === lower);
}
