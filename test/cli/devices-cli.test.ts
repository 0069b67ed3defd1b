import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, spawnCli, spawnCliOnTerminal, type CliRun } from '../helpers/cli-process.js';
import { startTestServer, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * `teamwork-devices devices …` as an operator runs it, the built bin as a child process against
 * a real test server (this pass's store): the list's table, where the token comes from, and
 * what the command says when the server cannot be reached or refuses the token.
 */

let server: TestServer;
let other: TestServer;
let idsA: string[];

before(async () => {
  server = await startTestServer({ devicesA: 12, devicesB: 3 });
  // A second server: its dev issuer's key is not the first one's.
  other = await startTestServer({ testCatalog: false });
  const page = (await (await server.request('/beta/teamwork/devices?$top=50&$select=id')).json()) as { value: { id: string }[] };
  idsA = page.value.map((d) => d.id);
});

after(async () => {
  await server?.stop();
  await other?.stop();
});

/** Runs the CLI piped, with only the environment given (no token variables of the test's own). */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const { TOKEN: _t, TEAMWORK_DEVICES_TOKEN: _d, TEAMWORK_DEVICES_URL: _u, ...rest } = process.env;
  return spawnCli(args, { ...rest, NO_COLOR: '1', TEAMWORK_DEVICES_URL: server.url, ...env }).done;
}

/** The first line a failed command wrote: `teamwork-devices: …`, and no stack trace anywhere. */
function failure(run: CliRun, code = 1): string {
  assert.equal(run.code, code, `${run.stdout}${run.stderr}`);
  assert.equal(run.stdout, '');
  assert.ok(!/^\s+at /m.test(run.stderr), `no stack trace:\n${run.stderr}`);
  return run.stderr;
}

describe('devices list', () => {
  test('on a terminal: a header row and aligned columns; piped: tab-separated rows; --json the devices', async () => {
    const env = { TEAMWORK_DEVICES_URL: server.url, TEAMWORK_DEVICES_TOKEN: await server.token() };
    const { TOKEN: _t, ...rest } = process.env;
    const table = await spawnCliOnTerminal(['devices', 'list', '--top', '5'], { ...rest, ...env }).done;
    assert.equal(table.code, 0, table.stdout);
    const [header, ...rows] = table.stdout.trim().split(/\r?\n/);
    assert.match(header, /^ID +TYPE +HEALTH +MODEL +USER$/);
    assert.equal(rows.length, 5);
    assert.ok(!table.stdout.includes('\t'));
    const json = JSON.parse((await cli(['devices', 'list', '--top', '5', '--json'], env)).stdout) as { id: string; deviceType: string; healthStatus: string }[];
    assert.equal(json.length, 5);
    rows.forEach((row, i) => {
      assert.ok(row.startsWith(`${json[i].id}  `), row);
      for (const [column, cell] of [['TYPE', json[i].deviceType], ['HEALTH', json[i].healthStatus]]) {
        assert.equal(row.indexOf(` ${cell} `) + 1, header.indexOf(column), `${column} aligned:\n${header}\n${row}`);
      }
    });

    const piped = await cli(['devices', 'list', '--top', '5'], env);
    const lines = piped.stdout.trim().split('\n').map((line) => line.split('\t'));
    assert.deepEqual(lines.map((cells) => cells.slice(0, 3)), json.map((d) => [d.id, d.deviceType, d.healthStatus]), 'no header, the same rows tab-separated');
    const all = JSON.parse((await cli(['devices', 'list', '--top', '5', '--all', '--json'], env)).stdout) as unknown[];
    assert.equal(all.length, 12, '--all follows the nextLink');
  });
});

describe('where the token comes from', () => {
  test('--token, then TEAMWORK_DEVICES_TOKEN, then TOKEN; none: a message and exit 1', async () => {
    const a = await server.token();
    const b = await server.token({ tenantId: tenantB });
    const listed = async (args: string[], env: Record<string, string>) => {
      const run = await cli(['devices', 'list', '--json', ...args], env);
      assert.equal(run.code, 0, run.stderr);
      return (JSON.parse(run.stdout) as unknown[]).length;
    };
    assert.equal(await listed([], { TOKEN: b }), 3, 'TOKEN alone: tenant B');
    assert.equal(await listed([], { TOKEN: b, TEAMWORK_DEVICES_TOKEN: a }), 12, 'TEAMWORK_DEVICES_TOKEN before TOKEN');
    assert.equal(await listed(['--token', b], { TOKEN: a, TEAMWORK_DEVICES_TOKEN: a }), 3, '--token before both');
    assert.equal(await listed([], { TOKEN: a, TEAMWORK_DEVICES_TOKEN: '' }), 12, 'an empty variable is no token');

    const none = failure(await cli(['devices', 'list']));
    assert.equal(none, 'teamwork-devices: no token: give --token, or set TEAMWORK_DEVICES_TOKEN or TOKEN (for a local server: export TOKEN=$(npx teamwork-devices token))\n');
  });
});

describe('when the command cannot do its work', () => {
  test('an unreachable server: "cannot reach URL: connection refused", exit 1', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const token = await server.token();
    for (const args of [['devices', 'list'], ['devices', 'restart', '--filter', "deviceType eq 'teamsRoom'"], ['rollouts', 'list']]) {
      const stderr = failure(await cli([...args, '--url', closed], { TOKEN: token }));
      assert.equal(stderr, `teamwork-devices: cannot reach ${closed}: connection refused\n`, args.join(' '));
    }
    assert.match(failure(await cli(['devices', 'list', '--url', 'localhost:8080'], { TOKEN: token })), /--url must be an http:\/\/ or https:\/\/ address, got 'localhost:8080'/);
  });

  test('a refused token: wrong, expired or from another issuer is a 401, a read-only one a 403 for an action; each says what to do', async () => {
    const wrong = failure(await cli(['devices', 'list'], { TOKEN: 'not-a-token' }));
    assert.match(wrong, /^teamwork-devices: GET \/beta\/teamwork\/devices\?\$top=50 → 401 unauthenticated: The access token is malformed or invalid\. \(request-id [0-9a-f-]{36}\)\n/);
    assert.match(wrong, /The server refused the token \(401\): it is missing, malformed, expired, or from an issuer this server does not trust\. Get a new one .* --token, TEAMWORK_DEVICES_TOKEN or TOKEN\.\n$/);

    const expired = failure(await cli(['devices', 'get', idsA[0]], { TOKEN: await server.token({ ttlSeconds: -3600 }) }));
    assert.match(expired, /→ 401 unauthenticated: .*expired.* \(request-id [0-9a-f-]{36}\)\nThe server refused the token \(401\)/);

    const foreign = failure(await cli(['devices', 'list'], { TOKEN: await other.token() }));
    assert.match(foreign, /→ 401 unauthenticated: /);
    assert.match(foreign, /The server refused the token \(401\)/);

    const operations = async () => Number((await server.query('SELECT count(*) AS n FROM operations'))[0].n);
    const before = await operations();
    const readOnly = await server.token({ scopes: ['TeamworkDevice.Read.All'] });
    const single = failure(await cli(['devices', 'restart', idsA[0]], { TOKEN: readOnly }));
    assert.match(single, /^teamwork-devices: POST \/beta\/teamwork\/devices\/\S+\/restart → 403 accessDenied: .* \(request-id [0-9a-f-]{36}\)\nThe server accepted the token but it lacks the permission \(403\): .*actions need TeamworkDevice\.ReadWrite\.All/);
    // A bulk action with it: every device answers 403 inside the batch; each is counted, none asked twice.
    const bulk = await cli(['devices', 'restart', '--filter', "deviceType ne 'unknown'", '--json'], { TOKEN: readOnly });
    assert.equal(bulk.code, 4, bulk.stderr);
    const report = JSON.parse(bulk.stdout) as { asked: number; failed: number; failedByCode: Record<string, number> };
    assert.equal(report.failed, report.asked);
    assert.deepEqual(report.failedByCode, { accessDenied: report.asked });
    assert.equal(await operations(), before, 'nothing was created');
  });

  test("another tenant's token: the device is not found (404), and a filter matches none of the first tenant's devices", async () => {
    const tokenB = await server.token({ tenantId: tenantB });
    const missing = failure(await cli(['devices', 'get', idsA[0]], { TOKEN: tokenB }));
    assert.match(missing, new RegExp(`^teamwork-devices: GET /beta/teamwork/devices/${idsA[0]} → 404 itemNotFound: The device '${idsA[0]}' does not exist\\. \\(request-id [0-9a-f-]{36}\\)\\n$`));
    const update = failure(await cli(['devices', 'update-software', idsA[0], '--software-type', 'teamsClient', '--software-version', '1.0.96.22'], { TOKEN: tokenB }));
    assert.match(update, /→ 404 itemNotFound: /);

    const model = ((await (await server.request(`/beta/teamwork/devices/${idsA[0]}`)).json()) as { hardwareDetail: { model: string } }).hardwareDetail.model;
    const bulk = await cli(['devices', 'restart', '--filter', `hardwareDetail/model eq '${model}'`, '--json'], { TOKEN: tokenB });
    const report = JSON.parse(bulk.stdout) as { matched: number; asked: number };
    assert.equal(bulk.code, 0, bulk.stderr);
    assert.ok(report.matched <= 3 && report.asked === report.matched, "only tenant B's devices can match");
    const created = await server.query<{ n: number | string }>('SELECT count(*) AS n FROM operations o JOIN devices d ON d.id = o.device_id WHERE d.tenant_id <> ?', [tenantB]);
    assert.equal(Number(created[0].n), 0, "no operation on tenant A's devices");
  });

  test('the single-device form is as before: the operation printed, --json its body', async () => {
    const env = { TOKEN: await server.token() };
    const run = await cli(['devices', 'update-software', idsA[1], '--software-type', 'teamsClient', '--software-version', '1.0.96.22', '--json'], env);
    assert.equal(run.code, 0, run.stderr);
    const operation = JSON.parse(run.stdout) as { id: string; status: string; operationType: string };
    assert.deepEqual([operation.status, operation.operationType], ['queued', 'softwareUpdate']);
    const again = failure(await cli(['devices', 'update-software', idsA[1], '--software-type', 'teamsClient', '--software-version', '1.0.96.22'], env));
    assert.match(again, /^teamwork-devices: POST \/beta\/teamwork\/devices\/\S+\/updateSoftware → 409 conflict: A softwareUpdate of teamsClient operation is already queued .* \(request-id [0-9a-f-]{36}\)\n$/);
    const operations = await cli(['devices', 'operations', idsA[1]], env);
    assert.deepEqual(operations.stdout.trim().split('\t').slice(0, 3), [operation.id, 'softwareUpdate', 'queued']);
  });
});
