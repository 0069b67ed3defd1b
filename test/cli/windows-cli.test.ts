import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli-process.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * `teamwork-devices windows create|list|get|update|delete`, run as processes against a real
 * server and database; the token comes from TEAMWORK_DEVICES_TOKEN, as scripts pass it.
 */

let server: TestServer;
let env: string[];

before(async () => {
  server = await startTestServer({ testCatalog: false });
  env = ['--url', server.url];
  process.env.TEAMWORK_DEVICES_TOKEN = await server.token();
});

after(async () => {
  delete process.env.TEAMWORK_DEVICES_TOKEN;
  await server?.stop();
});

const windows = (...args: string[]) => runCli(['windows', ...args, ...env]);

describe('windows command', () => {
  test('create, get, list, update (merging the schedule), delete', async () => {
    const created = JSON.parse((await windows(
      'create', '--name', 'Nights', '--filter', "deviceType eq 'teamsRoom'", '--days', 'monday,friday',
      '--start', '22:00', '--duration', '120', '--time-zone', 'Europe/Berlin', '--json',
    )).stdout);
    assert.equal(created.displayName, 'Nights');
    assert.deepEqual(created.target, { filter: "deviceType eq 'teamsRoom'" });
    assert.deepEqual(created.schedule, { daysOfWeek: ['monday', 'friday'], startTime: '22:00', durationMinutes: 120, timeZone: 'Europe/Berlin' });
    const [row] = await server.query('SELECT display_name FROM maintenance_windows WHERE id = ?', [created.id]);
    assert.equal(row.display_name, 'Nights');

    const shown = (await windows('get', created.id)).stdout;
    assert.equal(shown.trim(), `${created.id}\tNights\tmonday,friday 22:00 for 120 min (Europe/Berlin)\tfilter: deviceType eq 'teamsRoom'`);

    const byIds = JSON.parse((await windows('create', '--name', 'Two rooms', '--device-id', 'dev-1', 'dev-2', '--days', 'sunday',
      '--start', '01:00', '--duration', '60', '--time-zone', 'Etc/UTC', '--json')).stdout);
    const listed = JSON.parse((await windows('list', '--json')).stdout) as { id: string }[];
    assert.deepEqual(listed.map((w) => w.id), [byIds.id, created.id]);
    assert.match((await windows('list')).stdout, /Two rooms\tsunday 01:00 for 60 min \(Etc\/UTC\)\t2 devices/);

    const updated = JSON.parse((await windows('update', created.id, '--duration', '90', '--name', 'Short nights', '--json')).stdout);
    assert.equal(updated.displayName, 'Short nights');
    assert.deepEqual(updated.schedule, { ...created.schedule, durationMinutes: 90 });

    assert.equal((await windows('delete', byIds.id)).stdout.trim(), `${byIds.id} deleted`);
    assert.deepEqual((await server.query('SELECT id FROM maintenance_windows WHERE id = ?', [byIds.id])), []);
  });

  test("the server's 400 and 404 come out as errors and a non-zero exit", async () => {
    await assert.rejects(
      windows('create', '--name', 'Bad', '--filter', "deviceType eq 'teamsRoom'", '--days', 'monday', '--start', '22:00', '--duration', '60', '--time-zone', 'Mars/Base'),
      /400 invalidRequest: 'schedule.timeZone'/,
    );
    await assert.rejects(windows('create', '--name', 'No target', '--days', 'monday', '--start', '22:00', '--duration', '60', '--time-zone', 'Etc/UTC'), /'target'/);
    await assert.rejects(windows('get', 'no-such-window'), /404 itemNotFound/);
    await assert.rejects(windows('delete', 'no-such-window'), /404 itemNotFound/);
    await assert.rejects(windows('create', '--duration', 'long'), /--duration must be a whole number/);
  });
});
