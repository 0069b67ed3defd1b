import { badRequest } from '../../domain/errors.js';
import { enumMember, operationTypes, type OperationType } from '../../domain/enums.js';
import { operationStatuses, type OperationStatus } from '../../domain/operation.js';
import type { CreatedBound, OperationFilter } from '../../store/device-query.js';
import { parseFilterExpression, propertyPath, type Bind, type Node } from './odata-filter.js';

const supported = "Supported: status eq '<status>', operationType eq '<type>', createdDateTime ge|gt|lt|le <ISO 8601 date and time>, joined with 'and'.";

/**
 * `$filter` of the tenant's operation list, parsed by the same OData parser as device filters:
 * conditions each one index column can serve, joined with `and`; anything else is a 400 naming it.
 */
export function parseOperationFilter(text: string): OperationFilter {
  const parsed = parseFilterExpression(quoteDateTimeLiterals(text));
  const filter: OperationFilter = { status: null, operationType: null, created: [], nothing: false };
  const bindOf = (node: Node): Bind | null => {
    const index = (node as { bind?: unknown } | null)?.bind;
    return typeof index === 'number' ? parsed.binds[index] : null;
  };
  const visit = (node: Node): void => {
    if (!Array.isArray(node)) throw unsupported('an expression that is not a condition');
    const [op, left, right] = node as [string, Node, Node];
    if (op === 'and') {
      visit(left);
      visit(right);
      return;
    }
    const property = propertyPath(left);
    if (!['eq', 'ge', 'gt', 'lt', 'le'].includes(op)) throw unsupported(`the operator '${op}'`);
    if (property === null) throw unsupported(`the left operand of '${op}' must be status, operationType or createdDateTime`);
    const bound = bindOf(right);
    switch (property.toLowerCase()) {
      case 'status':
      case 'operationtype': {
        if (op !== 'eq') throw unsupported(`'${op}' on ${property}; use eq`);
        if (!bound || bound[0] !== 'Text') throw unsupported(`comparing ${property} with anything but a quoted string`);
        const key = property.toLowerCase() === 'status' ? 'status' : 'operationType';
        const members: readonly string[] = key === 'status' ? operationStatuses : operationTypes;
        const member = enumMember(members, bound[1] as string);
        if (!member) throw badRequest(`'${String(bound[1]).slice(0, 64)}' is not a ${key} member; valid members are ${members.join(', ')}.`);
        // Two different values of one property joined by 'and' match nothing.
        if (filter[key] !== null && filter[key] !== member) filter.nothing = true;
        if (key === 'status') filter.status = member as OperationStatus;
        else filter.operationType = member as OperationType;
        return;
      }
      case 'createddatetime':
        if (op === 'eq') throw unsupported("'eq' on createdDateTime; use ge, gt, lt or le");
        filter.created.push({ op: op as CreatedBound['op'], value: instant(bound) });
        return;
      default:
        throw unsupported(`filtering on the property '${property.slice(0, 64)}'`);
    }
  };
  visit(parsed.tree);
  return filter;
}

/**
 * OData v4 writes a date and time unquoted (`createdDateTime ge 2026-01-01T00:00:00Z`), which
 * the parser (OData v2) does not read; such a literal outside quotes is quoted first.
 */
function quoteDateTimeLiterals(text: string): string {
  const parts = text.split(/('(?:[^']|'')*')/);
  return parts.map((part, i) => (i % 2 === 1 ? part : part.replace(/(?<![\w'])(\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:\d{2}))/g, "'$1'"))).join('');
}

/** A date literal (v4 unquoted, quoted, or v2's datetime'…') as the instant the store compares with. */
function instant(bound: Bind | null): string {
  const value = bound && (bound[0] === 'Text' || bound[0] === 'Date Time') ? bound[1] : null;
  const wellFormed = typeof value === 'number' || (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(value));
  const time = wellFormed ? new Date(value).getTime() : NaN;
  if (!Number.isFinite(time) || !storableInstant(new Date(time).toISOString())) throw badRequest(`Invalid $filter: createdDateTime is compared with an ISO 8601 date and time with an offset, such as 2026-01-01T00:00:00Z; got ${describeBind(bound)}.`);
  return new Date(time).toISOString();
}

/**
 * Whether both databases can compare with this instant: a four-digit year from 0001 (PostgreSQL
 * has no year 0, and a year past 9999 is written with a sign that SQLite's text order misplaces).
 */
export function storableInstant(iso: string): boolean {
  return /^\d{4}-/.test(iso) && !iso.startsWith('0000-');
}

function describeBind(bound: Bind | null): string {
  return bound ? `'${String(bound[1]).slice(0, 40)}'` : 'something else';
}

function unsupported(part: string) {
  return badRequest(`Unsupported $filter: ${part}. ${supported}`);
}
