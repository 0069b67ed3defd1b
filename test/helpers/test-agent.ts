import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createEnrollmentToken } from '../../src/agent/enrollment.js';
import type { Store } from '../../src/store/store.js';
import { tenantA } from './test-server.js';

/**
 * A raw-HTTP device agent for tests: every step of docs/agent-protocol.md is one call that
 * returns the Response, so a test decides what the device does and when (unlike the
 * simulator, which runs on its own).
 */

export interface WorkItem {
  id: string;
  operationType: string;
  softwareType: string | null;
  softwareVersion: string | null;
  status: string;
  cancelRequested: boolean;
  createdDateTime: string;
  startedDateTime: string | null;
}

export interface EnrollBody {
  enrollmentToken: string;
  deviceType: string;
  hardwareDetail: {
    uniqueId?: string | null;
    serialNumber?: string | null;
    manufacturer?: string | null;
    model?: string | null;
    macAddresses?: string[];
  };
  installed?: Record<string, string>;
  displayName?: string | null;
}

export interface Enrolled {
  tenantId: string;
  deviceId: string;
  credential: string;
  longPollSeconds: number;
}

/** Creates an enrollment token in the server's store (tenant A unless told otherwise). */
export async function enrollmentToken(server: { store: Store }, tenantId = tenantA, ttlSeconds = 3600): Promise<string> {
  return (await createEnrollmentToken(server.store, tenantId, ttlSeconds)).token;
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

export class TestAgent {
  deviceId: string | null = null;
  credential: string | null = null;
  tenantId: string | null = null;

  constructor(readonly baseUrl: string) {}

  /** POST /agent/v1/enroll with exactly this body (a string is sent as is). */
  enroll(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.baseUrl}/agent/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  /** Enrolls, asserts 200/201, and keeps the device id and credential for the next calls. */
  async enrollOk(body: EnrollBody, expectedStatus?: 200 | 201): Promise<Enrolled> {
    const response = await this.enroll(body);
    const text = await response.text();
    if (expectedStatus) assert.equal(response.status, expectedStatus, text);
    else assert.ok(response.status === 200 || response.status === 201, `enroll: ${response.status} ${text}`);
    const enrolled = JSON.parse(text) as Enrolled;
    this.deviceId = enrolled.deviceId;
    this.credential = enrolled.credential;
    this.tenantId = enrolled.tenantId;
    return enrolled;
  }

  /** GET /agent/v1/work?waitSeconds=N */
  poll(waitSeconds = 0, init: { signal?: AbortSignal; credential?: string | null } = {}): Promise<Response> {
    return this.send('GET', `/agent/v1/work?waitSeconds=${waitSeconds}`, undefined, init);
  }

  ack(operationId: string, init: { credential?: string | null } = {}): Promise<Response> {
    return this.send('POST', `/agent/v1/operations/${operationId}/ack`, undefined, init);
  }

  progress(operationId: string, body: unknown = { percent: 50, message: 'working' }, init: { credential?: string | null } = {}): Promise<Response> {
    return this.send('POST', `/agent/v1/operations/${operationId}/progress`, body, init);
  }

  result(operationId: string, body: unknown, init: { credential?: string | null } = {}): Promise<Response> {
    return this.send('POST', `/agent/v1/operations/${operationId}/result`, body, init);
  }

  inventory(body: unknown, init: { credential?: string | null } = {}): Promise<Response> {
    return this.send('POST', '/agent/v1/inventory', body, init);
  }

  /** Polls and returns the work item, or null on 204; anything else fails the test. */
  async nextWork(waitSeconds = 0): Promise<WorkItem | null> {
    const response = await this.poll(waitSeconds);
    const text = await response.text();
    if (response.status === 204) return null;
    assert.equal(response.status, 200, `poll: ${response.status} ${text}`);
    return (JSON.parse(text) as { operation: WorkItem }).operation;
  }

  /** Acknowledges, asserting 200; returns the work item now inProgress. */
  async ackOk(operationId: string): Promise<WorkItem> {
    const response = await this.ack(operationId);
    const text = await response.text();
    assert.equal(response.status, 200, `ack: ${response.status} ${text}`);
    return (JSON.parse(text) as { operation: WorkItem }).operation;
  }

  /** Reports a result, asserting 200; returns the finished work item. */
  async resultOk(operationId: string, body: unknown): Promise<WorkItem> {
    const response = await this.result(operationId, body);
    const text = await response.text();
    assert.equal(response.status, 200, `result: ${response.status} ${text}`);
    return (JSON.parse(text) as { operation: WorkItem }).operation;
  }

  /** A request with the device credential (or `credential`, or none when null). */
  send(method: string, path: string, body?: unknown, init: { signal?: AbortSignal; credential?: string | null } = {}): Promise<Response> {
    const headers: Record<string, string> = {};
    const credential = init.credential === undefined ? this.credential : init.credential;
    if (credential !== null) headers.authorization = `Bearer ${credential}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return fetch(this.baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: init.signal,
    });
  }
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
