import {
  activityProperties, configurationProperties, healthProperties, type Device,
} from '../../domain/device.js';
import type { Operation } from '../../domain/operation.js';

type Json = Record<string, unknown>;

/** teamworkDevice as Graph serialises it: every property present, null where unset. */
export function deviceBody(device: Device): Json {
  return {
    '@odata.type': '#microsoft.graph.teamworkDevice',
    id: device.id,
    deviceType: device.deviceType,
    hardwareDetail: device.hardwareDetail,
    notes: device.notes,
    companyAssetTag: device.companyAssetTag,
    healthStatus: device.healthStatus,
    activityState: device.activityState,
    createdDateTime: device.createdDateTime,
    createdBy: device.createdBy,
    lastModifiedDateTime: device.lastModifiedDateTime,
    lastModifiedBy: device.lastModifiedBy,
    currentUser: device.currentUser,
  };
}

/**
 * teamworkDeviceOperation as Graph serialises it. Two extensions appear only where they say
 * something, so other operations keep Graph's exact shape: `scheduledDateTime` on an operation a
 * maintenance window held (when it runs), and `progressPercent`/`progressMessage` on a running
 * one whose device reported progress.
 */
export function operationBody(op: Operation): Json {
  const body: Json = {
    '@odata.type': '#microsoft.graph.teamworkDeviceOperation',
    id: op.id,
    status: op.status,
    operationType: op.operationType,
    error: op.error,
    startedDateTime: op.startedDateTime,
    completedDateTime: op.completedDateTime,
    createdDateTime: op.createdDateTime,
    lastActionDateTime: op.lastActionDateTime,
    createdBy: op.createdBy,
    lastActionBy: op.lastActionBy,
  };
  if (op.scheduledDateTime) body.scheduledDateTime = op.scheduledDateTime;
  if (op.status === 'inProgress' && op.progressPercent !== null) {
    body.progressPercent = op.progressPercent;
    if (op.progressMessage !== null) body.progressMessage = op.progressMessage;
  }
  return body;
}

/** The device's health/activity/configuration document; its id is the device id, as in Graph's examples. */
export function documentBody(device: Device, kind: DocumentKind): Json {
  const stored = device[kind];
  const body: Json = { '@odata.type': `#microsoft.graph.${documentTypes[kind]}` };
  for (const name of documentProperties[kind]) {
    body[name] = name === 'id' ? device.id : (stored[name] ?? defaultAudit(device, name));
  }
  return body;
}

function defaultAudit(device: Device, name: string): unknown {
  if (name === 'createdDateTime') return device.createdDateTime;
  if (name === 'lastModifiedDateTime') return device.lastModifiedDateTime;
  return null;
}

export type DocumentKind = 'health' | 'activity' | 'configuration';

const documentTypes: Record<DocumentKind, string> = {
  health: 'teamworkDeviceHealth',
  activity: 'teamworkDeviceActivity',
  configuration: 'teamworkDeviceConfiguration',
};

export const documentProperties: Record<DocumentKind, readonly string[]> = {
  health: healthProperties,
  activity: activityProperties,
  configuration: configurationProperties,
};


/** Applies $select: only the chosen properties (and the type annotation) remain. */
export function selectProperties(body: Json, select: string[] | null): Json {
  if (!select) return body;
  const picked: Json = { '@odata.type': body['@odata.type'] };
  for (const name of select) picked[name] = body[name];
  return picked;
}
