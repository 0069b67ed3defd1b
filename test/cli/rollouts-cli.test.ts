import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnCli, spawnCliOnTerminal, type CliRun, type RunningCli } from '../helpers/cli-process.js';
import { ScriptedFleet, type Script } from '../helpers/scripted-fleet.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * `teamwork-devices rollouts …` as an operator runs it: the built bin as a child process against
 * a real test server (this pass's store) whose devices answer updates over the real agent
 * protocol. `get --wait` runs both piped (plain lines) and under a pseudo-terminal made by
 * util-linux `script`, where it draws its bars.
 */

let server: TestServer;
let dir: string;
const fleets: ScriptedFleet[] = [];
let modelCounter = 0;

before(async () => {
  server = await startTestServer({ config: { schedulerIntervalMs: 50 } });
  dir = mkdtempSync(join(tmpdir(), 'twd-rollouts-cli-'));
});

after(async () => {
  await Promise.all(fleets.map((f) => f.stop()));
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function fleet(count: number, script: Script = () => ({ ok: true })): Promise<{ fleet: ScriptedFleet; ids: string[]; model: string }> {
  const model = `rollout-cli-model-${++modelCounter}`;
  const f = new ScriptedFleet(server, script);
  fleets.push(f);
  return { fleet: f, ids: await f.add(count, model), model };
}

async function environment(extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  return { ...process.env, NO_COLOR: '1', TEAMWORK_DEVICES_URL: server.url, TEAMWORK_DEVICES_TOKEN: await server.token(), ...extra };
}

/** `teamwork-devices …` with stdout and stderr piped (no terminal). */
async function spawnPiped(...args: string[]): Promise<RunningCli> {
  return spawnCli(args, await environment());
}

async function cli(...args: string[]): Promise<CliRun> {
  return (await spawnPiped(...args)).done;
}

/** Runs a command that must succeed; its stdout. */
async function ok(...args: string[]): Promise<string> {
  const run = await cli(...args);
  assert.equal(run.code, 0, `teamwork-devices ${args.join(' ')} → ${run.code}\n${run.stderr}`);
  return run.stdout;
}

async function spawnOnTerminal(...args: string[]): Promise<RunningCli> {
  return spawnCliOnTerminal(args, await environment());
}

interface Stage {
  percent: number | null; count: number | null; concurrency: number | null; minSuccessPercent: number;
  maxFailurePercent: number | null; soakMinutes: number; requiresApproval: boolean; status: string;
}
interface Rollout {
  id: string; status: string; pausedReason: string | null; target: unknown; includeNewDevices: boolean;
  softwareVersion: string | null; stages: Stage[]; retry: unknown; counts: { total: number; successful: number; failed: number };
}

async function stored(id: string): Promise<Rollout> {
  const response = await server.request(`/beta/teamwork/softwareRollouts/${id}`);
  assert.equal(response.status, 200);
  return response.json() as Promise<Rollout>;
}

const plan = (s: Stage) => ({
  percent: s.percent, count: s.count, concurrency: s.concurrency, minSuccessPercent: s.minSuccessPercent,
  maxFailurePercent: s.maxFailurePercent, soakMinutes: s.soakMinutes, requiresApproval: s.requiresApproval,
});

const rolloutCount = async () => Number((await server.query('SELECT count(*) AS n FROM rollouts'))[0].n);

const update = ['--software-type', 'teamsClient', '--version', '1.0.96.22'];

describe('rollouts create', () => {
  test('--stage options become the stages the server stores, with the target and retry options', async () => {
    const { model } = await fleet(1);
    const filter = `hardwareDetail/model eq '${model}'`;
    const created = JSON.parse(await ok('rollouts', 'create', '--name', 'cli stages', ...update, '--filter', filter, '--include-new-devices',
      '--stage', 'count=2,concurrency=1,approval',
      '--stage', ' percent=100, maxFailurePercent=20,minSuccessPercent=50,soakMinutes=5 ',
      '--max-attempts', '3', '--backoff-seconds', '30', '--json')) as Rollout;
    const rollout = await stored(created.id);
    assert.equal(rollout.status, 'notStarted');
    assert.deepEqual(rollout.target, { filter });
    assert.equal(rollout.includeNewDevices, true);
    assert.equal(rollout.softwareVersion, '1.0.96.22');
    assert.deepEqual(rollout.retry, { maxAttempts: 3, initialBackoffSeconds: 30 });
    assert.deepEqual(rollout.stages.map(plan), [
      { percent: null, count: 2, concurrency: 1, minSuccessPercent: 0, maxFailurePercent: null, soakMinutes: 0, requiresApproval: true },
      { percent: 100, count: null, concurrency: null, minSuccessPercent: 50, maxFailurePercent: 20, soakMinutes: 5, requiresApproval: false },
    ]);
    assert.match(await ok('rollouts', 'cancel', created.id), new RegExp(`^${created.id}  cli stages  cancelled`));
  });

  test('--device-id targets named devices and prints the rollout for people; --body FILE posts a body as it is', async () => {
    const { ids } = await fleet(2);
    const text = await ok('rollouts', 'create', '--name', 'by id', '--software-type', 'teamsClient', '--device-id', ids[0], '--device-id', ids[1]);
    const [first] = text.split('\n');
    const id = first.split(/\s+/)[0];
    assert.match(first, /by id  notStarted/);
    assert.match(text, /software {2}teamsClient \(the newest offered to each device\)/);
    assert.match(text, /target {4}2 device\(s\)/);
    assert.match(text, /stage 1\/1 0\/0 notStarted .*\[percent=100\]/);
    const rollout = await stored(id);
    assert.deepEqual(rollout.target, { deviceIds: ids });
    assert.equal(rollout.softwareVersion, null);
    await ok('rollouts', 'cancel', id);

    const file = join(dir, 'body.json');
    const body = { displayName: 'from a file', softwareType: 'teamsClient', softwareVersion: '1.0.96.23', target: { deviceIds: [ids[0]] }, stages: [{ count: 1, soakMinutes: 10 }] };
    writeFileSync(file, JSON.stringify(body));
    const fromFile = JSON.parse(await ok('rollouts', 'create', '--body', file, '--json')) as Rollout;
    const again = await stored(fromFile.id);
    assert.deepEqual(again.stages.map(plan), [{ percent: null, count: 1, concurrency: null, minSuccessPercent: 0, maxFailurePercent: null, soakMinutes: 10, requiresApproval: false }]);
    await ok('rollouts', 'cancel', fromFile.id);
  });

  test('a bad --stage, target or option mix is a usage error: exit 1, the mistake named, nothing sent', async () => {
    const before = await rolloutCount();
    const target = ['--device-id', 'some-device'];
    const cases: [string[], RegExp][] = [
      [['--stage', 'percent=10,colour=2', ...target], /unknown key 'colour' \(keys: percent, count, concurrency, minSuccessPercent, maxFailurePercent, soakMinutes, requiresApproval, approval\)/],
      [['--stage', 'count=two', ...target], /'count' needs a whole number/],
      [['--stage', 'count=1,count=2', ...target], /'count' given twice/],
      [['--stage', 'approval=maybe', ...target], /'approval' is true or false/],
      [['--stage', '', ...target], /--stage is empty/],
      [[], /either --filter or --device-id/],
      [['--filter', "deviceType eq 'teamsRoom'", ...target], /either --filter or --device-id/],
      [['--max-attempts', 'x', ...target], /--max-attempts must be a whole number/],
    ];
    for (const [args, message] of cases) {
      const run = await cli('rollouts', 'create', '--name', 'bad', ...update, ...args);
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, '');
    }
    const mixed = await cli('rollouts', 'create', '--body', join(dir, 'body.json'), '--name', 'x');
    assert.equal(mixed.code, 1);
    assert.match(mixed.stderr, /'--body <file>' cannot be used with option '--name <name>'/);
    assert.equal(await rolloutCount(), before);
    // Ranges are the server's to refuse: its 400 names the field.
    const range = await cli('rollouts', 'create', '--name', 'bad', ...update, ...target, '--stage', 'percent=0');
    assert.equal(range.code, 1);
    assert.match(range.stderr, /400 invalidRequest: .*stages\[0\]\.percent/);
  });
});

describe('rollouts list, get, devices and the verbs', () => {
  test('tables for people (tab-separated when piped), the Graph bodies with --json', async () => {
    const { ids } = await fleet(3);
    const done = JSON.parse(await ok('rollouts', 'create', '--name', 'listed done', ...update, ...ids.flatMap((id) => ['--device-id', id]), '--json')) as Rollout;
    assert.match(await ok('rollouts', 'start', done.id), /listed done {2}running/);
    await waitFor('completed', async () => (await stored(done.id)).status === 'completed', { timeoutMs: 15_000 });
    const cancelled = JSON.parse(await ok('rollouts', 'create', '--name', 'listed cancelled', ...update, '--device-id', ids[0], '--json')) as Rollout;
    await ok('rollouts', 'cancel', cancelled.id);

    const rows = (await ok('rollouts', 'list')).trim().split('\n').map((line) => line.split('\t'));
    assert.deepEqual(rows[0].slice(0, 6), [cancelled.id, 'listed cancelled', 'cancelled', '1/1', '0/0', '0'], 'newest first');
    assert.deepEqual(rows[1].slice(0, 6), [done.id, 'listed done', 'completed', '1/1', '3/3', '0']);
    const listed = JSON.parse(await ok('rollouts', 'list', '--json')) as Rollout[];
    assert.deepEqual(listed.slice(0, 2).map((r) => r.id), [cancelled.id, done.id]);
    const onlyCancelled = JSON.parse(await ok('rollouts', 'list', '--status', 'cancelled', '--json')) as Rollout[];
    assert.ok(onlyCancelled.some((r) => r.id === cancelled.id) && onlyCancelled.every((r) => r.status === 'cancelled'));
    assert.deepEqual(JSON.parse(await ok('rollouts', 'list', '--top', '1', '--json')).length, 1);
    assert.ok(JSON.parse(await ok('rollouts', 'list', '--top', '1', '--all', '--json')).length >= 2, '--all follows the nextLink');

    const shown = await ok('rollouts', 'get', done.id);
    assert.match(shown, new RegExp(`^${done.id}  listed done  completed · 3/3 done ✓3 ✗0 ↷0`));
    assert.match(shown, /stage 1\/1 3\/3 completed {2}✓3 ✗0 ↷0/);
    const body = JSON.parse(await ok('rollouts', 'get', done.id, '--json')) as Rollout;
    assert.deepEqual(body, await stored(done.id), 'the Graph body as the server sends it');

    const devices = (await ok('rollouts', 'devices', done.id)).trim().split('\n').map((line) => line.split('\t'));
    assert.deepEqual(devices.map((d) => d[0]).sort(), [...ids].sort());
    for (const d of devices) {
      assert.deepEqual([d[1], d[2], d[3]], ['1', 'successful', '1']);
      assert.match(d[4], /^[0-9a-f-]{36}$/);
    }
    const json = JSON.parse(await ok('rollouts', 'devices', done.id, '--json')) as { deviceId: string; stage: number; state: string; operationId: string }[];
    assert.deepEqual(json.map((d) => d.operationId).sort(), devices.map((d) => d[4]).sort());
    assert.ok(json.every((d) => d.stage === 0 && d.state === 'successful'));
  });

  test('a verb the state refuses, an unknown rollout, a bad token: the Graph error printed, exit 1', async () => {
    const { ids } = await fleet(1);
    const created = JSON.parse(await ok('rollouts', 'create', '--name', 'refused', ...update, '--device-id', ids[0], '--json')) as Rollout;
    const pause = await cli('rollouts', 'pause', created.id);
    assert.equal(pause.code, 1);
    assert.equal(pause.stdout, '');
    assert.match(pause.stderr, /^teamwork-devices: POST \S+\/pause → 409 conflict: The rollout cannot be paused: it is notStarted\. \(request-id [0-9a-f-]{36}\)\n$/);
    const approve = await cli('rollouts', 'approve', created.id);
    assert.match(approve.stderr, /409 conflict/);
    const missing = await cli('rollouts', 'get', '00000000-0000-4000-8000-000000000000');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /404 itemNotFound: The rollout '00000000-0000-4000-8000-000000000000' does not exist\./);
    const unauthenticated = await cli('rollouts', 'list', '--token', 'not-a-token');
    assert.equal(unauthenticated.code, 1);
    assert.match(unauthenticated.stderr, /401 unauthenticated/);
    await ok('rollouts', 'cancel', created.id);
  });
});

describe('rollouts get --wait', () => {
  test('without a terminal: plain lines when something changed, no escapes, exit 0 at completed', async () => {
    const { fleet: f, ids } = await fleet(3);
    for (const id of ids) f.holding.add(id);
    const created = JSON.parse(await ok('rollouts', 'create', '--name', 'waited', ...update, ...ids.flatMap((id) => ['--device-id', id]),
      '--stage', 'count=1', '--stage', 'percent=100', '--json')) as Rollout;
    await ok('rollouts', 'start', created.id);
    const waiting = await spawnPiped('rollouts', 'get', created.id, '--wait', '--interval-ms', '50');
    await waitFor('the wait shows the first stage running', async () => /stage 1\/2 0\/1 running/.test(waiting.output()), { timeoutMs: 10_000 });
    for (const id of ids) f.holding.delete(id);
    const run = await waiting.done;
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!run.stderr.includes('\x1b'), 'no escape sequences without a terminal');
    assert.ok(!run.stderr.includes('█'), 'no bars either');
    const lines = run.stderr.trim().split('\n').map((line) => line.replace(/^\S+Z {2}/, ''));
    assert.ok(run.stderr.trim().split('\n').every((line) => /^\d{4}-\d\d-\d\dT\S+Z {2}/.test(line)), 'each line has its time');
    for (const key of [created.id, 'stage 1/2', 'stage 2/2']) {
      const seq = lines.filter((line) => line.startsWith(key));
      assert.ok(seq.length >= 2, `${key} changed at least once:\n${run.stderr}`);
      seq.forEach((line, i) => assert.notEqual(line, seq[i - 1], `a line is written only when it changed:\n${run.stderr}`));
    }
    assert.match(lines.filter((line) => line.startsWith(created.id)).at(-1)!, /waited {2}completed · 3\/3 done ✓3/);
    assert.match(lines.filter((line) => line.startsWith('stage 2/2')).at(-1)!, /^stage 2\/2 2\/2 completed {2}✓2 ✗0 ↷0$/);
    assert.match(run.stdout, /completed/);
  });

  test('stops at paused (exit 3) and at cancelled (exit 2), saying why', async () => {
    const { ids } = await fleet(2, () => ({ ok: false, code: 'installFailed' }));
    const created = JSON.parse(await ok('rollouts', 'create', '--name', 'failing', ...update, ...ids.flatMap((id) => ['--device-id', id]),
      '--stage', 'percent=100,maxFailurePercent=10', '--json')) as Rollout;
    await ok('rollouts', 'start', created.id);
    const paused = await cli('rollouts', 'get', created.id, '--wait', '--interval-ms', '50');
    assert.equal(paused.code, 3, paused.stderr);
    assert.match(paused.stdout, /failing {2}paused \(failureThreshold\)/);
    await ok('rollouts', 'cancel', created.id);
    const cancelled = await cli('rollouts', 'get', created.id, '--wait', '--interval-ms', '50', '--json');
    assert.equal(cancelled.code, 2);
    assert.equal((JSON.parse(cancelled.stdout) as Rollout).status, 'cancelled');
    assert.equal(cancelled.stderr, '', '--json shows no progress');
  });

  test('on a terminal: one bar per stage redrawn in place, ending completed; list has a header row', async () => {
    const { fleet: f, ids } = await fleet(4);
    for (const id of ids) f.holding.add(id);
    const created = JSON.parse(await ok('rollouts', 'create', '--name', 'on a tty', ...update, ...ids.flatMap((id) => ['--device-id', id]),
      '--stage', 'count=2,concurrency=1', '--stage', 'percent=100', '--json')) as Rollout;
    await ok('rollouts', 'start', created.id);
    const waiting = await spawnOnTerminal('rollouts', 'get', created.id, '--wait', '--interval-ms', '50');
    await waitFor('the first frame', async () => waiting.output().includes('░'), { timeoutMs: 10_000 });
    for (const id of ids) f.holding.delete(id);
    const run = await waiting.done;
    const output = run.stdout + run.stderr;
    assert.equal(run.code, 0, output);
    assert.match(output, /\x1b\[3A/, 'the cursor moves up over the last frame (3 lines)');
    assert.match(output, /\r\x1b\[2K/, 'each line is cleared as it is redrawn');
    assert.match(output, /stage 1\/2 ░{20} 0\/2 running/);
    const frames = output.split('\x1b[3A');
    assert.ok(frames.length >= 2, output);
    const last = frames.at(-1)!;
    assert.match(last, /on a tty {2}completed · 4\/4 done ✓4/);
    assert.match(last, /stage 1\/2 █{20} 2\/2 completed {2}✓2 ✗0 ↷0/);
    assert.match(last, /stage 2\/2 █{20} 2\/2 completed {2}✓2 ✗0 ↷0/);

    const table = await spawnOnTerminal('rollouts', 'list', '--top', '2');
    const listed = await table.done;
    assert.equal(listed.code, 0);
    const [header, row] = listed.stdout.trim().split(/\r?\n/);
    assert.match(header, /^ID +NAME +STATUS +STAGE +DONE +FAILED +CREATED$/);
    assert.ok(row.startsWith(`${created.id}  on a tty`), row);
    for (const [column, cell] of [['NAME', 'on a tty'], ['STATUS', 'completed'], ['STAGE', '2/2'], ['DONE', '4/4']]) {
      assert.equal(row.indexOf(` ${cell}`) + 1, header.indexOf(column), `${column} aligned:\n${header}\n${row}`);
    }
    assert.ok(!listed.stdout.includes('\t'));
  });
});
