import type { FilterableProperty } from '../domain/device.js';
import type { DeviceFilter } from './device-query.js';

/** Column that holds each filterable device property (same names in every dialect). */
export const filterColumns: Record<FilterableProperty, string> = {
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

/** The few places where SQL dialects spell a filter differently. */
export interface FilterDialect {
  /** placeholder for the n-th (1-based) parameter */
  placeholder(n: number): string;
  /** null-safe "differs from" */
  distinctFrom: string;
  /** "expression is not true" (OData's not: null counts as false, so not(null) is true) */
  isNotTrue(expression: string): string;
  /** prefix match that can use the column's index */
  startsWith(column: string, param: (value: unknown) => string, prefix: string): string;
}

export interface CompiledSql {
  sql: string;
  params: unknown[];
}

/** Compiles a validated filter to SQL text plus values; values only ever become parameters. */
export function compileFilter(filter: DeviceFilter, dialect: FilterDialect, firstParam = 1): CompiledSql {
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return dialect.placeholder(firstParam + params.length - 1);
  };
  const walk = (node: DeviceFilter): string => {
    switch (node.op) {
      case 'and':
      case 'or':
        return `(${node.operands.map(walk).join(node.op === 'and' ? ' AND ' : ' OR ')})`;
      case 'not':
        return dialect.isNotTrue(walk(node.operand));
      case 'eq': {
        const column = filterColumns[node.property];
        return node.value === null ? `${column} IS NULL` : `${column} = ${param(node.value)}`;
      }
      case 'ne': {
        const column = filterColumns[node.property];
        return node.value === null ? `${column} IS NOT NULL` : `${column} ${dialect.distinctFrom} ${param(node.value)}`;
      }
      case 'in':
        return `${filterColumns[node.property]} IN (${node.values.map(param).join(', ')})`;
      case 'startswith':
        return dialect.startsWith(filterColumns[node.property], param, node.value);
    }
  };
  return { sql: walk(filter), params };
}
