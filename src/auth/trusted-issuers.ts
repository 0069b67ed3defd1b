import type { Store } from '../store/store.js';
import { devAudience, devIssuer } from './dev-issuer.js';
import { devKeySet } from './dev-keys.js';
import { entraCommonKeysUrl, entraIssuersOf } from './entra-issuers.js';
import { remoteKeySet } from './key-sources.js';
import { discoveredKeySet } from './openid-discovery.js';
import type { TrustedIssuer } from './token-verifier.js';

export interface IdentitySettings {
  /** Entra ID tenants whose v1.0 and v2.0 tokens are accepted */
  entraTenants: string[];
  /** other OpenID providers' issuers */
  issuers: string[];
  audiences: string[];
  /** keys of every production issuer; null: Entra's common keys, and discovery for `issuers` */
  jwksUrl: string | null;
  /** the tenant of callers whose token (from `issuers`) has no `tid` */
  defaultTenant: string;
  /** least time between two key refetches caused by unknown kids */
  keyRefreshCooldownMs: number;
  /** the store holding the dev issuer's keys when the dev issuer is on, else null */
  devKeys: Store | null;
}

/** Every issuer the service accepts tokens from, with the keys and rules of each. */
export function trustedIssuers(settings: IdentitySettings): TrustedIssuer[] {
  const cooldown = settings.keyRefreshCooldownMs;
  const trusted: TrustedIssuer[] = [];
  const shared = settings.jwksUrl ? remoteKeySet(settings.jwksUrl, cooldown) : null;
  if (settings.entraTenants.length) {
    // One key set for all tenants: Entra signs every tenant's tokens with the same keys.
    const getKey = shared ?? remoteKeySet(entraCommonKeysUrl, cooldown);
    for (const tenant of settings.entraTenants) {
      for (const issuer of entraIssuersOf(tenant)) trusted.push({ issuer, audiences: settings.audiences, getKey, tenant });
    }
  }
  for (const issuer of settings.issuers) {
    trusted.push({
      issuer,
      audiences: settings.audiences,
      getKey: shared ?? discoveredKeySet(issuer, cooldown),
      defaultTenant: settings.defaultTenant,
    });
  }
  if (settings.devKeys) {
    // A read of our own database, not a provider's endpoint: a short cooldown is cheap, and a
    // rotation by the CLI is picked up within a second.
    trusted.push({ issuer: devIssuer, audiences: [devAudience], getKey: devKeySet(settings.devKeys, Math.min(cooldown, 1000)) });
  }
  return trusted;
}
