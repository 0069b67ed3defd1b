import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { devSigningKey, signDevToken } from '../auth/dev-issuer.js';
import { readDiscoveryDocument } from '../auth/openid-discovery.js';
import { readWriteAll } from '../auth/permissions.js';
import { ServiceError } from '../domain/errors.js';
import { isLoopbackHost } from '../domain/loopback-host.js';
import type { Store } from '../store/store.js';

export interface ConsoleSignIn {
  /** the dev issuer's one-click sign-in; null while the dev issuer is off */
  devSignIn: { tenantId: string; ttlSeconds: number } | null;
  /** the authorization-code flow with PKCE at an OpenID provider; null when no console client is configured */
  oauth: { issuer: string; clientId: string; scope: string } | null;
}

/** What the browser needs to sign in, as `GET /console/config.json` answers it. */
export interface ConsoleConfig {
  devSignIn: boolean;
  oauth: { authorizationEndpoint: string; tokenEndpoint: string; clientId: string; scope: string } | null;
}

/** Forwarding headers: a proxy relays someone else's request, which is never "this machine". */
const forwardingHeaders = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip'];

/**
 * `GET /console/config.json` and, while the dev issuer is on, `POST /console/dev-sign-in`.
 * Returns the token endpoint's origin for the console's Content-Security-Policy.
 */
export function addConsoleSignIn(app: FastifyInstance, options: ConsoleSignIn, store: Store): { tokenEndpointOrigin(): Promise<string | null> } {
  const oauthConfig = discoveredOAuth(options.oauth);
  app.get('/console/config.json', async (): Promise<ConsoleConfig> => ({ devSignIn: options.devSignIn !== null, oauth: await oauthConfig() }));
  const dev = options.devSignIn;
  if (dev) {
    app.post('/console/dev-sign-in', async (request) => {
      refuseUnlessThisMachine(request);
      const accessToken = await signDevToken(await devSigningKey(store), {
        tenantId: dev.tenantId,
        scopes: [readWriteAll],
        user: 'console@teamwork-devices.local',
        ttlSeconds: dev.ttlSeconds,
      });
      return { accessToken, tokenType: 'Bearer', expiresIn: dev.ttlSeconds, tenantId: dev.tenantId };
    });
  }
  return {
    async tokenEndpointOrigin() {
      const oauth = await oauthConfig().catch(() => null);
      return oauth ? new URL(oauth.tokenEndpoint).origin : null;
    },
  };
}

/**
 * A dev token makes its holder an admin of the tenant, so it goes only to a browser on this
 * machine: a loopback peer (no proxy in between), a loopback name in `Host` (a DNS-rebinding
 * page reaches 127.0.0.1 under its own name) and, when the browser sends one, our own `Origin`
 * (another site's page posting here).
 */
function refuseUnlessThisMachine(request: FastifyRequest): void {
  const refuse = (why: string) => new ServiceError('devSignInRefused', `Dev sign-in refused: ${why}. It is only for a browser on this machine.`);
  const peer = (request.raw.socket.remoteAddress ?? '').replace(/^::ffff:/i, '');
  if (!isLoopbackHost(peer)) throw refuse('the request does not come from this machine');
  if (forwardingHeaders.some((name) => request.headers[name] !== undefined)) throw refuse('the request came through a proxy');
  const host = request.headers.host ?? '';
  if (!URL.canParse(`http://${host}`) || !isLoopbackHost(new URL(`http://${host}`).hostname)) throw refuse('the Host is not a loopback name');
  const origin = request.headers.origin;
  const scheme = (request.raw.socket as TLSSocket).encrypted ? 'https' : 'http';
  if (origin !== undefined && origin.toLowerCase() !== `${scheme}://${host.toLowerCase()}`) throw refuse('the page is not this server\'s');
}

/**
 * The OAuth endpoints from the issuer's discovery document, read on first use and cached; a
 * failed read is tried again on the next request (a 503, as for the provider's keys).
 */
function discoveredOAuth(oauth: ConsoleSignIn['oauth']): () => Promise<ConsoleConfig['oauth']> {
  let found: Promise<ConsoleConfig['oauth']> | null = null;
  return () => {
    if (!oauth) return Promise.resolve(null);
    found ??= readDiscoveryDocument(oauth.issuer).then((document) => {
      if (!document.authorizationEndpoint || !document.tokenEndpoint) throw new Error(`${oauth.issuer} publishes no authorization or token endpoint`);
      return { authorizationEndpoint: document.authorizationEndpoint, tokenEndpoint: document.tokenEndpoint, clientId: oauth.clientId, scope: oauth.scope };
    }).catch((error: unknown) => {
      found = null;
      throw new ServiceError('serviceNotAvailable', `The identity provider cannot be used: ${(error as Error).message}`, { 'retry-after': '5' });
    });
    return found;
  };
}
