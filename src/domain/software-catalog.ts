import type { Artifact } from './artifact.js';
import type { DeviceType, SoftwareType } from './enums.js';

/** What a version string may be, wherever one is accepted: 1-64 letters, digits and . - + _ */
export const versionTextPattern = /^[A-Za-z0-9.\-+_]{1,64}$/;

/** A version in a request body; the words are the 400's and the API description's. */
export const versionSchema = {
  type: 'string',
  pattern: versionTextPattern.source,
  description: "1 to 64 characters of letters, digits and '.', '-', '+', '_'",
} as const;

/** One installable version. deviceType/model narrow it; null means "any". */
export interface CatalogEntry {
  tenantId: string;
  softwareType: SoftwareType;
  version: string;
  deviceType: DeviceType | null;
  model: string | null;
  createdDateTime: string;
  /** the file devices install the version from; null: the install command finds it itself */
  artifact: Artifact | null;
}

/** An entry to add: one without an artifact may leave it out. */
export type NewCatalogEntry = Omit<CatalogEntry, 'artifact'> & { artifact?: Artifact | null };

/** What an entry offers, and to which devices: all that the rules of "offered" and of the artifact read. */
export type CatalogOffer = Pick<CatalogEntry, 'softwareType' | 'version' | 'deviceType' | 'model' | 'artifact'>;

/** What deciding a device's newest versions needs of an entry. */
export type CatalogVersion = Omit<CatalogOffer, 'artifact'>;

/**
 * Compares version strings part by part, numbers numerically ("1.0.96.22" > "1.0.9.99"),
 * other parts as text; a version with more parts is newer when the rest is equal.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.\-+_]/);
  const pb = b.split(/[.\-+_]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    const diff = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x.localeCompare(y);
    if (diff !== 0) return Math.sign(diff);
  }
  return 0;
}

/**
 * Catalog entries that apply to a device of this type and model: the one rule of "offered",
 * used by the newest version, the check of a named version and the device's update health.
 */
function applicableEntries<E extends Omit<CatalogOffer, 'artifact'>>(entries: readonly E[], deviceType: DeviceType, model: string | null): E[] {
  const lowerModel = model?.toLowerCase() ?? null;
  return entries.filter(
    (e) => (e.deviceType === null || e.deviceType === deviceType) && (e.model === null || e.model.toLowerCase() === lowerModel),
  );
}

/** The newest catalog version of a software type for a device, or null when the catalog has none. */
export function newestVersion(
  entries: readonly Omit<CatalogOffer, 'artifact'>[],
  softwareType: SoftwareType,
  deviceType: DeviceType,
  model: string | null,
): string | null {
  let newest: string | null = null;
  for (const entry of applicableEntries(entries, deviceType, model)) {
    if (entry.softwareType !== softwareType) continue;
    if (newest === null || compareVersions(entry.version, newest) > 0) newest = entry.version;
  }
  return newest;
}

/** Every version the catalog offers a device of this type and model, once each: by software type, newest first. */
export function offeredVersions(
  entries: readonly Omit<CatalogOffer, 'artifact'>[],
  deviceType: DeviceType,
  model: string | null,
): { softwareType: SoftwareType; softwareVersion: string }[] {
  const offered = new Map<string, { softwareType: SoftwareType; softwareVersion: string }>();
  for (const entry of applicableEntries(entries, deviceType, model)) {
    offered.set(`${entry.softwareType} ${entry.version}`, { softwareType: entry.softwareType, softwareVersion: entry.version });
  }
  return [...offered.values()].sort((a, b) => a.softwareType.localeCompare(b.softwareType) || compareVersions(b.softwareVersion, a.softwareVersion));
}

/** Whether the catalog offers this exact version of a software type to a device of this type and model. */
export function isOffered(
  entries: readonly Omit<CatalogOffer, 'artifact'>[],
  softwareType: SoftwareType,
  version: string,
  deviceType: DeviceType,
  model: string | null,
): boolean {
  return applicableEntries(entries, deviceType, model).some((e) => e.softwareType === softwareType && e.version === version);
}

/**
 * The artifact a device installs a version from: that of the most specific entry offering the
 * version to the device that has one (its model's, then its device type's, then every
 * device's). An entry without an artifact says nothing about where the version comes from,
 * so a broader entry's artifact still applies; null when none has one.
 */
export function artifactFor(
  entries: readonly CatalogOffer[],
  softwareType: SoftwareType,
  version: string,
  deviceType: DeviceType,
  model: string | null,
): Artifact | null {
  let chosen: CatalogOffer | null = null;
  for (const entry of applicableEntries(entries, deviceType, model)) {
    if (entry.softwareType !== softwareType || entry.version !== version || !entry.artifact) continue;
    if (chosen === null || specificity(entry) > specificity(chosen)) chosen = entry;
  }
  return chosen?.artifact ?? null;
}

/** A model is narrower than a device type, which is narrower than every device. */
function specificity(entry: CatalogOffer): number {
  return (entry.model !== null ? 2 : 0) + (entry.deviceType !== null ? 1 : 0);
}
