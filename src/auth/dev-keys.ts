import { createLocalJWKSet, type JWTVerifyGetKey } from 'jose';
import type { SigningKey, Store } from '../store/store.js';
import { clockToleranceSeconds, maxTokenLifetimeSeconds } from './token-lifetime.js';

/** Even without unknown kids, keys are read again this often, so retired keys stop verifying. */
const reloadEveryMs = 10 * 60_000;

/**
 * The keys that may have signed a token still alive: the newest, and each older key whose
 * successor is younger than the longest token lifetime (a key stops signing when its successor
 * is made, and no token outlives its signature by more than that lifetime).
 */
export function verifyingDevKeys(keys: SigningKey[], now: number): SigningKey[] {
  const window = (maxTokenLifetimeSeconds + clockToleranceSeconds) * 1000;
  const kept = keys.slice(0, 1);
  for (let i = 1; i < keys.length && Date.parse(keys[i - 1].createdAt) + window > now; i++) kept.push(keys[i]);
  return kept;
}

/**
 * The dev issuer's keys, read from the store. `keys rotate` runs in another process, so a
 * token naming a kid we do not hold makes us read the store again — at most once per cooldown,
 * so tokens with made-up kids cannot turn into a query each.
 */
export function devKeySet(store: Store, cooldownMs: number): JWTVerifyGetKey {
  let keySet: JWTVerifyGetKey | null = null;
  let kids = new Set<string>();
  let loadedAt = 0;
  let loading: Promise<void> | null = null;
  const load = async () => {
    const keys = verifyingDevKeys(await store.signingKeys(), Date.now());
    keySet = createLocalJWKSet({ keys: keys.map((key) => key.publicJwk) });
    kids = new Set(keys.map((key) => key.kid));
    loadedAt = Date.now();
  };
  return async (header, token) => {
    const age = Date.now() - loadedAt;
    const unknownKid = header.kid !== undefined && !kids.has(header.kid);
    if (!keySet || age >= reloadEveryMs || (unknownKid && age >= cooldownMs)) {
      loading ??= load().finally(() => (loading = null));
      await loading;
    }
    return keySet!(header, token);
  };
}
