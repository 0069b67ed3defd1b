import { odataString } from './api-client';

/** The devices table's choices, as the hash's query keeps them (so a filtered view is a link). */
export interface DeviceListChoice {
  type: string | null;
  health: string | null;
  activity: string | null;
  /** the start of a name, serial number or asset tag */
  search: string | null;
  /** an orderable property, and whether descending */
  sort: string | null;
  descending: boolean;
}

export function choiceOf(query: URLSearchParams): DeviceListChoice {
  return {
    type: query.get('type'),
    health: query.get('health'),
    activity: query.get('activity'),
    search: query.get('search')?.trim() || null,
    sort: query.get('sort'),
    descending: query.get('dir') === 'desc',
  };
}

/** The hash query of a choice (what choiceOf reads back). */
export function queryOf(choice: DeviceListChoice): Record<string, string | null> {
  return {
    type: choice.type, health: choice.health, activity: choice.activity, search: choice.search,
    sort: choice.sort, dir: choice.sort && choice.descending ? 'desc' : null,
  };
}

/** Properties the search box looks in: the device's name (its signed-in account), serial number and asset tag. */
const searched = ['displayName', 'hardwareDetail/serialNumber', 'companyAssetTag'];

/**
 * The first page's API path: `$filter` (each choice an `eq`, the search a `startswith` on each
 * searched property), `$orderby`, `$top` and `$count`. Later pages follow `@odata.nextLink`.
 */
export function devicesPath(choice: DeviceListChoice, top: number): string {
  const conditions: string[] = [];
  if (choice.type) conditions.push(`deviceType eq ${odataString(choice.type)}`);
  if (choice.health) conditions.push(`healthStatus eq ${odataString(choice.health)}`);
  if (choice.activity) conditions.push(`activityState eq ${odataString(choice.activity)}`);
  if (choice.search) conditions.push(`(${searched.map((property) => `startswith(${property},${odataString(choice.search!)})`).join(' or ')})`);
  const params = new URLSearchParams({ $top: String(top), $count: 'true' });
  if (conditions.length) params.set('$filter', conditions.join(' and '));
  if (choice.sort) params.set('$orderby', `${choice.sort}${choice.descending ? ' desc' : ''}`);
  return `/teamwork/devices?${params.toString()}`;
}
