import assert from 'node:assert/strict';
import { expectGraphError } from './http-assertions.js';
import type { TestServer } from './test-server.js';

const devicesPath = '/beta/teamwork/devices';

/** A 401 for a token that was sent (RFC 6750's invalid_token challenge) whose message says why. */
export async function expect401(response: Response, message: RegExp): Promise<void> {
  assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer realm="teamwork-devices", error="invalid_token"/);
  const error = await expectGraphError(response, 401, 'unauthenticated');
  assert.match(error.message, message);
}

/** The ids of the first page of devices the token sees (asserting it is let in). */
export async function listIds(server: TestServer, token: string): Promise<string[]> {
  const response = await server.request(`${devicesPath}?$top=50`, { token });
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { value: { id: string }[] }).value.map((d) => d.id).sort();
}
