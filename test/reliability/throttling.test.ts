import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deviceIds, expectGraphError } from '../helpers/http-assertions.js';
import { testStore } from '../helpers/test-database.js';
import { postJson, startTestServer, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * Throttling (`--rate-limit`): token buckets per tenant and application. Over the limit a
 * request gets 429 activityLimitReached with Retry-After; other tenants are not affected;
 * after Retry-After the caller gets through again; off by default; shared by replicas on
 * PostgreSQL.
 */

/** Asserts a 429 activityLimitReached with an integer Retry-After ≥ 1; returns the seconds. */
async function expectThrottled(response: Response, what = 'throttled request'): Promise<number> {
  const retryAfter = response.headers.get('retry-after');
  await expectGraphError(response, 429, 'activityLimitReached').catch((error: Error) => {
    throw new Error(`${what}: ${error.message}`);
  });
  assert.match(retryAfter ?? '', /^\d+$/, `${what}: Retry-After ${retryAfter}`);
  const seconds = Number(retryAfter);
  assert.ok(seconds >= 1 && seconds <= 60, `${what}: Retry-After ${seconds}`);
  return seconds;
}

/** Sends `count` requests one after the other as fast as possible; statuses and elapsed seconds. */
async function burst(count: number, send: (i: number) => Promise<Response>): Promise<{ responses: Response[]; seconds: number }> {
  const started = performance.now();
  const responses: Response[] = [];
  for (let i = 0; i < count; i++) responses.push(await send(i));
  return { responses, seconds: (performance.now() - started) / 1000 };
}

/** The most that may pass: the bucket's capacity plus what refills while the burst runs. */
const allowance = (capacity: number, perSecond: number, seconds: number) => capacity + Math.ceil(perSecond * seconds);

describe('--rate-limit 5', () => {
  let server: TestServer;
  let ids: string[];

  before(async () => {
    server = await startTestServer({ devicesA: 3, devicesB: 2, config: { rateLimit: '5' } });
    ids = await deviceIds(server, 3);
    // deviceIds used up to a token of the bucket; let it refill completely.
    await new Promise((resolve) => setTimeout(resolve, 1200));
  });

  after(async () => {
    await server?.stop();
  });

  test('a burst of 20 GETs: the first 5 pass, then 429 activityLimitReached with Retry-After; other tenants are not throttled; after Retry-After it passes again', { timeout: 30_000 }, async () => {
    const { responses, seconds } = await burst(20, () => server.request(`/beta/teamwork/devices/${ids[0]}`));
    const statuses = responses.map((r) => r.status);
    assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200], statuses.join(' '));
    const passed = statuses.filter((s) => s === 200).length;
    assert.ok(allowance(5, 5, seconds) < responses.length, `the burst took ${seconds.toFixed(3)} s: too slow to show throttling`);
    assert.ok(passed <= allowance(5, 5, seconds), `${passed} passed in ${seconds.toFixed(3)} s: ${statuses.join(' ')}`);
    assert.ok(statuses.every((s) => s === 200 || s === 429), statuses.join(' '));
    let retryAfter = 0;
    for (const response of responses) {
      if (response.status === 429) retryAfter = await expectThrottled(response);
      else await response.text();
    }
    assert.ok(retryAfter >= 1, 'some requests were throttled');

    // Another tenant has its own bucket.
    const other = await server.token({ tenantId: tenantB });
    for (let i = 0; i < 4; i++) {
      const response = await server.request('/beta/teamwork/devices?$top=2', { token: other });
      const text = await response.text();
      assert.equal(response.status, 200, `tenant B request ${i}: ${text}`);
      const page = JSON.parse(text) as { value: unknown[] };
      assert.equal(page.value.length, 2);
    }

    // Still throttled, as an action too, and a throttled action creates nothing. (What refilled
    // meanwhile is used up first; at 5/s at most one of three quick actions can find a token.)
    for (let i = 0; i < 10 && (await server.request(`/beta/teamwork/devices/${ids[0]}`)).status === 200; i++);
    const types = ['firmware', 'operatingSystem', 'companyPortal'];
    const actions: Response[] = [];
    for (const softwareType of types) {
      actions.push(await postJson(server, `/beta/teamwork/devices/${ids[1]}/updateSoftware`, { softwareType, softwareVersion: '7.0.1' }));
    }
    assert.ok(actions.filter((r) => r.status === 429).length >= 2, actions.map((r) => r.status).join(' '));
    for (const [i, response] of actions.entries()) {
      const rows = await server.query('SELECT id FROM operations WHERE device_id = ? AND software_type = ?', [ids[1], types[i]]);
      if (response.status === 202) {
        assert.equal(rows.length, 1);
        continue;
      }
      retryAfter = await expectThrottled(response, `action ${i} while throttled`);
      assert.deepEqual(rows, [], 'a throttled action creates no operation');
    }

    // A client that waits Retry-After gets through.
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    const again = await server.request(`/beta/teamwork/devices/${ids[0]}`);
    assert.equal(again.status, 200, await again.text());
    const accepted = await postJson(server, `/beta/teamwork/devices/${ids[1]}/updateSoftware`, { softwareType: 'teamsClient', softwareVersion: '7.0.1' });
    assert.equal(accepted.status, 202, await accepted.text());
  });

  test('concurrent bursts are limited just the same', { timeout: 30_000 }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: 20 }, () => server.request(`/beta/teamwork/devices/${ids[2]}?$select=id`)));
    const seconds = (performance.now() - started) / 1000;
    const passed = responses.filter((r) => r.status === 200).length;
    assert.ok(allowance(5, 5, seconds) < responses.length, `the burst took ${seconds.toFixed(3)} s: too slow to show throttling`);
    assert.ok(passed >= 5 && passed <= allowance(5, 5, seconds), `${passed} of 20 passed in ${seconds.toFixed(3)} s`);
    for (const response of responses) {
      if (response.status === 429) await expectThrottled(response);
      else assert.equal(response.status, 200, await response.text());
    }
  });
});

describe('--rate-limit graph', () => {
  let server: TestServer;
  let ids: string[];

  before(async () => {
    server = await startTestServer({ devicesA: 2, config: { rateLimit: 'graph' } });
    ids = await deviceIds(server, 2);
    await new Promise((resolve) => setTimeout(resolve, 1200));
  });

  after(async () => {
    await server?.stop();
  });

  test('100 quick GETs: at most about 30 pass in the first second; writes have a bucket of their own', { timeout: 30_000 }, async () => {
    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: 100 }, () => server.request(`/beta/teamwork/devices/${ids[0]}?$select=id`)));
    const seconds = (performance.now() - started) / 1000;
    const passed = responses.filter((r) => r.status === 200).length;
    assert.ok(allowance(30, 30, seconds) < responses.length, `the burst took ${seconds.toFixed(3)} s: too slow to show throttling`);
    assert.ok(passed >= 30 || seconds > 1, `the bucket holds 30: ${passed} passed in ${seconds.toFixed(3)} s`);
    assert.ok(passed <= allowance(30, 30, seconds), `${passed} of 100 passed in ${seconds.toFixed(3)} s`);
    assert.ok(passed < responses.length, 'some were throttled');
    for (const response of responses) {
      if (response.status === 429) await expectThrottled(response);
      else assert.equal(response.status, 200, await response.text());
    }
    // GETs are throttled, actions are not: Graph counts them separately.
    const action = await server.request(`/beta/teamwork/devices/${ids[1]}/restart`, { method: 'POST' });
    assert.equal(action.status, 202, await action.text());
  });
});

describe('no --rate-limit (the default)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ devicesA: 2 });
  });

  after(async () => {
    await server?.stop();
  });

  test('100 quick requests are never throttled', { timeout: 30_000 }, async () => {
    const statuses: number[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: 20 }, async () => {
      while (next < 100) {
        next++;
        const response = await server.request('/beta/teamwork/devices?$top=1&$select=id');
        statuses.push(response.status);
        await response.text();
      }
    }));
    assert.equal(statuses.length, 100);
    assert.deepEqual(statuses.filter((s) => s !== 200), []);
  });
});

describe('two replicas on one PostgreSQL share the buckets', { skip: testStore !== 'postgres' && 'PostgreSQL only' }, () => {
  let first: TestServer;
  let second: TestServer;
  let ids: string[];

  before(async () => {
    first = await startTestServer({ devicesA: 2, config: { rateLimit: '5' } });
    second = await startTestServer({ config: { rateLimit: '5', db: first.dbPath } });
    ids = await deviceIds(first, 2);
    await new Promise((resolve) => setTimeout(resolve, 1200));
  });

  after(async () => {
    await second?.stop();
    await first?.stop();
  });

  test('a burst split across both replicas is limited to one bucket\'s capacity', { timeout: 30_000 }, async () => {
    const servers = [first, second];
    const { responses, seconds } = await burst(20, (i) => servers[i % 2].request(`/beta/teamwork/devices/${ids[0]}?$select=id`));
    const passed = responses.filter((r) => r.status === 200).length;
    const statuses = responses.map((r) => r.status).join(' ');
    // Separate buckets would let up to 10 through.
    assert.ok(passed >= 5 && passed <= allowance(5, 5, seconds), `${passed} of 20 passed in ${seconds.toFixed(3)} s: ${statuses}`);
    assert.ok(passed < 10, `the replicas share the bucket: ${statuses}`);
    for (const [i, response] of responses.entries()) {
      if (response.status === 429) await expectThrottled(response, `replica ${i % 2}`);
      else assert.equal(response.status, 200, await response.text());
    }
    assert.ok(responses.some((r, i) => i % 2 === 0 && r.status === 429) && responses.some((r, i) => i % 2 === 1 && r.status === 429), statuses);
  });
});
