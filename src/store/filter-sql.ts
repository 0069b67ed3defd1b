import { freshnessProperty, type FilterableProperty, type FreshnessProperty, type OrderableProperty } from '../domain/device.js';
import type { SoftwareType } from '../domain/enums.js';
import type { DeviceFilter } from './device-query.js';

/**
 * Column that holds each software type's softwareFreshness as the device's health document
 * says it (migration 14), indexed like every filter column.
 */
export const freshnessColumns: Record<SoftwareType, string> = {
  adminAgent: 'freshness_admin_agent',
  operatingSystem: 'freshness_operating_system',
  teamsClient: 'freshness_teams_client',
  firmware: 'freshness_firmware',
  partnerAgent: 'freshness_partner_agent',
  companyPortal: 'freshness_company_portal',
};

const freshnessFilterColumns = Object.fromEntries(
  Object.entries(freshnessColumns).map(([type, column]) => [freshnessProperty(type as SoftwareType), column]),
) as Record<FreshnessProperty, string>;

/** Column that holds each filterable device property. */
export const filterColumns: Record<FilterableProperty, string> = {
  ...freshnessFilterColumns,
  deviceType: 'device_type',
  healthStatus: 'health_status',
  activityState: 'activity_state',
  companyAssetTag: 'company_asset_tag',
  notes: 'notes',
  displayName: 'current_user_display_name',
  'hardwareDetail/uniqueId': 'hw_unique_id',
  'hardwareDetail/serialNumber': 'hw_serial_number',
  'hardwareDetail/manufacturer': 'hw_manufacturer',
  'hardwareDetail/model': 'hw_model',
  'currentUser/id': 'current_user_id',
  'currentUser/displayName': 'current_user_display_name',
};

/** Column that holds each orderable device property. */
export const orderColumns = {
  ...filterColumns,
  createdDateTime: 'created_at',
  lastModifiedDateTime: 'last_modified_at',
} satisfies Record<OrderableProperty, string> as Record<OrderableProperty, string>;

export interface CompiledSql {
  sql: string;
  params: unknown[];
}

/**
 * Compiles a validated filter to SQL text plus values; values only ever become parameters.
 * The SQL is the same in both databases (SQLite ≥ 3.39 has IS DISTINCT FROM and IS NOT TRUE).
 */
export function compileFilter(filter: DeviceFilter): CompiledSql {
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return '?';
  };
  const walk = (node: DeviceFilter): string => {
    switch (node.op) {
      case 'and':
      case 'or':
        return `(${node.operands.map(walk).join(node.op === 'and' ? ' AND ' : ' OR ')})`;
      case 'not':
        // OData's not: a comparison with null is false, so not(null comparison) is true.
        return `(${walk(node.operand)}) IS NOT TRUE`;
      case 'eq': {
        const column = filterColumns[node.property];
        return node.value === null ? `${column} IS NULL` : `${column} = ${param(node.value)}`;
      }
      case 'ne': {
        const column = filterColumns[node.property];
        return node.value === null ? `${column} IS NOT NULL` : `${column} IS DISTINCT FROM ${param(node.value)}`;
      }
      case 'in':
        return `${filterColumns[node.property]} IN (${node.values.map(param).join(', ')})`;
      case 'startswith': {
        const column = filterColumns[node.property];
        return `(${column} >= ${param(node.value)} AND ${column} < ${param(prefixEnd(node.value))})`;
      }
    }
  };
  return { sql: walk(filter), params };
}

/**
 * The end of a prefix's range in byte order (binary collation, "C" on PostgreSQL), so that a
 * startswith is an index range: U+10FFFF sorts after every other character.
 */
export function prefixEnd(prefix: string): string {
  return `${prefix}\u{10FFFF}`;
}
