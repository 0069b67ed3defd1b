import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { changesDevice, sameJson } from '../../src/domain/device-changes.js';
import { makeDevice } from '../helpers/store-fixtures.js';

/** The rule that decides whether an inventory report is written (src/domain/device-changes.ts). */

describe('sameJson', () => {
  test('objects are equal whatever their key order; arrays only in the same order', () => {
    assert.ok(sameJson({ a: 1, b: { c: [1, 2], d: null } }, { b: { d: null, c: [1, 2] }, a: 1 }));
    assert.ok(!sameJson({ a: [1, 2] }, { a: [2, 1] }));
    assert.ok(!sameJson({ a: 1 }, { a: 1, b: 2 }));
    assert.ok(!sameJson({ a: 1, b: 2 }, { a: 1 }));
    assert.ok(!sameJson({ a: null }, {}), 'null is a value, not an absence');
    assert.ok(!sameJson({ a: '1' }, { a: 1 }));
    assert.ok(!sameJson([], {}));
    assert.ok(!sameJson({ a: {} }, { a: null }));
  });

  test('as JSON means them: an undefined property is absent, -0 is 0', () => {
    assert.ok(sameJson({ a: 1, b: undefined }, { a: 1 }));
    assert.ok(sameJson({ a: 1 }, { a: 1, b: undefined }));
    assert.ok(sameJson({ n: -0 }, { n: 0 }));
  });
});

describe('changesDevice', () => {
  const device = makeDevice();
  const later = '2030-01-01T00:00:00.000Z';

  test('new stamps alone are no change', () => {
    const restamped = {
      ...device,
      lastModifiedDateTime: later,
      lastModifiedBy: { application: null, device: { id: device.id, displayName: null }, user: null },
      lastSeenDateTime: later,
      health: { ...device.health, lastModifiedDateTime: later },
      activity: { ...device.activity, lastModifiedDateTime: later },
      configuration: { ...device.configuration, lastModifiedDateTime: later },
    };
    assert.equal(changesDevice(device, restamped), false);
  });

  test('anything reported or derived is a change, a connection stamp included', () => {
    assert.ok(changesDevice(device, { ...device, activityState: device.activityState === 'busy' ? 'idle' : 'busy' }));
    assert.ok(changesDevice(device, { ...device, healthStatus: device.healthStatus === 'critical' ? 'healthy' : 'critical' }));
    assert.ok(changesDevice(device, { ...device, installed: { ...device.installed, firmware: 'another' } }));
    assert.ok(changesDevice(device, { ...device, health: { ...device.health, connection: { connectionStatus: 'connected', lastModifiedDateTime: later } } }));
    assert.ok(changesDevice(device, { ...device, activity: { ...device.activity, activePeripherals: { speaker: null } } }));
    assert.ok(changesDevice(device, { ...device, configuration: { ...device.configuration, softwareVersions: {} } }));
  });
});
