import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { freshnessProperty, type Device } from '../../src/domain/device.js';
import { softwareFreshnessOf } from '../../src/domain/device-health.js';
import { softwareFreshnesses, softwareTypes } from '../../src/domain/enums.js';
import type { DeviceFilter } from '../../src/store/device-query.js';
import type { Operation } from '../../src/domain/operation.js';
import { regenerateSeededDocuments } from '../../src/seed/seeded-documents.js';
import { migrations } from '../../src/store/migrations.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import { postgresSchema, sqliteSchema, type DatabaseSchema } from '../helpers/database-schema.js';
import { makeDevice, makeOperation, operationAudit } from '../helpers/store-fixtures.js';
import { createPostgresDatabase, testStore } from '../helpers/test-database.js';

/**
 * One migration list for both databases. The fixtures in test/fixtures/legacy-store were made
 * by the release before it (commit cdf18d6, with make-fixture.mjs there): a SQLite file and a
 * PostgreSQL dump, each with seeded and enrolled devices, operations in every state, the
 * catalog, an enrollment token and the dev signing key, and what that release read back.
 */
const fixtures = new URL('../../../test/fixtures/legacy-store/', import.meta.url);
const allVersions = migrations.map((m) => m.version);

interface LegacyReads {
  tenant: string;
  other: string;
  devices: Device[];
  operations: Operation[];
  catalog: unknown[];
  enrollmentToken: Record<string, unknown>;
  credential: Record<string, unknown>;
  signingKeyId: string;
}

function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), 'twd-migrations-'));
}

async function freshSqliteSchema(): Promise<DatabaseSchema> {
  const dir = scratchDir();
  try {
    const path = join(dir, 'fresh.db');
    await (await openStore(path)).close();
    return sqliteSchema(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function freshPostgresSchema(): Promise<DatabaseSchema> {
  const database = await createPostgresDatabase();
  try {
    await (await openStore(database.url)).close();
    return await postgresSchema(database.url);
  } finally {
    await database.drop();
  }
}

/**
 * Everything the previous release read back is read back the same, and the upgraded store
 * takes new work. Its catalog entries and operations had no artifact (migration 8): they read back with none.
 */
async function assertNothingLost(store: Store, legacy: LegacyReads): Promise<void> {
  const expected = {
    ...legacy,
    operations: legacy.operations.map((operation) => ({ ...operation, artifact: null })),
    catalog: legacy.catalog.map((entry) => ({ ...(entry as object), artifact: null })),
  };
  for (const device of expected.devices) {
    assert.deepEqual(await store.getDevice(device.tenantId, device.id), device, `device ${device.id}`);
  }
  for (const tenantId of [expected.tenant, expected.other]) {
    const page = await store.listDevices({ tenantId, filter: null, order: [], top: 50, after: null });
    assert.deepEqual(page.items.map((d) => d.id), expected.devices.filter((d) => d.tenantId === tenantId).map((d) => d.id).sort());
  }
  // Migration 14 filled each device's freshness columns from its health document, seeded devices' regenerated.
  let matched = 0;
  for (const tenantId of [expected.tenant, expected.other]) {
    for (const softwareType of softwareTypes) {
      for (const value of softwareFreshnesses) {
        const filter: DeviceFilter = { op: 'eq', property: freshnessProperty(softwareType), value };
        const page = await store.listDevices({ tenantId, filter, order: [], top: 50, after: null });
        const expectedIds = expected.devices.filter((d) => d.tenantId === tenantId && softwareFreshnessOf(d.health, softwareType) === value).map((d) => d.id).sort();
        assert.deepEqual(page.items.map((d) => d.id), expectedIds, `${softwareType} ${value} in ${tenantId}`);
        matched += expectedIds.length;
      }
    }
  }
  assert.ok(matched > 0, 'the fixture has devices with software update health');
  const operations: Operation[] = [];
  for (const device of expected.devices) {
    operations.push(...(await store.listOperations({ tenantId: device.tenantId, deviceId: device.id, top: 50, beforeSeq: null })).items);
  }
  assert.deepEqual(operations, expected.operations);
  assert.deepEqual(await store.listCatalog(expected.tenant), expected.catalog);
  // Tokens of the earlier release have no use limit and were never revoked.
  assert.deepEqual(await store.findEnrollmentToken('a'.repeat(64)), { ...expected.enrollmentToken, maxUses: null, uses: 0, revokedDateTime: null, description: null });
  const enrolled = expected.devices.find((d) => d.id === '0a0b0c0d-0000-4000-8000-00000000e001')!;
  assert.deepEqual(await store.deviceCredential(enrolled.id), { ...expected.credential, previousCredentialHash: null, previousUntil: null });
  const [key] = await store.signingKeys();
  assert.equal(key.kid, expected.signingKeyId);

  // The rules the indexes carry still hold: the queued update is one per device, a new one is taken.
  const queued = expected.operations.find((o) => o.status === 'queued' && o.operationType === 'softwareUpdate')!;
  assert.equal(await store.createOperation(makeOperation({ tenantId: queued.tenantId, id: queued.deviceId }, { softwareType: queued.softwareType }), operationAudit), 'conflict');
  const device = makeDevice({ tenantId: expected.tenant });
  await store.insertDevices([device]);
  assert.equal(await store.createOperation(makeOperation(device), operationAudit), 'created');
  assert.equal((await store.nextOperation(expected.tenant, queued.deviceId))?.id, queued.id);
}

function legacyReads(dialect: 'sqlite' | 'postgres'): LegacyReads {
  return JSON.parse(readFileSync(new URL(`legacy-${dialect}.expected.json`, fixtures), 'utf8')) as LegacyReads;
}

describe('migrations', () => {
  test('a fresh SQLite and a fresh PostgreSQL database have the same tables, columns, indexes and versions', { skip: testStore !== 'postgres' && 'compares both databases: run in the PostgreSQL pass' }, async () => {
    const [sqlite, postgres] = [await freshSqliteSchema(), await freshPostgresSchema()];
    assert.deepEqual(sqlite.versions, allVersions);
    assert.deepEqual(sqlite, postgres);
  });

  test('a SQLite file made by the previous release migrates forward with nothing lost', { skip: testStore !== 'sqlite' && 'SQLite: run in the SQLite pass' }, async () => {
    const dir = scratchDir();
    try {
      const path = join(dir, 'legacy.db');
      copyFileSync(new URL('legacy-sqlite.db', fixtures), path);
      assert.deepEqual(sqliteSchema(path).versions, [1, 2, 3], 'the fixture is a previous-release file (its own numbering)');
      // Its seeded devices' freshness needs their documents: without the generator nothing is migrated.
      await assert.rejects(openStore(path), /seeded documents source/);
      assert.deepEqual(sqliteSchema(path).versions, [1, 2, 3], 'the failed migration left the file as it was');
      const store = await openStore(path, { seededDocuments: regenerateSeededDocuments });
      try {
        await assertNothingLost(store, legacyReads('sqlite'));
      } finally {
        await store.close();
      }
      assert.deepEqual(sqliteSchema(path), await freshSqliteSchema(), 'the upgraded file has the schema of a new one');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a PostgreSQL database made by the previous release migrates forward with nothing lost', { skip: testStore !== 'postgres' && 'PostgreSQL: run in the PostgreSQL pass' }, async () => {
    const database = await createPostgresDatabase();
    try {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        await client.query(readFileSync(new URL('legacy-postgres.sql', fixtures), 'utf8'));
      } finally {
        await client.end();
      }
      assert.deepEqual((await postgresSchema(database.url)).versions, [1, 2, 3, 4], 'the fixture is a previous-release database');
      const store = await openStore(database.url, { seededDocuments: regenerateSeededDocuments });
      try {
        await assertNothingLost(store, legacyReads('postgres'));
      } finally {
        await store.close();
      }
      assert.deepEqual(await postgresSchema(database.url), await freshPostgresSchema(), 'the upgraded database has the schema of a new one');
    } finally {
      await database.drop();
    }
  });
});
