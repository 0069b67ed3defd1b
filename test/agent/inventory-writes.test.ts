import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { DeviceReports } from '../../src/engine/device-reports.js';
import { graphDevice, softwareUpdateHealth } from '../helpers/graph-operations.js';
import { enrollAgent, uniqueHardware, type TestAgent } from '../helpers/test-agent.js';
import { testStore } from '../helpers/test-database.js';
import { startTestServer, tenantA, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Inventory reports that repeat what the device already reported cost no database write (issue
 * 16: 18,000 devices reporting every minute); what a device reports that is new is written and
 * shown by Graph. "No write" is read from the database itself: on SQLite `PRAGMA data_version`
 * on a connection of the test's own (it changes when any other connection commits a change to
 * the file), on PostgreSQL the device row's xmin, xmax and ctid (an UPDATE makes a new row
 * version; a row lock, SELECT … FOR UPDATE, sets xmax), and on both the row's stamps and the
 * audit and change-event row counts. The presence batch still records each report as a
 * heartbeat (last_seen_at), every two seconds; a round that one of its flushes fell into is
 * run again.
 */

let server: TestServer;
let sqlite: Database.Database | null = null;

before(async () => {
  server = await startTestServer();
  if (testStore === 'sqlite') sqlite = new Database(server.dbPath, { readonly: true });
});

after(async () => {
  sqlite?.close();
  await server?.stop();
});

const at = '2026-11-30T08:00:00.000Z';
const connection = (connectionStatus: string) => ({ connectionStatus, lastModifiedDateTime: at });
const camera = { id: 'cam-1', displayName: 'Room camera', vendorId: 'VID_046D', productId: 'PID_0893' };
const speaker = { id: 'spk-1', displayName: 'Speaker', vendorId: 'VID_046D', productId: 'PID_0864' };

/** A full report, as a device sends after it starts: every part present. */
function fullReport(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    // the newest versions the test catalog offers: healthy, not nonUrgent
    installed: { teamsClient: '123.0.0.1', firmware: '123.0.0.1' },
    activityState: 'idle',
    peripheralsHealth: {
      roomCameraHealth: { isOptional: false, connection: connection('connected'), peripheral: camera },
      speakerHealth: { isOptional: false, connection: connection('connected'), peripheral: speaker },
      displayHealthCollection: [{ isOptional: true, connection: connection('connected') }],
    },
    hardwareHealth: { computeHealth: { connection: connection('connected') }, hdmiIngestHealth: { connection: connection('unknown') } },
    loginStatus: { teamsConnection: connection('connected'), exchangeConnection: connection('connected') },
    activePeripherals: { roomCamera: null, speaker },
    ...overrides,
  };
}

/** The same JSON with every object's keys in reverse order. */
function reordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reordered);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reordered(v)]));
}

interface WriteMark {
  /** SQLite: data_version; PostgreSQL: the device row's xmin/xmax/ctid */
  version: string;
  lastModified: string;
  lastSeen: string;
  auditEvents: number;
  changeEvents: number;
}

async function writeMark(deviceId: string): Promise<WriteMark> {
  const iso = (v: string | Date) => new Date(v).toISOString();
  const [row] = await server.query<{ last_modified_at: string | Date; last_seen_at: string | Date; version?: string }>(
    testStore === 'postgres'
      ? "SELECT last_modified_at, last_seen_at, xmin::text || '/' || xmax::text || '/' || ctid::text AS version FROM devices WHERE id = ?"
      : 'SELECT last_modified_at, last_seen_at FROM devices WHERE id = ?',
    [deviceId],
  );
  const [counts] = await server.query<{ audit: number | string; changes: number | string }>(
    'SELECT (SELECT count(*) FROM audit_events) AS audit, (SELECT count(*) FROM change_events) AS changes',
  );
  return {
    version: row.version ?? String(sqlite!.pragma('data_version', { simple: true })),
    lastModified: iso(row.last_modified_at),
    lastSeen: iso(row.last_seen_at),
    auditEvents: Number(counts.audit),
    changeEvents: Number(counts.changes),
  };
}

async function report(agent: TestAgent, body: unknown): Promise<string> {
  const response = await agent.inventory(body);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return (JSON.parse(text) as { healthStatus: string }).healthStatus;
}

/** Sends `body` and asserts the database saw no write; returns the reply's healthStatus. */
async function reportWithoutWrite(agent: TestAgent, body: unknown): Promise<string> {
  for (let round = 0; round < 5; round++) {
    const before = await writeMark(agent.deviceId!);
    const healthStatus = await report(agent, body);
    const after = await writeMark(agent.deviceId!);
    // The presence batch wrote last_seen_at (alone) meanwhile: its write is not the report's; again.
    if (after.lastSeen !== before.lastSeen && after.lastModified === before.lastModified) continue;
    assert.deepEqual(after, before, 'a report that repeats the stored inventory wrote to the database');
    return healthStatus;
  }
  throw new Error('every round had a presence flush in it');
}

/** Sends `body` and asserts it was written (a new row version, a new modified stamp). */
async function reportWithWrite(agent: TestAgent, body: unknown): Promise<string> {
  // the modified stamp has whole milliseconds
  await new Promise((resolve) => setTimeout(resolve, 2));
  const before = await writeMark(agent.deviceId!);
  const healthStatus = await report(agent, body);
  const after = await writeMark(agent.deviceId!);
  assert.notEqual(after.version, before.version, 'a report that changes something was not written');
  assert.ok(after.lastModified > before.lastModified, `lastModified ${before.lastModified} → ${after.lastModified}`);
  return healthStatus;
}

interface GraphState {
  device: { healthStatus: string; activityState: string; lastModifiedDateTime: string };
  health: { connection: { connectionStatus: string }; peripheralsHealth: unknown; loginStatus: unknown; lastModifiedDateTime: string };
  activity: { activePeripherals: unknown; lastModifiedDateTime: string };
}

async function graphState(deviceId: string): Promise<GraphState> {
  return {
    device: await graphDevice(server, deviceId),
    health: await graphDevice(server, deviceId, 'health'),
    activity: await graphDevice(server, deviceId, 'activity'),
  };
}

describe('inventory reports and database writes', () => {
  test('a report repeating the stored inventory writes nothing, in any key order; a changed one is written and shown by Graph', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const first = fullReport();
    await reportWithWrite(agent, first);
    const stored = await graphState(deviceId);
    assert.equal(stored.device.activityState, 'idle');
    assert.deepEqual(stored.health.peripheralsHealth, first.peripheralsHealth);

    assert.equal(await reportWithoutWrite(agent, first), stored.device.healthStatus);
    assert.equal(await reportWithoutWrite(agent, reordered(first)), stored.device.healthStatus);
    // A heartbeat with fewer parts says nothing new either.
    await reportWithoutWrite(agent, { installed: first.installed, activityState: 'idle' });
    await reportWithoutWrite(agent, {});
    assert.deepEqual(await graphState(deviceId), stored, 'Graph shows the device exactly as before, stamps included');

    // In a meeting, its camera unplugged: written, and Graph shows it.
    const inMeeting = fullReport({
      activityState: 'busy',
      peripheralsHealth: { ...(first.peripheralsHealth as object), roomCameraHealth: { isOptional: false, connection: connection('disconnected'), peripheral: camera } },
      activePeripherals: { roomCamera: camera, speaker },
    });
    assert.equal(await reportWithWrite(agent, inMeeting), 'critical');
    const changed = await graphState(deviceId);
    assert.equal(changed.device.activityState, 'busy');
    assert.equal(changed.device.healthStatus, 'critical');
    assert.deepEqual(changed.health.peripheralsHealth, inMeeting.peripheralsHealth);
    assert.deepEqual(changed.activity.activePeripherals, inMeeting.activePeripherals);
    assert.ok(changed.device.lastModifiedDateTime > stored.device.lastModifiedDateTime);
    assert.ok(changed.activity.lastModifiedDateTime > stored.activity.lastModifiedDateTime);
    await reportWithoutWrite(agent, reordered(inMeeting));

    // Back to the first inventory: a change again, not "seen before".
    assert.equal(await reportWithWrite(agent, first), stored.device.healthStatus);
    const back = await graphState(deviceId);
    assert.equal(back.device.activityState, 'idle');
    assert.deepEqual(back.health.peripheralsHealth, first.peripheralsHealth);
    assert.deepEqual(back.activity.activePeripherals, first.activePeripherals);
  });

  test('a new installed version is written; repeating it is not', async () => {
    const agent = await enrollAgent(server);
    await reportWithWrite(agent, fullReport({ installed: { teamsClient: '1.0.96.22', firmware: '122.15.0.41' } }));
    const newer = fullReport({ installed: { teamsClient: '1.0.96.30', firmware: '122.15.0.41' } });
    await reportWithWrite(agent, newer);
    await reportWithoutWrite(agent, newer);
    const configuration = await graphDevice<{ softwareVersions: Record<string, string | null> }>(server, agent.deviceId!, 'configuration');
    assert.equal(configuration.softwareVersions.teamsClientSoftwareVersion, '1.0.96.30');
    assert.equal((await softwareUpdateHealth(server, agent.deviceId!)).teamsClientSoftwareUpdateStatus?.currentVersion, '1.0.96.30');
  });

  test('a repeated report is still a heartbeat: last_seen_at moves through the presence batch', async () => {
    const agent = await enrollAgent(server);
    const body = fullReport();
    await report(agent, body);
    // Past one presence flush (every 2 s), so nothing of the written report is still to come.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const before = await writeMark(agent.deviceId!);
    await reportWithoutWrite(agent, body);
    const seen = await waitFor('the report to be recorded as a heartbeat', async () => {
      const mark = await writeMark(agent.deviceId!);
      return mark.lastSeen > before.lastSeen ? mark : null;
    }, { timeoutMs: 6000, intervalMs: 100 });
    assert.equal(seen.lastModified, before.lastModified, 'the heartbeat is not a modification');
    assert.equal((await graphDevice<{ healthStatus: string }>(server, agent.deviceId!)).healthStatus, 'healthy');
  });

  test('the same report from a device marked offline is written: connected again', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const body = fullReport();
    await report(agent, body);
    // What the supervisor does to a silent device.
    await new DeviceReports(server.store).setConnection(tenantA, deviceId, 'disconnected', new Date().toISOString());
    const offline = await graphState(deviceId);
    assert.equal(offline.device.healthStatus, 'offline');
    assert.equal(offline.health.connection.connectionStatus, 'disconnected');

    assert.equal(await reportWithWrite(agent, body), 'healthy');
    const back = await graphState(deviceId);
    assert.equal(back.health.connection.connectionStatus, 'connected');
    assert.equal(back.device.healthStatus, 'healthy');
    assert.equal(back.device.activityState, 'idle');
  });

  test('the same report is written when the catalog changed what it derives (an update became available)', async () => {
    const model = 'inventory-writes-model';
    const agent = await enrollAgent(server, { hardwareDetail: uniqueHardware({ model }) });
    const body = fullReport({ installed: { teamsClient: '200.0.0.1', firmware: '123.0.0.1' } });
    await report(agent, body);
    assert.equal(await reportWithoutWrite(agent, body), 'healthy');
    assert.equal((await softwareUpdateHealth(server, agent.deviceId!)).teamsClientSoftwareUpdateStatus?.softwareFreshness, 'latest');

    const added = await server.store.addCatalogEntry({ tenantId: tenantA, softwareType: 'teamsClient', version: '200.0.0.2', deviceType: null, model, createdDateTime: new Date().toISOString() });
    assert.equal(added, 'added');
    assert.equal(await reportWithWrite(agent, body), 'nonUrgent');
    assert.deepEqual((await softwareUpdateHealth(server, agent.deviceId!)).teamsClientSoftwareUpdateStatus, {
      currentVersion: '200.0.0.1', availableVersion: '200.0.0.2', softwareFreshness: 'updateAvailable',
    });
    await reportWithoutWrite(agent, body);
  });
});
