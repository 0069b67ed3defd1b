import { softwareTypes, type SoftwareType } from '../../src/domain/enums.js';
import type { CatalogEntry } from '../../src/domain/software-catalog.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';

/**
 * The versions the tests ask updateSoftware for by name. updateSoftware refuses a version the
 * catalog does not offer the device (404), so test servers offer these, of every software
 * type, to every device of tenants A and B; a test that makes up versions of its own offers
 * them itself (offer, offerIn).
 */
export const testVersions: readonly string[] = [
  '1.0.0', '1.0.96.22', '1.0.96.23', '1.0.96.30', '1.0.96.40', '1.0.96.50', '1.0.96.60', '1.0.96.70', '1.0.96.77',
  '1.0.96.80', '1.0.96.99', '1.0.96.2024061103', '2.0.0.7', '3.0.1', '3.1', '5.0.1', '5.1', '5.2', '7.0.1', '9.9.9',
  '122.15.0.41', '122.15.0.50', '122.15.0.61', '122.15.0.99', '123.0.0.1',
];

/** A version of a software type, offered to every device of a tenant. */
export interface Offer {
  softwareType: SoftwareType;
  version: string;
}

/** Each of `versions` for each of `types`. */
export function offersOf(versions: readonly string[], types: readonly SoftwareType[] = softwareTypes): Offer[] {
  return types.flatMap((softwareType) => versions.map((version) => ({ softwareType, version })));
}

/** Adds the offers to the tenant's catalog, for every device type and model, in one transaction. */
export function offer(store: Store, tenantId: string, offers: readonly Offer[]): Promise<number> {
  const createdDateTime = new Date().toISOString();
  const entries: CatalogEntry[] = offers.map(({ softwareType, version }) => ({ tenantId, softwareType, version, deviceType: null, model: null, createdDateTime, artifact: null }));
  return store.addCatalogEntries(entries);
}

/** offer() on the database of a server this process does not run (a `--db` value). */
export async function offerIn(db: string, tenantId: string, offers: readonly Offer[]): Promise<void> {
  const store = await openStore(db);
  try {
    await offer(store, tenantId, offers);
  } finally {
    await store.close();
  }
}
