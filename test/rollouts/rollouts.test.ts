import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expectGraphError as graphError } from '../helpers/http-assertions.js';
import { NotificationReceiver, signatureValid } from '../helpers/notification-receiver.js';
import { ScriptedFleet, type Script } from '../helpers/scripted-fleet.js';
import { TestClock } from '../helpers/test-clock.js';
import { startTestServer, tenantB, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Rollouts (issue 14) over real HTTP against a real database, with devices that speak the
 * real agent protocol and end each update as the test's script says. Time that a rollout
 * waits (soak, backoff) is passed by moving the server's clock, never by sleeping.
 */

let server: TestServer;
const clock = new TestClock();
const fleets: ScriptedFleet[] = [];
let modelCounter = 0;

before(async () => {
  server = await startTestServer({ clock, config: { schedulerIntervalMs: 50 } });
});

after(async () => {
  await Promise.all(fleets.map((f) => f.stop()));
  await server?.stop();
});

/** A fleet of `count` devices of a model no other test uses, ending updates as `script` says. */
async function fleet(count: number, script: Script = () => ({ ok: true })): Promise<{ fleet: ScriptedFleet; ids: string[]; model: string }> {
  const model = `rollout-model-${++modelCounter}`;
  const f = new ScriptedFleet(server, script);
  fleets.push(f);
  const ids = await f.add(count, model);
  return { fleet: f, ids, model };
}

interface Counts { total: number; pending: number; scheduled: number; running: number; successful: number; failed: number; cancelled: number; skipped: number; skippedReasons: Record<string, number> }
interface RolloutBody {
  id: string; status: string; pausedReason: string | null; currentStage: number;
  stages: { status: string; counts: Counts; soakUntilDateTime: string | null }[];
  counts: Counts;
  completedDateTime: string | null;
}

async function create(body: Record<string, unknown>): Promise<RolloutBody> {
  const response = await server.request('/beta/teamwork/softwareRollouts', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(response.status, 201, await response.clone().text());
  assert.match(response.headers.get('location') ?? '', /^\/teamwork\/softwareRollouts\/[0-9a-f-]{36}$/);
  return response.json() as Promise<RolloutBody>;
}

async function act(id: string, verb: string, expected = 200): Promise<Response> {
  const response = await server.request(`/beta/teamwork/softwareRollouts/${id}/${verb}`, { method: 'POST' });
  assert.equal(response.status, expected, await response.clone().text());
  return response;
}

async function get(id: string): Promise<RolloutBody> {
  const response = await server.request(`/beta/teamwork/softwareRollouts/${id}`);
  assert.equal(response.status, 200);
  return response.json() as Promise<RolloutBody>;
}

function until(id: string, what: string, test: (r: RolloutBody) => boolean, timeoutMs = 15_000): Promise<RolloutBody> {
  return waitFor(`rollout ${what}`, async () => {
    const r = await get(id);
    return test(r) ? r : null;
  }, { timeoutMs });
}

/** A Graph error with this status and code, and a message matching `message` when given. */
async function expectGraphError(response: Response, status: number, code: string, message?: RegExp): Promise<void> {
  const error = await graphError(response, status, code);
  if (message) assert.match(error.message, message);
}

const update = { softwareType: 'teamsClient', softwareVersion: '1.0.96.22' };

describe('rollouts: the API', () => {
  it('refuses malformed bodies with a Graph error naming the field, and writes nothing', async () => {
    const cases: [unknown, RegExp][] = [
      [{ ...update, target: { filter: "deviceType eq 'teamsRoom'" } }, /displayName/],
      [{ displayName: 'x', softwareType: 'nope', target: { filter: "deviceType eq 'teamsRoom'" } }, /softwareType/],
      [{ displayName: 'x', ...update }, /target/],
      [{ displayName: 'x', ...update, target: { filter: 'colour eq 1' } }, /filter/i],
      [{ displayName: 'x', ...update, target: { filter: "deviceType eq 'teamsRoom'", deviceIds: ['a'] } }, /exactly one/],
      [{ displayName: 'x', ...update, target: { deviceIds: [] } }, /deviceIds/],
      [{ displayName: 'x', ...update, target: { deviceIds: ['a'] }, stages: [{ percent: 0 }] }, /stages\[0\]\.percent/],
      [{ displayName: 'x', ...update, target: { deviceIds: ['a'] }, stages: [{ percent: 10, count: 3 }] }, /not both/],
      [{ displayName: 'x', ...update, target: { deviceIds: ['a'] }, stages: [{ colour: 1 }] }, /colour/],
      [{ displayName: 'x', ...update, target: { deviceIds: ['a'] }, retry: { maxAttempts: 11 } }, /maxAttempts/],
      [{ displayName: 'x', ...update, target: { deviceIds: ['a'] }, includeNewDevices: true }, /includeNewDevices/],
      [{ displayName: 'x', softwareType: 'teamsClient', softwareVersion: '9.8.7.6', target: { deviceIds: ['a'] } }, /catalog/],
      [[1, 2], /object/],
    ];
    for (const [body, message] of cases) {
      const response = await server.request('/beta/teamwork/softwareRollouts', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      await expectGraphError(response, 400, 'invalidRequest', message);
    }
    const rows = await server.query('SELECT count(*) AS n FROM rollouts');
    assert.equal(Number(rows[0].n), 0);
  });

  it('creates notStarted with zero counts; another tenant sees a 404; a read-only token cannot write', async () => {
    const { ids } = await fleet(1);
    const created = await create({ displayName: 'pilot', ...update, target: { deviceIds: ids } });
    assert.equal(created.status, 'notStarted');
    assert.equal(created.counts.total, 0);
    assert.equal(created.stages.length, 1);
    const tokenB = await server.token({ tenantId: tenantB });
    for (const path of [`/beta/teamwork/softwareRollouts/${created.id}`, `/beta/teamwork/softwareRollouts/${created.id}/devices`]) {
      await expectGraphError(await server.request(path, { token: tokenB }), 404, 'itemNotFound');
    }
    await expectGraphError(await server.request(`/beta/teamwork/softwareRollouts/${created.id}/start`, { method: 'POST', token: tokenB }), 404, 'itemNotFound');
    const listB = await (await server.request('/beta/teamwork/softwareRollouts', { token: tokenB })).json() as { value: unknown[] };
    assert.equal(listB.value.length, 0);
    const reader = await server.token({ scopes: ['TeamworkDevice.Read.All'] });
    await expectGraphError(await server.request(`/beta/teamwork/softwareRollouts/${created.id}/start`, { method: 'POST', token: reader }), 403, 'accessDenied');
    assert.equal((await server.request(`/beta/teamwork/softwareRollouts/${created.id}`, { token: reader })).status, 200);
    await expectGraphError(await server.request('/beta/teamwork/softwareRollouts', { token: 'not-a-token' }), 401, 'unauthenticated');
    await act(created.id, 'cancel');
  });

  it('lists newest first with paging and a $filter on status', async () => {
    const { ids } = await fleet(1);
    const made: RolloutBody[] = [];
    for (let i = 0; i < 3; i++) made.push(await create({ displayName: `list ${i}`, ...update, target: { deviceIds: ids } }));
    await act(made[0].id, 'cancel');
    const page = await (await server.request('/beta/teamwork/softwareRollouts?$top=2')).json() as { value: RolloutBody[]; '@odata.nextLink': string };
    assert.deepEqual(page.value.map((r) => r.id), [made[2].id, made[1].id]);
    const next = await (await server.request(page['@odata.nextLink'])).json() as { value: RolloutBody[] };
    assert.equal(next.value[0].id, made[0].id);
    const cancelled = await (await server.request(`/beta/teamwork/softwareRollouts?$filter=${encodeURIComponent("status eq 'cancelled'")}`)).json() as { value: RolloutBody[] };
    assert.ok(cancelled.value.some((r) => r.id === made[0].id));
    assert.ok(cancelled.value.every((r) => r.status === 'cancelled'));
    await expectGraphError(await server.request(`/beta/teamwork/softwareRollouts?$filter=${encodeURIComponent("status eq 'done'")}`), 400, 'invalidRequest', /status/);
    for (const r of made.slice(1)) await act(r.id, 'cancel');
  });

  it('runs stages in order on success; every target is asked once, its operation an ordinary one', async () => {
    const { fleet: f, ids, model } = await fleet(10);
    const r = await create({
      displayName: 'three stages', ...update, target: { filter: `hardwareDetail/model eq '${model}'` },
      stages: [{ count: 2, concurrency: 1 }, { percent: 50 }, { percent: 100, concurrency: 2 }],
    });
    await act(r.id, 'start');
    const done = await until(r.id, 'completed', (x) => x.status === 'completed');
    assert.deepEqual(done.stages.map((s) => s.counts.total), [2, 4, 4]);
    assert.deepEqual(done.stages.map((s) => s.status), ['completed', 'completed', 'completed']);
    assert.equal(done.counts.successful, 10);
    assert.deepEqual(f.askedTwice(), []);
    const devices = await (await server.request(`/beta/teamwork/softwareRollouts/${r.id}/devices?$top=50`)).json() as { value: { deviceId: string; operationId: string; state: string; stage: number }[] };
    assert.deepEqual(devices.value.map((d) => d.deviceId).sort(), [...ids].sort());
    // Stages take targets in enrollment order.
    assert.deepEqual(devices.value.map((d) => d.stage), [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    const one = devices.value[0];
    const operation = await (await server.request(`/beta/teamwork/devices/${one.deviceId}/operations/${one.operationId}`)).json() as { status: string; operationType: string };
    assert.equal(operation.status, 'successful');
    assert.equal(operation.operationType, 'softwareUpdate');
    // Ran now on the version: a second rollout skips them all as already on it.
    const again = await create({ displayName: 'again', ...update, target: { deviceIds: ids } });
    await act(again.id, 'start');
    const skipped = await until(again.id, 'completed', (x) => x.status === 'completed');
    assert.equal(skipped.counts.skippedReasons.alreadyOnVersion, 10);
    assert.deepEqual(f.askedTwice(), []);
  });

  it('pauses itself at the failure threshold and goes on when resumed', async () => {
    const { model } = await fleet(10, (index) => (index < 2 ? { ok: false, code: 'installFailed' } : { ok: true }));
    const r = await create({
      displayName: 'threshold', ...update, target: { filter: `hardwareDetail/model eq '${model}'` },
      stages: [{ count: 5, concurrency: 5, maxFailurePercent: 20 }, { percent: 100 }],
    });
    await act(r.id, 'start');
    const paused = await until(r.id, 'paused', (x) => x.status === 'paused');
    assert.equal(paused.pausedReason, 'failureThreshold');
    assert.equal(paused.currentStage, 0);
    assert.equal(paused.stages[1].counts.total, 0, 'the next stage did not begin');
    await act(r.id, 'pause', 409);
    await act(r.id, 'resume');
    const done = await until(r.id, 'completed', (x) => x.status === 'completed');
    assert.equal(done.counts.failed, 2);
    assert.equal(done.counts.successful, 8);
    assert.equal(done.pausedReason, null);
  });

  it('pauses a stage that finishes below minSuccessPercent', async () => {
    const { model } = await fleet(4, (index) => (index === 0 ? { ok: false, code: 'installFailed' } : { ok: true }));
    const r = await create({
      displayName: 'min success', ...update, target: { filter: `hardwareDetail/model eq '${model}'` },
      stages: [{ count: 2, minSuccessPercent: 100 }, { percent: 100 }],
    });
    await act(r.id, 'start');
    const paused = await until(r.id, 'paused', (x) => x.status === 'paused');
    assert.equal(paused.pausedReason, 'successThresholdNotMet');
    assert.equal(paused.stages[0].counts.failed, 1);
    await act(r.id, 'cancel');
  });

  it('soaks, then waits for approval before the next stage', async () => {
    const { model } = await fleet(4);
    const r = await create({
      displayName: 'gated', ...update, target: { filter: `hardwareDetail/model eq '${model}'` },
      stages: [{ count: 1, soakMinutes: 30 }, { percent: 100, requiresApproval: true }],
    });
    await act(r.id, 'start');
    const soaking = await until(r.id, 'soaking', (x) => x.stages[0].status === 'soaking');
    assert.equal(soaking.stages[0].counts.successful, 1);
    const soakEnds = Date.parse(soaking.stages[0].soakUntilDateTime!);
    assert.ok(soakEnds - clock.now() > 29 * 60_000, 'soaks 30 minutes');
    // Ticks go by; it stays soaking until the clock passes the soak time.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await get(r.id)).stages[0].status, 'soaking');
    clock.advance(31 * 60_000);
    const waiting = await until(r.id, 'awaiting approval', (x) => x.stages[1].status === 'awaitingApproval');
    assert.equal(waiting.stages[1].counts.total, 0);
    await act(r.id, 'approve');
    const done = await until(r.id, 'completed', (x) => x.status === 'completed');
    assert.equal(done.counts.successful, 4);
    await act(r.id, 'approve', 409);
  });

  it('retries transient failures with backoff, and never a permanent one', async () => {
    const { fleet: f, ids, model } = await fleet(2, (index, _op, attempt) => {
      if (index === 0) return attempt < 3 ? { ok: false, code: 'downloadFailed' } : { ok: true };
      return { ok: false, code: 'installFailed' };
    });
    const r = await create({
      displayName: 'retries', ...update, target: { filter: `hardwareDetail/model eq '${model}'` },
      retry: { maxAttempts: 3, initialBackoffSeconds: 60 },
    });
    await act(r.id, 'start');
    const device = async (id: string) => {
      const page = await (await server.request(`/beta/teamwork/softwareRollouts/${r.id}/devices`)).json() as { value: { deviceId: string; state: string; attempts: number; nextAttemptDateTime: string | null; error: { code: string } | null }[] };
      return page.value.find((d) => d.deviceId === id)!;
    };
    const waiting = await waitFor('first retry scheduled', async () => {
      const d = await device(ids[0]);
      return d.state === 'pending' && d.attempts === 1 ? d : null;
    });
    const wait = Date.parse(waiting.nextAttemptDateTime!) - clock.now();
    assert.ok(wait >= 25_000 && wait <= 61_000, `backoff of about 30–60 s, was ${wait} ms`);
    assert.equal(waiting.error?.code, 'downloadFailed');
    const permanent = await waitFor('permanent failure', async () => {
      const d = await device(ids[1]);
      return d.state === 'failed' ? d : null;
    });
    assert.equal(permanent.attempts, 1);
    // Not before its time.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(f.received.get(ids[0])!.length, 1);
    clock.advance(61_000);
    await waitFor('second attempt', async () => (await device(ids[0])).attempts === 2 && (await device(ids[0])).state === 'pending');
    clock.advance(121_000);
    const done = await until(r.id, 'completed', (x) => x.status === 'completed');
    assert.equal(done.counts.successful, 1);
    assert.equal(done.counts.failed, 1);
    assert.equal(f.received.get(ids[0])!.length, 3);
    assert.equal(f.received.get(ids[1])!.length, 1, 'a permanent failure is not retried');
  });

  it('a newer rollout of the same software supersedes an older one\'s pending operations', async () => {
    const { fleet: f, ids } = await fleet(3);
    for (const id of ids) f.holding.add(id);
    const older = await create({ displayName: 'older', ...update, target: { deviceIds: ids } });
    await act(older.id, 'start');
    const asked = await until(older.id, 'operations created', (x) => x.counts.scheduled === 3);
    assert.equal(asked.counts.scheduled, 3);
    const olderDevices = await (await server.request(`/beta/teamwork/softwareRollouts/${older.id}/devices`)).json() as { value: { deviceId: string; operationId: string }[] };
    const newer = await create({ displayName: 'newer', softwareType: 'teamsClient', softwareVersion: '1.0.96.23', target: { deviceIds: ids } });
    await act(newer.id, 'start');
    await until(newer.id, 'operations created', (x) => x.counts.scheduled === 3);
    for (const id of ids) f.holding.delete(id);
    const done = await until(newer.id, 'completed', (x) => x.status === 'completed');
    assert.equal(done.counts.successful, 3);
    const old = await until(older.id, 'completed', (x) => x.status === 'completed');
    assert.equal(old.counts.skippedReasons.superseded, 3);
    for (const d of olderDevices.value) {
      const op = await (await server.request(`/beta/teamwork/devices/${d.deviceId}/operations/${d.operationId}`)).json() as { status: string };
      assert.equal(op.status, 'cancelled', 'the older operation was withdrawn before it started');
    }
    const installed = await server.query('SELECT installed FROM devices WHERE id = ?', [ids[0]]);
    assert.match(String(typeof installed[0].installed === 'string' ? installed[0].installed : JSON.stringify(installed[0].installed)), /1\.0\.96\.23/);
  });

  it('takes devices that enroll later and match, while it runs', async () => {
    const { fleet: f, model } = await fleet(2);
    const r = await create({
      displayName: 'late enrollers', ...update, target: { filter: `hardwareDetail/model eq '${model}'` }, includeNewDevices: true,
      stages: [{ count: 1 }, { percent: 100, requiresApproval: true }],
    });
    await act(r.id, 'start');
    await until(r.id, 'awaiting approval', (x) => x.stages[1].status === 'awaitingApproval');
    const [late] = await f.add(1, model);
    await f.add(1, `${model}-other`);
    await until(r.id, 'late enroller taken', (x) => x.counts.total === 3);
    await act(r.id, 'approve');
    const done = await until(r.id, 'completed', (x) => x.status === 'completed');
    assert.equal(done.counts.successful, 3);
    assert.equal(f.received.get(late)!.length, 1);
  });

  it('cancel withdraws operations not yet started and ends waiting targets', async () => {
    const { fleet: f, ids } = await fleet(4);
    for (const id of ids) f.holding.add(id);
    const r = await create({ displayName: 'cancel me', ...update, target: { deviceIds: ids }, stages: [{ percent: 100, concurrency: 2 }] });
    await act(r.id, 'start');
    await until(r.id, 'two asked', (x) => x.counts.scheduled === 2);
    // An admin's own update of the same software waits behind the rollout's: 409, the Graph rule.
    const devices = await (await server.request(`/beta/teamwork/softwareRollouts/${r.id}/devices`)).json() as { value: { deviceId: string; operationId: string | null; state: string }[] };
    const asked = devices.value.filter((d) => d.state === 'scheduled');
    const direct = await server.request(`/beta/teamwork/devices/${asked[0].deviceId}/updateSoftware`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(update),
    });
    await expectGraphError(direct, 409, 'conflict');
    const cancelled = await (await act(r.id, 'cancel')).json() as RolloutBody;
    assert.equal(cancelled.status, 'cancelled');
    const after = await until(r.id, 'targets ended', (x) => x.counts.cancelled === 4);
    assert.equal(after.counts.scheduled, 0);
    for (const d of asked) {
      const op = await (await server.request(`/beta/teamwork/devices/${d.deviceId}/operations/${d.operationId}`)).json() as { status: string };
      assert.equal(op.status, 'cancelled');
    }
    for (const verb of ['start', 'pause', 'resume', 'cancel']) await act(r.id, verb, 409);
    // Nothing left running: the cancelled rollout has ended, and the scheduler stops following it.
    await until(r.id, 'ended', (x) => x.completedDateTime !== null);
    const followed = await server.store.rollouts.rolloutsIn(['cancelled'], 100);
    assert.ok(!followed.some((x) => x.id === r.id));
  });

  it('notifies subscribers of teamwork/softwareRollouts: created, then each change of status, signed', async () => {
    const receiver = await NotificationReceiver.start();
    try {
      const subscribed = await server.request('/beta/subscriptions', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          changeType: 'created,updated', resource: 'teamwork/softwareRollouts', notificationUrl: receiver.url, clientState: 'rollouts-state',
          expirationDateTime: new Date(clock.now() + 24 * 3600_000).toISOString(),
        }),
      });
      assert.equal(subscribed.status, 201, await subscribed.clone().text());
      const { signingSecret } = await subscribed.json() as { signingSecret: string };
      const { ids } = await fleet(2);
      const r = await create({ displayName: 'notified', ...update, target: { deviceIds: ids } });
      await act(r.id, 'start');
      await until(r.id, 'completed', (x) => x.status === 'completed');
      const mine = () => receiver.changes.filter((c) => c.resourceData.id === r.id);
      await waitFor('the completion notified', async () => mine().some((c) => c.resourceData.status === 'completed'), { timeoutMs: 10_000 });
      assert.deepEqual(mine().map((c) => `${c.changeType}:${c.resourceData.status}`), ['created:notStarted', 'updated:running', 'updated:completed']);
      for (const c of mine()) {
        assert.equal(c.resource, `teamwork/softwareRollouts/${r.id}`);
        assert.equal(c.clientState, 'rollouts-state');
      }
      for (const post of receiver.posts) assert.ok(signatureValid(signingSecret, post.body, post.signature), 'every POST signed');
    } finally {
      await receiver.stop();
    }
  });

  it('goes on after the server restarts', async () => {
    const { model } = await fleet(6);
    const r = await create({
      displayName: 'restart', ...update, target: { filter: `hardwareDetail/model eq '${model}'` },
      stages: [{ count: 2, soakMinutes: 5 }, { percent: 100, concurrency: 1 }],
    });
    await act(r.id, 'start');
    await until(r.id, 'soaking', (x) => x.stages[0].status === 'soaking');
    await server.restart();
    clock.advance(6 * 60_000);
    const done = await until(r.id, 'completed', (x) => x.status === 'completed', 30_000);
    assert.equal(done.counts.successful, 6);
  });
});
