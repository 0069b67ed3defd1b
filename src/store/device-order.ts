import type { DeviceOrderKey, DevicePosition } from './device-query.js';
import { orderColumns, type CompiledSql } from './filter-sql.js';

/** One sort key as SQL sees it. The id ends every order, in the direction of the last key. */
interface SortColumn {
  column: string;
  descending: boolean;
}

/**
 * A part of an ordered listing in which the first key is either always null or never null.
 * A null sorts first (OData's rule), so ascending lists the null part, then the values;
 * descending the reverse. Within a part, the first key needs no NULLS clause, so both
 * databases read it straight from the key's index (tenant_id, column, id), either way.
 */
export type OrderPart = 'nulls' | 'values';

export function sortColumns(order: DeviceOrderKey[]): SortColumn[] {
  const keys = order.map((key) => ({ column: orderColumns[key.property], descending: key.descending }));
  return [...keys, { column: 'id', descending: keys.length > 0 && keys[keys.length - 1].descending }];
}

/** The parts of the listing in page order, starting with the one holding `after`. */
export function partsFrom(order: DeviceOrderKey[], after: DevicePosition | null): OrderPart[] {
  const parts: OrderPart[] = order[0].descending ? ['values', 'nulls'] : ['nulls', 'values'];
  if (!after) return parts;
  return parts.slice(parts.indexOf(after.keys[0] === null ? 'nulls' : 'values'));
}

/**
 * The conditions and ORDER BY of one part, read after `after` (when the position lies in it).
 * The position's condition is the lexicographic "after" over every key and the id; a part
 * that starts after a known value also bounds its first key, which is the index seek.
 */
export function partSql(order: DeviceOrderKey[], part: OrderPart, after: DevicePosition | null): { where: CompiledSql; orderBy: string } {
  const columns = sortColumns(order);
  const first = columns[0];
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (part === 'nulls') conditions.push(`${first.column} IS NULL`);
  else if (after && after.keys[0] !== null) {
    conditions.push(`${first.column} ${first.descending ? '<=' : '>='} ?`);
    params.push(after.keys[0]);
  } else conditions.push(`${first.column} IS NOT NULL`);
  if (after) {
    const position = positionAfter(columns, [...after.keys, after.id]);
    conditions.push(position.sql);
    params.push(...position.params);
  }
  const orderBy = columns
    .filter((_, i) => !(i === 0 && part === 'nulls'))
    .map(({ column, descending }, i) => {
      const plain = column === 'id' || (i === 0 && part === 'values');
      return `${column} ${descending ? 'DESC' : 'ASC'}${plain ? '' : descending ? ' NULLS LAST' : ' NULLS FIRST'}`;
    })
    .join(', ');
  return { where: { sql: conditions.join(' AND '), params }, orderBy };
}

/** Rows strictly after `values` in the order of `columns`, a null being the smallest value. */
function positionAfter(columns: SortColumn[], values: (string | null)[]): CompiledSql {
  const params: unknown[] = [];
  const same = (column: string, value: string | null) => {
    if (value === null) return `${column} IS NULL`;
    params.push(value);
    return `${column} = ?`;
  };
  const beyond = ({ column, descending }: SortColumn, value: string | null) => {
    if (value === null) return descending ? 'FALSE' : `${column} IS NOT NULL`;
    params.push(value);
    return descending ? `(${column} < ? OR ${column} IS NULL)` : `${column} > ?`;
  };
  const branches = columns.map((column, i) => {
    const equal = columns.slice(0, i).map((earlier, j) => same(earlier.column, values[j]));
    return `(${[...equal, beyond(column, values[i])].join(' AND ')})`;
  });
  return { sql: `(${branches.join(' OR ')})`, params };
}
