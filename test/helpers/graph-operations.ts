import assert from 'node:assert/strict';
import { postJson, type TestServer } from './test-server.js';

/** The Graph side of an operation, as admins see it. */
export interface GraphOperation {
  id: string;
  status: string;
  operationType: string;
  error: { code: string | null; message: string | null } | null;
  startedDateTime: string | null;
  completedDateTime: string | null;
  createdDateTime: string;
  lastActionDateTime: string;
  createdBy: unknown;
  lastActionBy: { application: unknown; device: { id: string } | null; user: unknown } | null;
}

export type ActionName = 'updateSoftware' | 'restart' | 'runDiagnostics';

/** POSTs an action; returns the raw response. */
export function postAction(server: TestServer, deviceId: string, action: ActionName, body?: unknown, token?: string): Promise<Response> {
  const path = `/beta/teamwork/devices/${deviceId}/${action}`;
  if (body === undefined) return server.request(path, { method: 'POST', token });
  return postJson(server, path, body, { token });
}

/** POSTs an action, asserts 202 and returns the new operation's id (from the Location). */
export async function requestOperation(server: TestServer, deviceId: string, action: ActionName, body?: unknown): Promise<string> {
  const response = await postAction(server, deviceId, action, body);
  const text = await response.text();
  assert.equal(response.status, 202, `${action}: ${response.status} ${text}`);
  const location = response.headers.get('location');
  assert.ok(location?.startsWith(`/teamwork/devices/${deviceId}/operations/`), `Location ${location}`);
  return location!.split('/').pop()!;
}

/** GET /beta/teamwork/devices/{id}/operations/{opId}, asserting 200. */
export async function graphOperation(server: TestServer, deviceId: string, operationId: string): Promise<GraphOperation> {
  const response = await server.request(`/beta/teamwork/devices/${deviceId}/operations/${operationId}`);
  const text = await response.text();
  assert.equal(response.status, 200, `GET operation: ${response.status} ${text}`);
  return JSON.parse(text) as GraphOperation;
}

/** GET a device or one of its documents (health, configuration, activity), asserting 200. */
export async function graphDevice<T = Record<string, unknown>>(server: TestServer, deviceId: string, document = ''): Promise<T> {
  const response = await server.request(`/beta/teamwork/devices/${deviceId}${document ? `/${document}` : ''}`);
  const text = await response.text();
  assert.equal(response.status, 200, `GET device${document ? ` ${document}` : ''}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

export interface SoftwareUpdateStatus {
  currentVersion: string | null;
  availableVersion: string | null;
  softwareFreshness: string;
}

/** A device's health.softwareUpdateHealth: one status (or null) per `<type>SoftwareUpdateStatus`. */
export async function softwareUpdateHealth(server: TestServer, deviceId: string): Promise<Record<string, SoftwareUpdateStatus | null>> {
  return (await graphDevice<{ softwareUpdateHealth: Record<string, SoftwareUpdateStatus | null> }>(server, deviceId, 'health')).softwareUpdateHealth;
}

/** POST …/operations/{opId}/cancel (an extension beyond Graph). */
export function cancelOperation(server: TestServer, deviceId: string, operationId: string): Promise<Response> {
  return server.request(`/beta/teamwork/devices/${deviceId}/operations/${operationId}/cancel`, { method: 'POST' });
}

/** The operations rows of one device, oldest first. */
export function deviceOperationRows(server: TestServer, deviceId: string): Promise<Record<string, unknown>[]> {
  return server.query('SELECT * FROM operations WHERE device_id = ? ORDER BY seq', [deviceId]);
}

/** One operations row by id. */
export async function operationRow(server: TestServer, operationId: string): Promise<Record<string, unknown>> {
  const [row] = await server.query('SELECT * FROM operations WHERE id = ?', [operationId]);
  assert.ok(row, `operation ${operationId} in the database`);
  return row;
}
