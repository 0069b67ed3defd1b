import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseTrustProxy, serveDefaults, validateServeConfig } from '../../src/config.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * Absolute links (`@odata.nextLink`, `@odata.context`) behind a proxy that terminates TLS: an
 * SDK page iterator follows nextLink with the token, so an http:// link sends it in cleartext.
 * --public-url fixes the links; --trust-proxy believes X-Forwarded-* from listed proxies only,
 * so a client cannot point links (and the token that follows them) at a host of its choosing.
 */

interface Page {
  '@odata.context': string;
  '@odata.nextLink'?: string;
  value: unknown[];
}

async function firstPage(server: TestServer, headers: Record<string, string> = {}): Promise<{ page: Page; response: Response }> {
  const response = await server.request('/beta/teamwork/devices?$top=2&$select=id', { headers });
  assert.equal(response.status, 200);
  return { page: (await response.json()) as Page, response };
}

async function withServer(config: Parameters<typeof startTestServer>[0], check: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startTestServer(config);
  try {
    await check(server);
  } finally {
    await server.stop();
  }
}

describe('--public-url', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ devicesA: 5, config: { publicUrl: 'https://devices.example.com/twd/' } });
  });

  after(async () => {
    await server?.stop();
  });

  test('nextLink and @odata.context use its scheme, host and path prefix, whatever Host the request had', async () => {
    const { page } = await firstPage(server, { 'x-forwarded-proto': 'http', 'x-forwarded-host': 'evil.example' });
    assert.match(page['@odata.nextLink']!, /^https:\/\/devices\.example\.com\/twd\/beta\/teamwork\/devices\?/);
    assert.match(page['@odata.context'], /^https:\/\/devices\.example\.com\/twd\/beta\/\$metadata#/);
    // The link is the same request behind the prefix: without it, it serves the next page here.
    const next = new URL(page['@odata.nextLink']!);
    const second = await server.request(`${next.pathname.replace(/^\/twd/, '')}${next.search}`);
    assert.equal(second.status, 200);
    assert.equal(((await second.json()) as Page).value.length, 2);
  });
});

describe('--trust-proxy', () => {
  test('X-Forwarded-Proto and -Host from a trusted proxy (127.0.0.1) make https links to the public host', async () => {
    await withServer({ devicesA: 5, config: { trustProxy: ['127.0.0.1'] } }, async (server) => {
      const { page, response } = await firstPage(server, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'devices.example.com' });
      assert.match(page['@odata.nextLink']!, /^https:\/\/devices\.example\.com\/beta\/teamwork\/devices\?/);
      assert.match(page['@odata.context'], /^https:\/\/devices\.example\.com\/beta\//);
      assert.equal(response.headers.get('strict-transport-security'), 'max-age=31536000', 'the client reached the proxy over https');
    });
  });

  test('a CIDR range, or the name loopback, that holds the proxy is trusted too', async () => {
    for (const trustProxy of [['10.0.0.0/8', '127.0.0.0/8'], ['loopback']]) {
      await withServer({ devicesA: 5, config: { trustProxy } }, async (server) => {
        const { page } = await firstPage(server, { 'x-forwarded-proto': 'https' });
        assert.match(page['@odata.nextLink']!, /^https:\/\/127\.0\.0\.1:\d+\/beta\//, trustProxy.join());
      });
    }
  });

  test('from a peer not in the list, X-Forwarded-Proto and a spoofed X-Forwarded-Host are ignored', async () => {
    await withServer({ devicesA: 5, config: { trustProxy: ['10.1.2.3'] } }, async (server) => {
      const { page, response } = await firstPage(server, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' });
      const origin = new URL(server.url).origin;
      assert.ok(page['@odata.nextLink']!.startsWith(`${origin}/beta/teamwork/devices?`), page['@odata.nextLink']);
      assert.ok(page['@odata.context'].startsWith(`${origin}/beta/`), page['@odata.context']);
      assert.equal(response.headers.get('strict-transport-security'), null);
    });
  });

  test('without --trust-proxy, X-Forwarded-* are ignored', async () => {
    await withServer({ devicesA: 5 }, async (server) => {
      const { page } = await firstPage(server, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' });
      assert.ok(page['@odata.nextLink']!.startsWith(`${new URL(server.url).origin}/beta/`), page['@odata.nextLink']);
    });
  });
});

describe('configuration', () => {
  test('a proxy that is not an address or CIDR, or a public URL that is not http(s), fails at start by name', () => {
    assert.throws(() => validateServeConfig({ ...serveDefaults, trustProxy: parseTrustProxy(['127.0.0.1, proxy.local', '10.0.0.0/33']) }),
      /--trust-proxy takes IP addresses or CIDR ranges \(or loopback, linklocal, uniquelocal\), got 'proxy\.local', '10\.0\.0\.0\/33'/);
    assert.throws(() => validateServeConfig({ ...serveDefaults, publicUrl: 'ftp://devices.example.com' }), /--public-url/);
    assert.throws(() => validateServeConfig({ ...serveDefaults, publicUrl: 'https://devices.example.com/?x=1' }), /--public-url/);
    assert.deepEqual(validateServeConfig({ ...serveDefaults, trustProxy: parseTrustProxy(['127.0.0.1,::1', '10.0.0.0/8']) }).trustProxy, ['127.0.0.1', '::1', '10.0.0.0/8']);
  });
});
