import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { expectGraphError } from '../helpers/http-assertions.js';
import { defaultClientAppId, defaultUser, entraIssuer, startOpenIdProvider, type OpenIdProvider } from '../helpers/openid-provider.js';
import { postJson, startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';
import { expect401, listIds } from '../helpers/token-assertions.js';

/** The API's app registration: v2.0 tokens name it by client id, v1.0 tokens by App ID URI. */
const clientId = '8f3c1d2e-4b5a-4c6d-9e7f-0a1b2c3d4e5f';
const appIdUri = 'api://teamwork-devices.contoso.example';
/** A real tenant of the same provider that this service was not told to trust. */
const tenantC = '33333333-3333-4333-8333-333333333333';
const devicesPath = '/beta/teamwork/devices';

/** Restarts the device with the token and returns the operation's createdBy, as Graph shows it. */
async function createdByOf(server: TestServer, deviceId: string, token: string): Promise<Record<string, unknown>> {
  const accepted = await server.request(`${devicesPath}/${deviceId}/restart`, { method: 'POST', token });
  assert.equal(accepted.status, 202, await accepted.text());
  const operation = await server.request(server.url + accepted.headers.get('location'), { token });
  assert.equal(operation.status, 200);
  return ((await operation.json()) as { createdBy: Record<string, unknown> }).createdBy;
}

describe('Entra ID tokens of an allow-list of tenants', () => {
  let provider: OpenIdProvider;
  let server: TestServer;
  let idsA: string[];
  let idsB: string[];

  before(async () => {
    provider = await startOpenIdProvider();
    server = await startTestServer({
      devicesA: 4,
      devicesB: 3,
      config: { entraTenants: [tenantA, tenantB], audiences: [clientId, appIdUri], jwksUrl: provider.jwksUrl, keyRefreshCooldownMs: 0 },
    });
    idsA = (await server.query<{ id: string }>('SELECT id FROM devices WHERE tenant_id = ? ORDER BY id', [tenantA])).map((r) => r.id);
    idsB = (await server.query<{ id: string }>('SELECT id FROM devices WHERE tenant_id = ? ORDER BY id', [tenantB])).map((r) => r.id);
    assert.equal(idsA.length, 4);
    assert.equal(idsB.length, 3);
  });
  after(async () => {
    await server?.stop();
    await provider?.close();
  });

  test('a v1.0 delegated token (iss sts.windows.net, aud the App ID URI) is accepted, its user recorded', async () => {
    const token = await provider.entraToken({ version: 1, tenant: tenantA, audience: appIdUri });
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.iss, `https://sts.windows.net/${tenantA}/`);
    assert.equal(claims.ver, '1.0');
    assert.deepEqual(Object.keys(decodeProtectedHeader(token)).sort(), ['alg', 'kid', 'typ', 'x5t']);
    assert.deepEqual(await listIds(server, token), idsA);
    const createdBy = await createdByOf(server, idsA[0], token);
    assert.deepEqual(createdBy.user, { id: defaultUser.oid, displayName: defaultUser.name, userIdentityType: 'aadUser' });
    assert.equal(createdBy.application, null);
  });

  test('a v2.0 delegated token (iss login.microsoftonline.com/…/v2.0, aud the client id) is accepted', async () => {
    const token = await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId });
    assert.equal(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).iss, entraIssuer(2, tenantA));
    assert.deepEqual(Object.keys(decodeProtectedHeader(token)).sort(), ['alg', 'kid', 'typ']);
    assert.deepEqual(await listIds(server, token), idsA);
    const createdBy = await createdByOf(server, idsA[1], token);
    assert.deepEqual(createdBy.user, { id: defaultUser.oid, displayName: defaultUser.name, userIdentityType: 'aadUser' });
  });

  test('app-only tokens of both versions: roles grant, appid (v1) and azp (v2) name the application', async () => {
    for (const [version, deviceId] of [[1, idsA[2]], [2, idsA[3]]] as const) {
      const token = await provider.entraToken({ version, tenant: tenantA, audience: version === 1 ? appIdUri : clientId, app: true });
      const createdBy = await createdByOf(server, deviceId, token);
      assert.deepEqual(createdBy.application, { id: defaultClientAppId, displayName: null }, `v${version}`);
      assert.equal(createdBy.user, null);
    }
    const reader = await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId, app: true, permissions: ['TeamworkDevice.Read.All'] });
    await expectGraphError(await server.request(`${devicesPath}/${idsA[0]}/restart`, { method: 'POST', token: reader }), 403, 'accessDenied');
  });

  test('either audience is accepted by either token version', async () => {
    for (const version of [1, 2] as const) {
      for (const audience of [clientId, appIdUri]) {
        const token = await provider.entraToken({ version, tenant: tenantA, audience });
        assert.deepEqual(await listIds(server, token), idsA, `v${version} ${audience}`);
      }
    }
  });

  test('two tenants in the allow-list: each is accepted and sees only its own devices', async () => {
    const tokenB = await provider.entraToken({ version: 2, tenant: tenantB, audience: clientId });
    assert.deepEqual(await listIds(server, tokenB), idsB);
    const v1B = await provider.entraToken({ version: 1, tenant: tenantB, audience: appIdUri });
    assert.deepEqual(await listIds(server, v1B), idsB);
    // Another tenant's device is a 404, never a 403, and its operations cannot be started.
    await expectGraphError(await server.request(`${devicesPath}/${idsA[0]}`, { token: tokenB }), 404, 'itemNotFound');
    await expectGraphError(await postJson(server, `${devicesPath}/${idsA[0]}/updateSoftware`, { softwareType: 'teamsClient' }, { token: tokenB }), 404, 'itemNotFound');
    const tokenA = await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId });
    await expectGraphError(await server.request(`${devicesPath}/${idsB[0]}`, { token: tokenA }), 404, 'itemNotFound');
  });

  test('a tenant not in the allow-list → 401, with either token version', async () => {
    for (const version of [1, 2] as const) {
      const token = await provider.entraToken({ version, tenant: tenantC, audience: clientId });
      await expect401(await server.request(devicesPath, { token }), /not from a trusted issuer/);
    }
  });

  test("a tid that is not its issuer's tenant → 401 (the key set is shared by every tenant)", async () => {
    // Issued by tenant C (say, by its admin) but claiming to be tenant A's, or tenant B's claiming A.
    for (const [tenant, tid] of [[tenantB, tenantA], [tenantA, tenantB]]) {
      const token = await provider.entraToken({ version: 2, tenant, tid, audience: clientId });
      await expect401(await server.request(devicesPath, { token }), /'tid' claim does not match its issuer/);
    }
    const v1 = await provider.entraToken({ version: 1, tenant: tenantA, tid: tenantB, audience: appIdUri });
    await expect401(await server.request(devicesPath, { token: v1 }), /does not match its issuer/);
  });

  test('a tid that is not a GUID, or none → 401', async () => {
    for (const tid of ['contoso', `${tenantA}x`, '', 42]) {
      const token = await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId, claims: { tid } });
      await expect401(await server.request(devicesPath, { token }), /'tid' claim is not a GUID/);
    }
    const none = await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId, claims: { tid: undefined } });
    await expect401(await server.request(devicesPath, { token: none }), /no 'tid' claim/);
  });

  test('a wrong audience → 401 (Graph’s own, another API’s, none)', async () => {
    for (const audience of ['https://graph.microsoft.com', '00000003-0000-0000-c000-000000000000', 'api://someone-else']) {
      const token = await provider.entraToken({ version: 2, tenant: tenantA, audience });
      await expect401(await server.request(devicesPath, { token }), /'aud' claim is invalid/);
    }
  });

  test('a lifetime over 24 hours → 401; exactly 24 hours is accepted', async () => {
    const long = await provider.entraToken({ version: 1, tenant: tenantA, audience: appIdUri, lifetimeSeconds: 24 * 3600 + 1 });
    await expect401(await server.request(devicesPath, { token: long }), /longer than 24 hours/);
    // Without iat, the lifetime counts from nbf.
    const noIat = await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId, lifetimeSeconds: 25 * 3600, claims: { iat: undefined } });
    await expect401(await server.request(devicesPath, { token: noIat }), /longer than 24 hours/);
    const day = await provider.entraToken({ version: 1, tenant: tenantA, audience: appIdUri, lifetimeSeconds: 24 * 3600 });
    assert.deepEqual(await listIds(server, day), idsA);
  });

  test('an expired token → 401', async () => {
    const expired = await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId, issuedAt: -7200, lifetimeSeconds: 3600 });
    await expect401(await server.request(devicesPath, { token: expired }), /expired/);
  });

  test('a key added to the JWKS after the first fetch: the unknown kid makes the keys be fetched again', async () => {
    await listIds(server, await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId }));
    const fetchesBefore = provider.jwksFetches();
    assert.ok(fetchesBefore >= 1);
    const rolled = await provider.addKey();
    const token = await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId, key: rolled });
    assert.deepEqual(await listIds(server, token), idsA);
    assert.equal(provider.jwksFetches(), fetchesBefore + 1, 'fetched once more');
  });

  test('a token signed by another key under a published kid → 401', async () => {
    const impostor = await provider.addKey({ publish: false });
    const published = await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId }); // signed by the first key
    const kid = decodeProtectedHeader(published).kid!;
    const forged = await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId, key: { ...impostor, kid } });
    await expect401(await server.request(devicesPath, { token: forged }), /signature is invalid/);
    const unknown = await provider.entraToken({ version: 1, tenant: tenantA, audience: appIdUri, key: impostor });
    await expect401(await server.request(devicesPath, { token: unknown }), /unknown key/);
  });

  test('dev tokens are refused: a production issuer turns the dev issuer off unless --dev-issuer on', async () => {
    await expect401(await server.request(devicesPath, { token: await server.token() }), /not from a trusted issuer/);
  });

  test('personal Microsoft accounts → 403, even when their tenant is listed', async () => {
    const personal = '9188040d-6c67-4c5b-b112-36a304b66dad';
    const other = await startTestServer({ config: { entraTenants: [personal], audiences: [clientId], jwksUrl: provider.jwksUrl } });
    try {
      const token = await provider.entraToken({ version: 2, tenant: personal, audience: clientId });
      const error = await expectGraphError(await other.request(devicesPath, { token }), 403, 'accessDenied');
      assert.match(error.message, /[Pp]ersonal/);
    } finally {
      await other.stop();
    }
  });
});

describe('the key refresh cooldown', () => {
  test('within the cooldown an unknown kid does not make the keys be fetched again', async () => {
    const provider = await startOpenIdProvider();
    const server = await startTestServer({ config: { entraTenants: [tenantA], audiences: [clientId], jwksUrl: provider.jwksUrl, keyRefreshCooldownMs: 60_000 } });
    try {
      assert.equal((await server.request(devicesPath, { token: await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId }) })).status, 200);
      const fetches = provider.jwksFetches();
      const rolled = await provider.addKey();
      for (let i = 0; i < 5; i++) {
        const token = await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId, key: rolled });
        await expect401(await server.request(devicesPath, { token }), /unknown key/);
      }
      assert.equal(provider.jwksFetches(), fetches, 'no refetch within the cooldown');
    } finally {
      await server.stop();
      await provider.close();
    }
  });
});

describe('another OpenID provider (--issuer), keys found through its discovery document', () => {
  let provider: OpenIdProvider;
  let server: TestServer;

  before(async () => {
    provider = await startOpenIdProvider();
    server = await startTestServer({ devicesA: 2, devicesB: 2, config: { issuers: [provider.issuer], audiences: [clientId], tenant: tenantB } });
  });
  after(async () => {
    await server?.stop();
    await provider?.close();
  });

  test('a token without tid belongs to --tenant; one with a GUID tid to that tenant', async () => {
    const withoutTid = await provider.token({ audience: clientId, claims: { sub: 'u1', scp: 'TeamworkDevice.Read.All' } });
    const inB = await listIds(server, withoutTid);
    assert.equal(inB.length, 2);
    assert.deepEqual(inB, (await server.query<{ id: string }>('SELECT id FROM devices WHERE tenant_id = ? ORDER BY id', [tenantB])).map((r) => r.id));
    const withTid = await provider.token({ audience: clientId, claims: { sub: 'u1', tid: tenantA, scp: 'TeamworkDevice.Read.All' } });
    const inA = await listIds(server, withTid);
    assert.equal(inA.length, 2);
    assert.notDeepEqual(inA, inB);
  });

  test('a tid that is not a GUID, a lifetime over 24 h, an Entra issuer → 401', async () => {
    const badTid = await provider.token({ audience: clientId, claims: { sub: 'u1', tid: 'contoso.example', scp: 'TeamworkDevice.Read.All' } });
    await expect401(await server.request(devicesPath, { token: badTid }), /not a GUID/);
    const long = await provider.token({ audience: clientId, lifetimeSeconds: 48 * 3600, claims: { sub: 'u1', scp: 'TeamworkDevice.Read.All' } });
    await expect401(await server.request(devicesPath, { token: long }), /longer than 24 hours/);
    const entra = await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId });
    await expect401(await server.request(devicesPath, { token: entra }), /not from a trusted issuer/);
  });
});
