/** Who is calling, as established by a verified token. */
export interface Caller {
  tenantId: string;
  kind: 'user' | 'application';
  /** user object id (oid) or application (client) id */
  id: string;
  displayName: string | null;
  /** application id the token was issued to, for throttling per tenant and application */
  appId: string;
  permissions: ReadonlySet<string>;
  /** the client's address (behind trusted proxies, the forwarded one), for the audit log */
  sourceAddress?: string | null;
}

export interface Identity {
  id: string | null;
  displayName: string | null;
  [extra: string]: unknown;
}

export interface IdentitySet {
  application: Identity | null;
  device: Identity | null;
  user: Identity | null;
}

/** identitySet of a caller: a user for delegated tokens, an application for app-only tokens. */
export function identitySetOf(caller: Caller): IdentitySet {
  if (caller.kind === 'user') {
    return {
      application: null,
      device: null,
      user: { id: caller.id, displayName: caller.displayName, userIdentityType: 'aadUser' },
    };
  }
  return { application: { id: caller.id, displayName: caller.displayName }, device: null, user: null };
}

/** identitySet naming a device, for changes a device itself makes (results, inventory). */
export function deviceIdentitySet(deviceId: string, displayName: string | null): IdentitySet {
  return { application: null, device: { id: deviceId, displayName }, user: null };
}
