import type { Device, FilterableProperty, FreshnessProperty, OrderableProperty } from '../domain/device.js';
import type { OperationType } from '../domain/enums.js';
import type { OperationStatus } from '../domain/operation.js';

/**
 * A validated `$filter` over device properties. Values are plain data; the store compiles
 * the tree to parameterised SQL, so no user text ever reaches SQL text.
 */
export type DeviceFilter =
  | { op: 'and' | 'or'; operands: DeviceFilter[] }
  | { op: 'not'; operand: DeviceFilter }
  | { op: 'eq' | 'ne'; property: FilterableProperty; value: string | null }
  | { op: 'in'; property: FilterableProperty; values: string[] }
  | { op: 'startswith'; property: Exclude<FilterableProperty, FreshnessProperty>; value: string };

/**
 * A property pages of devices are sorted by, before the id that breaks ties (in the direction
 * of the last key). A null sorts before every value, as OData orders them.
 */
export interface DeviceOrderKey {
  property: OrderableProperty;
  descending: boolean;
}

/** Where a page of devices continues: after this device in the page order (its order keys' values, then its id). */
export interface DevicePosition {
  keys: (string | null)[];
  id: string;
}

export interface DevicePageQuery {
  tenantId: string;
  filter: DeviceFilter | null;
  /** the order of pages before the id (empty: id order); see devicePageOrder */
  order: DeviceOrderKey[];
  /** page size */
  top: number;
  /** keyset position: the last device of the previous page */
  after: DevicePosition | null;
  /** devices to pass over after the position before the page begins ($skip) */
  skip?: number;
}

export interface OperationPageQuery {
  tenantId: string;
  deviceId: string;
  top: number;
  /** operations to pass over after the position before the page begins ($skip) */
  skip?: number;
  /** keyset position: the sequence number of the last operation of the previous page (newest first) */
  beforeSeq: number | null;
}

/** A bound on createdDateTime, its value an ISO 8601 instant as the store writes them (toISOString). */
export interface CreatedBound {
  op: 'ge' | 'gt' | 'lt' | 'le';
  value: string;
}

/**
 * What the tenant's operation list filters on: equalities joined by `and`, so each is one
 * index column. `nothing`: the filter contradicts itself (status eq 'a' and status eq 'b').
 */
export interface OperationFilter {
  status: OperationStatus | null;
  operationType: OperationType | null;
  created: CreatedBound[];
  nothing: boolean;
}

/** Where a page of the tenant's operations continues: after this operation, newest first. */
export interface OperationPosition {
  createdDateTime: string;
  seq: number;
}

export interface TenantOperationQuery {
  tenantId: string;
  filter: OperationFilter | null;
  top: number;
  after: OperationPosition | null;
}

export interface Page<T, Position = number> {
  items: T[];
  /** keyset position to continue from, absent on the last page */
  next: Position | null;
}

/** A page of devices, continuing at a device position. */
export type DevicePage = Page<Device, DevicePosition>;
