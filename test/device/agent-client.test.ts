import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AgentClient } from '../../src/device/agent-client.js';
import type { AgentRequest, AgentResponse, AgentTransport } from '../../src/device/agent-transport.js';
import { SeededRandom } from '../../src/seed/seeded-random.js';

/**
 * The client's retry rules against a scripted transport: what is tried again (connection
 * errors, 408/429/5xx), what is not (other 4xx), how long it waits, and that a stop ends it.
 */

type Step = AgentResponse | Error;

/** A transport that answers with `steps` in turn and records what it was sent. */
function scripted(steps: Step[]): { transport: AgentTransport; sent: AgentRequest[] } {
  const sent: AgentRequest[] = [];
  const transport: AgentTransport = async (request) => {
    sent.push(request);
    const step = steps.shift();
    if (!step) throw new Error('no more scripted answers');
    if (step instanceof Error) throw step;
    return step;
  };
  return { transport, sent };
}

const ok = (body: unknown): AgentResponse => ({ status: 200, text: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const graphError = (status: number, code: string, headers: Record<string, string> = {}): AgentResponse => ({
  status, text: JSON.stringify({ error: { code, message: `${code} happened` } }), headers,
});
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
const fast = { baseMs: 1, capMs: 5 };

describe('agent client', () => {
  test('connection errors and 5xx are tried again until an answer; the credential goes with every attempt', async () => {
    const { transport, sent } = scripted([refused(), graphError(503, 'serviceUnavailable'), ok({ healthStatus: 'healthy' })]);
    const retried: string[] = [];
    const client = new AgentClient({ url: 'http://x', transport, credential: 'twd-device.d.s', retry: fast, onRetry: (_, reason) => retried.push(reason) });
    const reply = await client.inventory({ activityState: 'idle' });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { healthStatus: 'healthy' });
    assert.deepEqual(retried, ['ECONNREFUSED', 'HTTP 503']);
    assert.equal(sent.length, 3);
    for (const request of sent) {
      assert.equal(request.headers.authorization, 'Bearer twd-device.d.s');
      assert.equal(request.body, '{"activityState":"idle"}');
    }
  });

  test('other 4xx are answers, not failures: returned at once with their Graph error', async () => {
    const { transport, sent } = scripted([graphError(409, 'conflict')]);
    const reply = await new AgentClient({ url: 'http://x', transport, retry: fast }).ack('op-1');
    assert.equal(reply.status, 409);
    assert.deepEqual(reply.error, { code: 'conflict', message: 'conflict happened' });
    assert.equal(reply.body, null);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].path, '/agent/v1/operations/op-1/ack');
  });

  test('after the last attempt the last transient reply is returned, and the last error thrown', async () => {
    const busy = scripted([graphError(500, 'internal'), graphError(502, 'badGateway')]);
    const reply = await new AgentClient({ url: 'http://x', transport: busy.transport, retry: { ...fast, attempts: 2 } }).poll(0);
    assert.equal(reply.status, 502);
    const down = scripted([refused(), refused()]);
    await assert.rejects(new AgentClient({ url: 'http://x', transport: down.transport, retry: { ...fast, attempts: 2 } }).poll(0), /ECONNREFUSED/);
    assert.equal(down.sent.length, 2);
  });

  test('429 waits the Retry-After, stretched by at most half', async () => {
    const { transport } = scripted([graphError(429, 'tooManyRequests', { 'retry-after': '1' }), ok({ cancelRequested: false })]);
    const client = new AgentClient({ url: 'http://x', transport, retry: fast, random: new SeededRandom(1) });
    const started = Date.now();
    const reply = await client.progress('op-1', { percent: 10, message: null });
    const waited = Date.now() - started;
    assert.equal(reply.status, 200);
    assert.ok(waited >= 1000 && waited < 1600, `waited ${waited} ms`);
  });

  test('retry: false sends once; the long-poll gets its wait plus a margin as timeout', async () => {
    const { transport, sent } = scripted([graphError(503, 'serviceUnavailable')]);
    const reply = await new AgentClient({ url: 'http://x', transport, retry: false }).poll(20);
    assert.equal(reply.status, 503);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].path, '/agent/v1/work?waitSeconds=20');
    assert.equal(sent[0].timeoutMs, 35_000);
  });

  test('a stop during the backoff ends the call at once', async () => {
    const stop = new AbortController();
    const { transport } = scripted([refused(), refused()]);
    const client = new AgentClient({ url: 'http://x', transport, signal: stop.signal, retry: { baseMs: 10_000, capMs: 10_000 } });
    const started = Date.now();
    const call = client.poll(0);
    setTimeout(() => stop.abort(), 50);
    await assert.rejects(call);
    assert.ok(Date.now() - started < 2000, 'not the 5-10 s backoff');
  });

  test('enroll keeps the credential it is given, and sends none itself', async () => {
    const enrolled = { tenantId: 't', deviceId: 'd', credential: 'twd-device.d.new', longPollSeconds: 30 };
    const { transport, sent } = scripted([{ ...ok(enrolled), status: 201 }, ok({ healthStatus: 'healthy' })]);
    const client = new AgentClient({ url: 'http://x', transport, credential: 'twd-device.d.old' });
    const reply = await client.enroll({
      enrollmentToken: 'twd-enroll.x', deviceType: 'collaborationBar', displayName: null, installed: {},
      hardwareDetail: { uniqueId: 'u', serialNumber: null, manufacturer: null, model: null, macAddresses: [] },
    });
    assert.equal(reply.status, 201);
    assert.equal(sent[0].headers.authorization, undefined);
    await client.inventory({});
    assert.equal(sent[1].headers.authorization, 'Bearer twd-device.d.new');
  });
});
