import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';

/**
 * A local OpenID provider for tests, standing in for Entra ID on 127.0.0.1: a discovery
 * document, a JWKS endpoint whose keys can change while the server under test runs, access
 * tokens shaped like Entra ID's v1.0 and v2.0 tokens (claim for claim), and the browser
 * sign-in's authorize and token endpoints (authorization code with PKCE).
 */

type PrivateKey = Parameters<SignJWT['sign']>[0];

export interface ProviderKey {
  kid: string;
  privateKey: PrivateKey;
  publicJwk: JWK;
}

export interface EntraTokenRequest {
  version: 1 | 2;
  /** the tenant of the issuer (`https://sts.windows.net/{tenant}/` or `…/{tenant}/v2.0`) */
  tenant: string;
  audience: string;
  /** the `tid` claim; the issuer's tenant unless given (a string of anything, for the tid checks) */
  tid?: string;
  /** delegated (scp) by default; app-only tokens carry roles */
  app?: boolean;
  permissions?: string[];
  /** defaults to the provider's first published key */
  key?: ProviderKey;
  /** seconds relative to now */
  issuedAt?: number;
  lifetimeSeconds?: number;
  /** replace or remove (undefined) claims after the Entra shape is built */
  claims?: Record<string, unknown>;
  user?: { oid: string; name: string; upn: string };
  clientAppId?: string;
}

export interface OpenIdProvider {
  /** http://127.0.0.1:port, also the issuer of its discovery document */
  url: string;
  issuer: string;
  jwksUrl: string;
  /** how many times the JWKS was fetched */
  jwksFetches(): number;
  /** a new RSA key; published in the JWKS unless `publish` is false */
  addKey(options?: { publish?: boolean; kid?: string }): Promise<ProviderKey>;
  /** a token exactly as Entra ID issues it for an API (v1.0 or v2.0 access token) */
  entraToken(request: EntraTokenRequest): Promise<string>;
  /** a token of this provider's own issuer (a non-Entra OpenID provider) */
  token(request: { audience: string; claims: Record<string, unknown>; key?: ProviderKey; lifetimeSeconds?: number }): Promise<string>;
  /**
   * The browser sign-in (authorization code with PKCE): the authorize endpoint signs the user in
   * at once and redirects back with a code; the token endpoint trades it, once, for a token with
   * this audience and these claims when the verifier matches the challenge.
   */
  signInAs(grant: { audience: string; claims: Record<string, unknown> }): void;
  /** the next authorize redirect carries another `state` than the browser sent (an injected code) */
  tamperNextState(): void;
  /** the token endpoint's requests, each with its answer's status */
  tokenRequests(): { params: Record<string, string>; status: number }[];
  close(): Promise<void>;
}

export const entraIssuer = (version: 1 | 2, tenant: string) =>
  version === 1 ? `https://sts.windows.net/${tenant}/` : `https://login.microsoftonline.com/${tenant}/v2.0`;

export const defaultUser = { oid: '6e1f3c2a-9b8d-4e7f-a1b2-c3d4e5f60718', name: 'Adele Vance', upn: 'AdeleV@contoso.example' };
export const defaultClientAppId = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';

export async function startOpenIdProvider(): Promise<OpenIdProvider> {
  const published: JWK[] = [];
  const keys: ProviderKey[] = [];
  let fetches = 0;
  let base = '';
  let grant: { audience: string; claims: Record<string, unknown> } | null = null;
  let tamper = false;
  const codes = new Map<string, { challenge: string; clientId: string; redirectUri: string }>();
  const tokenLog: { params: Record<string, string>; status: number }[] = [];
  let issue: (grant: { audience: string; claims: Record<string, unknown> }) => Promise<string> = async () => '';
  const server: Server = createServer((request, response) => {
    const json = (body: unknown) => {
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      response.end(JSON.stringify(body));
    };
    if (request.url === '/.well-known/openid-configuration') {
      json({
        issuer: base,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        token_endpoint: `${base}/oauth2/v2.0/token`,
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'name', 'oid', 'tid', 'preferred_username'],
      });
    } else if (request.url === '/discovery/v2.0/keys') {
      fetches++;
      json({ keys: published });
    } else if (request.url?.startsWith('/oauth2/v2.0/authorize?')) {
      const query = new URL(request.url, base).searchParams;
      const redirect = query.get('redirect_uri') ?? '';
      if (query.get('response_type') !== 'code' || query.get('code_challenge_method') !== 'S256' || !query.get('code_challenge') || !URL.canParse(redirect)) {
        response.writeHead(400, { 'content-type': 'text/plain' }).end('bad authorization request');
        return;
      }
      const code = randomBytes(24).toString('base64url');
      codes.set(code, { challenge: query.get('code_challenge')!, clientId: query.get('client_id') ?? '', redirectUri: redirect });
      const back = new URL(redirect);
      back.searchParams.set('code', code);
      back.searchParams.set('state', tamper ? `${query.get('state')}x` : query.get('state') ?? '');
      tamper = false;
      response.writeHead(302, { location: back.href }).end();
    } else if (request.url === '/oauth2/v2.0/token' && request.method === 'POST') {
      let text = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (text += chunk));
      request.on('end', async () => {
        const params = Object.fromEntries(new URLSearchParams(text));
        const pending = codes.get(params.code ?? '');
        codes.delete(params.code ?? '');
        const verified = pending !== undefined && grant !== null && params.grant_type === 'authorization_code' &&
          params.client_id === pending.clientId && params.redirect_uri === pending.redirectUri &&
          createHash('sha256').update(params.code_verifier ?? '').digest('base64url') === pending.challenge;
        const body = verified ? { token_type: 'Bearer', access_token: await issue(grant!), expires_in: 3600 } : { error: 'invalid_grant' };
        tokenLog.push({ params, status: verified ? 200 : 400 });
        // A browser app's token request is cross-origin: the provider answers it with CORS.
        response.writeHead(verified ? 200 : 400, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
        response.end(JSON.stringify(body));
      });
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const addKey = async (options: { publish?: boolean; kid?: string } = {}): Promise<ProviderKey> => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    // Entra's kid is the certificate's SHA-1 thumbprint (base64url), the same value as x5t.
    const kid = options.kid ?? createHash('sha1').update(randomBytes(32)).digest('base64url');
    const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, use: 'sig', x5t: kid, issuer: `https://login.microsoftonline.com/{tenantid}/v2.0` } as JWK;
    const key = { kid, privateKey, publicJwk };
    if (options.publish !== false) {
      published.push(publicJwk);
      keys.push(key);
    }
    return key;
  };
  await addKey();

  const sign = (claims: Record<string, unknown>, key: ProviderKey, header: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ typ: 'JWT', alg: 'RS256', ...header, kid: key.kid }).sign(key.privateKey);

  const providerToken = async (request: { audience: string; claims: Record<string, unknown>; key?: ProviderKey; lifetimeSeconds?: number }) => {
    const now = Math.floor(Date.now() / 1000);
    return sign(
      { iss: base, aud: request.audience, iat: now, nbf: now, exp: now + (request.lifetimeSeconds ?? 3600), jti: randomUUID(), ...request.claims },
      request.key ?? keys[0],
      {},
    );
  };
  issue = providerToken;

  return {
    url: base,
    issuer: base,
    jwksUrl: `${base}/discovery/v2.0/keys`,
    jwksFetches: () => fetches,
    addKey,
    async entraToken(request) {
      const key = request.key ?? keys[0];
      const now = Math.floor(Date.now() / 1000) + (request.issuedAt ?? 0);
      const user = request.user ?? defaultUser;
      const client = request.clientAppId ?? defaultClientAppId;
      const tid = request.tid ?? request.tenant;
      const issuer = entraIssuer(request.version, request.tenant);
      const permissions = request.permissions ?? ['TeamworkDevice.ReadWrite.All'];
      const common = {
        aud: request.audience,
        iss: issuer,
        iat: now,
        nbf: now,
        exp: now + (request.lifetimeSeconds ?? 4499),
        aio: randomBytes(48).toString('base64'),
        ...(request.version === 1 ? { appid: client, appidacr: request.app ? '1' : '0' } : { azp: client, azpacr: request.app ? '1' : '0' }),
        idp: `https://sts.windows.net/${tid}/`,
      };
      const rh = `0.${randomBytes(40).toString('base64url')}.`;
      const uti = randomBytes(16).toString('base64url');
      const claims: Record<string, unknown> = request.app
        ? { ...common, oid: '3f0e2b1c-7d6a-4b5c-9e8f-0a1b2c3d4e5f', rh, roles: permissions, sub: '3f0e2b1c-7d6a-4b5c-9e8f-0a1b2c3d4e5f', tid, uti, ver: `${request.version}.0` }
        : {
            ...common,
            ...(request.version === 1 ? { amr: ['pwd', 'mfa'], family_name: 'Vance', given_name: 'Adele' } : {}),
            ipaddr: '203.0.113.42',
            name: user.name,
            oid: user.oid,
            ...(request.version === 2 ? { preferred_username: user.upn } : {}),
            rh,
            scp: permissions.join(' '),
            sub: randomBytes(32).toString('base64url').slice(0, 43),
            tid,
            ...(request.version === 1 ? { unique_name: user.upn, upn: user.upn } : {}),
            uti,
            ver: `${request.version}.0`,
          };
      for (const [name, value] of Object.entries(request.claims ?? {})) {
        if (value === undefined) delete claims[name];
        else claims[name] = value;
      }
      // v1.0 tokens carry the certificate thumbprint in x5t beside kid; v2.0 tokens only kid.
      return sign(claims, key, request.version === 1 ? { x5t: key.kid } : {});
    },
    token: providerToken,
    signInAs(next) {
      grant = next;
    },
    tamperNextState() {
      tamper = true;
    },
    tokenRequests: () => tokenLog,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
