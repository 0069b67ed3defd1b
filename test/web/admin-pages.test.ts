import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { enrollBody, TestAgent, uniqueHardware } from '../helpers/test-agent.js';
import { startTestServer, tenantA, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The console's admin pages in real headless Chromium, as an operator uses them: a maintenance
 * window created, edited and deleted; a rollout created and started, its counts the API's; an
 * enrollment token created (its secret shown once, and it really enrolls) and revoked; the audit
 * log listing those actions. Each step is checked against the API or the database.
 */

const apiJson = async <T>(server: TestServer, path: string): Promise<T> => {
  const response = await server.request(path);
  assert.equal(response.status, 200, path);
  return (await response.json()) as T;
};

describe('the console\'s admin pages in Chromium', () => {
  let server: TestServer;
  let browser: TestBrowser;
  before(async () => {
    server = await startTestServer({ devicesA: 40, devicesB: 3, config: { tenant: tenantA } });
    browser = await launchBrowser();
    await browser.page.goto(`${server.url}/`);
    await browser.page.getByRole('button', { name: 'Sign in with a dev token' }).click();
    await browser.page.getByRole('heading', { name: 'Fleet overview' }).waitFor();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('create a maintenance window, edit it, delete it', async () => {
    const { page } = browser;
    await page.getByRole('link', { name: 'Maintenance windows' }).click();
    await page.getByRole('heading', { name: 'Maintenance windows' }).waitFor();
    await page.getByRole('button', { name: 'New window…' }).click();
    const form = page.getByRole('form', { name: 'New maintenance window' });
    await form.getByLabel('Name').fill('Weekend nights');
    await form.getByLabel('Devices (a devices $filter)').fill("hardwareDetail/model eq 'No Such Model'");
    await form.getByLabel('Wednesday').check();
    await form.getByLabel('Opens at (HH:MM)').fill('22:30');
    await form.getByLabel('Open for (minutes, 30 to 1440)').fill('240');
    await form.getByLabel('Time zone (IANA)').fill('Europe/Berlin');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByText('Created “Weekend nights”.').waitFor();
    const row = page.locator('tbody tr', { hasText: 'Weekend nights' });
    assert.equal(await row.locator('td').nth(2).textContent(), 'Sun, Wed, Sat');
    const { value: [window] } = await apiJson<{ value: { id: string; displayName: string; target: unknown; schedule: unknown }[] }>(server, '/beta/teamwork/maintenanceWindows');
    assert.deepEqual(window.target, { filter: "hardwareDetail/model eq 'No Such Model'" });
    assert.deepEqual(window.schedule, { daysOfWeek: ['sunday', 'wednesday', 'saturday'], startTime: '22:30', durationMinutes: 240, timeZone: 'Europe/Berlin' });

    await row.getByRole('button', { name: 'Edit Weekend nights' }).click();
    const edit = page.getByRole('form', { name: 'Edit “Weekend nights”' });
    await edit.getByLabel('Name').fill('Midweek nights');
    await edit.getByLabel('Sunday').uncheck();
    await edit.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved “Midweek nights”.').waitFor();
    const changed = await apiJson<{ displayName: string; schedule: { daysOfWeek: string[] } }>(server, `/beta/teamwork/maintenanceWindows/${window.id}`);
    assert.equal(changed.displayName, 'Midweek nights');
    assert.deepEqual(changed.schedule.daysOfWeek, ['wednesday', 'saturday']);

    // A server-side refusal is shown with the registry's code, and nothing changes.
    await page.locator('tbody tr', { hasText: 'Midweek nights' }).getByRole('button', { name: 'Edit Midweek nights' }).click();
    await page.getByRole('form', { name: 'Edit “Midweek nights”' }).getByLabel('Time zone (IANA)').fill('Mars/Olympus');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').getByText("'Mars/Olympus' is not one").waitFor();
    await page.getByRole('alert').getByText('invalidRequest').waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    assert.deepEqual(browser.pageErrors, ['Failed to load resource: the server responded with a status of 400 (Bad Request)'], 'the one refusal, and no script error');
    browser.pageErrors.length = 0;

    await page.getByRole('button', { name: 'Delete Midweek nights' }).click();
    await page.getByRole('dialog', { name: 'Delete “Midweek nights”?' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Deleted “Midweek nights”.').waitFor();
    await page.getByText('No maintenance windows').waitFor();
    assert.equal((await server.request(`/beta/teamwork/maintenanceWindows/${window.id}`)).status, 404);
    assert.deepEqual(browser.pageErrors, []);
  });

  test('create a rollout and start it: its counts are the API\'s, whole and per stage', async () => {
    const { page } = browser;
    await page.getByRole('link', { name: 'Rollouts' }).click();
    await page.getByRole('heading', { name: 'Rollouts' }).waitFor();
    await page.getByRole('button', { name: 'New rollout…' }).click();
    const form = page.getByRole('form', { name: 'New rollout' });
    await form.getByLabel('Name').fill('Rooms to 1.0.96.22');
    await form.getByLabel('Software').selectOption('teamsClient');
    await form.getByLabel('Version (empty: the newest the catalog offers each device)').fill('1.0.96.22');
    await form.getByLabel('Devices (a devices $filter)').fill("deviceType eq 'teamsRoom'");
    await form.getByLabel('Stages (% of the devices still to update, in order)').fill('50, 100');
    await form.getByLabel('Ask for approval before each stage').check();
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'Rooms to 1.0.96.22' }).waitFor();
    const id = decodeURIComponent(page.url().split('#/rollouts/')[1]);
    assert.equal((await apiJson<{ status: string }>(server, `/beta/teamwork/softwareRollouts/${id}`)).status, 'notStarted');

    await page.getByRole('button', { name: 'Start…' }).click();
    await page.getByRole('dialog', { name: 'Start: Rooms to 1.0.96.22?' }).getByRole('button', { name: 'Start' }).click();
    await page.getByText('Start: done.').waitFor();
    await page.locator('dl.facts').getByText('Running').waitFor();
    const rooms = Number(await (await server.request("/beta/teamwork/devices/$count?$filter=deviceType eq 'teamsRoom'")).text());
    assert.ok(rooms >= 2, `seeded rooms: ${rooms}`);
    // Every stage waits for approval, the first included: its targets are taken once approved.
    const stages = page.getByTestId('rollout-counts').locator('tbody tr');
    await stages.nth(0).locator('td').first().getByText('Awaiting approval').waitFor({ timeout: 10_000 });
    assert.equal(Number(await page.getByTestId('rollout-total').locator('[data-count="total"]').textContent()), rooms, 'every room is a target');
    await page.getByRole('button', { name: 'Approve next stage…' }).click();
    await page.getByRole('dialog', { name: 'Approve next stage: Rooms to 1.0.96.22?' }).getByRole('button', { name: 'Approve next stage' }).click();
    await page.getByText('Approve next stage: done.').waitFor();
    const firstStage = Math.ceil(rooms / 2);
    const settled = await waitFor('the first stage taking half the rooms', async () => {
      const rollout = await apiJson<{ stages: { status: string; counts: Record<string, number> }[]; counts: Record<string, number> }>(server, `/beta/teamwork/softwareRollouts/${id}`);
      return rollout.stages[0].counts.total === firstStage && rollout.stages[0].status === 'running' ? rollout : null;
    }, { timeoutMs: 15_000 });
    assert.equal(settled.counts.total, rooms);
    // The page reads a running rollout again every 2 s: it comes to show the API's figures.
    const names = ['total', 'pending', 'scheduled', 'running', 'successful', 'failed', 'cancelled', 'skipped'];
    const shownCounts = async (row: number) => Object.fromEntries(await Promise.all(names.map(async (name) => [name, Number(await stages.nth(row).locator(`[data-count="${name}"]`).textContent())])));
    await waitFor('the page showing the API\'s counts', async () => {
      const api = await apiJson<{ stages: { counts: Record<string, number> }[]; counts: Record<string, number> }>(server, `/beta/teamwork/softwareRollouts/${id}`);
      const [first, second, all] = [await shownCounts(0), await shownCounts(1), await shownCounts(2)];
      return names.every((name) => first[name] === api.stages[0].counts[name] && second[name] === api.stages[1].counts[name] && all[name] === api.counts[name]);
    }, { timeoutMs: 10_000 });
    assert.equal(await stages.count(), 3, 'two stages and the total');
    assert.equal(Number(await stages.nth(0).locator('[data-count="total"]').textContent()), firstStage);
    assert.equal(await stages.nth(0).locator('td').first().textContent(), 'Running');

    await page.getByRole('link', { name: 'All rollouts' }).click();
    const row = page.locator('tbody tr', { hasText: 'Rooms to 1.0.96.22' });
    await row.getByText('Running').waitFor();
    assert.equal(await row.locator('td').nth(4).textContent(), String(rooms));
    assert.deepEqual(browser.pageErrors, []);
  });

  test('create an enrollment token (its secret shown once, and it enrolls a device), then revoke it', async () => {
    const { page } = browser;
    await page.getByRole('link', { name: 'Enrollment tokens' }).click();
    await page.getByRole('heading', { name: 'Enrollment tokens' }).waitFor();
    const form = page.getByRole('form', { name: 'New enrollment token' });
    await form.getByLabel('Description').fill('Lobby panels');
    await form.getByLabel('Devices it may enroll (empty: no limit)').fill('2');
    await form.getByRole('button', { name: 'Create token' }).click();
    const secret = (await page.getByTestId('new-token').textContent())!.trim();
    assert.ok(secret.length > 20, 'the secret is shown');
    const row = page.locator('tbody tr', { hasText: 'Lobby panels' });
    await row.getByText('Active').waitFor();
    assert.equal(await row.locator('td').nth(2).textContent(), '0 of 2');

    const agent = new TestAgent(server.url);
    await agent.enrollOk(enrollBody(secret, { hardwareDetail: uniqueHardware({ model: 'Lobby Panel' }) }), 201);
    await page.getByRole('button', { name: 'I have copied it' }).click();
    assert.equal(await page.getByTestId('new-token').count(), 0, 'the secret is gone once dismissed');
    await page.reload();
    await page.locator('tbody tr', { hasText: 'Lobby panels' }).locator('td').nth(2).getByText('1 of 2').waitFor();

    await page.getByRole('button', { name: 'Revoke Lobby panels' }).click();
    await page.getByRole('dialog', { name: 'Revoke this token?' }).getByRole('button', { name: 'Revoke' }).click();
    await page.locator('tbody tr', { hasText: 'Lobby panels' }).getByText('Revoked').waitFor();
    const { value } = await apiJson<{ value: { description: string; revokedDateTime: string | null }[] }>(server, '/beta/teamwork/enrollmentTokens');
    assert.ok(value.find((token) => token.description === 'Lobby panels')?.revokedDateTime, 'revoked in the API');
    const refused = await new TestAgent(server.url).enroll(enrollBody(secret, { hardwareDetail: uniqueHardware({ model: 'Lobby Panel' }) }));
    assert.equal(refused.status, 401, 'a revoked token enrolls nothing');
    assert.deepEqual(browser.pageErrors, []);
  });

  test('the audit log lists those actions, newest first', async () => {
    const { page } = browser;
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const activities = page.locator('tbody tr td:nth-child(2)');
    await activities.first().waitFor();
    const shown = await activities.allTextContents();
    const { value } = await apiJson<{ value: { activity: string }[] }>(server, '/beta/teamwork/auditEvents?$top=25');
    assert.equal(shown.length, value.length);
    for (const activity of ['Enrollment token revoked', 'Device enrolled', 'Enrollment token created', 'Rollout approved', 'Rollout started', 'Rollout created']) {
      assert.ok(shown.includes(activity), `${activity} in ${shown.join(', ')}`);
    }
    assert.ok(shown.indexOf('Enrollment token revoked') < shown.indexOf('Enrollment token created'), 'newest first');
    assert.ok(shown.indexOf('Rollout started') < shown.indexOf('Rollout created'));

    await page.getByLabel('Activity').selectOption('enrollmentTokenCreated');
    await page.waitForURL(/#\/audit\?activity=enrollmentTokenCreated$/);
    await waitFor('only the chosen activity', async () => {
      const rows = await activities.allTextContents();
      return rows.length === 1 && rows[0] === 'Enrollment token created';
    });
    assert.deepEqual(browser.pageErrors, []);
  });
});
