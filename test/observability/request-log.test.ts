import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { requestLogLevel } from '../../src/http/request-log.js';
import { binPath, freePort, freshDatabase, repoRoot, ServeProcess, type FreshDatabase } from '../helpers/cli-process.js';
import { deviceIds } from '../helpers/http-assertions.js';
import { logCapture } from '../helpers/log-capture.js';
import { enrollAgent } from '../helpers/test-agent.js';
import { testStore } from '../helpers/test-database.js';
import { startTestServer, tenantA, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * One log line per request, with what an operator searches by (request id, tenant, caller,
 * route pattern, status, duration), at a level that keeps 10,000 long-polling devices out of
 * the default log; readable lines on a terminal, JSON elsewhere.
 */

interface RequestLine {
  level: number;
  msg: string;
  requestId?: string;
  method?: string;
  route?: string;
  status?: number;
  durationMs?: number;
  tenant?: string;
  callerType?: string;
  callerId?: string;
}

const lines = (text: string): RequestLine[] => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as RequestLine);
const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, string>;

describe(`the request log (${testStore})`, () => {
  const infoLog = logCapture();
  const debugLog = logCapture();
  let info: TestServer;
  let debug: TestServer;

  before(async () => {
    info = await startTestServer({ devicesA: 1, config: { logLevel: 'info' }, outputs: { logDestination: infoLog.stream } });
    debug = await startTestServer({ devicesA: 1, config: { logLevel: 'debug' }, outputs: { logDestination: debugLog.stream } });
  });
  after(async () => {
    await info?.stop();
    await debug?.stop();
  });

  test('a Graph request: one line at info with its id, route pattern, status, duration, tenant and caller', async () => {
    const [deviceId] = await deviceIds(info, 1);
    const userToken = await info.token({ user: 'megan@contoso.test' });
    const appToken = await info.token({ app: true });
    const byUser = await info.request(`/beta/teamwork/devices/${deviceId}?$select=id`, { token: userToken });
    const byApp = await info.request(`/teamwork/devices/${deviceId}/restart`, { method: 'POST', token: appToken });
    const anonymous = await info.request('/beta/teamwork/devices', { token: null });
    assert.deepEqual([byUser.status, byApp.status, anonymous.status], [200, 202, 401]);
    await Promise.all([byUser, byApp, anonymous].map((r) => r.arrayBuffer()));

    const all = lines(infoLog.text());
    const of = (response: Response) => {
      const found = all.filter((line) => line.requestId === response.headers.get('request-id'));
      assert.equal(found.length, 1, `exactly one line for ${response.url}`);
      return found[0];
    };
    const user = of(byUser);
    assert.equal(user.level, 30);
    assert.deepEqual({ ...user, durationMs: 0 }, {
      ...user,
      method: 'GET', route: '/beta/teamwork/devices/:deviceId', status: 200, durationMs: 0,
      tenant: tenantA, callerType: 'user', callerId: claims(userToken).oid,
    });
    assert.ok(typeof user.durationMs === 'number' && user.durationMs >= 0 && user.durationMs < 5000);
    assert.equal(user.msg, `GET /beta/teamwork/devices/:deviceId 200 ${user.durationMs} ms`);
    assert.ok(!JSON.stringify(user).includes(deviceId), 'the raw URL (with the device id) is not logged');

    const app = of(byApp);
    assert.deepEqual([app.level, app.method, app.route, app.status, app.tenant, app.callerType, app.callerId],
      [30, 'POST', '/teamwork/devices/:deviceId/restart', 202, tenantA, 'application', claims(appToken).appid]);

    const none = of(anonymous);
    assert.deepEqual([none.level, none.route, none.status, none.tenant, none.callerId], [30, '/beta/teamwork/devices', 401, undefined, undefined]);
  });

  test('the agent protocol and the probes: nothing at info, one line each at debug with the device as caller', { timeout: 30_000 }, async () => {
    for (const server of [info, debug]) {
      const agent = await enrollAgent(server);
      assert.equal((await agent.inventory({ activityState: 'idle' })).status, 200);
      assert.equal((await agent.poll(0)).status, 204);
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    }
    const quiet = lines(infoLog.text()).filter((line) => line.route?.startsWith('/agent/') || line.route === '/healthz' || line.route === '/readyz');
    assert.deepEqual(quiet, []);

    const debugLines = lines(debugLog.text());
    const agentLines = debugLines.filter((line) => line.route?.startsWith('/agent/'));
    assert.deepEqual(agentLines.map((line) => `${line.method} ${line.route} ${line.status}`).sort(),
      ['GET /agent/v1/work 204', 'POST /agent/v1/enroll 201', 'POST /agent/v1/inventory 200']);
    const inventory = agentLines.find((line) => line.route === '/agent/v1/inventory')!;
    assert.equal(inventory.level, 20);
    assert.equal(inventory.tenant, tenantA);
    assert.equal(inventory.callerType, 'device');
    assert.match(inventory.callerId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(debugLines.filter((line) => line.route === '/healthz').length, 1);
  });

  test('no token, credential or query string reaches a request line', async () => {
    const token = await info.token();
    const response = await info.request('/beta/teamwork/devices?$filter=displayName eq \'secret-in-query\'&access_token=query-secret', {
      token, headers: { 'x-api-key': 'header-secret' },
    });
    await response.arrayBuffer();
    const text = infoLog.text();
    assert.ok(text.includes(response.headers.get('request-id')!), 'the request was logged');
    for (const secret of [token, token.split('.')[2], 'secret-in-query', 'query-secret', 'header-secret']) assert.ok(!text.includes(secret), secret);
  });

  test('levels: 5xx at warn on any route; agent and probes at debug; the rest at info', () => {
    assert.equal(requestLogLevel('/beta/teamwork/devices', false, 200), 'info');
    assert.equal(requestLogLevel('/beta/teamwork/devices', false, 404), 'info');
    assert.equal(requestLogLevel('unmatched', false, 404), 'info');
    assert.equal(requestLogLevel('/agent/v1/work', false, 200), 'debug');
    assert.equal(requestLogLevel('/agent/v1/work', false, 401), 'debug');
    assert.equal(requestLogLevel('/readyz', true, 200), 'debug');
    assert.equal(requestLogLevel('/readyz', true, 503), 'warn');
    assert.equal(requestLogLevel('/agent/v1/work', false, 503), 'warn');
    assert.equal(requestLogLevel('/beta/teamwork/devices', false, 500), 'warn');
  });
});

describe('the log format of serve', () => {
  let database: FreshDatabase;
  before(async () => {
    database = await freshDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  test('on a terminal (a pseudo-terminal, as npm start has): readable lines, no JSON', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const command = [process.execPath, binPath, 'serve', '--db', database.db, '--port', String(port), '--log-level', 'info']
      .map((part) => `'${part.replace(/'/g, "'\\''")}'`).join(' ');
    // script(1) runs the server with a pseudo-terminal as its standard output.
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const token = await waitFor('the welcome', async () => /export TOKEN=(\S+)/.exec(output)?.[1], { timeoutMs: 30_000 });
      const response = await fetch(`http://127.0.0.1:${port}/beta/teamwork/devices`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 200);
      const requestId = response.headers.get('request-id')!;
      await waitFor('the request line', async () => output.includes(requestId), { timeoutMs: 10_000 });
      // eslint-disable-next-line no-control-regex
      const plain = output.replace(/\x1b\[[0-9;]*m/g, '').split(/\r?\n/);
      const requestLine = plain.find((line) => line.includes(requestId))!;
      assert.match(requestLine, /INFO.*GET \/beta\/teamwork\/devices 200 [\d.]+ ms +tenant=\S+ +user=\S+ +request-id=/);
      assert.ok(plain.some((line) => /INFO.*Server listening at/.test(line)), output);
      const json = plain.filter((line) => line.trim().startsWith('{'));
      assert.deepEqual(json, [], 'raw JSON on the terminal');
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  test('not on a terminal: JSON lines, and --log-format pretty overrides it', { timeout: 60_000 }, async () => {
    const piped = await ServeProcess.start(database.db, ['--log-level', 'info']);
    await piped.stop();
    const listening = piped.log().split('\n').find((line) => line.includes('Server listening'));
    assert.equal((JSON.parse(listening ?? 'null') as { level: number }).level, 30);

    const pretty = await ServeProcess.start(database.db, ['--log-level', 'info', '--log-format', 'pretty']);
    await pretty.stop();
    const line = pretty.log().split('\n').find((l) => l.includes('Server listening'));
    assert.match(line ?? '', /^\[[\d:.]+\] INFO: Server listening at http/);
  });
});
