import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openOperationEvents } from '../helpers/event-stream.js';
import { cancelOperation, graphOperation, requestOperation } from '../helpers/graph-operations.js';
import { deviceIds, expectGraphError } from '../helpers/http-assertions.js';
import { enrollAgent } from '../helpers/test-agent.js';
import { testStore } from '../helpers/test-database.js';
import { startTestServer, tenantB, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * GET …/operations/{id}/events (beyond Graph): an operation's states as server-sent events,
 * over real HTTP on the store TWD_TEST_STORE names, driven by a device on the real agent
 * protocol; the per-caller cap on open streams, who may open one, shutdown, and (PostgreSQL)
 * a change made on another server.
 */

let server: TestServer;
let seeded: string[] = [];

before(async () => {
  server = await startTestServer({ devicesA: 16, devicesB: 1 });
  seeded = await deviceIds(server, 16);
});

after(async () => {
  await server?.stop();
});

describe('an operation followed live', () => {
  test('a device moves it queued → inProgress → successful: the stream shows each state, each as the GET shows it, then ends', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const operationId = await requestOperation(server, deviceId, 'restart');
    const { response, stream } = await openOperationEvents(server, deviceId, operationId);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    assert.ok(response.headers.get('request-id'));

    const first = await stream!.nextData();
    assert.equal(first?.status, 'queued');
    assert.deepEqual(first, await graphOperation(server, deviceId, operationId) as unknown as Record<string, unknown>);

    assert.equal((await agent.nextWork(0))?.id, operationId);
    await agent.ackOk(operationId);
    const started = await stream!.nextData();
    assert.equal(started?.status, 'inProgress');
    assert.ok(started?.startedDateTime);

    await agent.resultOk(operationId, { status: 'successful' });
    const done = await stream!.nextData();
    assert.equal(done?.status, 'successful');
    assert.deepEqual(done, await graphOperation(server, deviceId, operationId) as unknown as Record<string, unknown>);
    assert.equal(await stream!.next(), null, 'the stream ends after the terminal state');
  });

  test('an operation already ended is one event, and the stream ends at once', async () => {
    const operationId = await requestOperation(server, seeded[0], 'restart');
    assert.equal((await cancelOperation(server, seeded[0], operationId)).status, 200);
    const { stream } = await openOperationEvents(server, seeded[0], operationId);
    assert.equal((await stream!.nextData())?.status, 'cancelled');
    assert.equal(await stream!.next(), null);
  });

  test('a withdrawal made by another request reaches the stream and ends it', async () => {
    const operationId = await requestOperation(server, seeded[1], 'runDiagnostics');
    const { stream } = await openOperationEvents(server, seeded[1], operationId);
    assert.equal((await stream!.nextData())?.status, 'queued');
    assert.equal((await cancelOperation(server, seeded[1], operationId)).status, 200);
    assert.equal((await stream!.nextData())?.status, 'cancelled');
    assert.equal(await stream!.next(), null);
  });

  test('an idle stream carries a comment line every 15 s', { timeout: 30_000 }, async () => {
    const operationId = await requestOperation(server, seeded[2], 'restart');
    const { stream } = await openOperationEvents(server, seeded[2], operationId);
    assert.equal((await stream!.nextData())?.status, 'queued');
    const started = Date.now();
    const item = await stream!.next(20_000);
    assert.deepEqual(item, { comment: 'heartbeat' });
    assert.ok(Date.now() - started > 13_000, `the heartbeat came after ${Date.now() - started} ms`);
    stream!.close();
  });
});

describe('who may follow an operation, and how many at once', () => {
  test("an unknown operation, another device's, and another tenant's are 404s; bad tokens are refused", async () => {
    const operationId = await requestOperation(server, seeded[3], 'restart');
    const path = (device: string, operation: string) => `/beta/teamwork/devices/${device}/operations/${operation}/events`;
    await expectGraphError(await server.request(path(seeded[3], '00000000-0000-4000-8000-000000000000')), 404, 'itemNotFound');
    await expectGraphError(await server.request(path(seeded[4], operationId)), 404, 'itemNotFound');
    await expectGraphError(await server.request(path(seeded[3], operationId), { token: await server.token({ tenantId: tenantB }) }), 404, 'itemNotFound');
    await expectGraphError(await server.request(path(seeded[3], operationId), { token: null }), 401, 'unauthenticated');
    await expectGraphError(await server.request(path(seeded[3], operationId), { token: await server.token({ ttlSeconds: -120 }) }), 401, 'unauthenticated');
    const valid = await server.token();
    const forged = valid.slice(0, valid.lastIndexOf('.') + 1) + Buffer.from('forged').toString('base64url');
    await expectGraphError(await server.request(path(seeded[3], operationId), { token: forged }), 401, 'unauthenticated');
    await expectGraphError(await server.request(path(seeded[3], operationId), { token: await server.token({ scopes: ['User.Read'] }) }), 403, 'accessDenied');
    await expectGraphError(await server.request(`${path(seeded[3], operationId)}?$top=1`), 400, 'invalidRequest');
    await expectGraphError(await server.request(path(seeded[3], operationId), { method: 'POST' }), 405, 'methodNotAllowed');
  });

  test('a $batch cannot open a stream (it would never end)', async () => {
    const operationId = await requestOperation(server, seeded[5], 'restart');
    const response = await server.request('/beta/$batch', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requests: [{ id: '1', method: 'GET', url: `/teamwork/devices/${seeded[5]}/operations/${operationId}/events` }] }),
    });
    assert.equal(response.status, 200);
    const body = await response.json() as { responses: { id: string; status: number }[] };
    assert.notEqual(body.responses[0].status, 200);
  });

  test('a caller may hold 10 streams: the 11th is a 429 with Retry-After; another caller is unaffected; a hang-up frees a slot', async () => {
    const operationId = await requestOperation(server, seeded[6], 'restart');
    const token = await server.token({ user: 'watcher@contoso.example' });
    const streams = [];
    for (let i = 0; i < 10; i++) {
      const { response, stream } = await openOperationEvents(server, seeded[6], operationId, token);
      assert.equal(response.status, 200, `stream ${i + 1}`);
      assert.equal((await stream!.nextData())?.status, 'queued');
      streams.push(stream!);
    }
    const refused = await openOperationEvents(server, seeded[6], operationId, token);
    const error = await expectGraphError(refused.response, 429, 'activityLimitReached');
    assert.match(error.message, /10 operation event streams/);
    assert.equal(refused.response.headers.get('retry-after'), '5');

    const other = await openOperationEvents(server, seeded[6], operationId, await server.token({ user: 'someone-else@contoso.example' }));
    assert.equal(other.response.status, 200, 'another caller of the tenant');
    other.stream!.close();

    streams.pop()!.close();
    const reopened = await waitFor('a slot freed by the hang-up', async () => {
      const attempt = await openOperationEvents(server, seeded[6], operationId, token);
      if (attempt.response.status === 200) return attempt.stream!;
      await attempt.response.arrayBuffer();
      return null;
    });
    assert.equal((await reopened.nextData())?.status, 'queued');
    // The operation's end ends every stream, and their slots are free again.
    assert.equal((await cancelOperation(server, seeded[6], operationId)).status, 200);
    for (const stream of [...streams, reopened]) {
      assert.equal((await stream.nextData())?.status, 'cancelled');
      assert.equal(await stream.next(), null);
    }
    const next = await requestOperation(server, seeded[6], 'restart');
    const again = await openOperationEvents(server, seeded[6], next, token);
    assert.equal(again.response.status, 200);
    again.stream!.close();
  });

  test('HEAD answers the headers and holds no slot', async () => {
    const operationId = await requestOperation(server, seeded[8], 'restart');
    const token = await server.token({ user: 'header-reader@contoso.example' });
    for (let i = 0; i < 12; i++) {
      const response = await server.request(`/beta/teamwork/devices/${seeded[8]}/operations/${operationId}/events`, { method: 'HEAD', token });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(await response.text(), '');
    }
    const { response, stream } = await openOperationEvents(server, seeded[8], operationId, token);
    assert.equal(response.status, 200, 'the twelve HEADs left every slot free');
    assert.equal((await stream!.nextData())?.status, 'queued');
    stream!.close();
  });

  test('closing the server ends open streams cleanly and promptly', async () => {
    const operationId = await requestOperation(server, seeded[7], 'restart');
    const { stream } = await openOperationEvents(server, seeded[7], operationId);
    assert.equal((await stream!.nextData())?.status, 'queued');
    const started = Date.now();
    await server.restart();
    assert.ok(Date.now() - started < 4000, `restart took ${Date.now() - started} ms`);
    assert.equal(await stream!.next(2000), null, 'the stream ended (not cut)');
  });
});

describe('two servers on one PostgreSQL database', { skip: testStore !== 'postgres' && 'replicas share PostgreSQL: run in the PostgreSQL pass' }, () => {
  test('a stream on one server sees the states a device drives through the other', async () => {
    const other = await startTestServer({ config: { db: server.dbPath }, testCatalog: false });
    try {
      const agent = await enrollAgent(other);
      const deviceId = agent.deviceId!;
      const operationId = await requestOperation(other, deviceId, 'restart');
      const { stream } = await openOperationEvents(server, deviceId, operationId);
      assert.equal((await stream!.nextData())?.status, 'queued');
      assert.equal((await agent.nextWork(0))?.id, operationId);
      await agent.ackOk(operationId);
      assert.equal((await stream!.nextData(5000))?.status, 'inProgress');
      await agent.resultOk(operationId, { status: 'successful' });
      assert.equal((await stream!.nextData(5000))?.status, 'successful');
      assert.equal(await stream!.next(), null);
    } finally {
      await other.stop();
    }
  });
});
