import type { DeviceFilter, DeviceOrderKey } from './device-query.js';

/**
 * A condition an index answers directly: every filterable property has an index
 * (tenant_id, column, id), which an eq, an in or a startswith on it reads as a range.
 */
export type IndexedCondition = DeviceFilter & { op: 'eq' | 'in' | 'startswith' };

/**
 * The order of a filter's pages before the id. A lone startswith pages in its property's
 * order, so a page is one range of that property's index, read in index order: exactly a
 * page's rows, however many distinct values the prefix covers (in id order, a prefix shared by
 * many values would mean merging their ranges or scanning). Any other filter pages in id order.
 */
export function devicePageOrder(filter: DeviceFilter | null): DeviceOrderKey[] {
  return filter?.op === 'startswith' ? [{ property: filter.property, descending: false }] : [];
}

/**
 * An eq with a value reads its index in id order, the order of pages, so the page is read
 * straight from the index and nothing it reads is wasted.
 */
export function readsInPageOrder(filter: DeviceFilter | null): boolean {
  return filter === null || (filter.op === 'eq' && filter.value !== null);
}

/**
 * Sets of indexed conditions such that every device the filter matches satisfies one
 * condition of each set: an and offers each of its operands' sets, an or made only of indexed
 * conditions offers them together. A set that names few devices bounds the page's reading to
 * those devices; `not` and `ne` offer none (they match most of a fleet).
 */
export function candidateConditions(filter: DeviceFilter): IndexedCondition[][] {
  switch (filter.op) {
    case 'eq':
    case 'in':
    case 'startswith':
      // (TypeScript keeps the eq case's op as 'eq' | 'ne')
      return [[filter as IndexedCondition]];
    case 'and':
      return filter.operands.flatMap(candidateConditions);
    case 'or': {
      const sets = filter.operands.map(candidateConditions);
      // An operand offering several sets is an and; any one of its sets covers it.
      return sets.every((offered) => offered.length > 0) ? [sets.flatMap((offered) => offered[0])] : [];
    }
    case 'ne':
    case 'not':
      return [];
  }
}

/**
 * The filter as a union of indexed conditions (an eq, an in, a startswith, or an or of them,
 * on any properties), or null. Each names values whose index ranges a page can walk in id
 * order; a startswith names the distinct values its prefix covers.
 */
export function unionOfIndexedConditions(filter: DeviceFilter): IndexedCondition[] | null {
  switch (filter.op) {
    case 'eq':
      return filter.value === null ? null : [filter as IndexedCondition];
    case 'in':
    case 'startswith':
      return [filter];
    case 'or': {
      const parts = filter.operands.map(unionOfIndexedConditions);
      return parts.every((part) => part !== null) ? parts.flat() as IndexedCondition[] : null;
    }
    default:
      return null;
  }
}
