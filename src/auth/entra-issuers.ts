/** Entra ID's key set for every tenant and both token versions. */
export const entraCommonKeysUrl = 'https://login.microsoftonline.com/common/discovery/v2.0/keys';

/**
 * The two issuers Entra ID signs a tenant's access tokens as: v1.0 tokens (the API's manifest
 * has `accessTokenAcceptedVersion` null or 1) and v2.0 tokens.
 */
export function entraIssuersOf(tenantId: string): string[] {
  const tid = tenantId.toLowerCase();
  return [`https://sts.windows.net/${tid}/`, `https://login.microsoftonline.com/${tid}/v2.0`];
}
