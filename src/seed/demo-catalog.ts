import { deviceTypes, softwareTypes, type DeviceType } from '../domain/enums.js';
import type { Store } from '../store/store.js';
import { demoSoftwareVersions, deviceFamily, softwareTypesOf } from './demo-tables.js';

const realDeviceTypes = deviceTypes.filter((t): t is DeviceType => t !== 'unknown' && t !== 'unknownFutureValue');

/**
 * The demo catalog: for every device type, the versions the demo devices are drawn from, so
 * seeded and simulated devices have updates available and updateSoftware without a version works.
 */
export async function seedDemoCatalog(store: Store, tenantId: string): Promise<number> {
  let added = 0;
  const createdDateTime = new Date().toISOString();
  for (const softwareType of softwareTypes) {
    for (const deviceType of realDeviceTypes) {
      if (!softwareTypesOf(deviceType).includes(softwareType)) continue;
      for (const version of demoSoftwareVersions[softwareType][deviceFamily(deviceType)]) {
        const result = await store.addCatalogEntry({ tenantId, softwareType, version, deviceType, model: null, createdDateTime });
        if (result === 'added') added++;
      }
    }
  }
  return added;
}
