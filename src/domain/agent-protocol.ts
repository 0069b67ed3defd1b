import type { HardwareDetail } from './device.js';
import type { InstalledVersions } from './device-health.js';
import type { ActivityState, DeviceType, OperationType, SoftwareType } from './enums.js';
import type { OperationError, OperationStatus } from './operation.js';

/**
 * The agent protocol's messages (docs/agent-protocol.md), as the server parses them and as
 * every client (the device agent, the simulator, the test helper, the bench) sends and reads
 * them. Types and protocol constants only: no I/O here.
 */

/** Longest a work poll is held open; agents may ask for less with ?waitSeconds=. */
export const maxLongPollSeconds = 30;

export const agentPaths = {
  enroll: '/agent/v1/enroll',
  credential: '/agent/v1/credential',
  work: '/agent/v1/work',
  inventory: '/agent/v1/inventory',
  ack: (operationId: string) => `/agent/v1/operations/${operationId}/ack`,
  progress: (operationId: string) => `/agent/v1/operations/${operationId}/progress`,
  result: (operationId: string) => `/agent/v1/operations/${operationId}/result`,
  artifact: (sha256: string) => `/agent/v1/artifacts/${sha256}`,
} as const;

/** Where a software update's artifact is and how the device checks what it downloaded. */
export interface ArtifactRef {
  /** a path on this server (agentPaths.artifact, fetched with the device credential) or an external https URL */
  url: string;
  /** lower-case hex */
  sha256: string;
  size: number;
}

/**
 * POST /agent/v1/enroll: who the device is and what it runs. New hardware brings an
 * enrollment token; an enrolled device re-enrolls with its credential in `Authorization`
 * (the token is then not needed), or with a token once an admin has reset it.
 */
export interface EnrollRequest {
  enrollmentToken?: string | null;
  deviceType: DeviceType;
  hardwareDetail: HardwareDetail;
  installed: InstalledVersions;
  displayName: string | null;
}

/** 201 (new device) or 200 (same hardware enrolled again). */
export interface EnrollReply {
  tenantId: string;
  deviceId: string;
  /** `twd-device.<deviceId>.<secret>`, shown once */
  credential: string;
  longPollSeconds: number;
}

/** 200 of POST /agent/v1/credential: the device's new credential; the one it used keeps working for an hour. */
export interface CredentialReply {
  credential: string;
}

/** An operation as the work poll, the ack and the result hand it to the agent. */
export interface WorkItem {
  id: string;
  operationType: OperationType;
  softwareType: SoftwareType | null;
  softwareVersion: string | null;
  status: OperationStatus;
  cancelRequested: boolean;
  createdDateTime: string;
  startedDateTime: string | null;
  /** a softwareUpdate whose catalog entry carries an artifact; absent or null otherwise */
  artifact?: ArtifactRef | null;
}

/** The 200 of GET /agent/v1/work, of the ack and of the result. */
export interface WorkReply {
  operation: WorkItem;
}

/** POST /agent/v1/operations/{id}/progress */
export interface ProgressBody {
  percent: number | null;
  message: string | null;
}

/** Whether an admin asked to cancel: the device then stops and reports `cancelled`. */
export interface ProgressReply {
  cancelRequested: boolean;
}

export type ResultStatus = 'successful' | 'failed' | 'cancelled';

/** POST /agent/v1/operations/{id}/result; absent and null parts mean the same. */
export interface ResultBody {
  status: ResultStatus;
  installed?: InstalledVersions | null;
  error?: OperationError | null;
  /** the diagnostics of a deviceDiagnostics operation */
  diagnostics?: Record<string, unknown> | null;
}

/** POST /agent/v1/inventory, also the heartbeat; every part is optional. */
export interface InventoryBody {
  installed?: InstalledVersions;
  activityState?: ActivityState;
  /** Graph-shaped parts, stored as sent */
  peripheralsHealth?: Record<string, unknown> | null;
  hardwareHealth?: Record<string, unknown> | null;
  loginStatus?: Record<string, unknown> | null;
  activePeripherals?: Record<string, unknown> | null;
}

export interface InventoryReply {
  healthStatus: string;
}
