import { createHash } from 'node:crypto';
import { badRequest } from '../../domain/errors.js';
import type { DeviceFilter } from '../../store/device-query.js';
import { parseDeviceFilter } from './odata-filter.js';
import { parseSelect } from './odata-select.js';
import { parseExpand, type ExpandItem } from './odata-expand.js';
import { parseOrderBy, type OrderKey } from './odata-orderby.js';

const defaultPageSize = 20;
const maxPageSize = 50;

/** Which system query options a route honours; any other `$` option is a 400 naming it. */
export type QueryOptionName = 'filter' | 'select' | 'top' | 'skiptoken' | 'skip' | 'count' | 'orderby' | 'expand';

export interface ODataQuery<Position = unknown, Filter = DeviceFilter> {
  filter: Filter | null;
  select: string[] | null;
  top: number;
  /** decoded keyset position from $skiptoken */
  position: Position | null;
  /** items to pass over before the page ($skip) */
  skip: number;
  /** whether the collection carries `@odata.count` ($count=true) */
  count: boolean;
  orderBy: OrderKey[] | null;
  expand: ExpandItem[] | null;
  /** what a $skiptoken is bound to: the filter and the order it was issued for */
  tokenScope: string;
}

/** Each option's rule, as /openapi.json shows it. */
const optionRules: Record<QueryOptionName, string> = {
  filter: "a devices filter (eq ne and or not in startswith on the device's properties), e.g. deviceType eq 'teamsRoom'",
  select: 'a comma-separated list of properties',
  top: `items per page, a whole number from 1 (default ${defaultPageSize}; more than ${maxPageSize} gives ${maxPageSize})`,
  skiptoken: 'where the next page starts: copy it from @odata.nextLink',
  skip: 'items to pass over, a whole number',
  count: 'true or false: whether the collection carries @odata.count',
  orderby: 'a comma-separated list of properties, each with asc or desc',
  expand: 'health, activity, configuration and operations, each with an optional nested $select',
};

/**
 * The querystring schema of a route that honours `allowed`. It says each option's type (one
 * value each) and rule; parseODataQuery checks the rest, because OData option names are
 * case-insensitive and the `$` may be left out on beta, which no JSON Schema property says.
 * Parameters that are not OData options pass: Graph ignores them.
 */
export function odataQuerySchema(allowed: readonly QueryOptionName[], rules: Partial<Record<QueryOptionName, string>> = {}) {
  return {
    type: 'object',
    properties: Object.fromEntries(allowed.map((name) => [`$${name}`, { type: 'string', description: rules[name] ?? optionRules[name] }])),
  } as const;
}

/** What a resource offers beyond $select and $top. */
export interface ResourceOptions<Position, Filter = DeviceFilter> {
  /** reads this collection's $filter (default: the device filter) */
  filter?: (text: string) => Filter;
  /** reads this collection's $skiptoken positions */
  position?: PositionReader<Position>;
  /** properties $orderby may name */
  orderable?: readonly string[];
  /** navigation properties $expand may name, each with the properties its nested $select may name */
  expandable?: Readonly<Record<string, readonly string[]>>;
}

/** A collection's keyset position as its $skiptoken carries it (JSON), or undefined when it is not one. */
export type PositionReader<Position> = (token: unknown) => Position | undefined;

/** The position of collections newest first: the sequence number of the previous page's last item. */
export const sequencePosition: PositionReader<number> = (token) => (typeof token === 'number' && Number.isSafeInteger(token) ? token : undefined);

/**
 * Reads OData system query options. On beta the `$` is optional (`top=5` ≡ `$top=5`);
 * names are case-insensitive; each may appear once.
 */
export function parseODataQuery<Position = never, Filter = DeviceFilter>(
  query: Record<string, unknown>,
  allowed: readonly QueryOptionName[],
  selectable: readonly string[],
  resource: ResourceOptions<Position, Filter> = {},
): ODataQuery<Position, Filter> {
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
  const readFilter = resource.filter ?? (parseDeviceFilter as unknown as (text: string) => Filter);
  const filter = filterText === null ? null : readFilter(filterText);
  const select = options.has('select') ? parseSelect(options.get('select')!, selectable) : null;
  const top = options.has('top') ? parseTop(options.get('top')!) : defaultPageSize;
  const skip = options.has('skip') ? parseSkip(options.get('skip')!) : 0;
  const count = options.has('count') ? parseCount(options.get('count')!) : false;
  const orderBy = options.has('orderby') ? parseOrderBy(options.get('orderby')!, resource.orderable ?? []) : null;
  const expand = options.has('expand') ? parseExpand(options.get('expand')!, resource.expandable ?? {}) : null;
  const tokenScope = (filterText ?? '') + (orderBy ? `\u0000${JSON.stringify(orderBy)}` : '');
  if (options.has('skiptoken') && !resource.position) throw new Error('a route that takes $skiptoken must read its positions');
  const position = options.has('skiptoken') ? decodeSkipToken(options.get('skiptoken')!, tokenScope, resource.position!) : null;
  return { filter, select, top, position, skip, count, orderBy, expand, tokenScope };
}

const knownOptions = ['filter', 'select', 'top', 'skiptoken', 'skip', 'count', 'orderby', 'expand', 'search', 'format'];

function parseTop(raw: string): number {
  if (!/^\d{1,9}$/.test(raw)) throw badRequest(`Invalid value '${raw.slice(0, 32)}' for $top: it must be a whole number from 1 to ${maxPageSize}.`);
  const top = Number(raw);
  if (top < 1) throw badRequest(`Invalid value '${raw}' for $top: it must be at least 1.`);
  // Graph documents 50 as the maximum; larger values get the largest page, as Graph does.
  return Math.min(top, maxPageSize);
}

function parseSkip(raw: string): number {
  if (!/^\d{1,9}$/.test(raw)) throw badRequest(`Invalid value '${raw.slice(0, 32)}' for $skip: it must be a whole number from 0.`);
  return Number(raw);
}

function parseCount(raw: string): boolean {
  const value = raw.toLowerCase();
  if (value !== 'true' && value !== 'false') throw badRequest(`Invalid value '${raw.slice(0, 32)}' for $count: it must be true or false.`);
  return value === 'true';
}


/**
 * $skiptoken is opaque to clients: a keyset position plus a fingerprint of the filter and the
 * order it was made for, so a token cannot be replayed against a different query.
 */
export function encodeSkipToken(position: unknown, tokenScope: string): string {
  return Buffer.from(JSON.stringify({ p: position, f: fingerprint(tokenScope) })).toString('base64url');
}

function decodeSkipToken<Position>(raw: string, tokenScope: string, readPosition: PositionReader<Position>): Position {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('Invalid $skiptoken.');
  }
  const token = decoded as { p?: unknown; f?: unknown } | null;
  const position = readPosition(token?.p);
  if (position === undefined) throw badRequest('Invalid $skiptoken.');
  if (token?.f !== fingerprint(tokenScope)) throw badRequest('The $skiptoken was issued for a different query.');
  return position;
}

function fingerprint(tokenScope: string): string {
  return createHash('sha256').update(tokenScope).digest('base64url').slice(0, 12);
}
