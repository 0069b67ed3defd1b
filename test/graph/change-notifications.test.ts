import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deviceIds, expectGraphError } from '../helpers/http-assertions.js';
import { NotificationReceiver, signatureValid, type ReceivedChange } from '../helpers/notification-receiver.js';
import { TestClock } from '../helpers/test-clock.js';
import { changeDatabase } from '../helpers/test-database.js';
import { postJson, startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Change notifications over real HTTP, to receivers the test runs on 127.0.0.1, on the store
 * TWD_TEST_STORE names: the validation handshake, signed notifications of operations created
 * and changed (by a request, a cancel, the supervisor's expiry), retries with backoff (the
 * test clock jumps over it), a receiver that keeps failing suspended without slowing another,
 * expiry, renewal, tenants kept apart, and who may do what.
 */

const clock = new TestClock();
let server: TestServer;
let devices: string[] = [];
let devicesB: string[] = [];
let nextDevice = 0;
const receivers: NotificationReceiver[] = [];
const freshDevice = () => {
  const id = devices[nextDevice++];
  assert.ok(id, 'ran out of seeded devices');
  return id;
};

before(async () => {
  server = await startTestServer({ devicesA: 30, devicesB: 3, clock, config: { schedulerIntervalMs: 50 } });
  devices = await deviceIds(server, 30);
  devicesB = (await server.query<{ id: string }>('SELECT id FROM devices WHERE tenant_id = ? ORDER BY id', [tenantB])).map((r) => r.id);
});

after(async () => {
  await server?.stop();
  for (const receiver of receivers) await receiver.stop();
});

async function receiver(): Promise<NotificationReceiver> {
  const started = await NotificationReceiver.start();
  receivers.push(started);
  return started;
}

const inMinutes = (minutes: number) => new Date(clock.now() + minutes * 60_000).toISOString();

interface SubscriptionJson {
  id: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  clientState: string | null;
  expirationDateTime: string;
  applicationId: string;
  creatorId: string;
  notificationStatus: string;
  lastDeliveryDateTime: string | null;
  lastDeliveryError: string | null;
  signingSecret?: string;
}

function subscriptionRequest(to: NotificationReceiver, overrides: Record<string, unknown> = {}) {
  return {
    changeType: 'created,updated',
    resource: 'teamwork/devices/operations',
    notificationUrl: to.url,
    clientState: 'secret-client-state',
    expirationDateTime: inMinutes(2 * 24 * 60),
    ...overrides,
  };
}

async function subscribe(to: NotificationReceiver, overrides: Record<string, unknown> = {}, token?: string): Promise<SubscriptionJson> {
  const response = await postJson(server, '/beta/subscriptions', subscriptionRequest(to, overrides), { token });
  const text = await response.text();
  assert.equal(response.status, 201, text);
  return JSON.parse(text) as SubscriptionJson;
}

async function unsubscribe(id: string): Promise<void> {
  assert.equal((await server.request(`/beta/subscriptions/${id}`, { method: 'DELETE' })).status, 204);
}

async function getSubscription(id: string, token?: string): Promise<Response> {
  return server.request(`/beta/subscriptions/${id}`, { token });
}

/** restart: an operation that needs no catalog; returns its id. */
async function restartDevice(deviceId: string, token?: string): Promise<string> {
  const response = await server.request(`/beta/teamwork/devices/${deviceId}/restart`, { method: 'POST', token });
  assert.equal(response.status, 202, await response.text());
  return response.headers.get('location')!.split('/').pop()!;
}

async function cancel(deviceId: string, operationId: string): Promise<void> {
  const response = await server.request(`/beta/teamwork/devices/${deviceId}/operations/${operationId}/cancel`, { method: 'POST' });
  assert.equal(response.status, 200, await response.text());
}

const summary = (changes: ReceivedChange[]) => changes.map((c) => `${c.resourceData.id}:${c.changeType}:${c.resourceData.status}`);

/** Failed deliveries in a row, as the service has recorded them (after the receiver saw the POST). */
async function failuresRecorded(id: string, count: number): Promise<void> {
  await waitFor(`${count} failures recorded`, async () => {
    const [row] = await server.query<{ n: number }>('SELECT consecutive_failures AS n FROM subscriptions WHERE id = ?', [id]);
    return Number(row?.n) >= count;
  });
}

async function subscriptionRows(): Promise<number> {
  const [row] = await server.query<{ n: number | string }>('SELECT count(*) AS n FROM subscriptions');
  return Number(row.n);
}

describe('the validation handshake', () => {
  test('a receiver that echoes the token: 201 with Graph\'s properties and the signing secret, which GET never shows', async () => {
    const hook = await receiver();
    const created = await subscribe(hook);
    assert.equal(hook.validations.length, 1);
    assert.match(hook.validations[0], /^[\w-]{20,}$/);
    assert.equal(created.resource, 'teamwork/devices/operations');
    assert.equal(created.changeType, 'created,updated');
    assert.equal(created.notificationUrl, hook.url);
    assert.equal(created.clientState, 'secret-client-state');
    assert.equal(created.notificationStatus, 'active');
    assert.ok(created.applicationId && created.creatorId);
    assert.match(created.signingSecret ?? '', /^[\w-]{43}$/);
    assert.match((created as unknown as Record<string, string>)['@odata.context'], /\$metadata#subscriptions\/\$entity$/);
    const read = (await (await getSubscription(created.id)).json()) as SubscriptionJson;
    assert.equal(read.signingSecret, undefined);
    assert.equal(read.expirationDateTime, created.expirationDateTime);
    const list = (await (await server.request('/subscriptions')).json()) as { value: SubscriptionJson[] };
    assert.ok(list.value.some((s) => s.id === created.id && s.signingSecret === undefined));
    await unsubscribe(created.id);
    await expectGraphError(await getSubscription(created.id), 404, 'itemNotFound');
  });

  test('a wrong token echoed, an error status or no answer: 400 in Graph\'s words, and nothing is saved', async () => {
    const hook = await receiver();
    const before = await subscriptionRows();
    hook.handshake = 'wrong';
    let error = await expectGraphError(await postJson(server, '/beta/subscriptions', subscriptionRequest(hook)), 400, 'invalidRequest');
    assert.match(error.message, /Subscription validation request failed\. Response must exactly match validationToken/);
    hook.handshake = 500;
    error = await expectGraphError(await postJson(server, '/beta/subscriptions', subscriptionRequest(hook)), 400, 'invalidRequest');
    assert.match(error.message, /HTTP status code is '500'.*must respond with 200 OK/);
    const closed = await receiver();
    await closed.stop();
    error = await expectGraphError(await postJson(server, '/beta/subscriptions', subscriptionRequest(closed)), 400, 'invalidRequest');
    assert.match(error.message, /could not connect/);
    assert.equal(await subscriptionRows(), before);
  });

  test('a receiver that never answers: 400 after the 10 s Graph allows', { timeout: 30_000 }, async () => {
    const hook = await receiver();
    hook.handshake = 'hang';
    const started = Date.now();
    const error = await expectGraphError(await postJson(server, '/beta/subscriptions', subscriptionRequest(hook)), 400, 'invalidRequest');
    assert.match(error.message, /no answer within the timeout/);
    assert.ok(Date.now() - started >= 9_000 && Date.now() - started < 20_000);
    assert.equal((await server.query('SELECT id FROM subscriptions WHERE notification_url = ?', [hook.url])).length, 0);
  });

  test('bodies that are refused before any handshake', async () => {
    const hook = await receiver();
    const refused = async (overrides: Record<string, unknown>, pattern: RegExp, status = 400) => {
      const error = await expectGraphError(await postJson(server, '/beta/subscriptions', subscriptionRequest(hook, overrides)), status, status === 400 ? 'invalidRequest' : 'itemNotFound');
      assert.match(error.message, pattern);
    };
    await refused({ notificationUrl: 'http://example.com/hook' }, /scheme 'http' is not supported/);
    await refused({ notificationUrl: 'ftp://127.0.0.1/hook' }, /scheme 'ftp'/);
    await refused({ notificationUrl: 'https://user:pw@example.com/hook' }, /user name or password/);
    await refused({ notificationUrl: 'not a url' }, /absolute URL/);
    await refused({ expirationDateTime: inMinutes(-1) }, /must be in the future/);
    await refused({ expirationDateTime: inMinutes(4231) }, /only be 4230 minutes in the future/);
    await refused({ expirationDateTime: 'tomorrow' }, /ISO 8601/);
    await refused({ expirationDateTime: undefined }, /ISO 8601/);
    await refused({ clientState: 'x'.repeat(129) }, /clientState/);
    await refused({ changeType: 'deleted' }, /ChangeType 'deleted' is not supported/);
    await refused({ changeType: '' }, /changeType/);
    await refused({ resource: 'users' }, /Resource 'users' is not supported/);
    await refused({ resource: 42 }, /resource/);
    await refused({ lifecycleNotificationUrl: hook.url }, /The property 'lifecycleNotificationUrl' does not exist/);
    await refused({ includeResourceData: true }, /includeResourceData/);
    await refused({ resource: 'teamwork/devices/no-such-device/operations' }, /no-such-device/, 404);
    await refused({ resource: `teamwork/devices/${devicesB[0]}/operations` }, /does not exist/, 404);
    await expectGraphError(await postJson(server, '/beta/subscriptions', '[1]'), 400, 'invalidRequest');
    await expectGraphError(await postJson(server, '/beta/subscriptions', '{"a":'), 400, 'invalidRequest');
    assert.equal(hook.validations.length, 0);
    // 4230 minutes is accepted, and a Graph SDK's own properties are ignored.
    const longest = await subscribe(hook, { expirationDateTime: inMinutes(4229), latestSupportedTlsVersion: 'v1_2', '@odata.type': '#microsoft.graph.subscription' });
    await unsubscribe(longest.id);
  });
});

describe('notifications', () => {
  test('created and updated, signed, with clientState, only of the subscribed device, in order', async () => {
    const hook = await receiver();
    const [device, other] = [freshDevice(), freshDevice()];
    const subscription = await subscribe(hook, { resource: `/teamwork/devices/${device}/operations`, clientState: 'abc' });
    assert.equal(subscription.resource, `teamwork/devices/${device}/operations`);
    const operationId = await restartDevice(device);
    await restartDevice(other);
    await cancel(device, operationId);
    await waitFor('two notifications', async () => hook.changes.length >= 2);
    assert.deepEqual(summary(hook.changes), [`${operationId}:created:queued`, `${operationId}:updated:cancelled`]);
    const [created] = hook.changes;
    assert.deepEqual(created, {
      subscriptionId: subscription.id,
      subscriptionExpirationDateTime: subscription.expirationDateTime,
      changeType: 'created',
      resource: `teamwork/devices/${device}/operations/${operationId}`,
      resourceData: {
        '@odata.type': '#microsoft.graph.teamworkDeviceOperation',
        '@odata.id': `teamwork/devices/${device}/operations/${operationId}`,
        id: operationId,
        status: 'queued',
        operationType: 'deviceRestart',
        deviceId: device,
      },
      clientState: 'abc',
      tenantId: tenantA,
    });
    for (const post of hook.posts) assert.ok(signatureValid(subscription.signingSecret!, post.body, post.signature), 'the HMAC verifies');
    assert.ok(!signatureValid('another secret', hook.posts[0].body, hook.posts[0].signature));
    // The receiver has the POST before the service records its answer.
    await waitFor('the delivery recorded', async () => ((await (await getSubscription(subscription.id)).json()) as SubscriptionJson).lastDeliveryDateTime);
    await unsubscribe(subscription.id);
  });

  test('changeType created only: no notification of status changes', async () => {
    const hook = await receiver();
    const device = freshDevice();
    const subscription = await subscribe(hook, { resource: `teamwork/devices/${device}/operations`, changeType: 'created' });
    const operationId = await restartDevice(device);
    await cancel(device, operationId);
    const second = await restartDevice(device);
    await waitFor('the second creation', async () => hook.changes.some((c) => c.resourceData.id === second));
    assert.deepEqual(summary(hook.changes), [`${operationId}:created:queued`, `${second}:created:queued`]);
    await unsubscribe(subscription.id);
  });

  test('a receiver failing a few times then recovering gets every notification, in order, none lost', { timeout: 30_000 }, async () => {
    const hook = await receiver();
    const device = freshDevice();
    const subscription = await subscribe(hook, { resource: `teamwork/devices/${device}/operations` });
    hook.answers = [500, 'close', 503];
    const expected: string[] = [];
    for (let i = 0; i < 3; i++) {
      const operationId = await restartDevice(device);
      await cancel(device, operationId);
      expected.push(`${operationId}:created:queued`, `${operationId}:updated:cancelled`);
    }
    for (let failures = 1; failures <= 3; failures++) {
      await failuresRecorded(subscription.id, failures);
      const state = (await (await getSubscription(subscription.id)).json()) as SubscriptionJson;
      assert.match(state.lastDeliveryError ?? '', [/HTTP 500/, /could not connect|socket|other side closed|fetch failed/, /HTTP 503/][failures - 1]);
      // The backoff is at most 30 minutes: the clock jumps over it instead of the test waiting.
      clock.advance(31 * 60_000);
    }
    assert.equal(hook.failed.length, 3);
    await waitFor('every notification', async () => hook.changes.length >= expected.length);
    assert.deepEqual(summary(hook.changes), expected);
    // The receiver has the last POST before the server records its success: wait for the record.
    let state: SubscriptionJson | null = null;
    await waitFor('the successful delivery recorded', async () => {
      state = (await (await getSubscription(subscription.id)).json()) as SubscriptionJson;
      return state.lastDeliveryError === null;
    });
    assert.equal(state!.lastDeliveryError, null);
    assert.equal(state!.notificationStatus, 'active');
    await unsubscribe(subscription.id);
  });

  test('a receiver that never answers does not delay another subscription\'s receiver', { timeout: 30_000 }, async () => {
    const slow = await receiver();
    const fast = await receiver();
    const device = freshDevice();
    const a = await subscribe(slow, { resource: `teamwork/devices/${device}/operations` });
    const b = await subscribe(fast, { resource: `teamwork/devices/${device}/operations` });
    slow.always = 'hang';
    const first = await restartDevice(device);
    await waitFor('the fast receiver', async () => fast.changes.length >= 1, { timeoutMs: 3000 });
    const second = await restartDevice(freshDevice()); // not subscribed by either
    await cancel(device, first);
    const started = Date.now();
    await waitFor('the fast receiver again', async () => fast.changes.length >= 2, { timeoutMs: 3000 });
    assert.ok(Date.now() - started < 3000);
    assert.equal(slow.changes.length, 0, 'the slow receiver answered nothing yet');
    assert.deepEqual(summary(fast.changes), [`${first}:created:queued`, `${first}:updated:cancelled`]);
    assert.ok(second);
    await unsubscribe(a.id);
    await unsubscribe(b.id);
  });

  test('a receiver that keeps failing is suspended and skipped; another still gets its notifications; a renewal resumes it', { timeout: 60_000 }, async () => {
    const failing = await receiver();
    const healthy = await receiver();
    const device = freshDevice();
    const bad = await subscribe(failing, { resource: `teamwork/devices/${device}/operations` });
    const good = await subscribe(healthy, { resource: `teamwork/devices/${device}/operations` });
    failing.always = 500;
    const first = await restartDevice(device);
    let state: SubscriptionJson;
    for (let attempt = 1; ; attempt++) {
      await failuresRecorded(bad.id, attempt);
      state = (await (await getSubscription(bad.id)).json()) as SubscriptionJson;
      if (state.notificationStatus === 'suspended') break;
      assert.ok(attempt < 10, 'suspended after 10 failures in a row');
      clock.advance(31 * 60_000);
    }
    assert.equal(failing.failed.length, 10);
    assert.match(state.lastDeliveryError ?? '', /HTTP 500/);
    assert.equal(healthy.changes.length, 1);
    // Skipped: a new change reaches the healthy receiver only, at once.
    await cancel(device, first);
    await waitFor('the healthy receiver', async () => healthy.changes.length >= 2, { timeoutMs: 3000 });
    clock.advance(31 * 60_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(failing.failed.length, 10, 'no more attempts');
    // A renewal makes it active again; the next change is delivered.
    failing.always = null;
    const renewed = await server.request(`/beta/subscriptions/${bad.id}`, {
      method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ expirationDateTime: inMinutes(24 * 60) }),
    });
    assert.equal(renewed.status, 200);
    assert.equal(((await renewed.json()) as SubscriptionJson).notificationStatus, 'active');
    const later = await restartDevice(device);
    await waitFor('the renewed receiver', async () => failing.changes.length >= 1);
    assert.deepEqual(summary(failing.changes), [`${later}:created:queued`], 'what was dropped at suspension is not sent');
    await unsubscribe(bad.id);
    await unsubscribe(good.id);
  });

  test("the supervisor's expiry of an operation is notified", { timeout: 30_000 }, async () => {
    const hook = await receiver();
    const device = freshDevice();
    const subscription = await subscribe(hook, { resource: `teamwork/devices/${device}/operations`, changeType: 'updated' });
    const operationId = await restartDevice(device);
    // Past the 24 h start deadline: the supervisor fails it (deviceUnreachable).
    clock.advance(25 * 3600_000);
    await waitFor('the expiry', async () => hook.changes.length >= 1);
    assert.deepEqual(summary(hook.changes), [`${operationId}:updated:failed`]);
    await unsubscribe(subscription.id);
  });
});

describe('renewal and expiry', () => {
  test('PATCH renews; a new notificationUrl must pass the handshake; bad bodies are 400s', async () => {
    const hook = await receiver();
    const subscription = await subscribe(hook);
    const patch = (body: unknown, token?: string) => server.request(`/beta/subscriptions/${subscription.id}`, {
      method: 'PATCH', token, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const later = inMinutes(3000);
    const renewed = await patch({ expirationDateTime: later });
    assert.equal(renewed.status, 200);
    assert.equal(((await renewed.json()) as SubscriptionJson).expirationDateTime, later);
    await expectGraphError(await patch({ expirationDateTime: inMinutes(-5) }), 400, 'invalidRequest');
    await expectGraphError(await patch({ expirationDateTime: inMinutes(5000) }), 400, 'invalidRequest');
    await expectGraphError(await patch({}), 400, 'invalidRequest');
    await expectGraphError(await patch({ clientState: 'x' }), 400, 'invalidRequest');
    const wrong = await receiver();
    wrong.handshake = 'wrong';
    await expectGraphError(await patch({ notificationUrl: wrong.url }), 400, 'invalidRequest');
    assert.equal(((await (await getSubscription(subscription.id)).json()) as SubscriptionJson).notificationUrl, hook.url);
    const moved = await receiver();
    const response = await patch({ notificationUrl: moved.url });
    assert.equal(response.status, 200);
    assert.equal(moved.validations.length, 1);
    assert.equal(((await response.json()) as SubscriptionJson).notificationUrl, moved.url);
    await expectGraphError(await server.request('/beta/subscriptions/unknown-id', {
      method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ expirationDateTime: later }),
    }), 404, 'itemNotFound');
    await unsubscribe(subscription.id);
    await expectGraphError(await server.request(`/beta/subscriptions/${subscription.id}`, { method: 'DELETE' }), 404, 'itemNotFound');
  });
});

describe('tenants and credentials', () => {
  test('another tenant cannot see, change or delete a subscription, and never receives the other tenant\'s changes', async () => {
    const hookA = await receiver();
    const hookB = await receiver();
    const tokenB = await server.token({ tenantId: tenantB });
    const a = await subscribe(hookA);
    const b = await subscribe(hookB, {}, tokenB);
    await expectGraphError(await getSubscription(a.id, tokenB), 404, 'itemNotFound');
    await expectGraphError(await server.request(`/beta/subscriptions/${a.id}`, { method: 'DELETE', token: tokenB }), 404, 'itemNotFound');
    await expectGraphError(await server.request(`/beta/subscriptions/${a.id}`, {
      method: 'PATCH', token: tokenB, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ expirationDateTime: inMinutes(60) }),
    }), 404, 'itemNotFound');
    const listB = (await (await server.request('/beta/subscriptions', { token: tokenB })).json()) as { value: SubscriptionJson[] };
    assert.deepEqual(listB.value.map((s) => s.id), [b.id]);
    const opA = await restartDevice(freshDevice());
    const opB = await restartDevice(devicesB[0], tokenB);
    await waitFor('both receivers', async () => hookA.changes.some((c) => c.resourceData.id === opA) && hookB.changes.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(summary(hookB.changes), [`${opB}:created:queued`]);
    assert.ok(hookB.changes.every((c) => c.tenantId === tenantB && c.subscriptionId === b.id));
    assert.ok(hookA.changes.every((c) => c.tenantId === tenantA && c.resourceData.id !== opB));
    await unsubscribe(a.id);
    assert.equal((await server.request(`/beta/subscriptions/${b.id}`, { method: 'DELETE', token: tokenB })).status, 204);
  });

  test('no token, a bad token or no Teamwork permission: 401/403; read permission may subscribe; only its application or ReadWrite may delete', async () => {
    const hook = await receiver();
    await expectGraphError(await postJson(server, '/beta/subscriptions', subscriptionRequest(hook), { token: null }), 401, 'unauthenticated');
    await expectGraphError(await server.request('/beta/subscriptions', { token: 'not.a.jwt' }), 401, 'unauthenticated');
    const forged = (await server.token()).replace(/\.[\w-]+$/, '.AAAA');
    await expectGraphError(await server.request('/beta/subscriptions', { token: forged }), 401, 'unauthenticated');
    const noPermission = await server.token({ scopes: ['User.Read'] });
    await expectGraphError(await postJson(server, '/beta/subscriptions', subscriptionRequest(hook), { token: noPermission }), 403, 'accessDenied');
    await expectGraphError(await server.request('/beta/subscriptions', { token: noPermission }), 403, 'accessDenied');
    assert.equal(hook.validations.length, 0, 'no handshake for a refused caller');

    const readOnly = await server.token({ scopes: ['TeamworkDevice.Read.All'] });
    const mine = await subscribe(hook, {}, readOnly);
    const theirs = await subscribe(hook);
    // Another application's subscription (the dev issuer has one application id: the row says otherwise).
    await changeDatabase(server.dbPath, 'UPDATE subscriptions SET application_id = ? WHERE id = ?', ['00000000-0000-4000-8000-0000000000aa', theirs.id]);
    await expectGraphError(await server.request(`/beta/subscriptions/${theirs.id}`, { method: 'DELETE', token: readOnly }), 403, 'accessDenied');
    assert.equal((await getSubscription(theirs.id, readOnly)).status, 200, 'but may read it');
    assert.equal((await server.request(`/beta/subscriptions/${mine.id}`, { method: 'DELETE', token: readOnly })).status, 204);
    assert.equal((await server.request(`/beta/subscriptions/${theirs.id}`, { method: 'DELETE' })).status, 204, 'ReadWrite may delete any of its tenant');
  });
});

describe('expiry', () => {
  test('no notification after expirationDateTime; the expired subscription is removed', { timeout: 30_000 }, async () => {
    const hook = await receiver();
    const device = freshDevice();
    const subscription = await subscribe(hook, { resource: `teamwork/devices/${device}/operations`, expirationDateTime: inMinutes(60) });
    const first = await restartDevice(device);
    await waitFor('the first notification', async () => hook.changes.length >= 1);
    clock.advance(61 * 60_000);
    await cancel(device, first);
    await waitFor('the subscription removed', async () => (await getSubscription(subscription.id)).status === 404);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(summary(hook.changes), [`${first}:created:queued`]);
    assert.equal((await server.query('SELECT seq FROM change_events')).length, 0, 'no events are written once no subscription is left');
  });
});
