import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { SimulatedFleet } from '../../src/device/simulated-fleet.js';
import { ScriptedFleet } from '../helpers/scripted-fleet.js';
import { graphOperation, requestOperation } from '../helpers/graph-operations.js';
import { enrollmentToken } from '../helpers/test-agent.js';
import { waitFor } from '../helpers/wait-for.js';
import { startTestServer, tenantA, type TestServer } from '../helpers/test-server.js';
import { freshnessProperty } from '../../src/domain/device.js';
import { softwareFreshnesses, softwareTypes } from '../../src/domain/enums.js';

/**
 * The console in real headless Chromium, as an operator uses it: sign in with the dev token, read
 * the overview (its figures are the API's), filter and search the devices, open one, update it
 * and watch the operation succeed, and see a failed update's error.
 */

const count = async (server: TestServer, filter?: string) => {
  const response = await server.request(`/beta/teamwork/devices/$count${filter ? `?$filter=${encodeURIComponent(filter)}` : ''}`);
  assert.equal(response.status, 200);
  return Number(await response.text());
};

describe('the web console in Chromium', () => {
  let server: TestServer;
  let fleet: ScriptedFleet;
  let simulated: SimulatedFleet;
  let browser: TestBrowser;
  let scripted: string[];
  before(async () => {
    server = await startTestServer({ devicesA: 60, devicesB: 5, config: { tenant: tenantA } });
    // Device 0 installs what it is given; device 1 fails every update.
    fleet = new ScriptedFleet(server, (index) => (index === 0 ? { ok: true } : { ok: false, code: 'diskFull' }));
    scripted = await fleet.add(2, 'Console Test Bar');
    // A simulated room system: peripherals, and diagnostics with a result.
    simulated = new SimulatedFleet({ url: server.url, enrollmentToken: await enrollmentToken(server), devices: 1, tenantId: tenantA, updateMs: 300, failureRate: 0 });
    await simulated.start();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await fleet?.stop();
    await simulated?.stop();
    await server?.stop();
  });

  test('sign in with a dev token; the overview shows the API\'s counts', async () => {
    const { page } = browser;
    await page.goto(`${server.url}/`);
    await page.getByRole('button', { name: 'Sign in with a dev token' }).click();
    await page.getByRole('heading', { name: 'Fleet overview' }).waitFor();
    const total = await page.getByTestId('total-devices').textContent();
    assert.equal(Number(total), await count(server));
    assert.equal(Number(total), 63, '60 seeded and 3 enrolled in tenant A; none of B');
    const health = page.getByRole('figure', { name: 'Devices by health' });
    for (const [status, label] of [['healthy', 'Healthy'], ['critical', 'Critical'], ['offline', 'Offline'], ['nonUrgent', 'Non-urgent']]) {
      const text = await health.locator('li', { hasText: `${label}:` }).first().textContent();
      assert.equal(text, `${label}: ${await count(server, `healthStatus eq '${status}'`)} devices`);
    }
    const types = page.getByRole('figure', { name: 'Devices by type' });
    assert.equal(await types.locator('li', { hasText: 'Teams Room:' }).first().textContent(), `Teams Room: ${await count(server, "deviceType eq 'teamsRoom'")} devices`);
    assert.deepEqual(browser.pageErrors, [], 'no script errors and no CSP refusals');
  });

  test('the overview draws software freshness per software type with the API\'s counts', async () => {
    const { page } = browser;
    const figure = page.getByRole('figure', { name: 'Software freshness per software type' });
    await figure.waitFor();
    let drawn = 0;
    for (const type of softwareTypes) {
      const counts = await Promise.all(softwareFreshnesses.map((value) => count(server, `${freshnessProperty(type)} eq '${value}'`)));
      const cells = softwareFreshnesses.map((value) => figure.getByTestId(`freshness-${type}-${value}`));
      if (counts.every((n) => n === 0)) {
        assert.equal(await cells[0].count(), 0, `${type}: no device has it, no row`);
        continue;
      }
      drawn++;
      assert.deepEqual(await Promise.all(cells.map(async (cell) => Number(await cell.textContent()))), counts, type);
    }
    assert.ok(drawn >= 3, `${drawn} software types drawn`);
    const teams = await count(server, `${freshnessProperty('teamsClient')} eq 'updateAvailable'`);
    assert.ok(teams > 0 && teams < 63, 'the demo fleet has some Teams clients behind');
    // The count's link is the devices table filtered the same way.
    await figure.locator('li', { hasText: 'Teams client' }).getByRole('link', { name: 'Update available' }).click();
    await page.getByText(`${teams} devices match`).waitFor();
    assert.match(page.url(), /#\/devices\?software=teamsClient&freshness=updateAvailable$/);
  });

  test('the freshness filter narrows the table to the devices the API returns for it', async () => {
    const { page } = browser;
    await page.goto(`${server.url}/#/devices`);
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    await page.getByLabel('Software').selectOption('teamsClient');
    await page.getByLabel('Freshness').selectOption('latest');
    const filter = `${freshnessProperty('teamsClient')} eq 'latest'`;
    const response = await server.request(`/beta/teamwork/devices?$top=25&$filter=${encodeURIComponent(filter)}`);
    assert.equal(response.status, 200);
    const api = await response.json() as { value: { id: string }[] };
    const matching = await count(server, filter);
    assert.ok(matching > 0 && matching < 63, `the filter narrows the fleet (${matching} of 63)`);
    await page.getByText(`${matching} devices match`).waitFor();
    const links = await page.locator('tbody tr td:first-child a').evaluateAll((anchors) => anchors.map((a) => (a as HTMLAnchorElement).hash));
    assert.deepEqual(links, api.value.map((d) => `#/devices/${d.id}`), 'the same devices, in the same order');
    assert.match(page.url(), /#\/devices\?software=teamsClient&freshness=latest$/, 'the filter is in the address');

    // Freshness alone: any software type's.
    await page.goto(`${server.url}/#/devices?freshness=unknown`);
    const any = softwareTypes.map((type) => `${freshnessProperty(type)} eq 'unknown'`).join(' or ');
    await page.getByText(`${await count(server, any)} devices match`).waitFor();
  });

  test('filter the devices by type and health, and search by serial number', async () => {
    const { page } = browser;
    await page.getByRole('link', { name: 'Devices', exact: true }).click();
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    await page.getByLabel('Type').selectOption('teamsRoom');
    await page.getByLabel('Health').selectOption('healthy');
    const expected = await count(server, "deviceType eq 'teamsRoom' and healthStatus eq 'healthy'");
    await page.getByText(`${expected} devices match`).waitFor();
    const rows = page.locator('tbody tr');
    assert.equal(await rows.count(), Math.min(expected, 25));
    for (const type of await rows.locator('td:nth-child(2)').allTextContents()) assert.equal(type, 'Teams Room');
    for (const health of await rows.locator('td:nth-child(6)').allTextContents()) assert.equal(health, 'Healthy');
    assert.match(page.url(), /#\/devices\?type=teamsRoom&health=healthy$/, 'the filter is in the address, so it can be shared');

    const [{ serial }] = await server.query<{ serial: string }>('SELECT hw_serial_number AS serial FROM devices WHERE id = ?', [scripted[0]]);
    await page.goto(`${server.url}/#/devices`);
    await page.getByLabel('Search').fill(serial.slice(0, -2));
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1 devices match').waitFor();
    assert.equal(await page.locator('tbody tr td:nth-child(4)').textContent(), serial);
  });

  test('open a device, update it and watch the operation reach successful', async () => {
    const { page } = browser;
    await page.locator('tbody tr a').first().click();
    await page.getByRole('heading', { name: 'Hardware' }).waitFor();
    assert.match(page.url(), new RegExp(`#/devices/${scripted[0]}$`));
    assert.equal(await page.locator('dl.facts dd').nth(1).textContent(), 'Console Test Bar');
    await page.getByRole('button', { name: 'Update software…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Update software' });
    await dialog.getByLabel('Software').selectOption('teamsClient');
    await dialog.getByLabel('Version').selectOption('1.0.96.22');
    const events = page.waitForResponse((response) => response.url().endsWith('/events'));
    await dialog.getByRole('button', { name: 'Update' }).click();
    assert.match((await events).headers()['content-type'] ?? '', /^text\/event-stream/, 'followed by its event stream');
    const live = page.getByTestId('live-status');
    await live.getByText('Successful').waitFor({ timeout: 15_000 });
    assert.match(await live.textContent() ?? '', /Update of Teams client to 1\.0\.96\.22: Successful/);
    const [operation] = await server.query<{ status: string; software_version: string }>(
      'SELECT status, software_version FROM operations WHERE device_id = ? ORDER BY created_at DESC', [scripted[0]]);
    assert.deepEqual({ ...operation }, { status: 'successful', software_version: '1.0.96.22' });
    await page.getByTestId('operations').getByText('Successful').first().waitFor();
  });

  test('a failed update shows its error; the dialog works by keyboard', async () => {
    const { page } = browser;
    await page.goto(`${server.url}/#/devices/${scripted[1]}`);
    await page.getByRole('heading', { name: 'Hardware' }).waitFor();
    // By keyboard: the dialog takes the focus, and Escape closes it without sending anything.
    const dialog = page.getByRole('dialog', { name: 'Update software' });
    // The button stays disabled until the device's offered versions arrive, and focus() (unlike click()) does not wait for that.
    const updateButton = page.getByRole('button', { name: 'Update software…', disabled: false });
    await updateButton.waitFor();
    await updateButton.focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.closest('dialog') !== null), true, 'focus is in the dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await server.query('SELECT id FROM operations WHERE device_id = ?', [scripted[1]])).length, 0);
    await page.getByRole('button', { name: 'Update software…' }).click();
    await dialog.getByRole('button', { name: 'Update' }).click();
    const live = page.getByTestId('live-status');
    await live.getByText('Failed').waitFor({ timeout: 15_000 });
    assert.match(await live.textContent() ?? '', /scripted failure diskFull/);
    await page.getByTestId('operations').getByText('diskFull: scripted failure diskFull').waitFor();
  });

  test('diagnostics behind a confirmation, then their result', async () => {
    const { page } = browser;
    await page.goto(`${server.url}/#/devices/${simulated.deviceIds()[0]}`);
    await page.getByRole('heading', { name: 'Peripherals' }).waitFor();
    await page.getByRole('button', { name: 'Run diagnostics…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Run diagnostics?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await server.query('SELECT id FROM operations WHERE device_id = ?', [simulated.deviceIds()[0]])).length, 0, 'cancelled: nothing sent');
    await page.getByRole('button', { name: 'Run diagnostics…' }).click();
    await dialog.getByRole('button', { name: 'Run diagnostics' }).click();
    await page.getByTestId('live-status').getByText('Successful').waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'Show result' }).click();
    const result = JSON.parse(await page.getByLabel('Diagnostics result').textContent() ?? '{}') as Record<string, unknown>;
    const [{ id }] = await server.query<{ id: string }>('SELECT id FROM operations WHERE device_id = ?', [simulated.deviceIds()[0]]);
    const api = await (await server.request(`/beta/teamwork/devices/${simulated.deviceIds()[0]}/operations/${id}/result`)).json();
    assert.deepEqual(result, api);
    assert.equal(result.operationType, 'deviceDiagnostics');
  });

  test('the overview counts the last 24 hours\' operations by outcome, as the API does', async () => {
    const { page } = browser;
    await page.goto(`${server.url}/#/`);
    const figure = page.getByRole('figure', { name: 'Operations in the last 24 hours' });
    await figure.waitFor();
    const since = new Date(Date.now() - 24 * 3600_000).toISOString();
    for (const [status, label] of [['successful', 'Successful'], ['failed', 'Failed']]) {
      const response = await server.request(`/beta/teamwork/devices/operations/$count?$filter=${encodeURIComponent(`status eq '${status}' and createdDateTime ge ${since}`)}`);
      const expected = Number(await response.text());
      assert.equal(expected, status === 'successful' ? 2 : 1);
      assert.equal(await figure.locator('li', { hasText: `${label}:` }).first().textContent(), `${label}: ${expected} operations`);
    }
  });

  test('older operations a page at a time', async () => {
    const { page } = browser;
    // Device 0 has one operation; 20 more (each after the one before ended: one pending at a time) make two pages.
    for (let i = 0; i < 20; i++) {
      const id = await requestOperation(server, scripted[0], 'updateSoftware', { softwareType: 'firmware', softwareVersion: i % 2 ? '5.1' : '5.2' });
      await waitFor('the update to end', async () => (await graphOperation(server, scripted[0], id)).status === 'successful');
    }
    await page.goto(`${server.url}/#/devices/${scripted[0]}`);
    const rows = page.getByTestId('operations').locator('tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 20);
    await page.getByRole('button', { name: 'Show older operations' }).click();
    await waitFor('the older page', async () => (await rows.count()) === 21);
    assert.equal(await page.getByRole('button', { name: 'Show older operations' }).count(), 0, 'no more pages');
  });

  test('a refused token signs the console out', async () => {
    const { page } = browser;
    await page.evaluate(() => sessionStorage.setItem('twd.token', 'not-a-token'));
    await page.goto(`${server.url}/#/devices`);
    await page.getByRole('button', { name: 'Sign in with a dev token' }).waitFor();
    await page.getByText('The server refused your token').waitFor();
  });
});
