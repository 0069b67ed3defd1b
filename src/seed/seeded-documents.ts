import type { SeededDocuments } from '../store/store.js';
import { generateDevices } from './device-generator.js';

/**
 * A seeded device's documents, regenerated from the descriptor the store keeps. Descriptors
 * name no generator version: they all mean the generator's output as
 * test/seed/device-generator.test.ts pins it. A change to that output must not reach existing
 * databases silently: give descriptors a version then, and keep this output for those without.
 */
export const regenerateSeededDocuments: SeededDocuments = (tenantId, from) => {
  const [generated] = generateDevices({ tenantId, count: 1, seed: from.seed, startIndex: from.index, now: new Date(from.now) });
  return { health: generated.health, activity: generated.activity, configuration: generated.configuration };
};
