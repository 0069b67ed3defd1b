import type { Readable } from 'node:stream';
import type { AuditActivity, AuditEvent } from '../domain/audit.js';
import type { Device, GeneratedFrom, HardwareDetail } from '../domain/device.js';
import type { DeviceType, SoftwareType } from '../domain/enums.js';
import type { Operation, OperationError, Transition } from '../domain/operation.js';
import type { IdentitySet } from '../domain/identity.js';
import type { CatalogEntry, CatalogOffer, CatalogVersion, NewCatalogEntry } from '../domain/software-catalog.js';
import type { ArtifactContent, StoredArtifact } from './artifact-store.js';
import type { RolloutStore } from './rollout-store.js';
import type { DeviceFilter, DevicePage, DevicePageQuery, OperationFilter, OperationPageQuery, OperationPosition, Page, TenantOperationQuery } from './device-query.js';
import type { MaintenanceWindowStore } from './maintenance-window-store.js';
import type { StoreMonitor } from './store-monitor.js';
import type { SubscriptionStore } from './subscription-store.js';

export interface EnrollmentToken {
  id: string;
  tenantId: string;
  tokenHash: string;
  createdDateTime: string;
  expiresDateTime: string;
  /** enrollments it may make; null: no limit */
  maxUses: number | null;
  uses: number;
  revokedDateTime: string | null;
  description: string | null;
}

/** What entitles an enrollment: the device's own (verified) credential, or an enrollment token. */
export type EnrollmentProof =
  | { kind: 'credential'; deviceId: string }
  | { kind: 'token'; tokenId: string };

export interface EnrollmentWrite {
  /** the device as it will be saved; its id is the existing device's or a new one */
  device: Device;
  credentialHash: string;
  proof: EnrollmentProof;
  /** devices an enrollment token may bring into the tenant */
  deviceQuota: number;
  /** the audit event of a successful enrollment, written in the same transaction */
  audit: (outcome: 'created' | 'reenrolled', deviceId: string) => AuditEvent;
}

/**
 * Why an enrollment changed nothing: the hardware is another enrolled device's (and no proof
 * of being it was given), the credential's device has other hardware's identity, the token
 * is used up / revoked / expired, or the tenant is at its quota.
 */
export type EnrollmentRefusal = 'hardwareEnrolled' | 'hardwareOfAnotherDevice' | 'tokenUnusable' | 'quotaReached' | 'deviceGone';

export type EnrollmentOutcome =
  | { outcome: 'created' | 'reenrolled'; deviceId: string }
  | { outcome: 'refused'; reason: EnrollmentRefusal };

export interface StoredCredential {
  tenantId: string;
  credentialHash: string;
  /** the credential replaced by a rotation, accepted until `previousUntil` */
  previousCredentialHash: string | null;
  previousUntil: string | null;
}

export interface AuditQuery {
  /** null: every tenant's events and those of no known tenant (the command line's view) */
  tenantId: string | null;
  top: number;
  /** keyset position: events older than this sequence number */
  beforeSeq: number | null;
  /** only events of this activity (`$filter=activity eq '…'`); absent or null: all */
  activity?: AuditActivity | null;
}

/** What a transition writes besides the status (null/absent = leave as is). */
export interface TransitionChanges {
  at: string;
  by: IdentitySet | null;
  error?: OperationError | null;
  runDeadline?: string;
  result?: Record<string, unknown> | null;
  /** `schedule`: when the windows next open, and the start deadline counted from then */
  scheduledAt?: string;
  startDeadline?: string;
}

export interface DeviceModel {
  id: string;
  deviceType: DeviceType;
  model: string | null;
}

/** A device's type and model with the catalog entries an update of it may be checked against. */
export interface DeviceCatalog {
  device: DeviceModel;
  /** the tenant's entries of one software type (and version, when one is named), whatever device they are for, with their artifacts */
  entries: CatalogOffer[];
}

export interface DeviceRef {
  tenantId: string;
  deviceId: string;
}

export interface SigningKey {
  kid: string;
  alg: string;
  privateJwk: Record<string, unknown>;
  publicJwk: Record<string, unknown>;
  /** ISO 8601; the newest key signs, older ones only verify */
  createdAt: string;
}

/**
 * Everything the service keeps. Handlers and the engine see only this interface; SQL lives
 * in the implementations. Every method that changes state does so in one statement or one
 * transaction, so concurrent callers (and, on PostgreSQL, replicas) cannot interleave.
 */
export interface Store {
  close(): Promise<void>;

  /** Software rollouts and their target devices. */
  readonly rollouts: RolloutStore;

  /** Maintenance windows (an extension beside Graph) and the operations they hold. */
  readonly windows: MaintenanceWindowStore;
  /** Change-notification subscriptions and their queued notifications (subscription-store.ts). */
  readonly subscriptions: SubscriptionStore;
  /** What the operator's metrics and readiness probe read (store-monitor.ts). */
  readonly monitor: StoreMonitor;

  /** The dev issuer's signing keys, newest first (by createdAt, then kid). */
  signingKeys(): Promise<SigningKey[]>;
  /** Keeps a dev signing key; a key with the same kid already kept is left as it is. */
  addSigningKey(key: SigningKey): Promise<void>;

  insertDevices(devices: Device[]): Promise<void>;
  /**
   * Tells the query planner how many devices there now are, after a bulk insert: PostgreSQL
   * planned a sort of the whole tenant for a bounded list page while it believed the table
   * small, and counted index entries by visiting the table until its visibility map was set.
   */
  refreshStatistics(): Promise<void>;
  getDevice(tenantId: string, deviceId: string): Promise<Device | null>;
  /**
   * What updateSoftware needs to know, in one indexed read and without the device's documents
   * (its hot path): the device's type and model, and the tenant's catalog entries of this
   * software type, only those of `version` when one is named. Which entries apply to the
   * device is the domain's rule, not the store's. Null when the tenant has no such device.
   */
  getDeviceCatalog(tenantId: string, deviceId: string, softwareType: SoftwareType, version: string | null): Promise<DeviceCatalog | null>;
  /**
   * A page of devices without their documents (health, activity, configuration are empty).
   * Bounded work: a filter no index serves is checked over at most `scanRowsPerPage` devices,
   * so the page may be short, even empty, with `next` set to continue after them.
   */
  listDevices(query: DevicePageQuery): Promise<DevicePage>;
  /** Devices of the tenant matching the filter, all pages ($count); read off the event loop, time-limited. */
  countDevices(tenantId: string, filter?: DeviceFilter | null): Promise<number>;
  /** The three documents of each device named that exists in the tenant, read in one statement ($expand). */
  getDeviceDocuments(tenantId: string, deviceIds: string[]): Promise<Map<string, DeviceDocuments>>;

  /**
   * Inserts an operation unless its device does not exist in its tenant ('noDevice') or a
   * pending one of the same (device, type, softwareType) exists ('conflict'). One statement
   * decides both (the unique partial index the second), never a read before the write.
   * Where replicas share the store, the same statement tells them (no notifyWork after it).
   * The audit event is written with the operation, in the same commit, only when it is created.
   */
  createOperation(operation: Operation, audit: AuditEvent): Promise<OperationInsertOutcome>;
  getOperation(tenantId: string, deviceId: string, operationId: string): Promise<Operation | null>;
  listOperations(query: OperationPageQuery): Promise<Page<Operation>>;
  countOperations(tenantId: string, deviceId: string): Promise<number>;
  /**
   * A page of the tenant's operations across its devices, newest first; bounded work at any
   * fleet size (operation-pages.ts).
   */
  listTenantOperations(query: TenantOperationQuery): Promise<Page<Operation, OperationPosition>>;
  /** The tenant's operations matching the filter, all pages; read off the event loop, time-limited. */
  countTenantOperations(tenantId: string, filter: OperationFilter | null): Promise<number>;
  /** The first page (newest first, `top`) of each device's operations, read in one statement ($expand). */
  listRecentOperations(tenantId: string, deviceIds: string[], top: number): Promise<Map<string, Page<Operation>>>;

  /**
   * Moves an operation along one legal transition in one conditional statement; null when
   * the operation was not in a state the transition starts from (someone else won).
   * `start` also requires that no other operation of the device is running or older.
   */
  transitionOperation(tenantId: string, operationId: string, transition: Transition, changes: TransitionChanges): Promise<Operation | null>;
  /** The device's running operation, else its oldest queued one. */
  nextOperation(tenantId: string, deviceId: string): Promise<Operation | null>;
  setProgress(tenantId: string, operationId: string, percent: number | null, message: string | null, at: string): Promise<Operation | null>;
  /** Flags a running operation for cancellation; the device confirms it. */
  requestCancel(tenantId: string, operationId: string, by: IdentitySet, at: string): Promise<Operation | null>;
  /**
   * Fails operations past their start deadline (pending → deviceUnreachable, or `busy` when
   * the device is in a meeting then) or run deadline (running → timeout), each batch by one
   * conditional UPDATE; returns those it failed.
   */
  expireOverdue(now: string, errors: { start: OperationError; busy?: OperationError; run: OperationError }, limit: number): Promise<Operation[]>;

  createEnrollmentToken(token: EnrollmentToken, audit: AuditEvent): Promise<void>;
  findEnrollmentToken(tokenHash: string): Promise<EnrollmentToken | null>;
  listEnrollmentTokens(tenantId: string): Promise<EnrollmentToken[]>;
  /** Revokes a token (once; a second revoke keeps the first time); null when the tenant has no such token. */
  revokeEnrollmentToken(tenantId: string, tokenId: string, audit: AuditEvent): Promise<EnrollmentToken | null>;
  /**
   * The device this hardware is: by uniqueId, else by serial number of the same manufacturer
   * and model (serial numbers are unique only within a model), never across uniqueIds.
   */
  findDeviceByHardware(tenantId: string, hardware: HardwareDetail): Promise<Device | null>;
  /**
   * Enrolls in one transaction, serialised per hardware (across replicas): the hardware lookup
   * is redone under the lock; a token's use and the tenant's quota are taken atomically, so
   * N concurrent enrollments on a one-use token make exactly one device. A refusal writes nothing.
   */
  enrollDevice(write: EnrollmentWrite): Promise<EnrollmentOutcome>;
  deviceCredential(deviceId: string): Promise<StoredCredential | null>;
  /**
   * Replaces a device's credential by a new one; the presented one (current or previous) stays
   * valid until `previousUntil`. False when neither is the presented one any more (revoked, rotated).
   */
  rotateDeviceCredential(tenantId: string, deviceId: string, presentedHash: string, newHash: string, previousUntil: string, audit: AuditEvent): Promise<boolean>;
  /** Revokes the credential and lets the hardware enroll again (the admin's reset); false when no such device. */
  revokeDeviceCredential(tenantId: string, deviceId: string, audit: AuditEvent): Promise<boolean>;
  /** Deletes a device and its operations; false when no such device. */
  removeDevice(tenantId: string, deviceId: string, audit: AuditEvent): Promise<boolean>;
  /**
   * Read-modify-write of one device as a unit (a transaction with the row locked), so a
   * presence change and a new installed version cannot overwrite each other. `change` returns
   * the device it was given when there is nothing to write.
   */
  updateDevice(tenantId: string, deviceId: string, change: (device: Device) => Device): Promise<Device | null>;
  /** Records that agents were heard from; returns those the store did not consider connected. */
  markSeen(devices: DeviceRef[], at: string): Promise<DeviceRef[]>;
  /** Connected devices whose agent has been silent since before `cutoff`. */
  silentDevices(cutoff: string, limit: number): Promise<Device[]>;

  /** Tells every replica's long-polls that a device may have work (PostgreSQL: NOTIFY). */
  notifyWork(deviceId: string): Promise<void>;
  /** Subscribes to work notifications from other replicas; SQLite has none (one process). */
  onWork(listener: (deviceId: string) => void): void;
  /** True while this process should run the supervisor (PostgreSQL: holds an advisory lock). */
  holdsSupervisorLease(): Promise<boolean>;

  /**
   * Takes one token from a rate-limit bucket; null when taken, else the seconds until one is
   * available. Shared by all replicas on PostgreSQL; in memory for SQLite's single process.
   */
  takeRateToken(key: string, capacity: number, perSecond: number): Promise<number | null>;

  recordAudit(events: AuditEvent[]): Promise<void>;
  /** Newest first. */
  listAudit(query: AuditQuery): Promise<Page<AuditEvent>>;

  /**
   * Adds an entry unless one of the same key is there ('exists': entries are never changed).
   * An entry naming an artifact stored here (url null) needs it stored first (putArtifact).
   */
  addCatalogEntry(entry: NewCatalogEntry): Promise<'added' | 'exists'>;
  /** Adds entries in one transaction (one commit for a whole catalog); returns how many were new. */
  addCatalogEntries(entries: NewCatalogEntry[]): Promise<number>;
  listCatalog(tenantId: string): Promise<CatalogEntry[]>;
  /**
   * The entries that may offer a version to devices of a type (its own and every type's, of
   * every model: the domain matches the model), in the order they were added. An inventory
   * derives its device's softwareUpdateHealth from these, not from the whole catalog.
   */
  catalogVersionsFor(tenantId: string, deviceType: DeviceType): Promise<CatalogVersion[]>;

  /**
   * Stores an artifact by its SHA-256 (files or database chunks, whichever this store keeps),
   * streamed in, never whole in memory; the same bytes put twice are kept once.
   */
  putArtifact(content: Readable): Promise<StoredArtifact>;
  /**
   * An artifact a device of this tenant may download: stored here and named by an entry of the
   * tenant's catalog (one indexed read). Null for another tenant's artifact, an external one
   * or an unknown one, which a device cannot tell apart.
   */
  tenantArtifact(tenantId: string, sha256: string): Promise<ArtifactContent | null>;
}


/** What createOperation did: the 202, the 409, or the 404. */
export type OperationInsertOutcome = 'created' | 'conflict' | 'noDevice';

/**
 * Regenerates a seeded device's three documents from the generator descriptor the store keeps
 * instead of them (src/seed supplies it; the store knows no generator).
 */
/** A device's three documents. */
export type DeviceDocuments = Pick<Device, 'health' | 'activity' | 'configuration'>;

export type SeededDocuments = (tenantId: string, from: GeneratedFrom) => DeviceDocuments;

export interface StoreOptions {
  /** PostgreSQL connections in the pool */
  poolSize?: number;
  /** needed to read seeded devices' documents; a store opened without it refuses to */
  seededDocuments?: SeededDocuments;
  /**
   * Where uploaded artifacts are kept as files (`--artifact-dir`, shared by replicas). Absent:
   * SQLite keeps them in `artifacts/` beside its file, PostgreSQL in the database.
   */
  artifactDir?: string | null;
  /**
   * Devices a filtered list page examines at most (default 5,000): a filter no index serves
   * is checked over that many devices in id order, so a page may hold fewer than `top` (even
   * none) and continue from where it stopped.
   */
  scanRowsPerPage?: number;
}
