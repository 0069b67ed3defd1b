import type { Store } from '../store/store.js';
import { generateDevices } from './device-generator.js';

const batchSize = 5000;

/**
 * Adds `count` generated devices after those the tenant already has (so seeding twice adds,
 * never collides), in batches that keep memory flat. Returns the tenant's new total.
 */
export async function seedDevices(store: Store, options: { tenantId: string; count: number; seed?: number }): Promise<number> {
  const existing = await store.countDevices(options.tenantId);
  const now = new Date();
  for (let done = 0; done < options.count; done += batchSize) {
    const devices = generateDevices({
      tenantId: options.tenantId,
      count: Math.min(batchSize, options.count - done),
      seed: options.seed ?? 1,
      startIndex: existing + done,
      now,
    });
    await store.insertDevices(devices);
  }
  await store.refreshStatistics();
  return store.countDevices(options.tenantId);
}
