import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { SoftwareType } from '../../src/domain/enums.js';
import { freshDatabase, runCli, ServeProcess, type FreshDatabase } from '../helpers/cli-process.js';
import { inFlightRequest, plainRequest, type PlainResponse } from '../helpers/plain-http.js';
import { offerIn, offersOf } from '../helpers/test-catalog.js';
import { queryDatabase, testStore } from '../helpers/test-database.js';
import { enrollBody, uniqueHardware } from '../helpers/test-agent.js';

/**
 * Crash and shutdown of the real process (`teamwork-devices serve` as a child process):
 * a 202 is a promise that survives SIGKILL, and SIGTERM drains instead of dropping work.
 */

const tenant = '5f0e9d8c-7b6a-4958-8473-6a5b4c3d2e1f';
const softwareTypes: SoftwareType[] = ['teamsClient', 'firmware', 'operatingSystem', 'adminAgent', 'partnerAgent', 'companyPortal'];
const statuses = ['queued', 'scheduled', 'inProgress', 'successful', 'failed', 'cancelled'];
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Job {
  index: number;
  deviceId: string;
  softwareType: SoftwareType;
  softwareVersion: string;
}

type Outcome =
  | { job: Job; kind: 'answered'; status: number; location: string | null; text: string }
  | { job: Job; kind: 'noAnswer'; error: string };

function iso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value.toISOString() : String(value);
}

async function seededDatabase(devices: number): Promise<{ database: FreshDatabase; token: string; deviceIds: string[] }> {
  const database = await freshDatabase();
  await runCli(['seed', '--db', database.db, '--tenant', tenant, '--devices', String(devices)]);
  const token = (await runCli(['token', '--db', database.db, '--tenant', tenant])).stdout.trim();
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'token prints only a JWT');
  const rows = await queryDatabase<{ id: string }>(database.db, 'SELECT id FROM devices WHERE tenant_id = ? ORDER BY id', [tenant]);
  assert.equal(rows.length, devices);
  return { database, token, deviceIds: rows.map((r) => r.id) };
}

describe('SIGKILL in the middle of a burst of updateSoftware requests', () => {
  let database: FreshDatabase;
  let token: string;
  let deviceIds: string[];
  const servers: ServeProcess[] = [];

  before(async () => {
    ({ database, token, deviceIds } = await seededDatabase(600));
  });

  after(async () => {
    for (const server of servers) await server.stop(1000);
    await database?.drop();
  });

  test('every 202 survives the crash as a queued operation; nothing is half-written', { timeout: 90_000 }, async (t) => {
    const started = Date.now();
    const phase = (what: string) => t.diagnostic(`${what} at ${Date.now() - started} ms`);
    const jobs: Job[] = [];
    for (let index = 0; index < deviceIds.length * softwareTypes.length; index++) {
      jobs.push({
        index,
        deviceId: deviceIds[index % deviceIds.length],
        softwareType: softwareTypes[Math.floor(index / deviceIds.length)],
        softwareVersion: `1.0.${index}`,
      });
    }
    // Each job's own version: the catalog offers exactly these.
    await offerIn(database.db, tenant, jobs.map((job) => ({ softwareType: job.softwareType, version: job.softwareVersion })));
    const first = await ServeProcess.start(database.db);
    servers.push(first);

    const outcomes: Outcome[] = [];
    let next = 0;
    let answered = 0;
    let killed = false;
    const inFlightAtKill: number[] = [];
    let inFlight = 0;
    // Workers keep the pipeline full until the server is really gone (the signal takes a moment
    // to land, and requests answered meanwhile count as answered), so the kill hits requests in flight.
    const worker = async () => {
      while (next < jobs.length) {
        const job = jobs[next++];
        inFlight++;
        try {
          const response = await fetch(`${first.url}/beta/teamwork/devices/${job.deviceId}/updateSoftware`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ softwareType: job.softwareType, softwareVersion: job.softwareVersion }),
          });
          // The status line and Location are what the client was promised; record them before the body.
          const outcome: Outcome = { job, kind: 'answered', status: response.status, location: response.headers.get('location'), text: '' };
          outcomes.push(outcome);
          answered++;
          if (answered >= 300 && !killed) {
            killed = true;
            inFlightAtKill.push(inFlight - 1);
            first.kill('SIGKILL');
          }
          outcome.text = await response.text().catch(() => '');
        } catch (error) {
          outcomes.push({ job, kind: 'noAnswer', error: String((error as Error).cause ?? error) });
          assert.ok(killed, `a request failed before the kill: ${String((error as Error).cause ?? error)}`);
          return;
        } finally {
          inFlight--;
        }
      }
    };
    await Promise.all(Array.from({ length: 40 }, worker));
    phase(`SIGKILL sent at the 300th answer with ${inFlightAtKill[0]} requests in flight; ${answered} answered in all`);
    const exit = await first.exitWithin(10_000);
    assert.ok(exit, 'the killed server exited');
    assert.equal(exit.signal, 'SIGKILL');

    const accepted = outcomes.filter((o): o is Extract<Outcome, { kind: 'answered' }> => o.kind === 'answered');
    const unanswered = outcomes.filter((o) => o.kind === 'noAnswer');
    for (const o of accepted) assert.equal(o.status, 202, `before the crash every distinct request is accepted: ${o.status} ${o.text}`);
    assert.ok(accepted.length >= 300, `answered ${accepted.length}`);
    assert.ok(inFlightAtKill[0] > 0 && unanswered.length > 0, `the kill hit requests in flight (${inFlightAtKill[0]} in flight, ${unanswered.length} unanswered)`);
    phase(`${accepted.length} answered, ${unanswered.length} without an answer`);

    // Restart on the same database.
    const second = await ServeProcess.start(database.db);
    servers.push(second);

    phase('restarted');
    // Every promised operation is there, still queued, as Graph shows it.
    const promised = accepted.map((o) => {
      assert.ok(o.location, 'a 202 has a Location');
      const match = /^\/teamwork\/devices\/([^/]+)\/operations\/([^/]+)$/.exec(o.location);
      assert.ok(match, `Location ${o.location}`);
      assert.equal(match[1], o.job.deviceId);
      return { job: o.job, location: o.location, operationId: match[2] };
    });
    let cursor = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (cursor < promised.length) {
        const p = promised[cursor++];
        const response = await fetch(second.url + p.location, { headers: { authorization: `Bearer ${token}` } });
        const text = await response.text();
        assert.equal(response.status, 200, `GET ${p.location} after the crash: ${response.status} ${text}`);
        const operation = JSON.parse(text) as { id: string; status: string; operationType: string };
        assert.equal(operation.id, p.operationId);
        assert.equal(operation.status, 'queued');
        assert.equal(operation.operationType, 'softwareUpdate');
      }
    }));

    phase(`${promised.length} promised operations read back`);
    // The table holds only whole, well-formed operations of requests that were really sent.
    const sent = new Map(outcomes.map((o) => [`${o.job.deviceId}|${o.job.softwareType}`, o.job]));
    const rows = await queryDatabase<Record<string, unknown>>(database.db, 'SELECT * FROM operations ORDER BY seq');
    const seen = new Set<string>();
    for (const row of rows) {
      const key = `${row.device_id}|${row.software_type}`;
      const what = `operation row ${JSON.stringify(row)}`;
      assert.ok(statuses.includes(String(row.status)), what);
      assert.equal(row.status, 'queued', what);
      assert.match(String(row.id), uuid, what);
      assert.equal(row.tenant_id, tenant, what);
      assert.equal(row.operation_type, 'softwareUpdate', what);
      const created = iso(row.created_at);
      assert.ok(created && !Number.isNaN(Date.parse(created)), `created_at set: ${what}`);
      assert.ok(iso(row.last_action_at), `last_action_at set: ${what}`);
      assert.equal(row.started_at, null, what);
      assert.equal(row.completed_at, null, what);
      assert.equal(row.error_code, null, what);
      const job = sent.get(key);
      assert.ok(job, `the row belongs to a request that was sent: ${what}`);
      assert.equal(row.software_version, job.softwareVersion, `the row holds what its request asked for: ${what}`);
      assert.ok(!seen.has(key), `one pending operation per device and softwareType: ${what}`);
      seen.add(key);
    }
    const rowIds = new Set(rows.map((r) => String(r.id)));
    const lost = promised.filter((p) => !rowIds.has(p.operationId));
    assert.deepEqual(lost, [], 'no accepted operation is lost');
    assert.ok(rows.length <= accepted.length + unanswered.length);

    if (testStore === 'sqlite') {
      const [check] = await queryDatabase<{ integrity_check: string }>(database.db, 'PRAGMA integrity_check');
      assert.equal(check.integrity_check, 'ok');
    }

    phase(`${rows.length} rows checked`);
    // Requests that got no answer may or may not have been written, but never half: sending
    // them again is a 409 exactly when their operation exists, else a fresh 202.
    for (const o of unanswered) {
      const exists = seen.has(`${o.job.deviceId}|${o.job.softwareType}`);
      const response = await fetch(`${second.url}/beta/teamwork/devices/${o.job.deviceId}/updateSoftware`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ softwareType: o.job.softwareType, softwareVersion: o.job.softwareVersion }),
      });
      const text = await response.text();
      assert.equal(response.status, exists ? 409 : 202, `retrying an unanswered request (row ${exists ? 'exists' : 'absent'}): ${text}`);
    }
    phase(`${unanswered.length} unanswered requests retried`);
  });
});

describe('SIGTERM: graceful shutdown', () => {
  let database: FreshDatabase;
  let token: string;
  let deviceIds: string[];
  let enrollmentToken: string;
  const servers: ServeProcess[] = [];

  before(async () => {
    ({ database, token, deviceIds } = await seededDatabase(40));
    await offerIn(database.db, tenant, offersOf(Array.from({ length: 40 }, (_, i) => `2.0.${i}`), ['teamsClient']));
    enrollmentToken = (await runCli(['enrollment-token', 'create', '--db', database.db, '--tenant', tenant])).stdout.trim();
    assert.match(enrollmentToken, /^twd-enroll\./);
  });

  after(async () => {
    for (const server of servers) await server.stop(1000);
    await database?.drop();
  });

  async function enroll(server: ServeProcess, uniqueId: string): Promise<string> {
    const response = await plainRequest(`${server.url}/agent/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(enrollBody(enrollmentToken, {
        hardwareDetail: uniqueHardware({ uniqueId, serialNumber: `SN-${uniqueId}`, macAddresses: [] }),
        installed: { teamsClient: '1.0.96.1' },
      })),
    });
    assert.ok(response.status === 201 || response.status === 200, `enroll: ${response.status} ${response.text}`);
    return (JSON.parse(response.text) as { credential: string }).credential;
  }

  /** Slow-body updateSoftware requests: routed by the server, waiting for the rest of their body. */
  function startInFlight(server: ServeProcess, devices: string[], agent?: http.Agent) {
    return devices.map((deviceId, i) => {
      const body = JSON.stringify({ softwareType: 'teamsClient', softwareVersion: `2.0.${i}` });
      const request = inFlightRequest(`${server.url}/beta/teamwork/devices/${deviceId}/updateSoftware`, body, 10, {
        headers: { authorization: `Bearer ${token}` },
        agent,
      });
      return { deviceId, ...request };
    });
  }

  async function expectAcceptedAndQueued(server: ServeProcess, responses: PlainResponse[]): Promise<void> {
    for (const response of responses) {
      const location = response.headers.location;
      assert.ok(location, 'Location');
      const after = await plainRequest(server.url + location, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(after.status, 200, `GET ${location} after the restart: ${after.text}`);
      assert.equal((JSON.parse(after.text) as { status: string }).status, 'queued');
    }
  }

  test('in-flight requests finish normally, the long-poll is released at once, exit 0, data intact', { timeout: 60_000 }, async () => {
    const server = await ServeProcess.start(database.db);
    servers.push(server);
    const credential = await enroll(server, `u-${Date.now()}`);
    // An operation accepted before the shutdown.
    const before = await plainRequest(`${server.url}/beta/teamwork/devices/${deviceIds[0]}/restart`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(before.status, 202, before.text);

    let pollEnded = 0;
    const poll = plainRequest(`${server.url}/agent/v1/work?waitSeconds=30`, { headers: { authorization: `Bearer ${credential}` } })
      .then((response) => {
        pollEnded = Date.now();
        return response;
      });
    const inFlight = startInFlight(server, deviceIds.slice(1, 9));
    // Let the server route them (headers read, body awaited) and the poll start waiting.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(pollEnded, 0, 'the long-poll is still waiting before SIGTERM');

    const signalled = Date.now();
    server.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const request of inFlight) request.finish();

    const responses = await Promise.all(inFlight.map((r) => r.response));
    for (const [i, response] of responses.entries()) {
      assert.equal(response.status, 202, `in-flight request ${i}: ${response.status} ${response.text}`);
      assert.match(String(response.headers.location), new RegExp(`^/teamwork/devices/${inFlight[i].deviceId}/operations/`));
    }
    const polled = await poll;
    assert.equal(polled.status, 204, polled.text);
    assert.ok(pollEnded - signalled < 3000, `the long-poll ended ${pollEnded - signalled} ms after SIGTERM, not after its 30 s`);

    const exit = await server.exitWithin(8000);
    assert.ok(exit, `serve exited within 8 s of SIGTERM; output:\n${server.log()}`);
    assert.equal(exit.code, 0, server.log());
    assert.ok(exit.at - signalled < 8000);

    // Nothing is listening any more.
    await assert.rejects(plainRequest(`${server.url}/beta/teamwork/devices`, { headers: { authorization: `Bearer ${token}` } }));

    const restarted = await ServeProcess.start(database.db);
    servers.push(restarted);
    await expectAcceptedAndQueued(restarted, [before, ...responses]);
    if (testStore === 'sqlite') {
      const [check] = await queryDatabase<{ integrity_check: string }>(database.db, 'PRAGMA integrity_check');
      assert.equal(check.integrity_check, 'ok');
    }
    const rows = await queryDatabase<{ n: number | string }>(database.db, "SELECT count(*) AS n FROM operations WHERE status <> 'queued'");
    assert.equal(Number(rows[0].n), 0);
    await restarted.stop();
  });

  test('with keep-alive clients (as Graph SDKs and agents use) the process still exits within a few seconds', { timeout: 60_000 }, async () => {
    const server = await ServeProcess.start(database.db);
    servers.push(server);
    const agent = new http.Agent({ keepAlive: true });
    try {
      const credential = await enroll(server, `u-ka-${Date.now()}`);
      const poll = plainRequest(`${server.url}/agent/v1/work?waitSeconds=30`, { headers: { authorization: `Bearer ${credential}` }, agent });
      const inFlight = startInFlight(server, deviceIds.slice(10, 14), agent);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const signalled = Date.now();
      server.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const request of inFlight) request.finish();
      for (const response of await Promise.all(inFlight.map((r) => r.response))) assert.equal(response.status, 202, response.text);
      assert.equal((await poll).status, 204);
      const exit = await server.exitWithin(8000);
      assert.ok(exit, 'serve exited within 8 s of SIGTERM although clients keep their idle connections open');
      assert.equal(exit.code, 0);
      // Nothing is left to do once the in-flight requests are answered: idle connections need no grace.
      assert.ok(exit.at - signalled < 3000, `serve exited ${exit.at - signalled} ms after SIGTERM`);
    } finally {
      agent.destroy();
      await server.stop(0);
    }
  });

  test('a request arriving on a kept-alive connection while the server drains gets a Graph 503 with Retry-After, or a closed connection', { timeout: 60_000 }, async () => {
    const server = await ServeProcess.start(database.db);
    servers.push(server);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // One connection: it carries an in-flight request at SIGTERM, then the late request.
      const [inFlight] = startInFlight(server, deviceIds.slice(20, 21), agent);
      await new Promise((resolve) => setTimeout(resolve, 300));
      server.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      inFlight.finish();
      assert.equal((await inFlight.response).status, 202);
      const late = await plainRequest(`${server.url}/beta/teamwork/devices`, { headers: { authorization: `Bearer ${token}` }, agent }).catch(() => null);
      if (late) {
        assert.equal(late.status, 503, late.text);
        assert.match(String(late.headers['content-type']), /^application\/json/);
        const body = JSON.parse(late.text) as { error?: { code?: string; innerError?: Record<string, string> } };
        assert.equal(body.error?.code, 'serviceNotAvailable', late.text);
        assert.ok(body.error?.innerError?.['request-id'], late.text);
        assert.match(String(late.headers['retry-after']), /^\d+$/);
      }
    } finally {
      agent.destroy();
      await server.stop(0);
    }
  });
});
