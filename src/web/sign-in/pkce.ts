/**
 * OAuth 2.0 authorization code with PKCE (RFC 7636, S256) for a public client in the browser:
 * a random verifier and state kept in sessionStorage for the round trip, the state checked on
 * return (a mismatch is another site's code, refused), the code traded at the token endpoint.
 */

export interface OAuthConfig {
  authorizationEndpoint: string;
  tokenEndpoint: string;
  clientId: string;
  scope: string;
}

export interface TokenReply {
  accessToken: string;
  expiresIn: number;
}

const pendingKey = 'twd.oauth.pending';

interface Pending {
  state: string;
  verifier: string;
  redirectUri: string;
}

/** The console's own address without query or fragment: where the provider sends the browser back. */
export function redirectUriOf(location: Location): string {
  return location.href.split('#')[0].split('?')[0];
}

function randomText(bytes: number): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

function base64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** S256: the verifier's SHA-256, base64url. */
export async function challengeOf(verifier: string): Promise<string> {
  return base64Url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
}

/** Sends the browser to the provider's sign-in page. */
export async function startSignIn(config: OAuthConfig): Promise<void> {
  const pending: Pending = { state: randomText(32), verifier: randomText(48), redirectUri: redirectUriOf(location) };
  sessionStorage.setItem(pendingKey, JSON.stringify(pending));
  const url = new URL(config.authorizationEndpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: pending.redirectUri,
    scope: config.scope,
    state: pending.state,
    code_challenge: await challengeOf(pending.verifier),
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url.href);
}

/**
 * The provider's answer in the query string, if there is one: its token, or an Error saying why
 * not. The query is removed from the address bar either way, so a reload does not replay it.
 */
export async function completeSignIn(config: OAuthConfig, query: URLSearchParams): Promise<TokenReply | Error | null> {
  if (!query.has('code') && !query.has('error')) return null;
  history.replaceState(null, '', redirectUriOf(location) + location.hash);
  const stored = sessionStorage.getItem(pendingKey);
  sessionStorage.removeItem(pendingKey);
  const pending = stored ? (JSON.parse(stored) as Pending) : null;
  if (!pending || query.get('state') !== pending.state) {
    return new Error('Sign-in refused: the answer from the identity provider does not match the sign-in this browser started (state mismatch).');
  }
  if (query.has('error')) return new Error(`The identity provider refused the sign-in: ${query.get('error')} ${query.get('error_description') ?? ''}`.trim());
  const response = await fetch(config.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: config.clientId,
      code: query.get('code') ?? '',
      redirect_uri: pending.redirectUri,
      code_verifier: pending.verifier,
    }),
  }).catch(() => null);
  if (!response) return new Error('The identity provider\'s token endpoint cannot be reached.');
  const body = (await response.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
  if (!response.ok || !body.access_token) {
    return new Error(`The identity provider did not issue a token: ${body.error ?? response.status} ${body.error_description ?? ''}`.trim());
  }
  return { accessToken: body.access_token, expiresIn: Number(body.expires_in) || 3600 };
}
