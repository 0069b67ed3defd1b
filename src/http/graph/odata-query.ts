import { createHash } from 'node:crypto';
import { badRequest } from '../../domain/errors.js';
import type { DeviceFilter } from '../../store/device-query.js';
import { parseDeviceFilter } from './odata-filter.js';

const defaultPageSize = 20;
const maxPageSize = 50;

/** Which system query options a route honours; any other `$` option is a 400 naming it. */
export type QueryOptionName = 'filter' | 'select' | 'top' | 'skiptoken';

export interface ODataQuery<Position = unknown> {
  filter: DeviceFilter | null;
  filterText: string | null;
  select: string[] | null;
  top: number;
  /** decoded keyset position from $skiptoken */
  position: Position | null;
}

/** A collection's keyset position as its $skiptoken carries it (JSON), or undefined when it is not one. */
export type PositionReader<Position> = (token: unknown) => Position | undefined;

/** The position of collections newest first: the sequence number of the previous page's last item. */
export const sequencePosition: PositionReader<number> = (token) => (typeof token === 'number' && Number.isSafeInteger(token) ? token : undefined);

/**
 * Reads OData system query options. On beta the `$` is optional (`top=5` ≡ `$top=5`);
 * names are case-insensitive; each may appear once.
 */
export function parseODataQuery<Position = never>(
  query: Record<string, unknown>,
  allowed: QueryOptionName[],
  selectable: readonly string[],
  readPosition?: PositionReader<Position>,
): ODataQuery<Position> {
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
  if (options.has('skiptoken') && !readPosition) throw new Error('a route that takes $skiptoken must read its positions');
  const position = options.has('skiptoken') ? decodeSkipToken(options.get('skiptoken')!, filterText, readPosition!) : null;
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
export function encodeSkipToken(position: unknown, filterText: string | null): string {
  return Buffer.from(JSON.stringify({ p: position, f: fingerprint(filterText) })).toString('base64url');
}

function decodeSkipToken<Position>(raw: string, filterText: string | null, readPosition: PositionReader<Position>): Position {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('Invalid $skiptoken.');
  }
  const token = decoded as { p?: unknown; f?: unknown } | null;
  const position = readPosition(token?.p);
  if (position === undefined) throw badRequest('Invalid $skiptoken.');
  if (token?.f !== fingerprint(filterText)) throw badRequest('The $skiptoken was issued for a different query.');
  return position;
}

function fingerprint(filterText: string | null): string {
  return createHash('sha256').update(filterText ?? '').digest('base64url').slice(0, 12);
}
