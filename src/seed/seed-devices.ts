import type { Store } from '../store/store.js';
import { generateDevices } from './device-generator.js';

export interface SeedOptions {
  tenantId: string;
  count: number;
  seed?: number;
  /**
   * Devices per transaction. A running server seeds in small batches: on SQLite a batch holds
   * the event loop while it is written (about 0.25 ms a device with every filter indexed).
   */
  batchSize?: number;
}

/**
 * Adds `count` generated devices after those the tenant already has (so seeding twice adds,
 * never collides), in batches that keep memory flat, letting other work run between them.
 * Returns the devices the tenant had before plus those added.
 */
export async function seedDevices(store: Store, options: SeedOptions): Promise<number> {
  const batchSize = options.batchSize ?? 5000;
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
    await new Promise((resolve) => setImmediate(resolve));
  }
  await store.refreshStatistics();
  return existing + options.count;
}
