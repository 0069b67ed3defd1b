import { freshnessProperty } from '../domain/device';
import { softwareTypes, type SoftwareType } from '../domain/enums';
import { odataString } from './api-client';

/** The devices table's choices, as the hash's query keeps them (so a filtered view is a link). */
export interface DeviceListChoice {
  type: string | null;
  health: string | null;
  activity: string | null;
  /** a software type: alone, the devices with a status for it; with `freshness`, those whose status has that freshness */
  software: string | null;
  /** latest, updateAvailable or unknown: of `software`, or of any software type when none is chosen */
  freshness: string | null;
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
    software: query.get('software'),
    freshness: query.get('freshness'),
    search: query.get('search')?.trim() || null,
    sort: query.get('sort'),
    descending: query.get('dir') === 'desc',
  };
}

/** The hash query of a choice (what choiceOf reads back). */
export function queryOf(choice: DeviceListChoice): Record<string, string | null> {
  return {
    type: choice.type, health: choice.health, activity: choice.activity,
    software: choice.software, freshness: choice.freshness, search: choice.search,
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
  const freshness = freshnessCondition(choice);
  if (freshness) conditions.push(freshness);
  if (choice.search) conditions.push(`(${searched.map((property) => `startswith(${property},${odataString(choice.search!)})`).join(' or ')})`);
  const params = new URLSearchParams({ $top: String(top), $count: 'true' });
  if (conditions.length) params.set('$filter', conditions.join(' and '));
  if (choice.sort) params.set('$orderby', `${choice.sort}${choice.descending ? ' desc' : ''}`);
  return `/teamwork/devices?${params.toString()}`;
}

/** The software and freshness choices as one condition, or null when neither is made. */
function freshnessCondition({ software, freshness }: DeviceListChoice): string | null {
  const property = (type: string) => freshnessProperty(type as SoftwareType);
  if (software && freshness) return `${property(software)} eq ${odataString(freshness)}`;
  if (software) return `${property(software)} ne null`;
  if (freshness) return `(${softwareTypes.map((type) => `${property(type)} eq ${odataString(freshness)}`).join(' or ')})`;
  return null;
}
