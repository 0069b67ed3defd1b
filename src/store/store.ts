import type { Device } from '../domain/device.js';
import type { Operation } from '../domain/operation.js';
import type { DevicePageQuery, OperationPageQuery, Page } from './device-query.js';

export interface SigningKey {
  kid: string;
  alg: string;
  privateJwk: Record<string, unknown>;
  publicJwk: Record<string, unknown>;
}

/**
 * Everything the service keeps. Handlers and the engine see only this interface; SQL lives
 * in the implementations. Every method that changes state does so in one statement or one
 * transaction, so concurrent callers (and, on PostgreSQL, replicas) cannot interleave.
 */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  close(): Promise<void>;

  /** The dev issuer's signing key, created on first use and kept with the data. */
  devSigningKey(create: () => Promise<SigningKey>): Promise<SigningKey>;

  insertDevices(devices: Device[]): Promise<void>;
  getDevice(tenantId: string, deviceId: string): Promise<Device | null>;
  listDevices(query: DevicePageQuery): Promise<Page<Device>>;
  countDevices(tenantId: string): Promise<number>;

  /**
   * Inserts an operation unless a pending one of the same (device, type, softwareType)
   * exists; the unique partial index decides, never a read before the write.
   */
  createOperation(operation: Operation): Promise<'created' | 'conflict'>;
  getOperation(tenantId: string, deviceId: string, operationId: string): Promise<Operation | null>;
  listOperations(query: OperationPageQuery): Promise<Page<Operation>>;
}
