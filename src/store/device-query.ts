import type { Device, FilterableProperty, OrderableProperty } from '../domain/device.js';

/**
 * A validated `$filter` over device properties. Values are plain data; the store compiles
 * the tree to parameterised SQL, so no user text ever reaches SQL text.
 */
export type DeviceFilter =
  | { op: 'and' | 'or'; operands: DeviceFilter[] }
  | { op: 'not'; operand: DeviceFilter }
  | { op: 'eq' | 'ne'; property: FilterableProperty; value: string | null }
  | { op: 'in'; property: FilterableProperty; values: string[] }
  | { op: 'startswith'; property: FilterableProperty; value: string };

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

export interface Page<T, Position = number> {
  items: T[];
  /** keyset position to continue from, absent on the last page */
  next: Position | null;
}

/** A page of devices, continuing at a device position. */
export type DevicePage = Page<Device, DevicePosition>;
