import { actions, operationStatuses, type Operation, type OperationStatus } from '../domain/operation.js';
import type { OperationType } from '../domain/enums.js';
import type { CreatedBound, OperationFilter, OperationPosition, Page, TenantOperationQuery } from './device-query.js';
import { iso, operationFromRow, type OperationRow } from './rows.js';
import type { SqlDriver } from './sql-driver.js';

/** One range of an index, in (created_at, seq) order: the operations of one status and type, or all of them. */
interface IndexRange {
  status?: OperationStatus;
  operationType?: OperationType;
}

const comparisons: Record<CreatedBound['op'], string> = { ge: '>=', gt: '>', lt: '<', le: '<=' };

/**
 * The operation types this service creates: a status alone is read as one range of
 * operations_by_status per type, each in page order, merged.
 */
const createdTypes: OperationType[] = Object.values(actions);

/**
 * A tenant's operations across its devices, newest first (created_at, then seq), each page
 * one or a few ranges of migration 13's indexes read for exactly a page, whatever the fleet's
 * size: no filter or dates only, `operations_by_tenant`; a status and a type, one range of
 * `operations_by_status`; a status alone, its range per operation type (three); a type
 * alone, its range per status (six), the ranges merged. Counts read the same ranges through
 * the driver's `scan` (off the event loop on SQLite, time-limited), as device counts do.
 */
export class OperationPages {
  constructor(private readonly sql: SqlDriver) {}

  async list(query: TenantOperationQuery): Promise<Page<Operation, OperationPosition>> {
    if (query.filter?.nothing) return { items: [], next: null };
    const branches: string[] = [];
    const params: unknown[] = [];
    for (const range of indexRanges(query.filter)) {
      const where = rangeConditions(query.tenantId, range, query.filter, query.after);
      branches.push(`SELECT * FROM operations WHERE ${where.sql} ORDER BY created_at DESC, seq DESC LIMIT ?`);
      params.push(...where.params, query.top + 1);
    }
    const sql = branches.length === 1
      ? branches[0]
      : `SELECT * FROM (${branches.map((branch, i) => `SELECT * FROM (${branch}) AS range${i}`).join(' UNION ALL ')}) AS merged ORDER BY created_at DESC, seq DESC LIMIT ?`;
    const rows = await this.sql.query<OperationRow>(sql, branches.length === 1 ? params : [...params, query.top + 1]);
    const kept = rows.slice(0, query.top);
    const last = kept[kept.length - 1];
    return {
      items: kept.map(operationFromRow),
      next: rows.length > query.top ? { createdDateTime: iso(last.created_at), seq: Number(last.seq) } : null,
    };
  }

  async count(tenantId: string, filter: OperationFilter | null): Promise<number> {
    if (filter?.nothing) return 0;
    // A type alone counts every status's range of operations_by_status (IN is one range per member).
    const range = { status: filter?.status ?? undefined, operationType: filter?.operationType ?? undefined };
    const where = rangeConditions(tenantId, range, filter, null);
    const statuses = range.operationType && !range.status ? ` AND status IN (${operationStatuses.map(() => '?').join(', ')})` : '';
    const [row] = await this.sql.scan<{ n: number | string }>(
      `SELECT count(*) AS n FROM operations WHERE ${where.sql}${statuses}`, [...where.params, ...(statuses ? operationStatuses : [])],
    );
    return Number(row.n);
  }
}

function indexRanges(filter: OperationFilter | null): IndexRange[] {
  const status = filter?.status ?? undefined;
  const operationType = filter?.operationType ?? undefined;
  if (status && operationType) return [{ status, operationType }];
  if (status) return createdTypes.map((type) => ({ status, operationType: type }));
  if (operationType) return operationStatuses.map((each) => ({ status: each, operationType }));
  return [{}];
}

/**
 * The conditions of one index range after the position. The position, (created_at, seq) below
 * the previous page's last, is one row-value bound; an upper date bound it already implies is
 * left out, so that neither database has two upper bounds on created_at to choose between (an
 * altered token's position above the bound keeps both, still correct).
 */
function rangeConditions(tenantId: string, range: IndexRange, filter: OperationFilter | null, after: OperationPosition | null): { sql: string; params: unknown[] } {
  const where = ['tenant_id = ?'];
  const params: unknown[] = [tenantId];
  if (range.status) {
    where.push('status = ?');
    params.push(range.status);
  }
  if (range.operationType) {
    where.push('operation_type = ?');
    params.push(range.operationType);
  }
  for (const bound of filter?.created ?? []) {
    const implied = after && (bound.op === 'lt' ? after.createdDateTime < bound.value : bound.op === 'le' && after.createdDateTime <= bound.value);
    if (implied) continue;
    where.push(`created_at ${comparisons[bound.op]} ?`);
    params.push(bound.value);
  }
  if (after) {
    where.push('(created_at, seq) < (?, ?)');
    params.push(after.createdDateTime, after.seq);
  }
  return { sql: where.join(' AND '), params };
}
