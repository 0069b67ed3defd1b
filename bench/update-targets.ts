import type { DeviceType, SoftwareType } from '../src/domain/enums.js';
import { demoSoftwareVersions, deviceFamily, softwareTypesOf } from '../src/seed/demo-tables.js';
import type { DeviceKey } from './bench-workspace.js';
import type { LoadRequest } from './load.js';

// Tried in this order for every device; types a device does not run are skipped.
const typeOrder: SoftwareType[] = ['teamsClient', 'operatingSystem', 'adminAgent', 'firmware', 'partnerAgent', 'companyPortal'];

/**
 * Every distinct (device, softwareType) updateSoftware request the seeded devices allow, with
 * the newest demo version named explicitly. Ordered round by round (every device's first
 * type, then every device's second type, …), so consecutive requests go to different devices.
 */
export function updateRequests(keys: DeviceKey[], pathPrefix = '/beta/teamwork/devices'): LoadRequest[] {
  const perDevice = keys.map((key) => {
    const family = deviceFamily(key.deviceType as DeviceType);
    const runs = softwareTypesOf(key.deviceType as DeviceType);
    const types = typeOrder.filter((t) => runs.includes(t));
    return types.map((t) => {
      const versions = demoSoftwareVersions[t][family];
      return {
        path: `${pathPrefix}/${key.id}/updateSoftware`,
        body: JSON.stringify({ softwareType: t, softwareVersion: versions[versions.length - 1] }),
      };
    });
  });
  const out: LoadRequest[] = [];
  for (let round = 0; round < typeOrder.length; round++) {
    for (const requests of perDevice) if (round < requests.length) out.push(requests[round]);
  }
  return out;
}

/** Hands out the requests one by one; wraps around (and counts it) when they run out. */
export class RequestCursor {
  private index = 0;
  wraps = 0;

  constructor(private readonly requests: LoadRequest[]) {
    if (requests.length === 0) throw new Error('no requests to hand out');
  }

  next = (): LoadRequest => {
    if (this.index === this.requests.length) {
      this.index = 0;
      this.wraps++;
    }
    return this.requests[this.index++];
  };

  get used(): number {
    return this.wraps * this.requests.length + this.index;
  }
}
