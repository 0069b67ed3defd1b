import type { Device, GeneratedFrom } from '../domain/device.js';
import type { DeviceType } from '../domain/enums.js';
import type { Operation, OperationError, Transition } from '../domain/operation.js';
import type { IdentitySet } from '../domain/identity.js';
import type { CatalogEntry } from '../domain/software-catalog.js';
import type { DevicePageQuery, OperationPageQuery, Page } from './device-query.js';

export interface EnrollmentToken {
  id: string;
  tenantId: string;
  tokenHash: string;
  createdDateTime: string;
  expiresDateTime: string;
}

/** What a transition writes besides the status (null/absent = leave as is). */
export interface TransitionChanges {
  at: string;
  by: IdentitySet | null;
  error?: OperationError | null;
  runDeadline?: string;
  result?: Record<string, unknown> | null;
}

export interface DeviceModel {
  id: string;
  deviceType: DeviceType;
  model: string | null;
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

  /** The dev issuer's signing keys, newest first (by createdAt, then kid). */
  signingKeys(): Promise<SigningKey[]>;
  /** Keeps a dev signing key; a key with the same kid already kept is left as it is. */
  addSigningKey(key: SigningKey): Promise<void>;

  insertDevices(devices: Device[]): Promise<void>;
  getDevice(tenantId: string, deviceId: string): Promise<Device | null>;
  /** What an action needs to know of a device, without reading its documents (the hot path of updateSoftware). */
  getDeviceModel(tenantId: string, deviceId: string): Promise<DeviceModel | null>;
  /** A page of devices without their documents (health, activity, configuration are empty). */
  listDevices(query: DevicePageQuery): Promise<Page<Device>>;
  countDevices(tenantId: string): Promise<number>;

  /**
   * Inserts an operation unless its device does not exist in its tenant ('noDevice') or a
   * pending one of the same (device, type, softwareType) exists ('conflict'). One statement
   * decides both (the unique partial index the second), never a read before the write.
   * Where replicas share the store, the same statement tells them (no notifyWork after it).
   */
  createOperation(operation: Operation): Promise<OperationInsertOutcome>;
  getOperation(tenantId: string, deviceId: string, operationId: string): Promise<Operation | null>;
  listOperations(query: OperationPageQuery): Promise<Page<Operation>>;

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
   * Fails operations past their start deadline (pending → deviceUnreachable) or run deadline
   * (running → timeout), each batch by one conditional UPDATE; returns those it failed.
   */
  expireOverdue(now: string, errors: { start: OperationError; run: OperationError }, limit: number): Promise<Operation[]>;

  createEnrollmentToken(token: EnrollmentToken): Promise<void>;
  findEnrollmentToken(tokenHash: string): Promise<EnrollmentToken | null>;
  findDeviceByHardware(tenantId: string, uniqueId: string | null, serialNumber: string | null): Promise<Device | null>;
  /**
   * Saves an enrolling device with its credential hash; returns the id it was saved under.
   * The hardware lookup is repeated under a lock, so the same hardware enrolling twice at
   * once becomes one device (the second updates the first).
   */
  saveEnrolledDevice(device: Device, credentialHash: string): Promise<string>;
  deviceCredential(deviceId: string): Promise<{ tenantId: string; credentialHash: string } | null>;
  /**
   * Read-modify-write of one device as a unit (a transaction with the row locked), so a
   * presence change and a new installed version cannot overwrite each other.
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

  addCatalogEntry(entry: CatalogEntry): Promise<'added' | 'exists'>;
  listCatalog(tenantId: string): Promise<CatalogEntry[]>;
}

/** What createOperation did: the 202, the 409, or the 404. */
export type OperationInsertOutcome = 'created' | 'conflict' | 'noDevice';

/**
 * Regenerates a seeded device's three documents from the generator descriptor the store keeps
 * instead of them (src/seed supplies it; the store knows no generator).
 */
export type SeededDocuments = (tenantId: string, from: GeneratedFrom) => Pick<Device, 'health' | 'activity' | 'configuration'>;

export interface StoreOptions {
  /** PostgreSQL connections in the pool */
  poolSize?: number;
  /** needed to read seeded devices' documents; a store opened without it refuses to */
  seededDocuments?: SeededDocuments;
}
