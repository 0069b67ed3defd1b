import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { AgentClient } from '../../src/device/agent-client.js';
import { enrollmentToken, uniqueHardware } from '../helpers/test-agent.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * An agent's stop signal lives as long as the agent (the simulated fleet's, as long as
 * `serve --simulate`): the requests made under it must leave nothing attached to it. With
 * AbortSignal.any, Node 20 kept one entry per request on the stop signal for ever (the leak the
 * soak benchmark found). Real requests over HTTP to a real server, with the default transport
 * (fetch), as the in-process simulated fleet makes them.
 */

/**
 * Composite signals registered on `signal` (Node's internal kDependantSignals set, found by its
 * description; none when a Node version has no such set). Read-only: the test only counts.
 */
function dependants(signal: AbortSignal): number {
  const key = Object.getOwnPropertySymbols(signal).find((symbol) => symbol.description === 'kDependantSignals');
  const set = key ? (signal as unknown as Record<symbol, { size: number } | undefined>)[key] : undefined;
  return set?.size ?? 0;
}

describe('agent requests under a long-lived stop signal', () => {
  let server: TestServer;
  before(async () => {
    // two hundred requests from one device in a second or two: past the per-device limit, which is not under test
    server = await startTestServer({ config: { agentRateLimit: null } });
  });
  after(() => server.stop());

  test('a hundred requests leave no listener and no dependant signal on the stop signals', async () => {
    const stop = new AbortController();
    const call = new AbortController();
    const client = new AgentClient({ url: server.url, retry: false, signal: stop.signal });
    const enrolled = await client.enroll({
      enrollmentToken: await enrollmentToken(server),
      deviceType: 'collaborationBar',
      hardwareDetail: { ...uniqueHardware(), uniqueId: `signals-${Date.now()}` },
    } as Parameters<AgentClient['enroll']>[0]);
    assert.equal(enrolled.status, 201, enrolled.text);
    for (let i = 0; i < 100; i++) {
      // both the client's signal and a call's own: the case the client combined with AbortSignal.any
      const reply = await client.inventory({ activityState: 'idle' }, { signal: call.signal });
      assert.equal(reply.status, 200, reply.text);
      const poll = await client.poll(0);
      assert.equal(poll.status, 204, poll.text);
    }
    assert.equal(getEventListeners(stop.signal, 'abort').length, 0);
    assert.equal(getEventListeners(call.signal, 'abort').length, 0);
    assert.equal(dependants(stop.signal), 0);
    assert.equal(dependants(call.signal), 0);
  });

  test('the stop signal still ends a waiting long-poll at once, and a timeout still ends a request', async () => {
    const stop = new AbortController();
    const client = new AgentClient({ url: server.url, retry: false, signal: stop.signal });
    const enrolled = await client.enroll({
      enrollmentToken: await enrollmentToken(server),
      deviceType: 'collaborationBar',
      hardwareDetail: { ...uniqueHardware(), uniqueId: `signals-stop-${Date.now()}` },
    } as Parameters<AgentClient['enroll']>[0]);
    assert.equal(enrolled.status, 201, enrolled.text);
    const started = Date.now();
    const poll = client.poll(30, { signal: new AbortController().signal });
    setTimeout(() => stop.abort(), 200);
    await assert.rejects(poll, (error: Error) => error.name === 'AbortError');
    assert.ok(Date.now() - started < 5000, `the poll ended ${Date.now() - started} ms after it began`);
    const timed = new AgentClient({ url: server.url, retry: false, credential: client.credential, timeoutMs: 300 });
    // the server holds the poll for 30 s; the request's own 300 ms timeout ends it
    await assert.rejects(timed.send('GET', '/agent/v1/work?waitSeconds=30'), (error: Error) => error.name === 'TimeoutError');
  });
});
