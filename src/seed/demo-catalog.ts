import { deviceTypes, softwareTypes, type DeviceType } from '../domain/enums.js';
import type { CatalogEntry } from '../domain/software-catalog.js';
import type { Store } from '../store/store.js';
import { demoSoftwareVersions, deviceFamily, softwareTypesOf } from './demo-tables.js';

const realDeviceTypes = deviceTypes.filter((t): t is DeviceType => t !== 'unknown' && t !== 'unknownFutureValue');

/**
 * The demo catalog: for every device type, the versions the demo devices are drawn from
 * (three per software type the type runs, the newest being the one offered as an update), so
 * seeded and simulated devices have updates available, updateSoftware without a version works,
 * and the versions README and `serve` show are offered. Returns how many entries were new.
 */
export function seedDemoCatalog(store: Store, tenantId: string): Promise<number> {
  return store.addCatalogEntries(demoCatalog(tenantId, new Date().toISOString()));
}

/** The demo catalog's entries: one per (software type, device type, version), for any model. */
function demoCatalog(tenantId: string, createdDateTime: string): CatalogEntry[] {
  const entries: CatalogEntry[] = [];
  for (const softwareType of softwareTypes) {
    for (const deviceType of realDeviceTypes) {
      if (!softwareTypesOf(deviceType).includes(softwareType)) continue;
      for (const version of demoSoftwareVersions[softwareType][deviceFamily(deviceType)]) {
        entries.push({ tenantId, softwareType, version, deviceType, model: null, createdDateTime, artifact: null });
      }
    }
  }
  return entries;
}
