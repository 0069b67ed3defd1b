import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { SigningKey, Store } from '../store/store.js';
import { readWriteAll } from './permissions.js';

/** The local issuer: its key lives in the database, so tokens survive restarts of the server. */
export const devIssuer = 'https://teamwork-devices.local/dev-issuer/v2.0';
/** Tokens carry Graph's own audience, so a client configured for Graph needs no change. */
export const devAudience = 'https://graph.microsoft.com';

/** The key that signs dev tokens: the newest in the store, made on first use. */
export async function devSigningKey(store: Store): Promise<SigningKey> {
  const [newest] = await store.signingKeys();
  if (newest) return newest;
  await store.addSigningKey(await newDevKey(new Date()));
  // Replicas starting together may each add one; every kept key verifies, and all sign with the newest.
  return (await store.signingKeys())[0];
}

/** Makes a new key the one that signs; the previous ones keep verifying the tokens they signed. */
export async function rotateDevSigningKey(store: Store): Promise<SigningKey> {
  const [newest] = await store.signingKeys();
  // Strictly newer than the current key even within one millisecond, so "newest" is never a tie.
  const createdAt = new Date(Math.max(Date.now(), newest ? Date.parse(newest.createdAt) + 1 : 0));
  const key = await newDevKey(createdAt);
  await store.addSigningKey(key);
  return key;
}

async function newDevKey(createdAt: Date): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  return {
    kid,
    alg: 'ES256',
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
    createdAt: createdAt.toISOString(),
  };
}

export interface DevTokenRequest {
  tenantId: string;
  scopes?: string[];
  /** application (app-only) token with `roles` instead of a delegated one with `scp` */
  app?: boolean;
  user?: string;
  ttlSeconds?: number;
  /** for tests of the token checks: times relative to now */
  notBeforeSeconds?: number;
}

/** Signs a token shaped like an Entra ID access token for Microsoft Graph. */
export async function signDevToken(key: SigningKey, request: DevTokenRequest): Promise<string> {
  const privateKey = await importJWK(key.privateJwk as Parameters<typeof importJWK>[0], key.alg);
  const scopes = request.scopes?.length ? request.scopes : [readWriteAll];
  const user = request.user ?? 'admin@contoso.example';
  const appId = '2b6a3f19-6c1d-4c2b-9a55-0d3c0e7f7a11';
  const claims: Record<string, unknown> = request.app
    ? { roles: scopes, appid: appId, app_displayname: 'teamwork-devices dev app', idtyp: 'app', oid: appId }
    : {
        scp: scopes.join(' '),
        appid: appId,
        oid: uuidFromText(user),
        name: displayNameOf(user),
        upn: user,
        preferred_username: user,
      };
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...claims, tid: request.tenantId })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(devIssuer)
    .setAudience(devAudience)
    .setSubject(request.app ? appId : uuidFromText(user))
    .setIssuedAt(now)
    .setNotBefore(now + (request.notBeforeSeconds ?? 0))
    .setExpirationTime(now + (request.ttlSeconds ?? 3600))
    .setJti(randomUUID())
    .sign(privateKey);
}

/** A stable object id for a user name, so the same --user always is the same user. */
function uuidFromText(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (const ch of text) {
    h1 = Math.imul(h1 ^ ch.charCodeAt(0), 16777619) >>> 0;
    h2 = Math.imul(h2 ^ ch.charCodeAt(0), 2246822519) >>> 0;
  }
  const hex = (h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0')).repeat(2);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function displayNameOf(user: string): string {
  const local = user.split('@')[0];
  return local.split(/[._-]/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join(' ');
}
