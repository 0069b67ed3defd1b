import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startOpenIdProvider, type OpenIdProvider } from '../helpers/openid-provider.js';
import { startTestServer, tenantA, type TestServer } from '../helpers/test-server.js';

/**
 * The console's production sign-in in Chromium: the authorization code with PKCE against an
 * OpenID provider, the state checked on return, the token kept for the tab only.
 */
describe('the console signs in with the identity provider', () => {
  let provider: OpenIdProvider;
  let server: TestServer;
  let browser: TestBrowser;
  const audience = 'api://teamwork-devices';
  before(async () => {
    provider = await startOpenIdProvider();
    provider.signInAs({ audience, claims: { sub: 'adele', tid: tenantA, scp: 'TeamworkDevice.ReadWrite.All' } });
    server = await startTestServer({
      devicesA: 7,
      config: { issuers: [provider.issuer], audiences: [audience], consoleClientId: 'console-client', consoleScope: `${audience}/TeamworkDevice.ReadWrite.All` },
    });
    browser = await launchBrowser({ width: 768, height: 1024 });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await provider?.close();
  });

  test('sign in: the provider gets an S256 challenge, the token endpoint the matching verifier; the console reads the tenant\'s devices', async () => {
    const { page } = browser;
    await page.goto(`${server.url}/`);
    assert.equal(await page.getByRole('button', { name: 'Sign in with a dev token' }).count(), 0, 'no dev sign-in beside a production issuer');
    const authorize = page.waitForRequest((request) => request.url().startsWith(`${provider.url}/oauth2/v2.0/authorize`));
    await page.getByRole('button', { name: 'Sign in with your organization' }).click();
    const query = new URL((await authorize).url()).searchParams;
    assert.equal(query.get('client_id'), 'console-client');
    assert.equal(query.get('scope'), `${audience}/TeamworkDevice.ReadWrite.All`);
    assert.equal(query.get('redirect_uri'), `${server.url}/`);
    assert.equal(query.get('code_challenge_method'), 'S256');
    assert.match(query.get('code_challenge') ?? '', /^[\w-]{43}$/);
    assert.match(query.get('state') ?? '', /^[\w-]{43}$/);
    await page.getByTestId('total-devices').waitFor();
    assert.equal(await page.getByTestId('total-devices').textContent(), '7');
    assert.equal(page.url(), `${server.url}/`, 'the code and state are gone from the address bar');
    const [exchange] = provider.tokenRequests();
    assert.equal(exchange.status, 200);
    assert.equal(exchange.params.grant_type, 'authorization_code');
    assert.match(exchange.params.code_verifier, /^[\w-]{64}$/);
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing kept beyond the tab');
    assert.deepEqual(browser.pageErrors, []);
  });

  test('a tampered state is refused and said so; no token is asked for', async () => {
    const { page } = browser;
    await page.getByRole('button', { name: 'Sign out' }).click();
    provider.tamperNextState();
    await page.getByRole('button', { name: 'Sign in with your organization' }).click();
    await page.getByText('state mismatch').waitFor();
    assert.equal(provider.tokenRequests().length, 1, 'the code was not traded');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('twd.token')), null);
    assert.equal(await page.getByRole('navigation', { name: 'Console' }).count(), 0, 'still signed out');
  });

  test('a code traded with another verifier gets no token, and the console says so', async () => {
    const { page } = browser;
    // Whoever holds a stolen code lacks the verifier: the exchange is sent with another one.
    const tokenEndpoint = `${provider.url}/oauth2/v2.0/token`;
    await page.route(tokenEndpoint, (route) => {
      const params = new URLSearchParams(route.request().postData() ?? '');
      params.set('code_verifier', 'x'.repeat(64));
      return route.continue({ postData: params.toString() });
    });
    await page.getByRole('button', { name: 'Sign in with your organization' }).click();
    await page.getByText('The identity provider did not issue a token: invalid_grant').waitFor();
    assert.equal(provider.tokenRequests().at(-1)?.status, 400);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('twd.token')), null);
    await page.unrouteAll({ behavior: 'wait' });
  });
});
