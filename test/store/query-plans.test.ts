import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { seedDemoCatalog } from '../../src/seed/demo-catalog.js';
import { seedDevices } from '../../src/seed/seed-devices.js';
import { regenerateSeededDocuments } from '../../src/seed/seeded-documents.js';
import { FileArtifacts } from '../../src/store/artifact-files.js';
import { orderableDeviceProperties } from '../../src/domain/device.js';
import { devicePageOrder } from '../../src/store/device-list-plan.js';
import type { DeviceFilter } from '../../src/store/device-query.js';
import type { OperationType } from '../../src/domain/enums.js';
import type { OperationStatus } from '../../src/domain/operation.js';
import type { CreatedBound, OperationFilter } from '../../src/store/device-query.js';
import { migrate } from '../../src/store/migrations.js';
import { SqlStore } from '../../src/store/sql-store.js';
import { freshnessProperty } from '../../src/domain/device.js';
import { SqliteDriver } from '../../src/store/sqlite/sqlite-driver.js';

/**
 * SQLite plans from its indexes alone (no statistics), so a statement that gives it a choice
 * may walk the whole tenant in id order instead of reading a condition's index: seconds at a
 * million devices, for a page that should cost milliseconds. Each statement a filtered device
 * page runs is recorded and its plan asked for; only the bounded scan window (a LIMIT on
 * its id range) may walk the tenant's primary key by id range.
 */

const tenant = '11111111-2222-4333-8444-555555555555';
let dir: string;
let driver: RecordingDriver;
let store: SqlStore;

class RecordingDriver extends SqliteDriver {
  readonly recorded: string[] = [];

  override query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    this.recorded.push(sql);
    return super.query<R>(sql, params);
  }

  override scan<R>(sql: string, params: readonly unknown[]): Promise<R[]> {
    this.recorded.push(sql);
    return super.scan<R>(sql, params);
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'twd-plans-'));
  driver = new RecordingDriver(join(dir, 'plans.db'));
  await migrate(driver);
  store = new SqlStore(driver, new FileArtifacts(join(dir, 'artifacts')), regenerateSeededDocuments, 200);
  await seedDevices(store, { tenantId: tenant, count: 3000, seed: 3 });
});

after(async () => {
  await driver?.close();
  rmSync(dir, { recursive: true, force: true });
});

const eq = (property: any, value: string | null): DeviceFilter => ({ op: 'eq', property, value });
const startswith = (property: any, value: string): DeviceFilter => ({ op: 'startswith', property, value });

const filters: [string, DeviceFilter][] = [
  ["hardwareDetail/serialNumber eq 'nope'", eq('hardwareDetail/serialNumber', 'nope')],
  ["notes in ('a', 'b')", { op: 'in', property: 'notes', values: ['a', 'b'] }],
  ["startswith(hardwareDetail/uniqueId, 'c') (many values)", startswith('hardwareDetail/uniqueId', 'c')],
  ["startswith(displayName, '') (every value)", startswith('displayName', '')],
  ["startswith(companyAssetTag, 'zzz')", startswith('companyAssetTag', 'zzz')],
  ["or of two properties", { op: 'or', operands: [eq('hardwareDetail/model', 'nope'), startswith('hardwareDetail/uniqueId', 'c')] }],
  ["and with a rare condition", { op: 'and', operands: [eq('deviceType', 'teamsRoom'), startswith('hardwareDetail/serialNumber', 'Q')] }],
  ["and of common conditions", { op: 'and', operands: [eq('deviceType', 'teamsRoom'), eq('deviceType', 'ipPhone')] }],
  ["not", { op: 'not', operand: { op: 'ne', property: 'notes', value: 'x' } }],
  ["teamsClient's freshness eq 'updateAvailable'", eq(freshnessProperty('teamsClient'), 'updateAvailable')],
  ["firmware's freshness in ('latest', 'unknown') and deviceType eq 'teamsRoom'", {
    op: 'and', operands: [{ op: 'in', property: freshnessProperty('firmware'), values: ['latest', 'unknown'] }, eq('deviceType', 'teamsRoom')],
  }],
];

test('no statement of a filtered device page walks the tenant in id order, other than the bounded scan window', async () => {
  const db = new Database(join(dir, 'plans.db'), { readonly: true });
  try {
    for (const [name, filter] of filters) {
      const order = devicePageOrder(filter);
      const inRange = filter.op === 'startswith' ? `${filter.value}8` : '8';
      for (const position of [null, { keys: order.map(() => inRange), id: '8' }]) {
        driver.recorded.length = 0;
        await store.listDevices({ tenantId: tenant, filter, order, top: 50, after: position });
        assert.ok(driver.recorded.length > 0, name);
        for (const sql of driver.recorded) {
          const params = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 'x');
          const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail);
          const walksById = plan.filter((line) => /USING (COVERING )?INDEX sqlite_autoindex_devices_1 \(tenant_id=\? AND id>\?\)/.test(line));
          const scanWindow = /ORDER BY id LIMIT \?\s*\) AS scanned/.test(sql) || /ORDER BY id LIMIT 1 OFFSET \?/.test(sql);
          if (!scanWindow) assert.deepEqual(walksById, [], `${name}: a walk of the tenant by id in\n${sql}\n${plan.join('\n')}`);
          assert.ok(!plan.some((line) => /^SCAN devices\b/.test(line)), `${name}: a full scan in\n${sql}\n${plan.join('\n')}`);
        }
      }
    }
  } finally {
    db.close();
  }
});

test("a count of one software type's freshness reads only its index", async () => {
  const db = new Database(join(dir, 'plans.db'), { readonly: true });
  try {
    driver.recorded.length = 0;
    await store.countDevices(tenant, eq(freshnessProperty('teamsClient'), 'latest'));
    const [sql] = driver.recorded.filter((statement) => /count\(\*\)/.test(statement));
    assert.ok(sql, driver.recorded.join('\n'));
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(tenant, 'latest') as { detail: string }[]).map((row) => row.detail);
    assert.deepEqual(plan, ['SEARCH devices USING COVERING INDEX devices_by_freshness_teams_client (tenant_id=? AND freshness_teams_client=?)']);
  } finally {
    db.close();
  }
});

test('a lone startswith pages through one index range in order: one statement, no sort, a later page seeks to its position', async () => {
  const db = new Database(join(dir, 'plans.db'), { readonly: true });
  try {
    for (const [name, filter] of filters.filter(([, f]) => f.op === 'startswith')) {
      const prefix = (filter as { value: string }).value;
      for (const position of [null, { keys: [`${prefix}8`], id: '8' }]) {
        driver.recorded.length = 0;
        await store.listDevices({ tenantId: tenant, filter, order: devicePageOrder(filter), top: 50, after: position });
        assert.equal(driver.recorded.length, 1, `${name}: ${driver.recorded.join('\n')}`);
        const [sql] = driver.recorded;
        const params = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 'x');
        const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail);
        assert.equal(plan.length, 1, `${name}: one index search\n${plan.join('\n')}`);
        assert.match(plan[0], /^SEARCH devices USING INDEX \w+ \(tenant_id=\? AND /, name);
        if (position) assert.match(plan[0], /\(\w+,id\)>\(\?,\?\)/, `${name}: the position is a seek, not a filter\n${plan[0]}`);
      }
    }
  } finally {
    db.close();
  }
});

test('an $orderby page on any one key reads that key’s index in order: no sort, no scan, either direction, from either part', async () => {
  const db = new Database(join(dir, 'plans.db'), { readonly: true });
  try {
    for (const property of orderableDeviceProperties) {
      for (const descending of [false, true]) {
        const order = [{ property, descending }];
        for (const position of [null, { keys: ['m'], id: '8' }, { keys: [null], id: '8' }]) {
          driver.recorded.length = 0;
          await store.listDevices({ tenantId: tenant, filter: null, order, top: 50, after: position });
          const name = `${property} ${descending ? 'desc' : 'asc'} after ${JSON.stringify(position)}`;
          assert.ok(driver.recorded.length > 0, name);
          for (const sql of driver.recorded) {
            const params = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 'x');
            const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail);
            assert.ok(!plan.some((line) => /TEMP B-TREE|^SCAN devices\b/.test(line)), `${name}: a sort or a scan in\n${sql}\n${plan.join('\n')}`);
          }
        }
      }
    }
  } finally {
    db.close();
  }
});

test("updateSoftware's read of the device and its catalog entries is one statement of index searches", async () => {
  await seedDemoCatalog(store, tenant);
  const [device] = (await store.listDevices({ tenantId: tenant, filter: null, order: [], top: 1, after: null })).items;
  const db = new Database(join(dir, 'plans.db'), { readonly: true });
  try {
    for (const version of ['5.1.24.0', null]) {
      driver.recorded.length = 0;
      const found = await store.getDeviceCatalog(tenant, device.id, 'teamsClient', version);
      assert.ok(found && found.entries.length > 0, `the demo catalog has teamsClient ${version ?? 'versions'}`);
      assert.equal(driver.recorded.length, 1, driver.recorded.join('\n'));
      const [sql] = driver.recorded;
      const params = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 'x');
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail);
      assert.match(plan[0], /^SEARCH d USING (COVERING )?INDEX sqlite_autoindex_devices_1 \(tenant_id=\? AND id=\?\)/, plan.join('\n'));
      assert.match(plan[1], /^SEARCH c USING INDEX catalog_entries_unique \(tenant_id=\? AND software_type=\?( AND version=\?)?\)/, plan.join('\n'));
      assert.ok(!plan.some((line) => /^SCAN/.test(line)), plan.join('\n'));
    }
  } finally {
    db.close();
  }
});

test("a page of the tenant's operations reads each of its index ranges in order, and its count only an index", async () => {
  const db = new Database(join(dir, 'plans.db'), { readonly: true });
  const filter = (status: OperationStatus | null, operationType: OperationType | null, created: CreatedBound[] = []): OperationFilter => ({ status, operationType, created, nothing: false });
  const filters: [string, OperationFilter | null][] = [
    ['no filter', null],
    ['dates only', filter(null, null, [{ op: 'ge', value: '2026-01-01T00:00:00.000Z' }, { op: 'lt', value: '2026-02-01T00:00:00.000Z' }])],
    ['a status', filter('failed', null)],
    ['a type and a date', filter(null, 'softwareUpdate', [{ op: 'gt', value: '2026-01-01T00:00:00.000Z' }])],
    ['a status and a type', filter('queued', 'deviceRestart', [{ op: 'le', value: '2026-02-01T00:00:00.000Z' }])],
  ];
  try {
    for (const [name, operationFilter] of filters) {
      for (const position of [null, { createdDateTime: '2026-01-15T00:00:00.000Z', seq: 8 }]) {
        driver.recorded.length = 0;
        await store.listTenantOperations({ tenantId: tenant, filter: operationFilter, top: 50, after: position });
        await store.countTenantOperations(tenant, operationFilter);
        for (const sql of driver.recorded) {
          const params = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 'x');
          const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail);
          const searches = plan.filter((line) => /^(SEARCH|SCAN) operations\b/.test(line));
          assert.ok(searches.length > 0, `${name}: reads operations\n${plan.join('\n')}`);
          for (const line of searches) assert.match(line, /^SEARCH operations USING (COVERING )?INDEX operations_by_(tenant|status) \(tenant_id=\?/, `${name}\n${sql}\n${plan.join('\n')}`);
          // Each range is read in page order; only a merge of ranges sorts (at most a page from each).
          if (searches.length === 1) assert.ok(!plan.some((line) => /TEMP B-TREE/.test(line)), `${name}: a sort\n${plan.join('\n')}`);
        }
      }
    }
  } finally {
    db.close();
  }
});
