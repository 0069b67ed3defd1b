import { createHash } from 'node:crypto';
import { badRequest } from '../../domain/errors.js';
import type { DeviceFilter } from '../../store/device-query.js';
import { parseDeviceFilter } from './odata-filter.js';

const defaultPageSize = 20;
const maxPageSize = 50;

/** Which system query options a route honours; any other `$` option is a 400 naming it. */
export type QueryOptionName = 'filter' | 'select' | 'top' | 'skiptoken';

export interface ODataQuery {
  filter: DeviceFilter | null;
  filterText: string | null;
  select: string[] | null;
  top: number;
  /** decoded keyset position from $skiptoken */
  position: string | number | null;
}

/**
 * Reads OData system query options. On beta the `$` is optional (`top=5` ≡ `$top=5`);
 * names are case-insensitive; each may appear once.
 */
export function parseODataQuery(
  query: Record<string, unknown>,
  allowed: QueryOptionName[],
  selectable: readonly string[],
  positionKind: 'string' | 'number' = 'string',
): ODataQuery {
  const options = new Map<string, string>();
  for (const [rawName, rawValue] of Object.entries(query)) {
    const name = rawName.replace(/^\$/, '').toLowerCase();
    const isSystem = rawName.startsWith('$') || knownOptions.includes(name);
    if (!isSystem) continue; // Graph ignores parameters that are not OData options
    if (!allowed.includes(name as QueryOptionName)) {
      throw badRequest(`The query option '$${name}' is not supported on this resource.`);
    }
    if (Array.isArray(rawValue) || options.has(name)) throw badRequest(`The query option '$${name}' appears more than once.`);
    options.set(name, String(rawValue));
  }

  const filterText = options.get('filter') ?? null;
  const filter = filterText === null ? null : parseDeviceFilter(filterText);
  const select = options.has('select') ? parseSelect(options.get('select')!, selectable) : null;
  const top = options.has('top') ? parseTop(options.get('top')!) : defaultPageSize;
  const position = options.has('skiptoken') ? decodeSkipToken(options.get('skiptoken')!, filterText, positionKind) : null;
  return { filter, filterText, select, top, position };
}

const knownOptions = ['filter', 'select', 'top', 'skiptoken', 'skip', 'count', 'orderby', 'expand', 'search', 'format'];

function parseTop(raw: string): number {
  if (!/^\d{1,9}$/.test(raw)) throw badRequest(`Invalid value '${raw.slice(0, 32)}' for $top: it must be a whole number from 1 to ${maxPageSize}.`);
  const top = Number(raw);
  if (top < 1) throw badRequest(`Invalid value '${raw}' for $top: it must be at least 1.`);
  // Graph documents 50 as the maximum; larger values get the largest page, as Graph does.
  return Math.min(top, maxPageSize);
}

function parseSelect(raw: string, selectable: readonly string[]): string[] {
  const names = raw.split(',').map((s) => s.trim());
  if (names.some((n) => n === '')) throw badRequest('Invalid $select: empty property name.');
  const result: string[] = [];
  for (const name of names) {
    const known = selectable.find((p) => p.toLowerCase() === name.toLowerCase());
    if (!known) throw badRequest(`Invalid $select: the property '${name.slice(0, 64)}' does not exist on this resource.`);
    if (!result.includes(known)) result.push(known);
  }
  return result;
}

/**
 * $skiptoken is opaque to clients: a keyset position plus a fingerprint of the filter it was
 * made for, so a token cannot be replayed against a different query.
 */
export function encodeSkipToken(position: string | number, filterText: string | null): string {
  return Buffer.from(JSON.stringify({ p: position, f: fingerprint(filterText) })).toString('base64url');
}

function decodeSkipToken(raw: string, filterText: string | null, kind: 'string' | 'number'): string | number {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('Invalid $skiptoken.');
  }
  const token = decoded as { p?: unknown; f?: unknown } | null;
  const position = token?.p;
  const valid = kind === 'string' ? typeof position === 'string' : typeof position === 'number' && Number.isSafeInteger(position);
  if (!valid) {
    throw badRequest('Invalid $skiptoken.');
  }
  if (token?.f !== fingerprint(filterText)) throw badRequest('The $skiptoken was issued for a different query.');
  return position as string | number;
}

function fingerprint(filterText: string | null): string {
  return createHash('sha256').update(filterText ?? '').digest('base64url').slice(0, 12);
}
