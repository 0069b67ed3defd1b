import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { generateDevices } from '../../src/seed/device-generator.js';

/**
 * Pins what the demo generator produces: seeded devices of existing databases are rebuilt
 * from it, so any change to its output (a refactor of the random generator, a reordered
 * draw) must show up here and be a deliberate decision.
 */

const options = { tenantId: '33333333-3333-4333-8333-333333333333', count: 300, seed: 7, startIndex: 11, now: new Date('2026-01-01T00:00:00Z') };

test('generateDevices output is pinned for a fixed seed, batch and clock', () => {
  const devices = generateDevices(options);
  const digest = createHash('sha256').update(JSON.stringify(devices)).digest('hex');
  assert.equal(digest, '8d753ac0513583272eb2b467453c80cb1ba48a308432ef8a877c68677f1f0129');
});

test('spot values of the pinned output', () => {
  const devices = generateDevices(options);
  const first = devices[0];
  const last = devices[devices.length - 1];
  assert.deepEqual(
    [first.id, first.deviceType, first.hardwareDetail.serialNumber, first.hardwareDetail.uniqueId, first.healthStatus, first.createdDateTime],
    ['7cc1e10a-63fa-4188-85a3-e5abc9ccc990', 'teamsRoom', 'CZC1DA92AB47', '5f6d1abf5271', 'healthy', '2025-04-30T15:35:09.324Z'],
  );
  assert.deepEqual([last.id, last.deviceType, last.installed, last.currentUser?.displayName ?? null], [
    '23822ab8-2485-4ff6-ace6-19d15ddc989b',
    'ipPhone',
    {
      adminAgent: '1.0.0.202407300912.product', operatingSystem: '12', teamsClient: '1.0.96.2024061103',
      firmware: '122.15.0.61', partnerAgent: '1.0.0.202406110445', companyPortal: '5.0.6198.0',
    },
    'Henrietta Haddad',
  ]);
});

test('a device is the same whatever batch generates it', () => {
  const whole = generateDevices({ ...options, count: 20, startIndex: 0 });
  const tail = generateDevices({ ...options, count: 5, startIndex: 15 });
  assert.deepEqual(tail, whole.slice(15));
});
