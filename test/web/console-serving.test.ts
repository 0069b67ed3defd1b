import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clockToleranceSeconds } from '../../src/auth/token-lifetime.js';
import { consoleOAuthOf, serveDefaults, validateServeConfig } from '../../src/config.js';
import { builtConsoleDir } from '../../src/http/console-routes.js';
import { expectGraphError } from '../helpers/http-assertions.js';
import { startOpenIdProvider, type OpenIdProvider } from '../helpers/openid-provider.js';
import { plainRequest } from '../helpers/plain-http.js';
import { startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * The console as the server serves it: its files (no token, cache and security headers), its
 * sign-in configuration, and the dev sign-in with an attacker's view of it (another Host, another
 * Origin, a proxy, another machine, a server whose dev issuer is off).
 */

const signIn = (server: TestServer, headers: Record<string, string> = {}) =>
  plainRequest(`${server.url}/console/dev-sign-in`, { method: 'POST', headers });

const asResponse = (reply: { status: number; headers: Record<string, unknown>; text: string }) =>
  new Response(reply.text, { status: reply.status, headers: reply.headers as Record<string, string> });

describe('the built console at /', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ devicesA: 3, devicesB: 2, config: { tenant: tenantA, consoleTokenTtlSeconds: 1 } });
  });
  after(() => server.stop());

  test('index.html without a token, never cached, with a policy that allows only this server', async () => {
    const response = await fetch(`${server.url}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /connect-src 'self';/, 'no identity provider configured: fetches go to this server only');
    assert.match(csp, /frame-ancestors 'none'/);
    const html = await response.text();
    assert.match(html, /<script type="module" crossorigin src="\.\/assets\/index-[\w-]+\.js"><\/script>/);
    assert.doesNotMatch(html, /<script>|<script type="module">[^<]/, 'no inline script: the policy would block it');
  });

  test('hashed assets are immutable; an unknown path is the Graph 404, not index.html', async () => {
    const script = readdirSync(join(builtConsoleDir, 'assets')).find((name) => name.endsWith('.js'));
    assert.ok(script, 'the build wrote a script');
    const response = await fetch(`${server.url}/assets/${script}`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /javascript/);
    assert.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    await response.arrayBuffer();
    await expectGraphError(await fetch(`${server.url}/assets/nothing.js`), 404, 'itemNotFound');
    await expectGraphError(await fetch(`${server.url}/assets/..%2f..%2fpackage.json`), 404, 'itemNotFound');
  });

  test('config.json offers the dev sign-in and no OAuth; a $batch cannot reach the console', async () => {
    const response = await fetch(`${server.url}/console/config.json`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { devSignIn: true, oauth: null });
    // A batch at the unversioned root runs its urls from `/`, where the console's routes are.
    const batch = await server.request('/$batch', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requests: ['/console/config.json', '/index.html', '/'].map((url, i) => ({ id: String(i), method: 'GET', url })) }),
    });
    assert.equal(batch.status, 200);
    const replies = ((await batch.json()) as { responses: { id: string; status: number; body: { error: { code: string } } }[] }).responses;
    assert.deepEqual(replies.map((reply) => [reply.status, reply.body.error.code]), [[404, 'itemNotFound'], [404, 'itemNotFound'], [404, 'itemNotFound']]);
  });

  test('dev sign-in from this machine: a token for --tenant that reads its devices, not another tenant\'s, and expires', async () => {
    const reply = await signIn(server, { origin: server.url });
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.headers['cache-control'], 'no-store');
    const body = JSON.parse(reply.text) as { accessToken: string; tokenType: string; expiresIn: number; tenantId: string };
    assert.equal(body.tokenType, 'Bearer');
    assert.equal(body.expiresIn, 1);
    assert.equal(body.tenantId, tenantA);
    const claims = JSON.parse(Buffer.from(body.accessToken.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.scp, 'TeamworkDevice.ReadWrite.All');
    assert.equal(claims.tid, body.tenantId);
    assert.equal(Number(claims.exp) - Number(claims.iat), 1);

    const [own] = await server.query<{ id: string }>('SELECT id FROM devices WHERE tenant_id = ? LIMIT 1', [tenantA]);
    const [foreign] = await server.query<{ id: string }>('SELECT id FROM devices WHERE tenant_id = ? LIMIT 1', [tenantB]);
    const asConsole = (path: string) => fetch(server.url + path, { headers: { authorization: `Bearer ${body.accessToken}` } });
    const list = await asConsole('/beta/teamwork/devices');
    assert.equal(list.status, 200);
    assert.equal(((await list.json()) as { value: unknown[] }).value.length, 3, 'the devices of --tenant (A)');
    assert.equal((await asConsole(`/beta/teamwork/devices/${own.id}`)).status, 200);
    await expectGraphError(await asConsole(`/beta/teamwork/devices/${foreign.id}`), 404, 'itemNotFound');

    // Past its expiry and the clock skew every issuer is forgiven.
    await new Promise((resolve) => setTimeout(resolve, (1 + clockToleranceSeconds) * 1000 + 600));
    await expectGraphError(await asConsole('/beta/teamwork/devices'), 401, 'unauthenticated');
  });

  test('refused: a foreign Host (DNS rebinding), a foreign Origin, a null Origin, a proxy, another machine', async () => {
    const port = new URL(server.url).port;
    const attacks: Record<string, string>[] = [
      { host: `evil.example:${port}` },
      { host: `127.0.0.1.nip.io:${port}` },
      { origin: 'http://evil.example' },
      { origin: `http://localhost:${Number(port) + 1}` },
      { origin: 'null' },
      { 'x-forwarded-for': '203.0.113.9' },
      { forwarded: 'for=203.0.113.9' },
    ];
    for (const headers of attacks) {
      const error = await expectGraphError(asResponse(await signIn(server, headers)), 403, 'accessDenied');
      assert.match(error.message, /only for a browser on this machine/, JSON.stringify(headers));
    }
    const remote = await server.app.inject({ method: 'POST', url: '/console/dev-sign-in', remoteAddress: '203.0.113.9', headers: { host: '127.0.0.1' } });
    assert.equal(remote.statusCode, 403, remote.body);
    assert.equal(JSON.parse(remote.body).error.code, 'accessDenied');
    assert.match(JSON.parse(remote.body).error.message, /does not come from this machine/);
    // A loopback name in Host with its own Origin is this machine.
    assert.equal((await signIn(server, { host: `localhost:${port}`, origin: `http://localhost:${port}` })).status, 200);
  });
});

describe('the console on a server with a production issuer', () => {
  let provider: OpenIdProvider;
  let server: TestServer;
  before(async () => {
    provider = await startOpenIdProvider();
    server = await startTestServer({
      config: { issuers: [provider.issuer], audiences: ['api://teamwork-devices'], consoleClientId: 'console-client' },
    });
  });
  after(async () => {
    await server.stop();
    await provider.close();
  });

  test('no dev sign-in (the dev issuer is off); OAuth from the issuer\'s discovery document; the policy allows its token endpoint', async () => {
    await expectGraphError(asResponse(await signIn(server)), 404, 'itemNotFound');
    const config = await (await fetch(`${server.url}/console/config.json`)).json();
    assert.deepEqual(config, {
      devSignIn: false,
      oauth: {
        authorizationEndpoint: `${provider.url}/oauth2/v2.0/authorize`,
        tokenEndpoint: `${provider.url}/oauth2/v2.0/token`,
        clientId: 'console-client',
        scope: 'api://teamwork-devices/.default',
      },
    });
    const csp = (await fetch(`${server.url}/`)).headers.get('content-security-policy') ?? '';
    assert.match(csp, new RegExp(`connect-src 'self' ${provider.url.replace(/\./g, '\\.')};`));
  });
});

describe('a console that was never built', () => {
  let server: TestServer;
  const empty = mkdtempSync(join(tmpdir(), 'twd-console-'));
  before(async () => {
    server = await startTestServer({ config: { consoleDir: empty } });
  });
  after(async () => {
    await server.stop();
    rmSync(empty, { recursive: true, force: true });
  });

  test('/ says to run npm run build, as a Graph error; the sign-in configuration still answers', async () => {
    const error = await expectGraphError(await fetch(`${server.url}/`), 503, 'consoleNotBuilt');
    assert.match(error.message, /npm run build/);
    assert.equal((await fetch(`${server.url}/console/config.json`)).status, 200);
  });
});

describe('the console\'s serve flags', () => {
  const entraTenant = '33333333-3333-4333-8333-333333333333';

  test('--console-client-id needs a production issuer; --console-scope needs a client id', () => {
    assert.throws(() => validateServeConfig({ ...serveDefaults, consoleClientId: 'console-client' }), /--console-client-id needs --entra-tenant or --issuer/);
    assert.throws(() => validateServeConfig({ ...serveDefaults, consoleScope: 'api://x/.default' }), /--console-scope needs --console-client-id/);
    assert.throws(
      () => validateServeConfig({ ...serveDefaults, entraTenants: [entraTenant], audiences: ['api://x'], consoleClientId: 'two words' }),
      /--console-client-id .* without spaces/,
    );
  });

  test('the OAuth issuer is the first --issuer, else the first Entra tenant\'s v2.0 issuer; the scope defaults to the first audience\'s .default', () => {
    const entra = validateServeConfig({ ...serveDefaults, entraTenants: [entraTenant.toUpperCase()], audiences: ['api://teamwork-devices', 'client-guid'], consoleClientId: 'console-client' });
    assert.deepEqual(consoleOAuthOf(entra), { issuer: `https://login.microsoftonline.com/${entraTenant}/v2.0`, clientId: 'console-client', scope: 'api://teamwork-devices/.default' });
    const openId = validateServeConfig({
      ...serveDefaults, entraTenants: [entraTenant], issuers: ['https://id.example.com'], audiences: ['api://a'], consoleClientId: 'c', consoleScope: 'api://a/TeamworkDevice.Read.All',
    });
    assert.deepEqual(consoleOAuthOf(openId), { issuer: 'https://id.example.com', clientId: 'c', scope: 'api://a/TeamworkDevice.Read.All' });
    assert.equal(consoleOAuthOf(serveDefaults), null);
  });
});
