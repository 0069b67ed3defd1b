import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { devAudience, devIssuer, devSigningKey } from '../../src/auth/dev-issuer.js';
import type { SigningKey } from '../../src/store/store.js';
import { deviceIds, expectGraphError, operationRows } from '../helpers/http-assertions.js';
import { postJson, startTestServer, tenantA, type TestServer } from '../helpers/test-server.js';

const readWrite = 'TeamworkDevice.ReadWrite.All';
const readOnly = 'TeamworkDevice.Read.All';
const personalTenant = '9188040d-6c67-4c5b-b112-36a304b66dad';

type Key = Parameters<SignJWT['sign']>[0];

interface TokenSpec {
  key: Key;
  alg: string;
  kid?: string;
  issuer: string;
  audience: string;
  claims?: Record<string, unknown>;
  /** seconds relative to now */
  expiresIn?: number | null;
  notBefore?: number;
}

const delegatedClaims = (tid = tenantA, scp = readWrite) => ({
  tid,
  scp,
  oid: '5a2f6e7c-1d3b-4c8a-9e0f-1a2b3c4d5e6f',
  name: 'Test Admin',
  appid: '2b6a3f19-6c1d-4c2b-9a55-0d3c0e7f7a11',
});

/** Signs a token by hand, so each test can get exactly one thing wrong. */
async function sign(spec: TokenSpec): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(spec.claims ?? delegatedClaims())
    .setProtectedHeader({ alg: spec.alg, typ: 'JWT', ...(spec.kid ? { kid: spec.kid } : {}) })
    .setIssuer(spec.issuer)
    .setAudience(spec.audience)
    .setIssuedAt(now)
    .setNotBefore(now + (spec.notBefore ?? 0))
    .setJti(randomUUID());
  if (spec.expiresIn !== null) jwt.setExpirationTime(now + (spec.expiresIn ?? 3600));
  return jwt.sign(spec.key);
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function bearer(token: string) {
  return { authorization: `Bearer ${token}` };
}

/** Asserts the 401 every authentication failure must be. */
async function expect401(response: Response, options: { invalidToken?: boolean; clientRequestId?: string } = {}) {
  const challenge = response.headers.get('www-authenticate');
  assert.ok(challenge, `WWW-Authenticate header (status ${response.status})`);
  assert.match(challenge, /^Bearer\b/);
  if (options.invalidToken) assert.match(challenge, /error="invalid_token"/);
  return expectGraphError(response, 401, 'unauthenticated', { clientRequestId: options.clientRequestId });
}

describe('authentication with the dev issuer', () => {
  let server: TestServer;
  let devKey: SigningKey;
  let devPrivate: Key;
  let deviceId: string;
  const devicesPath = '/beta/teamwork/devices';

  before(async () => {
    server = await startTestServer({ devicesA: 30 });
    devKey = await devSigningKey(server.store);
    devPrivate = (await importJWK(devKey.privateJwk as JWK, devKey.alg)) as Key;
    [deviceId] = await deviceIds(server, 1);
  });
  after(async () => {
    await server?.stop();
  });

  const get = (token: string | null, headers: Record<string, string> = {}) =>
    server.request(devicesPath, { token, headers });

  test('a token signed by hand with the dev key, issuer and audience is accepted (baseline)', async () => {
    const token = await sign({ key: devPrivate, alg: devKey.alg, kid: devKey.kid, issuer: devIssuer, audience: devAudience });
    const response = await get(token);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { value: unknown[] };
    assert.equal(body.value.length, 20);
  });

  test('no Authorization header → 401 with a Bearer challenge', async () => {
    const response = await get(null, { 'client-request-id': 'anon-1' });
    const challenge = response.headers.get('www-authenticate') ?? '';
    assert.doesNotMatch(challenge, /error=/, 'no error code when no token was sent (RFC 6750)');
    await expect401(response, { clientRequestId: 'anon-1' });
    // Every Graph route is protected, not just the collection.
    await expect401(await server.request(`${devicesPath}/${deviceId}`, { token: null }));
    await expect401(await server.request(`/teamwork/devices/${deviceId}/health`, { token: null }));
    await expect401(await server.request(`/teamwork/devices/${deviceId}/operations`, { token: null }));
    await expect401(await server.request(`/teamwork/devices/${deviceId}/restart`, { method: 'POST', token: null }));
  });

  test('Authorization that is not a Bearer token → 401', async () => {
    for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', 'Token abc', 'bearer']) {
      await expect401(await get(null, { authorization }));
    }
  });

  test('malformed tokens → 401 invalid_token', async () => {
    const valid = await server.token();
    const [header, payload] = valid.split('.');
    for (const token of [
      'not-a-jwt',
      'a.b.c',
      `${header}.${payload}`,
      `${header}.${payload}.`,
      `${header}.!!!.${valid.split('.')[2]}`,
      `${b64url({ alg: 'ES256', kid: devKey.kid })}.${Buffer.from('not json').toString('base64url')}.sig`,
    ]) {
      await expect401(await get(token), { invalidToken: true });
    }
  });

  test('an expired token → 401', async () => {
    const expired = await server.token({ ttlSeconds: -60 });
    const error = await expect401(await get(expired), { invalidToken: true });
    assert.match(error.message, /expired/i);
  });

  test('a token that is not valid yet (nbf in 10 minutes) → 401', async () => {
    await expect401(await get(await server.token({ notBeforeSeconds: 600 })), { invalidToken: true });
  });

  test('a token without exp, or without tid → 401', async () => {
    const noExp = await sign({ key: devPrivate, alg: devKey.alg, kid: devKey.kid, issuer: devIssuer, audience: devAudience, expiresIn: null });
    await expect401(await get(noExp), { invalidToken: true });
    const { tid: _tid, ...withoutTid } = delegatedClaims();
    const noTid = await sign({ key: devPrivate, alg: devKey.alg, kid: devKey.kid, issuer: devIssuer, audience: devAudience, claims: withoutTid });
    await expect401(await get(noTid), { invalidToken: true });
  });

  test('wrong issuer, wrong audience → 401', async () => {
    const wrongIssuer = await sign({ key: devPrivate, alg: devKey.alg, kid: devKey.kid, issuer: 'https://evil.example/v2.0', audience: devAudience });
    await expect401(await get(wrongIssuer), { invalidToken: true });
    const wrongAudience = await sign({ key: devPrivate, alg: devKey.alg, kid: devKey.kid, issuer: devIssuer, audience: 'api://someone-else' });
    await expect401(await get(wrongAudience), { invalidToken: true });
  });

  test('a token signed by an unknown key → 401 (with an unknown kid, and with the dev key’s kid)', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const unknownKid = await sign({ key: privateKey, alg: 'ES256', kid: randomUUID(), issuer: devIssuer, audience: devAudience });
    await expect401(await get(unknownKid), { invalidToken: true });
    const stolenKid = await sign({ key: privateKey, alg: 'ES256', kid: devKey.kid, issuer: devIssuer, audience: devAudience });
    await expect401(await get(stolenKid), { invalidToken: true });
    const noKid = await sign({ key: privateKey, alg: 'ES256', issuer: devIssuer, audience: devAudience });
    await expect401(await get(noKid), { invalidToken: true });
  });

  test('alg none → 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = { ...delegatedClaims(), iss: devIssuer, aud: devAudience, iat: now, nbf: now, exp: now + 3600 };
    for (const header of [{ alg: 'none' }, { alg: 'none', typ: 'JWT' }, { alg: 'None', kid: devKey.kid }, { alg: 'NONE' }]) {
      const token = `${b64url(header)}.${b64url(payload)}.`;
      await expect401(await get(token), { invalidToken: true });
      const post = await server.request(`${devicesPath}/${deviceId}/restart`, { method: 'POST', headers: bearer(token), token: null });
      await expect401(post, { invalidToken: true });
    }
    assert.equal((await operationRows(server, 'device_id = ?', deviceId)).length, 0);
  });

  test('HS256 signed with the public key as the secret → 401', async () => {
    const secrets = [
      JSON.stringify(devKey.publicJwk),
      String((devKey.publicJwk as { x: string }).x),
    ];
    for (const secret of secrets) {
      for (const alg of ['HS256', 'HS512']) {
        const token = await sign({
          key: new TextEncoder().encode(secret),
          alg,
          kid: devKey.kid,
          issuer: devIssuer,
          audience: devAudience,
        });
        await expect401(await get(token), { invalidToken: true });
      }
    }
  });

  test('a tampered payload (tid changed, signature kept) → 401', async () => {
    const token = await server.token();
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.tid, tenantA);
    const forged = `${header}.${b64url({ ...claims, tid: '22222222-2222-4222-8222-222222222222' })}.${signature}`;
    await expect401(await get(forged), { invalidToken: true });
    const escalated = `${header}.${b64url({ ...claims, scp: `${readWrite} Directory.ReadWrite.All` })}.${signature}`;
    await expect401(await get(escalated), { invalidToken: true });
    // A flipped bit in the signature is caught too.
    const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    await expect401(await get(`${header}.${payload}.${flipped}`), { invalidToken: true });
  });

  describe('permissions', () => {
    test('TeamworkDevice.Read.All can read but not act', async () => {
      const reader = await server.token({ scopes: [readOnly] });
      for (const path of [devicesPath, `${devicesPath}/${deviceId}`, `${devicesPath}/${deviceId}/configuration`, `${devicesPath}/${deviceId}/operations`]) {
        const response = await server.request(path, { token: reader });
        assert.equal(response.status, 200, path);
        await response.arrayBuffer();
      }
      const update = await postJson(server, `${devicesPath}/${deviceId}/updateSoftware`, { softwareType: 'teamsClient', softwareVersion: '1.0.0' }, { token: reader });
      const error = await expectGraphError(update, 403, 'accessDenied');
      assert.match(error.message, /TeamworkDevice\.ReadWrite\.All/);
      await expectGraphError(await server.request(`${devicesPath}/${deviceId}/restart`, { method: 'POST', token: reader }), 403, 'accessDenied');
      await expectGraphError(await server.request(`/teamwork/devices/${deviceId}/microsoft.graph.runDiagnostics`, { method: 'POST', token: reader }), 403, 'accessDenied');
      assert.equal((await operationRows(server, 'device_id = ?', deviceId)).length, 0);
    });

    test('an unrelated scope (User.Read) cannot even read', async () => {
      const token = await server.token({ scopes: ['User.Read'] });
      await expectGraphError(await get(token), 403, 'accessDenied');
      await expectGraphError(await server.request(`${devicesPath}/${deviceId}/operations`, { token }), 403, 'accessDenied');
    });

    test('several scopes in scp: ReadWrite among others is enough', async () => {
      const token = await server.token({ scopes: ['User.Read', readWrite, 'openid'] });
      const [id] = (await deviceIds(server, 2)).slice(1);
      const response = await server.request(`${devicesPath}/${id}/runDiagnostics`, { method: 'POST', token });
      assert.equal(response.status, 202);
    });

    test('application tokens: roles ReadWrite may act, roles Read.All may only read', async () => {
      const [, , id] = await deviceIds(server, 3);
      const writer = await server.token({ app: true, scopes: [readWrite] });
      const accepted = await postJson(server, `${devicesPath}/${id}/updateSoftware`, { softwareType: 'firmware', softwareVersion: '1.0.0' }, { token: writer });
      assert.equal(accepted.status, 202, await accepted.text());
      const reader = await server.token({ app: true, scopes: [readOnly] });
      const read = await server.request(`${devicesPath}/${id}/operations`, { token: reader });
      assert.equal(read.status, 200);
      await read.arrayBuffer();
      await expectGraphError(await server.request(`${devicesPath}/${id}/restart`, { method: 'POST', token: reader }), 403, 'accessDenied');
    });

    test('an app-only token without roles has no permissions', async () => {
      // The permission sits in a claim that is neither scp nor roles: it grants nothing.
      const noRoles = await sign({
        key: devPrivate, alg: devKey.alg, kid: devKey.kid, issuer: devIssuer, audience: devAudience,
        claims: { tid: tenantA, appid: 'a1b2c3d4-0000-4000-8000-000000000001', idtyp: 'app', permissions: readWrite },
      });
      await expectGraphError(await get(noRoles), 403, 'accessDenied');
    });

    test('personal Microsoft accounts → 403', async () => {
      const personal = await server.token({ tenantId: personalTenant });
      const error = await expectGraphError(await get(personal), 403, 'accessDenied');
      assert.match(error.message, /[Pp]ersonal/);
      const post = await postJson(server, `${devicesPath}/${deviceId}/updateSoftware`, { softwareType: 'teamsClient', softwareVersion: '1.0.0' }, { token: personal });
      await expectGraphError(post, 403, 'accessDenied');
    });
  });

  describe('authentication comes before anything else', () => {
    test('an unauthenticated request with a bad body gets 401, not 400/413/415', async () => {
      const path = `${devicesPath}/${deviceId}/updateSoftware`;
      await expect401(await postJson(server, path, '{"a":', { token: null }));
      await expect401(await postJson(server, path, { softwareType: 'nope', extra: 1 }, { token: null }));
      await expect401(await server.request(path, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello', token: null }));
      await expect401(await postJson(server, path, JSON.stringify({ softwareType: 'teamsClient', softwareVersion: 'x'.repeat(70 * 1024) }), { token: null }));
      const expired = await server.token({ ttlSeconds: -60 });
      await expect401(await postJson(server, path, '[]', { token: expired }), { invalidToken: true });
    });

    test('an unauthenticated request for an unknown or foreign device gets 401, not 404', async () => {
      await expect401(await server.request(`${devicesPath}/00000000-0000-4000-8000-000000000000`, { token: null }));
      await expect401(await postJson(server, `${devicesPath}/does-not-exist/updateSoftware`, { softwareType: 'teamsClient', softwareVersion: '1.0.0' }, { token: null }));
    });

    test('a caller without the write permission and with a bad body gets 403, not 400', async () => {
      const reader = await server.token({ scopes: [readOnly] });
      await expectGraphError(await postJson(server, `${devicesPath}/${deviceId}/updateSoftware`, '{"a":', { token: reader }), 403, 'accessDenied');
    });
  });
});

/** A JWKS endpoint standing in for Entra ID's https://login.microsoftonline.com/{tid}/discovery/v2.0/keys. */
async function startJwksServer(jwks: { keys: JWK[] }): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const http: Server = createServer((request, response) => {
    if (request.url === '/keys') {
      hits++;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(jwks));
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/keys`,
    hits: () => hits,
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
}

describe('production mode: an external issuer with a JWKS URL', () => {
  const issuer = 'https://login.example.test/tid/v2.0';
  const audience = 'api://teamwork-devices';
  const kid = 'test-key-1';
  let jwks: Awaited<ReturnType<typeof startJwksServer>>;
  let server: TestServer;
  let providerKey: Key;

  before(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    providerKey = pair.privateKey;
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' };
    jwks = await startJwksServer({ keys: [publicJwk] });
    server = await startTestServer({ devicesA: 5, config: { issuers: [issuer], audiences: [audience], jwksUrl: jwks.url } });
  });
  after(async () => {
    await server?.stop();
    await jwks?.close();
  });

  test('a token of the provider is accepted for reads and actions', async () => {
    const token = await sign({ key: providerKey, alg: 'RS256', kid, issuer, audience });
    const response = await server.request('/beta/teamwork/devices', { token });
    assert.equal(response.status, 200);
    const page = (await response.json()) as { value: { id: string }[] };
    assert.equal(page.value.length, 5);
    assert.ok(jwks.hits() >= 1, 'the JWKS was fetched');

    const appToken = await sign({
      key: providerKey, alg: 'RS256', kid, issuer, audience,
      claims: { tid: tenantA, roles: [readWrite], appid: 'c0ffee00-0000-4000-8000-000000000001', app_displayname: 'Fleet Tool', idtyp: 'app' },
    });
    const accepted = await postJson(server, `/teamwork/devices/${page.value[0].id}/updateSoftware`, { softwareType: 'teamsClient', softwareVersion: '1.0.0' }, { token: appToken });
    assert.equal(accepted.status, 202, await accepted.text());
    const operation = await server.request(server.url + accepted.headers.get('location'), { token });
    assert.equal(operation.status, 200);
    const body = (await operation.json()) as { createdBy: { application: { id: string; displayName: string } } };
    assert.deepEqual(body.createdBy.application, { id: 'c0ffee00-0000-4000-8000-000000000001', displayName: 'Fleet Tool' });
  });

  test('a dev-issuer token is refused', async () => {
    const devToken = await server.token();
    await expect401(await server.request('/beta/teamwork/devices', { token: devToken }), { invalidToken: true });
  });

  test('wrong audience, wrong issuer, another key under the same kid → 401', async () => {
    const wrongAudience = await sign({ key: providerKey, alg: 'RS256', kid, issuer, audience: 'https://graph.microsoft.com' });
    await expect401(await server.request('/beta/teamwork/devices', { token: wrongAudience }), { invalidToken: true });
    const wrongIssuer = await sign({ key: providerKey, alg: 'RS256', kid, issuer: 'https://login.example.test/other/v2.0', audience });
    await expect401(await server.request('/beta/teamwork/devices', { token: wrongIssuer }), { invalidToken: true });
    const { privateKey: otherKey } = await generateKeyPair('RS256');
    const impostor = await sign({ key: otherKey, alg: 'RS256', kid, issuer, audience });
    await expect401(await server.request('/beta/teamwork/devices', { token: impostor }), { invalidToken: true });
  });

  test('the provider’s token still needs the right permission', async () => {
    const token = await sign({ key: providerKey, alg: 'RS256', kid, issuer, audience, claims: delegatedClaims(tenantA, readOnly) });
    const list = await server.request('/beta/teamwork/devices?$top=1', { token });
    assert.equal(list.status, 200);
    const [device] = ((await list.json()) as { value: { id: string }[] }).value;
    await expectGraphError(await server.request(`/beta/teamwork/devices/${device.id}/restart`, { method: 'POST', token }), 403, 'accessDenied');
  });
});

describe('production mode: the identity provider’s JWKS is unreachable', () => {
  const issuer = 'https://login.example.test/tid/v2.0';
  const audience = 'api://teamwork-devices';
  let server: TestServer;
  let token: string;

  before(async () => {
    // A port nobody listens on: the key set cannot be fetched.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    server = await startTestServer({ config: { issuers: [issuer], audiences: [audience], jwksUrl: `http://127.0.0.1:${port}/keys` } });
    const { privateKey } = await generateKeyPair('RS256');
    token = await sign({ key: privateKey, alg: 'RS256', kid: 'k1', issuer, audience });
  });
  after(async () => {
    await server?.stop();
  });

  test('is a 503 of the service, not a 401 telling the client its token is invalid', async () => {
    const response = await server.request('/beta/teamwork/devices', { token });
    // A 401 with error="invalid_token" makes clients throw away a good token and retry forever.
    assert.equal(response.headers.get('www-authenticate'), null, 'no invalid_token challenge for a server-side failure');
    await expectGraphError(response, 503, 'serviceNotAvailable');
  });
});

/** GET over https trusting only the given CA (node:https; undici's Agent is not importable by name). */
function httpsGet(url: string, options: { ca?: Buffer; token: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(url, { method: 'GET', ca: options.ca, headers: bearer(options.token) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

describe('TLS with a self-signed certificate kept with the data', () => {
  let server: TestServer;
  let dataDir: string;
  before(async () => {
    // Always a SQLite file here: the certificate is kept in the folder of the database file.
    dataDir = mkdtempSync(join(tmpdir(), 'twd-tls-'));
    server = await startTestServer({ devicesA: 3, config: { tls: true, db: join(dataDir, 'tls.db') } });
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('serves https that verifies against the generated certificate for 127.0.0.1', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = readFileSync(join(dataDir, 'tls', 'localhost.crt'));
    assert.match(ca.toString(), /-----BEGIN CERTIFICATE-----/);
    const response = await httpsGet(`${server.url}/beta/teamwork/devices`, { ca, token: await server.token() });
    assert.equal(response.status, 200, response.body);
    const body = JSON.parse(response.body) as { '@odata.context': string; value: unknown[] };
    assert.equal(body.value.length, 3);
    assert.ok(body['@odata.context'].startsWith(`${server.url}/beta/$metadata#`), body['@odata.context']);
  });

  test('the certificate is really checked: without it the connection is refused', async () => {
    await assert.rejects(httpsGet(`${server.url}/beta/teamwork/devices`, { token: await server.token() }), (error: NodeJS.ErrnoException) => {
      assert.match(String(error.code), /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
      return true;
    });
  });

  test('a restart on the same data keeps the same certificate', async () => {
    const certPath = join(dataDir, 'tls', 'localhost.crt');
    const before = readFileSync(certPath, 'utf8');
    const { localTlsCertificate } = await import('../../src/auth/tls-certificate.js');
    const again = localTlsCertificate(server.dbPath);
    assert.equal(again.cert.toString('utf8'), before);
  });
});
