import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ServiceError } from '../../src/domain/errors.js';
import { buildApp } from '../../src/http/app.js';
import { expectGraphError } from '../helpers/http-assertions.js';
import { inFlightRequest } from '../helpers/plain-http.js';
import { families, sampleValue, scrape } from '../helpers/prometheus.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { changeDatabase, createPostgresDatabase, testStore } from '../helpers/test-database.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The probes of load balancers and Kubernetes: `/healthz` answers while the process does,
 * `/readyz` only while the database answers with every migration applied and the server is
 * not shutting down. No token, no version prefix, never shed.
 */

/** Asserts the readiness 503: the Graph error body and a Retry-After. */
async function expectNotReady(response: Response): Promise<void> {
  assert.match(response.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
  await expectGraphError(response, 503, 'serviceNotAvailable');
}

describe(`/healthz and /readyz (${testStore})`, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ testCatalog: false });
  });
  after(async () => {
    await server?.stop();
  });

  test('both answer 200 with a small JSON body, without a token, and only at the root', async () => {
    for (const [path, status] of [['/healthz', 'ok'], ['/readyz', 'ready']] as const) {
      const response = await fetch(server.url + path);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      assert.ok(response.headers.get('request-id'));
      assert.deepEqual(await response.json(), { status });
      await expectGraphError(await server.request(`/beta${path}`), 404, 'itemNotFound');
    }
  });

  test('/readyz is 503 while a migration is missing, 200 once it is back', async () => {
    const [newest] = await server.query<{ version: number; name: string; applied_at: string }>(
      'SELECT version, name, applied_at FROM schema_migrations ORDER BY version DESC LIMIT 1',
    );
    await changeDatabase(server.dbPath, 'DELETE FROM schema_migrations WHERE version = ?', [newest.version]);
    try {
      await expectNotReady(await fetch(`${server.url}/readyz`));
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    } finally {
      await changeDatabase(server.dbPath, 'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [newest.version, newest.name, newest.applied_at]);
    }
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  });
});

describe('/readyz while the server shuts down', () => {
  test('503 with Retry-After to a probe that arrives while the server closes', { timeout: 30_000 }, async () => {
    const server = await startTestServer({ testCatalog: false });
    const port = Number(new URL(server.url).port);
    const probe = net.connect(port, '127.0.0.1');
    try {
      await once(probe, 'connect');
      // A request still sending its body keeps the server closing (not closed) meanwhile; the
      // probe's connection has sent part of its request, so closing keeps it too.
      const slow = inFlightRequest(`${server.url}/beta/teamwork/devices/x/restart`, '{}', 1);
      probe.write('GET /rea');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closing = server.close();
      await waitFor('the server to stop listening', async () => !server.app.server.listening);
      let answer = '';
      probe.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      probe.write('dyz HTTP/1.1\r\nhost: localhost\r\n\r\n');
      await waitFor('the probe\'s answer', async () => answer.includes('}'));
      assert.match(answer, /^HTTP\/1\.1 503 /);
      assert.match(answer, /\r\nretry-after: 1\r\n/i);
      assert.match(answer, /"code":"serviceNotAvailable"/);
      slow.finish();
      await slow.response.catch(() => null);
      await closing;
    } finally {
      probe.destroy();
      // Closed already (or closing): stop() only removes the database and the folder.
      const close = server.close;
      server.close = () => close().catch(() => {});
      await server.stop();
    }
  });
});

describe('/healthz and /readyz under load shedding', () => {
  test('the probes answer while every other request is shed', { timeout: 30_000 }, async () => {
    const server = await startTestServer({ testCatalog: false });
    // Shedding whenever the event loop lags at all: overloaded from the second check on.
    const app = await buildApp({
      store: server.store,
      engine: server.engine,
      verifyToken: async () => {
        throw new ServiceError('unauthenticated');
      },
      shedding: { maxEventLoopDelayMs: -1, maxHeapFraction: 1 },
    });
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      const shed = await waitFor('load shedding to start', async () => {
        const response = await fetch(`${url}/beta/teamwork/devices`);
        return response.status === 503 ? response : (await response.arrayBuffer(), null);
      });
      await expectGraphError(shed, 503, 'serviceNotAvailable');
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
    } finally {
      await app.close();
      await server.stop();
    }
  });
});

describe('/readyz when PostgreSQL stops answering', { skip: testStore !== 'postgres' && 'PostgreSQL only' }, () => {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let proxy: TcpProxy;
  let server: TestServer;

  before(async () => {
    database = await createPostgresDatabase();
    proxy = TcpProxy.forUrl(database.url);
    await proxy.start();
    // The server reaches its database only through the proxy.
    server = await startTestServer({ testCatalog: false, config: { db: proxy.via(database.url), poolSize: 2 } });
  });
  after(async () => {
    await proxy?.cut();
    await server?.stop();
    await proxy?.close();
    await database?.drop();
  });

  test('cut: 503 at once (healthz still 200); restored: 200 again without a restart', { timeout: 30_000 }, async () => {
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    await proxy.cut();
    const started = Date.now();
    await expectNotReady(await fetch(`${server.url}/readyz`));
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    // A scrape still answers: the numbers read from the database are left out, the process's own are there.
    const text = await scrape(server.url);
    assert.ok(Number.isNaN(sampleValue(text, 'teamwork_devices_devices_connected')));
    assert.equal(families(text).get('teamwork_devices_operations')?.metrics.length ?? 0, 0);
    assert.equal(sampleValue(text, 'teamwork_devices_long_polls'), 0);
    await proxy.restore();
    await waitFor('ready again', async () => (await fetch(`${server.url}/readyz`)).status === 200, { timeoutMs: 10_000 });
  });

  test('frozen (nothing answers, nothing fails): 503 within the probe timeout', { timeout: 30_000 }, async () => {
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    proxy.freeze();
    try {
      const started = Date.now();
      await expectNotReady(await fetch(`${server.url}/readyz`));
      const took = Date.now() - started;
      assert.ok(took >= 700 && took < 2000, `took ${took} ms`);
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    } finally {
      proxy.thaw();
    }
    await waitFor('ready again', async () => (await fetch(`${server.url}/readyz`)).status === 200, { timeoutMs: 10_000 });
  });
});
