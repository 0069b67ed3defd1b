import type { FilterableProperty } from '../domain/device.js';

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

export interface DevicePageQuery {
  tenantId: string;
  filter: DeviceFilter | null;
  /** page size */
  top: number;
  /** keyset position: the id of the last device of the previous page */
  afterId: string | null;
}

export interface OperationPageQuery {
  tenantId: string;
  deviceId: string;
  top: number;
  /** keyset position: the sequence number of the last operation of the previous page (newest first) */
  beforeSeq: number | null;
}

export interface Page<T> {
  items: T[];
  /** keyset position to continue from, absent on the last page */
  next: string | number | null;
}
