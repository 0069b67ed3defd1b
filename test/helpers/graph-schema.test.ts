/**
 * The schema helper must be able to say no: these bodies are hand-made (Graph's own doc
 * examples, in camelCase as the schema spells enums) and then broken one way at a time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertGraphShape, graphSchemaErrors, parseCsdl, fixturePath, csdlFixture } from './graph-schema.js';
import { readFileSync } from 'node:fs';

const identitySet = {
  application: null,
  device: null,
  user: { id: '2a610f6f-adf6-4205', displayName: 'Evan Lewis', userIdentityType: 'aadUser' },
};

function device(): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.teamworkDevice',
    id: '0f3ce432-e432-0f3c-32e4-3c0f32e43c0f',
    deviceType: 'collaborationBar',
    hardwareDetail: { serialNumber: '0189', uniqueId: '5abcdefgh', macAddresses: [], manufacturer: 'yealink', model: 'vc210' },
    notes: 'CollaborationBar device.',
    companyAssetTag: 'Tag1',
    healthStatus: 'healthy',
    activityState: 'idle',
    createdDateTime: '2021-06-19T19:01:04.185Z',
    createdBy: null,
    lastModifiedDateTime: '2021-06-19T19:01:04.185Z',
    lastModifiedBy: identitySet,
    currentUser: { id: '2a610f6f-adf6-4205', displayName: 'Evan Lewis', userIdentityType: 'aadUser' },
  };
}

function operation(): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.teamworkDeviceOperation',
    id: 'eab261f8-61f8-eab2-f861-b2eaf861b2ea',
    status: 'successful',
    operationType: 'deviceDiagnostics',
    error: null,
    startedDateTime: '2021-06-19T12:01:03.45Z',
    completedDateTime: '2021-06-19T12:01:03.45Z',
    createdDateTime: '2021-06-19T12:01:03.45Z',
    lastActionDateTime: '2021-06-19T12:01:03.45Z',
    createdBy: identitySet,
    lastActionBy: identitySet,
  };
}

function configuration(): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.teamworkDeviceConfiguration',
    id: 'e19229ed-29ed-e192-ed29-92e1ed2992e1',
    softwareVersions: { adminAgentSoftwareVersion: '2020.7.10.1', operatingSystemSoftwareVersion: '10.8.9.10', teamsClientSoftwareVersion: '4.5.6.7', firmwareSoftwareVersion: null, partnerAgentSoftwareVersion: null },
    displayConfiguration: { displayCount: 1, isDualDisplayModeEnabled: true, isContentDuplicationAllowed: false, configuredDisplays: [{ isOptional: false }, { isOptional: true }], inBuiltDisplayScreenConfiguration: null },
    cameraConfiguration: { contentCameraConfiguration: { isContentCameraOptional: true, isContentEnhancementEnabled: false, isContentCameraInverted: false } },
    speakerConfiguration: { isSpeakerOptional: false, isCommunicationSpeakerOptional: false },
    microphoneConfiguration: { isMicrophoneOptional: false },
    teamsClientConfiguration: null,
    hardwareConfiguration: { processorModel: 'Intel(R) Core(TM) i5-7300U CPU @ 2.60GHz' },
    systemConfiguration: {
      dateTimeConfiguration: { dateFormat: 'dd/MM/yyyy', officeHoursStartTime: '08:00:00', officeHoursEndTime: '18:00:00', timeFormat: 'HH:mm', timeZone: 'UTC' },
      defaultPassword: null, deviceLockTimeout: 'PT30S', isDeviceLockEnabled: false, isLoggingEnabled: true, isPowerSavingEnabled: true,
      isScreenCaptureEnabled: false, isSilentModeEnabled: false, language: 'en-US', lockPin: null, loggingLevel: 'info', networkConfiguration: null,
    },
    createdDateTime: '2021-03-19T19:00:04.000Z',
    lastModifiedDateTime: '2021-06-19T19:01:04.185Z',
    createdBy: null,
    lastModifiedBy: null,
  };
}

function activity(): Record<string, unknown> {
  const peripheral = { id: 'Headset Earphone (Logitech SmartDock)', displayName: 'Headset Earphone (Logitech SmartDock)', vendorId: 'VID_046D', productId: 'PID_0864' };
  return {
    '@odata.type': '#microsoft.graph.teamworkDeviceActivity',
    id: '1ae3fe60-fe60-1ae3-60fe-e31a60fee31a',
    activePeripherals: { roomCamera: null, contentCamera: null, speaker: peripheral, communicationSpeaker: peripheral, microphone: peripheral },
    createdDateTime: '2021-03-19T19:00:04.000Z',
    lastModifiedDateTime: '2021-06-19T19:01:04.185Z',
    createdBy: null,
    lastModifiedBy: null,
  };
}

function health(): Record<string, unknown> {
  const c = { connectionStatus: 'connected', lastModifiedDateTime: '2021-06-10T19:01:04.185Z' };
  return {
    '@odata.type': '#microsoft.graph.teamworkDeviceHealth',
    id: 'd8214fe3-4fe3-d821-e34f-21d8e34f21d8',
    connection: { connectionStatus: 'disconnected', lastModifiedDateTime: '2021-06-10T19:01:04.185Z' },
    loginStatus: { exchangeConnection: c, teamsConnection: c, skypeConnection: c },
    peripheralsHealth: {
      roomCameraHealth: { isOptional: false, connection: c },
      contentCameraHealth: null,
      speakerHealth: { isOptional: false, connection: c },
      communicationSpeakerHealth: { isOptional: false, connection: c },
      displayHealthCollection: [{ isOptional: false, connection: c }],
      microphoneHealth: { isOptional: false, connection: c },
    },
    softwareUpdateHealth: {
      companyPortalSoftwareUpdateStatus: null,
      firmwareSoftwareUpdateStatus: null,
      partnerAgentSoftwareUpdateStatus: null,
      adminAgentSoftwareUpdateStatus: { softwareFreshness: 'latest', currentVersion: '2021.4.4.8', availableVersion: null },
      teamsClientSoftwareUpdateStatus: null,
      operatingSystemSoftwareUpdateStatus: null,
    },
    hardwareHealth: { computeHealth: { isOptional: false, connection: c }, hdmiIngestHealth: null },
    createdDateTime: '2021-03-19T19:00:04.000Z',
    lastModifiedDateTime: '2021-06-19T19:01:04.185Z',
    createdBy: null,
    lastModifiedBy: null,
  };
}

function errorBody(): Record<string, unknown> {
  return {
    error: {
      code: 'itemNotFound',
      message: 'The device does not exist.',
      innerError: { date: '2026-01-01T00:00:00.000Z', 'request-id': 'a', 'client-request-id': 'b' },
    },
  };
}

/** Sets a value at a path of an object copy. */
function withValue(body: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(body);
  let target = copy as Record<string, unknown>;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
  if (value === undefined) delete target[path[path.length - 1]];
  else target[path[path.length - 1]] = value;
  return copy;
}

function rejects(errors: string[], mention: RegExp): void {
  assert.ok(errors.length > 0, 'the broken body was accepted');
  assert.ok(errors.some((e) => mention.test(e)), `no error mentions ${mention}: ${errors.join('; ')}`);
}

describe('graph schema helper', () => {
  it('reads nullability from the CSDL extract', () => {
    const types = parseCsdl(readFileSync(fixturePath(csdlFixture), 'utf8'));
    const deviceType = types.get('microsoft.graph.teamworkDevice');
    assert.ok(deviceType);
    const byName = new Map(deviceType.properties.map((p) => [p.name, p]));
    assert.equal(byName.get('deviceType')?.nullable, false);
    assert.equal(byName.get('hardwareDetail')?.nullable, false);
    assert.equal(byName.get('createdBy')?.nullable, true);
    assert.equal(types.get('microsoft.graph.identitySet')?.open, true);
    assert.equal(types.get('microsoft.graph.teamworkHardwareDetail')?.properties.find((p) => p.name === 'macAddresses')?.collection, true);
  });

  it("accepts Graph's documented examples (camelCase enums, explicit nulls)", () => {
    assertGraphShape('microsoft.graph.teamworkDevice', device());
    assertGraphShape('microsoft.graph.teamworkDeviceOperation', operation());
    assertGraphShape('microsoft.graph.teamworkDeviceHealth', health());
    assertGraphShape('microsoft.graph.teamworkDeviceActivity', activity());
    assertGraphShape('microsoft.graph.teamworkDeviceConfiguration', configuration());
    assertGraphShape('microsoft.graph.ODataErrors.ODataError', errorBody());
    assertGraphShape('microsoft.graph.teamworkDeviceCollectionResponse', {
      '@odata.context': 'https://graph.microsoft.com/beta/$metadata#teamwork/devices',
      '@odata.nextLink': 'https://graph.microsoft.com/beta/teamwork/devices?$skiptoken=x',
      value: [device(), device()],
    });
    assertGraphShape('microsoft.graph.teamworkDeviceOperationCollectionResponse', { value: [] });
  });

  it('rejects a PascalCase enum member, as the doc samples spell them', () => {
    rejects(graphSchemaErrors('microsoft.graph.teamworkDevice', withValue(device(), ['deviceType'], 'TeamsRoom')), /\/deviceType/);
    rejects(graphSchemaErrors('microsoft.graph.teamworkDevice', withValue(device(), ['healthStatus'], 'Healthy')), /\/healthStatus/);
    rejects(graphSchemaErrors('microsoft.graph.teamworkDeviceOperation', withValue(operation(), ['operationType'], 'DeviceRestart')), /\/operationType/);
  });

  it('rejects misspelled property names, at the top and nested', () => {
    const top = withValue(withValue(device(), ['healthStatus'], undefined), ['healthState'], 'healthy');
    rejects(graphSchemaErrors('microsoft.graph.teamworkDevice', top), /unknown property 'healthState'/);
    rejects(graphSchemaErrors('microsoft.graph.teamworkDevice', top, { partial: true }), /unknown property 'healthState'/);
    const nested = withValue(device(), ['hardwareDetail', 'serialNo'], 'x');
    rejects(graphSchemaErrors('microsoft.graph.teamworkDevice', nested), /\/hardwareDetail: unknown property 'serialNo'/);
    const deep = withValue(configuration(), ['systemConfiguration', 'lockPIN'], null);
    rejects(graphSchemaErrors('microsoft.graph.teamworkDeviceConfiguration', deep), /unknown property 'lockPIN'/);
  });

  it('rejects nulls where the CSDL says Nullable="false" and accepts them elsewhere', () => {
    rejects(graphSchemaErrors('microsoft.graph.teamworkDevice', withValue(device(), ['deviceType'], null)), /\/deviceType/);
    rejects(graphSchemaErrors('microsoft.graph.teamworkDevice', withValue(device(), ['hardwareDetail'], null)), /\/hardwareDetail/);
    rejects(graphSchemaErrors('microsoft.graph.teamworkDeviceHealth', withValue(health(), ['connection'], null)), /\/connection/);
    rejects(graphSchemaErrors('microsoft.graph.teamworkDeviceOperation', withValue(operation(), ['status'], null)), /\/status/);
    // collections are never null (OData: Nullable applies to their items)
    rejects(graphSchemaErrors('microsoft.graph.teamworkDevice', withValue(device(), ['hardwareDetail', 'macAddresses'], null)), /macAddresses/);
    assertGraphShape('microsoft.graph.teamworkDevice', withValue(device(), ['currentUser'], null));
    assertGraphShape('microsoft.graph.teamworkDevice', withValue(device(), ['healthStatus'], null));
  });

  it('requires every structural property in a full body, and allows a subset with partial', () => {
    const missing = withValue(device(), ['notes'], undefined);
    rejects(graphSchemaErrors('microsoft.graph.teamworkDevice', missing), /must have required property 'notes'/);
    assertGraphShape('microsoft.graph.teamworkDevice', { '@odata.type': '#microsoft.graph.teamworkDevice', id: 'x', deviceType: 'sip' }, { partial: true });
  });

  it("rejects a wrong @odata.type, a broken expanded navigation property, and wrong value types", () => {
    rejects(graphSchemaErrors('microsoft.graph.teamworkDevice', withValue(device(), ['@odata.type'], '#microsoft.graph.teamworkDeviceHealth')), /@odata\.type/);
    assert.deepEqual(graphSchemaErrors('microsoft.graph.teamworkDevice', withValue(device(), ['health'], health())), [], 'an expanded document is part of the body');
    rejects(graphSchemaErrors('microsoft.graph.teamworkDevice', withValue(device(), ['health'], withValue(health(), ['bogus'], 1))), /\/health: unknown property 'bogus'/);
    rejects(graphSchemaErrors('microsoft.graph.teamworkDevice', withValue(device(), ['operations'], {})), /\/operations/);
    rejects(graphSchemaErrors('microsoft.graph.teamworkDevice', withValue(device(), ['createdDateTime'], '2021-06-19 19:01')), /createdDateTime/);
    rejects(graphSchemaErrors('microsoft.graph.teamworkDeviceConfiguration', withValue(configuration(), ['displayConfiguration', 'displayCount'], '1')), /displayCount/);
  });

  it('rejects broken error bodies and collection envelopes', () => {
    rejects(graphSchemaErrors('microsoft.graph.ODataErrors.ODataError', withValue(errorBody(), ['error', 'code'], undefined)), /code/);
    rejects(graphSchemaErrors('microsoft.graph.ODataErrors.ODataError', withValue(errorBody(), ['error', 'innerError', 'requestId'], 'x')), /requestId/);
    rejects(graphSchemaErrors('microsoft.graph.ODataErrors.ODataError', { code: 'x', message: 'y' }), /error/);
    rejects(graphSchemaErrors('microsoft.graph.teamworkDeviceCollectionResponse', { value: [device()], nextLink: 'x' }), /unknown property 'nextLink'/);
    rejects(graphSchemaErrors('microsoft.graph.teamworkDeviceCollectionResponse', { value: [withValue(device(), ['deviceType'], 'TeamsRoom')] }), /\/value\/0\/deviceType/);
    rejects(graphSchemaErrors('microsoft.graph.teamworkDeviceOperationCollectionResponse', { value: {} }), /\/value/);
  });

  it('assertGraphShape throws with the errors listed', () => {
    assert.throws(
      () => assertGraphShape('microsoft.graph.teamworkDevice', withValue(device(), ['deviceType'], 'TeamsRoom')),
      (error: Error) => /deviceType/.test(error.message),
    );
  });
});
