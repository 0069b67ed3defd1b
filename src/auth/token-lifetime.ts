/**
 * The longest lifetime of any token accepted, from any issuer. Entra ID's access tokens live
 * 60–90 minutes; a token meant to live for days is a leak waiting to happen.
 */
export const maxTokenLifetimeSeconds = 24 * 3600;

/** Clock skew forgiven between the issuer and this server. */
export const clockToleranceSeconds = 5;
