import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { operatorActor } from '../../src/domain/audit.js';
import { createEnrollmentToken } from '../../src/engine/device-administration.js';
import { AgentClient, type AgentReply } from '../../src/device/agent-client.js';
import { agentPaths, type EnrollReply, type EnrollRequest, type WorkItem, type WorkReply } from '../../src/domain/agent-protocol.js';
import type { HardwareDetail } from '../../src/domain/device.js';
import type { Store } from '../../src/store/store.js';
import { tenantA } from './test-server.js';

/**
 * A device agent for tests, over the one agent client (src/device/agent-client.ts) with
 * retries off: every step of docs/agent-protocol.md is one call that returns the Response,
 * so a test decides what the device does and when (unlike the simulator, which runs on its own).
 */

/** An enrollment body as tests write it: loosely typed, since some tests send wrong ones on purpose. */
export type EnrollBody = Omit<EnrollRequest, 'deviceType' | 'hardwareDetail' | 'installed' | 'displayName'> & {
  deviceType: string;
  hardwareDetail: Partial<HardwareDetail>;
  installed?: Record<string, string>;
  displayName?: string | null;
};

/** Creates an enrollment token in the server's store (tenant A unless told otherwise). */
export async function enrollmentToken(server: { store: Store }, tenantId = tenantA, ttlSeconds = 3600, maxUses: number | null = null): Promise<string> {
  return (await createEnrollmentToken(server.store, { tenantId, ttlSeconds, maxUses, description: 'test' }, operatorActor)).token;
}

/** Hardware no other test uses: a fresh uniqueId, serial number and MAC address. */
export function uniqueHardware(overrides: Partial<EnrollBody['hardwareDetail']> = {}): EnrollBody['hardwareDetail'] {
  const mac = [...randomBytes(6)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
  return {
    uniqueId: `uid-${randomUUID()}`,
    serialNumber: `SN-${randomBytes(6).toString('hex')}`,
    manufacturer: 'yealink',
    model: 'a30',
    macAddresses: [mac],
    ...overrides,
  };
}

type Init = { signal?: AbortSignal; credential?: string | null };

export class TestAgent {
  private readonly client: AgentClient;
  deviceId: string | null = null;
  tenantId: string | null = null;

  constructor(readonly baseUrl: string) {
    this.client = new AgentClient({ url: baseUrl, retry: false });
  }

  get credential(): string | null {
    return this.client.credential;
  }

  set credential(value: string | null) {
    this.client.credential = value;
  }

  /** POST /agent/v1/enroll with exactly this body (a string is sent as is). */
  enroll(body: unknown, headers: Record<string, string> = {}, credential: string | null = null): Promise<Response> {
    return this.send('POST', agentPaths.enroll, body, { credential }, headers);
  }

  /** Enrolls (presenting `credential` when given), asserts 200/201, and keeps the device id and credential for the next calls. */
  async enrollOk(body: EnrollBody, expectedStatus?: 200 | 201, credential: string | null = null): Promise<EnrollReply> {
    const reply = await this.client.send<EnrollReply>('POST', agentPaths.enroll, body, { credential });
    if (expectedStatus) assert.equal(reply.status, expectedStatus, reply.text);
    else assert.ok(reply.status === 200 || reply.status === 201, `enroll: ${reply.status} ${reply.text}`);
    const enrolled = reply.body!;
    this.deviceId = enrolled.deviceId;
    this.credential = enrolled.credential;
    this.tenantId = enrolled.tenantId;
    return enrolled;
  }

  /** GET /agent/v1/work?waitSeconds=N */
  poll(waitSeconds = 0, init: Init = {}): Promise<Response> {
    return this.send('GET', `${agentPaths.work}?waitSeconds=${waitSeconds}`, undefined, { timeoutMs: waitSeconds * 1000 + 15_000, ...init });
  }

  ack(operationId: string, init: Init = {}): Promise<Response> {
    return this.send('POST', agentPaths.ack(operationId), undefined, init);
  }

  progress(operationId: string, body: unknown = { percent: 50, message: 'working' }, init: Init = {}): Promise<Response> {
    return this.send('POST', agentPaths.progress(operationId), body, init);
  }

  result(operationId: string, body: unknown, init: Init = {}): Promise<Response> {
    return this.send('POST', agentPaths.result(operationId), body, init);
  }

  inventory(body: unknown, init: Init = {}): Promise<Response> {
    return this.send('POST', agentPaths.inventory, body, init);
  }

  /** Polls and returns the work item, or null on 204; anything else fails the test. */
  async nextWork(waitSeconds = 0): Promise<WorkItem | null> {
    const reply = await this.client.poll(waitSeconds);
    if (reply.status === 204) return null;
    assert.equal(reply.status, 200, `poll: ${reply.status} ${reply.text}`);
    return reply.body!.operation;
  }

  /** Acknowledges, asserting 200; returns the work item now inProgress. */
  async ackOk(operationId: string): Promise<WorkItem> {
    const reply = await this.client.ack(operationId);
    assert.equal(reply.status, 200, `ack: ${reply.status} ${reply.text}`);
    return reply.body!.operation;
  }

  /** Reports a result, asserting 200; returns the finished work item. */
  async resultOk(operationId: string, body: unknown): Promise<WorkItem> {
    const reply = await this.client.send<WorkReply>('POST', agentPaths.result(operationId), body);
    assert.equal(reply.status, 200, `result: ${reply.status} ${reply.text}`);
    return reply.body!.operation;
  }

  /** A request with the device credential (or `credential`, or none when null), answered as a fetch Response. */
  async send(method: string, path: string, body?: unknown, init: Init & { timeoutMs?: number } = {}, headers?: Record<string, string>): Promise<Response> {
    return asResponse(await this.client.send(method, path, body, { ...init, headers }));
  }
}

/** The client's reply as a fetch Response, which the tests' assertions take. */
function asResponse(reply: AgentReply<unknown>): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(reply.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  const nullBody = reply.status === 204 || reply.status === 205 || reply.status === 304 || reply.text === '';
  return new Response(nullBody ? null : reply.text, { status: reply.status, headers });
}

/** An enrollment body for fresh hardware; `overrides` replace top-level fields. */
export function enrollBody(token: string, overrides: Partial<EnrollBody> = {}): EnrollBody {
  return {
    enrollmentToken: token,
    deviceType: 'collaborationBar',
    hardwareDetail: uniqueHardware(),
    installed: { teamsClient: '1.0.96.1', firmware: '122.15.0.40' },
    displayName: 'Conf Room Rainier',
    ...overrides,
  };
}

/** A new device enrolled with a fresh token of the server's tenant A (or the given token). */
export async function enrollAgent(
  server: { url: string; store: Store },
  overrides: Partial<EnrollBody> = {},
): Promise<TestAgent> {
  const agent = new TestAgent(server.url);
  const token = overrides.enrollmentToken ?? (await enrollmentToken(server));
  await agent.enrollOk(enrollBody(token, overrides), 201);
  return agent;
}
