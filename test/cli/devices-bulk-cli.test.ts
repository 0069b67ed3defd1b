import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DeviceType } from '../../src/domain/enums.js';
import { spawnCli, spawnCliOnTerminal, type CliRun } from '../helpers/cli-process.js';
import { ScriptedFleet, type Script } from '../helpers/scripted-fleet.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { postJson, startTestServer, tenantA, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * `teamwork-devices devices update-software|restart --filter …` as an operator runs it: the
 * built bin as a child process against a real test server (this pass's store) whose devices
 * answer over the real agent protocol, piped (plain progress lines) and under a pseudo-terminal
 * made by util-linux `script` (bars redrawn in place).
 */

let server: TestServer;
const fleets: ScriptedFleet[] = [];
let modelCounter = 0;

/** Offered to collaboration bars only: any other type asking for it is "not offered" (404). */
const barsOnly = '8.8.8';

before(async () => {
  server = await startTestServer();
  await server.store.addCatalogEntries([{ tenantId: tenantA, softwareType: 'teamsClient', version: barsOnly, deviceType: 'collaborationBar', model: null, createdDateTime: new Date().toISOString(), artifact: null }]);
});

after(async () => {
  await Promise.all(fleets.map((f) => f.stop()));
  await server?.stop();
});

/** Devices of a model of their own (so a $filter picks exactly them), each type `count` of them. */
async function fleet(types: Partial<Record<DeviceType, number>>, script: Script = () => ({ ok: true })) {
  const model = `bulk-cli-model-${++modelCounter}`;
  const f = new ScriptedFleet(server, script);
  fleets.push(f);
  const ids: Partial<Record<DeviceType, string[]>> = {};
  for (const [deviceType, count] of Object.entries(types) as [DeviceType, number][]) ids[deviceType] = await f.add(count, model, { deviceType });
  return { fleet: f, ids, model, filter: `hardwareDetail/model eq '${model}'` };
}

async function environment(): Promise<NodeJS.ProcessEnv> {
  return { ...process.env, NO_COLOR: '1', TEAMWORK_DEVICES_URL: server.url, TEAMWORK_DEVICES_TOKEN: await server.token() };
}

async function cli(...args: string[]): Promise<CliRun> {
  return spawnCli(args, await environment()).done;
}

const update = (version = barsOnly) => ['--software-type', 'teamsClient', '--software-version', version];

async function operationsOf(ids: string[]): Promise<{ device_id: string; status: string; software_version: string }[]> {
  const marks = ids.map(() => '?').join(',');
  return server.query(`SELECT device_id, status, software_version FROM operations WHERE device_id IN (${marks}) ORDER BY device_id`, ids);
}

/** The summary's count of one kind of result, e.g. `  already pending       1`. */
function counted(summary: string, label: string): number {
  const match = new RegExp(`^  ${label} +(\\d+)`, 'm').exec(summary);
  assert.ok(match, `no '${label}' in:\n${summary}`);
  return Number(match[1]);
}

describe('devices update-software --filter', () => {
  test('counts accepted, already pending and not offered; plain lines when piped; exit 4; the operations in the database', async () => {
    const { fleet: f, ids, filter } = await fleet({ collaborationBar: 4, ipPhone: 2 });
    for (const id of Object.values(ids).flat()) f.holding.add(id);
    const [pending, ...bars] = ids.collaborationBar!;
    const first = await postJson(server, `/beta/teamwork/devices/${pending}/updateSoftware`, { softwareType: 'teamsClient', softwareVersion: barsOnly });
    assert.equal(first.status, 202);

    const run = await cli('devices', 'update-software', '--filter', filter, ...update());
    assert.equal(run.code, 4, `some devices did not accept: exit 4\n${run.stdout}${run.stderr}`);
    assert.match(run.stdout, new RegExp(`^updateSoftware on the devices matching ${filter}: 6 asked\n`));
    assert.deepEqual(['accepted', 'already pending', 'not offered', 'failed'].map((label) => counted(run.stdout, label)), [3, 1, 2, 0]);
    for (const phone of ids.ipPhone!) {
      assert.match(run.stdout, new RegExp(`^    ${phone}  itemNotFound: The teamsClient version '8\\.8\\.8' is not available for this device \\(ipPhone`, 'm'));
    }
    assert.ok(!run.stderr.includes('\x1b') && !run.stderr.includes('█'), 'no escapes or bars when piped');
    const lines = run.stderr.trim().split('\n');
    assert.ok(lines.every((line) => /^\d{4}-\d\d-\d\dT\S+Z {2}updateSoftware \d+\/6 asked {2}/.test(line)), run.stderr);
    assert.match(lines.at(-1)!, /updateSoftware 6\/6 asked {2}accepted 3 · already pending 1 · not offered 2 · failed 0$/);

    const stored = await operationsOf([...ids.collaborationBar!, ...ids.ipPhone!]);
    assert.deepEqual(stored.map((o) => o.device_id).sort(), [pending, ...bars].sort(), 'one operation per bar (the pending one not doubled), none for the phones');
    assert.ok(stored.every((o) => o.status === 'queued' && o.software_version === barsOnly));
  });

  test('--json: the counts and every device with its result and operation; all accepted: exit 0', async () => {
    const { fleet: f, ids, filter } = await fleet({ collaborationBar: 3 });
    for (const id of ids.collaborationBar!) f.holding.add(id);
    const run = await cli('devices', 'update-software', '--filter', filter, ...update(), '--json');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '', '--json shows no progress');
    const report = JSON.parse(run.stdout) as {
      action: string; filter: string; body: unknown; matched: number; asked: number; accepted: number; alreadyPending: number; notOffered: number; failed: number;
      devices: { id: string; result: string; status: number; operation: string }[];
    };
    assert.deepEqual(
      { action: report.action, filter: report.filter, body: report.body, matched: report.matched, asked: report.asked, accepted: report.accepted, alreadyPending: report.alreadyPending, notOffered: report.notOffered, failed: report.failed },
      { action: 'updateSoftware', filter, body: { softwareType: 'teamsClient', softwareVersion: barsOnly }, matched: 3, asked: 3, accepted: 3, alreadyPending: 0, notOffered: 0, failed: 0 },
    );
    assert.deepEqual(report.devices.map((d) => d.id).sort(), [...ids.collaborationBar!].sort());
    for (const d of report.devices) {
      assert.equal(d.result, 'accepted');
      assert.equal(d.status, 202);
      const response = await server.request(`/beta${d.operation}`);
      assert.equal(response.status, 200, d.operation);
      assert.match(d.operation, new RegExp(`^/teamwork/devices/${d.id}/operations/`));
    }

    const again = JSON.parse((await cli('devices', 'update-software', '--filter', filter, ...update(), '--json')).stdout) as { alreadyPending: number; devices: { result: string; error: { code: string } }[] };
    assert.equal(again.alreadyPending, 3);
    assert.ok(again.devices.every((d) => d.result === 'alreadyPending' && d.error.code === 'conflict'));
  });

  test('--wait follows every accepted operation to its end: successful and failed counted, exit 2 (6 with refusals too)', async () => {
    const { fleet: f, ids, filter } = await fleet({ collaborationBar: 5, ipPhone: 1 }, (index) => (index >= 3 ? { ok: false, code: 'installFailed' } : { ok: true }));
    const run = await cli('devices', 'update-software', '--filter', filter, ...update(), '--wait', '--interval-ms', '100');
    assert.equal(run.code, 6, `2 (an operation failed) + 4 (a device not offered)\n${run.stdout}${run.stderr}`);
    assert.deepEqual(['accepted', 'not offered'].map((label) => counted(run.stdout, label)), [5, 1]);
    assert.match(run.stdout, /^operations followed to their end: 5 of 5$/m);
    assert.match(run.stdout, /^ {2}successful +3$/m);
    assert.match(run.stdout, /^ {2}failed +2 {2}\(installFailed 2\)$/m);
    assert.match(run.stdout, /^ {2}cancelled +0$/m);
    assert.match(run.stderr.trim().split('\n').at(-1)!, /operations 5\/5 ended {2}✓3 ✗2 ⊘0 · 0 running$/);
    const stored = await operationsOf(ids.collaborationBar!);
    assert.deepEqual(stored.map((o) => o.status).sort(), ['failed', 'failed', 'successful', 'successful', 'successful']);
    assert.equal(f.askedTwice().length, 0);

    const { filter: allGood } = await fleet({ collaborationBar: 2 });
    const json = await cli('devices', 'update-software', '--filter', allGood, ...update(), '--wait', '--interval-ms', '100', '--json');
    assert.equal(json.code, 0, 'all accepted and all successful');
    const report = JSON.parse(json.stdout) as { operations: unknown; devices: { operationStatus: string; operationError: unknown }[] };
    assert.deepEqual(report.operations, { followed: 2, successful: 2, failed: 0, cancelled: 0, failedByCode: {} });
    assert.ok(report.devices.every((d) => d.operationStatus === 'successful' && d.operationError === null));
  });

  test('on a terminal: the asking bar, then the operations bar, redrawn in place', async () => {
    const { fleet: f, ids, filter } = await fleet({ collaborationBar: 3 });
    for (const id of ids.collaborationBar!) f.holding.add(id);
    const running = spawnCliOnTerminal(['devices', 'update-software', '--filter', filter, ...update(), '--wait', '--interval-ms', '100'], await environment());
    await waitFor('the operations bar', async () => running.output().includes('operations ░'), { timeoutMs: 15_000 });
    for (const id of ids.collaborationBar!) f.holding.delete(id);
    const run = await running.done;
    const output = run.stdout + run.stderr;
    assert.equal(run.code, 0, output);
    assert.match(output, /\r\x1b\[2KupdateSoftware █{20} 3\/3 asked {2}accepted 3/);
    assert.match(output, /\x1b\[2A/, 'the cursor moves up over both lines');
    assert.match(output, /operations ░{20} 0\/3 ended {2}✓0 ✗0 ⊘0 · 3 running/);
    const last = output.split('\x1b[2A').at(-1)!;
    assert.match(last, /operations █{20} 3\/3 ended {2}✓3 ✗0 ⊘0 · 0 running/);
    assert.match(output, /successful +3/);
  });

  test('--wait rides out a server it cannot reach for a while: the polls that fail are retried, and the wait ends', async () => {
    const { fleet: f, ids, filter } = await fleet({ collaborationBar: 2 });
    for (const id of ids.collaborationBar!) f.holding.add(id);
    const proxy = TcpProxy.forUrl(server.url);
    await proxy.start();
    try {
      const env = { ...(await environment()), TEAMWORK_DEVICES_URL: proxy.via(server.url) };
      const running = spawnCli(['devices', 'update-software', '--filter', filter, ...update(), '--wait', '--interval-ms', '200'], env);
      await waitFor('the operations line', async () => running.output().includes('operations 0/2 ended'), { timeoutMs: 15_000 });
      await proxy.cut();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      for (const id of ids.collaborationBar!) f.holding.delete(id);
      await proxy.restore();
      const run = await running.done;
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /^ {2}successful +2$/m);
    } finally {
      await proxy.close();
    }
  });

  test('usage: an id and --filter, neither, or a malformed version stop the command before anything is sent (exit 1)', async () => {
    const { ids, filter } = await fleet({ collaborationBar: 1 });
    const cases: [string[], RegExp][] = [
      [['devices', 'update-software', ids.collaborationBar![0], '--filter', filter, ...update()], /give a device id or --filter, not both/],
      [['devices', 'restart'], /give a device id, or --filter to act on every device it matches/],
      [['devices', 'update-software', '--filter', filter, ...update('not a version')], /'softwareVersion' must be 1 to 64 characters/],
    ];
    for (const [args, message] of cases) {
      const run = await cli(...args);
      assert.equal(run.code, 1, `${args.join(' ')}\n${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, '');
    }
    const badFilter = await cli('devices', 'restart', '--filter', "colour eq 'blue'");
    assert.equal(badFilter.code, 1);
    assert.match(badFilter.stderr, /^teamwork-devices: GET \/beta\/teamwork\/devices\/\$count\?\$filter=colour eq 'blue' → 400 invalidRequest: .*'colour'.* \(request-id [0-9a-f-]{36}\)$/m);
    assert.deepEqual(await operationsOf(ids.collaborationBar!), []);
  });
});

describe('devices restart --filter on a throttled server', () => {
  let limited: TestServer;
  before(async () => {
    limited = await startTestServer({ devicesA: 30, config: { rateLimit: '5' } });
  });
  after(async () => {
    await limited?.stop();
  });

  test('requests answered 429 are sent again after their Retry-After: every device accepted in the end, every page listed', async () => {
    const started = Date.now();
    const run = await spawnCli(['devices', 'restart', '--filter', "deviceType ne 'unknown'", '--json'], {
      ...process.env, TEAMWORK_DEVICES_URL: limited.url, TEAMWORK_DEVICES_TOKEN: await limited.token(),
    }).done;
    const elapsed = Date.now() - started;
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { asked: number; accepted: number; failed: number };
    const devices = Number((await limited.query("SELECT count(*) AS n FROM devices WHERE device_type <> 'unknown'"))[0].n);
    assert.ok(devices > 20, `${devices} devices: more than one batch`);
    assert.deepEqual({ asked: report.asked, accepted: report.accepted, failed: report.failed }, { asked: devices, accepted: devices, failed: 0 });
    const restarts = Number((await limited.query("SELECT count(*) AS n FROM operations WHERE operation_type = 'deviceRestart'"))[0].n);
    assert.equal(restarts, devices);
    // 5 requests a second, burst 5: the devices cannot all have been asked at once.
    assert.ok(elapsed >= ((devices - 5) / 5) * 1000 * 0.8, `${devices} restarts at 5 per second took only ${elapsed} ms`);

    // Pages read faster than 5 a second (the bucket just emptied by the restarts) are read again after their 429's Retry-After.
    const listed = await spawnCli(['devices', 'list', '--top', '4', '--all', '--json'], {
      ...process.env, TEAMWORK_DEVICES_URL: limited.url, TEAMWORK_DEVICES_TOKEN: await limited.token(),
    }).done;
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal((JSON.parse(listed.stdout) as unknown[]).length, Number((await limited.query('SELECT count(*) AS n FROM devices'))[0].n));
  });
});

