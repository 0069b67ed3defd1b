import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../helpers/browser.js';
import { ScriptedFleet } from '../helpers/scripted-fleet.js';
import { postJson, startTestServer, tenantA } from '../helpers/test-server.js';

/**
 * `npm run screenshots`: the console's overview, devices table and device page in headless
 * Chromium, at a laptop's and a tablet's size, written to docs/images/ for the README.
 */
const images = fileURLToPath(new URL('../../../docs/images/', import.meta.url));
mkdirSync(images, { recursive: true });

const server = await startTestServer({ devicesA: 300, config: { tenant: tenantA } });
const fleet = new ScriptedFleet(server, (index) => (index === 1 ? { ok: false, code: 'diskFull' } : { ok: true }));
const [updated, failing] = await fleet.add(2, 'Rally Bar');
// Some history: a failed update, and on the device shown a successful one (started from the page below).
await postJson(server, `/beta/teamwork/devices/${failing}/updateSoftware`, { softwareType: 'teamsClient' });
const browser = await launchBrowser({ width: 1366, height: 768 });
try {
  const { page } = browser;
  await page.goto(`${server.url}/`);
  await page.getByRole('button', { name: 'Sign in with a dev token' }).click();
  await page.getByRole('figure', { name: 'Devices by health' }).waitFor();
  await page.screenshot({ path: `${images}console-overview.png`, fullPage: true });

  await page.goto(`${server.url}/#/devices?health=critical`);
  await page.locator('tbody tr').first().waitFor();
  await page.screenshot({ path: `${images}console-devices.png` });

  await page.goto(`${server.url}/#/devices/${updated}`);
  await page.getByRole('button', { name: 'Update software…' }).click();
  await page.getByRole('dialog').getByLabel('Version').selectOption({ index: 1 });
  await page.screenshot({ path: `${images}console-update-dialog.png` });
  await page.getByRole('dialog').getByRole('button', { name: 'Update' }).click();
  await page.getByTestId('live-status').getByText('Successful').waitFor({ timeout: 15_000 });
  await page.screenshot({ path: `${images}console-device.png`, fullPage: true });

  await page.setViewportSize({ width: 768, height: 1024 });
  await page.goto(`${server.url}/#/devices`);
  await page.locator('tbody tr').first().waitFor();
  await page.screenshot({ path: `${images}console-devices-tablet.png` });
  process.stdout.write(`screenshots written to ${images}\n`);
} finally {
  await browser.close();
  await fleet.stop();
  await server.stop();
}
