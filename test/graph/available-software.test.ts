import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CatalogEntry } from '../../src/domain/software-catalog.js';
import { expectGraphError } from '../helpers/http-assertions.js';
import { postJson, startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * `GET /teamwork/devices/{id}/availableSoftwareVersions`: the versions updateSoftware accepts
 * for the device (the console's version picker), by the catalog's one rule of "offered".
 */
describe('a device\'s available software versions', () => {
  let server: TestServer;
  let device: { id: string; deviceType: string; model: string };
  let foreign: string;
  before(async () => {
    server = await startTestServer({ devicesA: 1, devicesB: 1, testCatalog: false });
    [device] = await server.query<{ id: string; deviceType: string; model: string }>('SELECT id, device_type AS "deviceType", hw_model AS model FROM devices WHERE tenant_id = ?', [tenantA]);
    [{ id: foreign }] = await server.query<{ id: string }>('SELECT id FROM devices WHERE tenant_id = ?', [tenantB]);
    const entry = (tenantId: string, softwareType: CatalogEntry['softwareType'], version: string, narrow: Partial<CatalogEntry> = {}): CatalogEntry =>
      ({ tenantId, softwareType, version, deviceType: null, model: null, createdDateTime: new Date().toISOString(), artifact: null, ...narrow });
    await server.store.addCatalogEntries([
      entry(tenantA, 'teamsClient', '1.0.9'),
      entry(tenantA, 'teamsClient', '1.0.10', { model: device.model.toUpperCase() }),
      entry(tenantA, 'teamsClient', '3.0', { model: 'Another Model' }),
      entry(tenantA, 'firmware', '5.0', { deviceType: device.deviceType as CatalogEntry['deviceType'] }),
      entry(tenantA, 'firmware', '5.0', { model: device.model }),
      entry(tenantA, 'firmware', '6.0', { deviceType: device.deviceType === 'ipPhone' ? 'teamsRoom' : 'ipPhone' }),
      entry(tenantB, 'teamsClient', '9.9'),
    ]);
  });
  after(() => server.stop());

  test('the versions offered to its type and model, once each, newest first per software type', async () => {
    const response = await server.request(`/beta/teamwork/devices/${device.id}/availableSoftwareVersions`, { token: await server.token({ scopes: ['TeamworkDevice.Read.All'] }) });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { '@odata.context': string; value: unknown[] };
    assert.match(body['@odata.context'], /\/beta\/\$metadata#teamwork\/devices\('[^']+'\)\/availableSoftwareVersions$/);
    assert.deepEqual(body.value, [
      { softwareType: 'firmware', softwareVersion: '5.0' },
      { softwareType: 'teamsClient', softwareVersion: '1.0.10' },
      { softwareType: 'teamsClient', softwareVersion: '1.0.9' },
    ]);
  });

  test('updateSoftware accepts exactly those: a listed version is a 202, an unlisted one a 404', async () => {
    const accepted = await postJson(server, `/beta/teamwork/devices/${device.id}/updateSoftware`, { softwareType: 'teamsClient', softwareVersion: '1.0.10' });
    assert.equal(accepted.status, 202);
    await expectGraphError(await postJson(server, `/beta/teamwork/devices/${device.id}/updateSoftware`, { softwareType: 'firmware', softwareVersion: '6.0' }), 404, 'itemNotFound');
  });

  test('another tenant\'s device is a 404; no token a 401', async () => {
    await expectGraphError(await server.request(`/beta/teamwork/devices/${foreign}/availableSoftwareVersions`), 404, 'itemNotFound');
    await expectGraphError(await server.request(`/beta/teamwork/devices/${device.id}/availableSoftwareVersions`, { token: null }), 401, 'unauthenticated');
    await expectGraphError(await server.request(`/beta/teamwork/devices/${device.id}/availableSoftwareVersions`, { token: await server.token({ tenantId: tenantB }) }), 404, 'itemNotFound');
  });
});
