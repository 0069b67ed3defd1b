import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { devSigningKey, signDevToken } from '../../src/auth/dev-issuer.js';
import { serveDefaults, validateServeConfig, type ServeConfig } from '../../src/config.js';
import type { SigningKey } from '../../src/store/store.js';
import { runCli, ServeProcess, freshDatabase, type FreshDatabase } from '../helpers/cli-process.js';
import { expectGraphError } from '../helpers/http-assertions.js';
import { startOpenIdProvider, type OpenIdProvider } from '../helpers/openid-provider.js';
import { startTestServer, tenantA, type TestServer } from '../helpers/test-server.js';
import { expect401, listIds } from '../helpers/token-assertions.js';

/** Which issuers a server trusts, how it refuses to expose the dev issuer, and the dev keys' rotation. */

const clientId = '8f3c1d2e-4b5a-4c6d-9e7f-0a1b2c3d4e5f';
const devicesPath = '/beta/teamwork/devices';

describe('configuration of the identity providers', () => {
  const config = (overrides: Partial<ServeConfig>): ServeConfig => ({ ...serveDefaults, ...overrides });
  const entra = { entraTenants: [tenantA], audiences: [clientId] };

  test('a JWKS URL over plain http is refused unless it is a loopback address', async () => {
    for (const jwksUrl of ['http://login.example.test/keys', 'http://10.0.0.5/keys', 'http://0.0.0.0:8080/keys', 'ftp://127.0.0.1/keys', 'not a url']) {
      assert.throws(() => validateServeConfig(config({ ...entra, jwksUrl })), /--jwks-url .*(must be https|not a URL)/, jwksUrl);
    }
    for (const jwksUrl of ['https://login.microsoftonline.com/common/discovery/v2.0/keys', 'http://127.0.0.1:9/keys', 'http://[::1]:9/keys', 'http://localhost:9/keys']) {
      assert.doesNotThrow(() => validateServeConfig(config({ ...entra, jwksUrl })), jwksUrl);
    }
    // The refusal comes before the server opens anything.
    await assert.rejects(startTestServer({ config: { ...entra, jwksUrl: 'http://login.example.test/keys' } }), /must be https/);
  });

  test('tenants must be GUIDs; a production issuer needs an audience; --dev-issuer off needs a production issuer', () => {
    assert.throws(() => validateServeConfig(config({ entraTenants: ['contoso.onmicrosoft.com'], audiences: [clientId] })), /--entra-tenant must be a GUID/);
    assert.throws(() => validateServeConfig(config({ entraTenants: [tenantA] })), /need --audience/);
    assert.throws(() => validateServeConfig(config({ audiences: [clientId] })), /need --entra-tenant or --issuer/);
    assert.throws(() => validateServeConfig(config({ devIssuer: 'off' })), /--dev-issuer off needs/);
    // Keys found through discovery are only as safe as the discovery document's transport.
    assert.throws(() => validateServeConfig(config({ issuers: ['http://idp.example.test'], audiences: [clientId] })), /--issuer .*must be https/);
    assert.doesNotThrow(() => validateServeConfig(config({ issuers: ['http://idp.example.test'], audiences: [clientId], jwksUrl: 'https://idp.example.test/keys' })));
  });

  test('the dev issuer is refused on a non-loopback host unless --dev-issuer on', () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.10', 'teamwork.contoso.example']) {
      assert.throws(() => validateServeConfig(config({ host })), /refusing to serve the dev issuer on --host/, host);
      assert.doesNotThrow(() => validateServeConfig(config({ host, devIssuer: 'on' })), host);
      assert.doesNotThrow(() => validateServeConfig(config({ host, ...entra })), host);
    }
    for (const host of ['127.0.0.1', '::1', 'localhost', '127.0.0.2']) assert.doesNotThrow(() => validateServeConfig(config({ host })), host);
  });
});

describe('--dev-issuer', () => {
  let provider: OpenIdProvider;
  before(async () => {
    provider = await startOpenIdProvider();
  });
  after(async () => {
    await provider?.close();
  });

  test('off: dev tokens → 401 while Entra tokens are accepted', async () => {
    const server = await startTestServer({ devicesA: 1, config: { devIssuer: 'off', entraTenants: [tenantA], audiences: [clientId], jwksUrl: provider.jwksUrl } });
    try {
      await expect401(await server.request(devicesPath, { token: await server.token() }), /not from a trusted issuer/);
      assert.equal((await listIds(server, await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId }))).length, 1);
    } finally {
      await server.stop();
    }
  });

  test('on, beside a production issuer: both kinds of token are accepted', async () => {
    const server = await startTestServer({ devicesA: 1, config: { devIssuer: 'on', entraTenants: [tenantA], audiences: [clientId], jwksUrl: provider.jwksUrl } });
    try {
      assert.equal((await listIds(server, await server.token())).length, 1);
      assert.equal((await listIds(server, await provider.entraToken({ version: 1, tenant: tenantA, audience: clientId }))).length, 1);
    } finally {
      await server.stop();
    }
  });
});

describe('serve (the command) and the dev issuer on a public address', () => {
  let db: FreshDatabase;
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test('--host 0.0.0.0 with the dev issuer: refused before listening, with a reason and a non-zero exit', async () => {
    const failure = await runCli(['serve', '--db', db.db, '--port', '0', '--host', '0.0.0.0', '--log-level', 'silent']).then(
      () => assert.fail('serve started'),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    assert.notEqual(failure.code, 0);
    assert.match(failure.stderr, /refusing to serve the dev issuer on --host 0\.0\.0\.0.*--dev-issuer on/);
    assert.doesNotMatch(failure.stdout, /listening on/);
    assert.doesNotMatch(failure.stdout, /export TOKEN=/);
  });

  test('--host 0.0.0.0 with an Entra tenant starts and prints no dev token; --dev-issuer on starts and prints one', async () => {
    const provider = await startOpenIdProvider();
    try {
      const entraServe = await ServeProcess.start(db.db, ['--host', '0.0.0.0', '--entra-tenant', tenantA, '--audience', clientId, '--jwks-url', provider.jwksUrl]);
      try {
        await new Promise((done) => setTimeout(done, 200));
        assert.doesNotMatch(entraServe.log(), /export TOKEN=/);
        assert.match(entraServe.log(), new RegExp(`Entra ID tenants: ${tenantA}`));
        const token = await provider.entraToken({ version: 2, tenant: tenantA, audience: clientId });
        assert.equal((await fetch(`${entraServe.url}${devicesPath}`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
      } finally {
        await entraServe.stop();
      }
      const devServe = await ServeProcess.start(db.db, ['--host', '0.0.0.0', '--dev-issuer', 'on']);
      try {
        await new Promise((done) => setTimeout(done, 200));
        const token = /export TOKEN=(\S+)/.exec(devServe.log())?.[1];
        assert.ok(token, devServe.log());
        assert.equal((await fetch(`${devServe.url}${devicesPath}`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
      } finally {
        await devServe.stop();
      }
    } finally {
      await provider.close();
    }
  });
});

describe('keys rotate', () => {
  let server: TestServer;
  let firstKey: SigningKey;
  before(async () => {
    server = await startTestServer({ devicesA: 2, config: { keyRefreshCooldownMs: 0 } });
    firstKey = await devSigningKey(server.store);
  });
  after(async () => {
    await server?.stop();
  });

  test('a new key signs, the old one still verifies, and the running server needs no restart', async () => {
    const oldToken = await server.token();
    assert.equal((await listIds(server, oldToken)).length, 2);

    const { stdout } = await runCli(['keys', 'rotate', '--db', server.dbPath]);
    const newKid = stdout.trim();
    assert.notEqual(newKid, firstKey.kid);
    const { stdout: printed } = await runCli(['token', '--db', server.dbPath, '--tenant', tenantA]);
    const newToken = printed.trim();
    assert.equal(decodeProtectedHeader(newToken).kid, newKid, 'the token command signs with the rotated key');
    assert.equal((await listIds(server, newToken)).length, 2, 'the server picked up the rotated key');

    // A token signed with the old key after the rotation (as by a process that has not noticed it yet).
    const lateOld = await signDevToken(firstKey, { tenantId: tenantA });
    assert.equal((await listIds(server, lateOld)).length, 2);

    const { stdout: listed } = await runCli(['keys', 'list', '--db', server.dbPath]);
    const rows = listed.trim().split('\n').map((line) => line.split('\t'));
    assert.deepEqual(rows.map((r) => [r[0], r[3]]), [[newKid, 'signing'], [firstKey.kid, 'verifying']]);
    assert.doesNotMatch(listed, /"d"|privateJwk|secret/);
  });

  test('token refuses a lifetime the server would refuse (over 24 h)', async () => {
    const failure = await runCli(['token', '--db', server.dbPath, '--ttl', '25h']).then(
      () => assert.fail('a 25 h token was printed'),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    assert.notEqual(failure.code, 0);
    assert.equal(failure.stdout, '');
    assert.match(failure.stderr, /--ttl must be at most 24h/);
  });

  test('a key replaced more than 24 hours ago no longer verifies', async () => {
    const hour = 3600_000;
    // Two keys from the past: the older was replaced 25 h ago, the younger only now (by the current key).
    const retired = await backdatedKey(server, new Date(Date.now() - 50 * hour));
    const recent = await backdatedKey(server, new Date(Date.now() - 25 * hour));
    await expect401(await server.request(devicesPath, { token: await signDevToken(retired, { tenantId: tenantA }) }), /unknown key/);
    assert.equal((await listIds(server, await signDevToken(recent, { tenantId: tenantA }))).length, 2);
  });
});

/** A dev key with a creation time in the past, kept in the store as `keys rotate` would have kept it then. */
async function backdatedKey(server: TestServer, at: Date): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  const key: SigningKey = {
    kid,
    alg: 'ES256',
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
    createdAt: at.toISOString(),
  };
  await server.store.addSigningKey(key);
  return key;
}
