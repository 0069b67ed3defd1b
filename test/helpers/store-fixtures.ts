import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditEvent, operatorActor, type AuditEvent } from '../../src/domain/audit.js';
import type { Device, FilterableProperty, OrderableProperty } from '../../src/domain/device.js';
import { softwareFreshnessOf } from '../../src/domain/device-health.js';
import type { IdentitySet } from '../../src/domain/identity.js';
import type { Operation } from '../../src/domain/operation.js';
import type { OperationType, SoftwareType } from '../../src/domain/enums.js';
import { devicePageOrder } from '../../src/store/device-list-plan.js';
import type { DeviceFilter, DeviceOrderKey } from '../../src/store/device-query.js';
import { filterColumns } from '../../src/store/filter-sql.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store, StoreOptions } from '../../src/store/store.js';
import { createPostgresDatabase } from './test-database.js';

export type StoreKind = 'sqlite' | 'postgres';

/** A fresh store of one kind; `another()` opens a second store on the same database. */
export interface FreshStore {
  kind: StoreKind;
  store: Store;
  /** the --db value: a SQLite file path or a postgres:// URL */
  db: string;
  /** a second store on the same database, opened with these options */
  another(options?: StoreOptions): Promise<Store>;
  dispose(): Promise<void>;
}

/** A new SQLite file in a fresh temporary folder, or a new PostgreSQL database (fails loudly if PostgreSQL is down). */
export async function freshStore(kind: StoreKind): Promise<FreshStore> {
  const opened: Store[] = [];
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'twd-contract-'));
    const db = join(dir, 'contract.db');
    const store = await openStore(db);
    opened.push(store);
    return {
      kind,
      store,
      db,
      async another(options?: StoreOptions) {
        const s = await openStore(db, options);
        opened.push(s);
        return s;
      },
      async dispose() {
        for (const s of opened) await s.close().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const database = await createPostgresDatabase();
  try {
    const store = await openStore(database.url);
    opened.push(store);
    return {
      kind,
      store,
      db: database.url,
      async another(options?: StoreOptions) {
        const s = await openStore(database.url, options);
        opened.push(s);
        return s;
      },
      async dispose() {
        for (const s of opened) await s.close().catch(() => {});
        await database.drop();
      },
    };
  } catch (error) {
    await database.drop().catch(() => {});
    throw error;
  }
}

/** Runs `work` on a fresh store and always disposes of it. */
export async function withStore(kind: StoreKind, work: (fresh: FreshStore) => Promise<void>): Promise<void> {
  const fresh = await freshStore(kind);
  try {
    await work(fresh);
  } finally {
    await fresh.dispose();
  }
}

export const contractTenant = '44444444-4444-4444-8444-444444444444';
export const otherTenant = '55555555-5555-4555-8555-555555555555';

/** ISO date with milliseconds, the form every store gives back. */
export const isoAt = (ms: number): string => new Date(ms).toISOString();

export const adminBy: IdentitySet = {
  application: null,
  device: null,
  user: { id: '0b8c3b1a-9a3e-4f53-9a30-0d6f3e2f1a11', displayName: 'Megan Bowen', userIdentityType: 'aadUser' },
};

/** A device with every field set (JSON documents nested, dates with milliseconds). */
export function makeDevice(overrides: Partial<Device> = {}): Device {
  const created = Date.UTC(2025, 0, 15, 8, 30, 12, 345);
  const id = overrides.id ?? randomUUID();
  const mac = [...randomBytes(6)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
  return {
    tenantId: contractTenant,
    id,
    deviceType: 'teamsRoom',
    hardwareDetail: {
      uniqueId: `uid-${randomUUID()}`,
      serialNumber: `SN-${randomBytes(5).toString('hex')}`,
      manufacturer: 'Lenovo',
      model: 'ThinkSmart Hub',
      macAddresses: [mac, '00:15:65:AA:BB:CC'],
    },
    healthStatus: 'healthy',
    activityState: 'idle',
    companyAssetTag: 'ASSET-0001',
    notes: 'Room 4.12 — Zürich',
    currentUser: { id: randomUUID(), displayName: 'Conf Room Rainier', userIdentityType: 'aadUser' },
    createdDateTime: isoAt(created),
    createdBy: adminBy,
    lastModifiedDateTime: isoAt(created + 86_400_123),
    lastModifiedBy: { application: { id: 'app-1', displayName: 'Provisioning' }, device: null, user: null },
    health: {
      connection: { connectionStatus: 'connected', lastModifiedDateTime: isoAt(created + 1000) },
      loginStatus: { exchangeConnection: { connectionStatus: 'connected' }, teamsConnection: null },
      peripheralsHealth: { roomCameraHealth: { isOptional: false, connection: { connectionStatus: 'connected' } } },
      softwareUpdateHealth: { teamsClientSoftwareUpdateStatus: { currentVersion: '5.0.111.0', availableVersion: '5.1.24.0', softwareFreshness: 'updateAvailable' } },
      hardwareHealth: { processorHealth: { usage: 12.5 }, computeHealth: null },
      counters: [1, 2.25, -3, 1e21],
      emoji: 'Besprechungsraum 🎥',
    },
    activity: { activePeripherals: { roomCamera: { id: 'cam-1', displayName: 'Logitech Rally' } }, createdDateTime: isoAt(created) },
    configuration: {
      softwareVersions: { teamsClientSoftwareVersion: '5.0.111.0', operatingSystemSoftwareVersion: '10.0.19045.4291' },
      displayConfiguration: { displayCount: 2, isContentDuplicationAllowed: true, configuredDisplays: [{ isOptional: false }] },
    },
    installed: { teamsClient: '5.0.111.0', operatingSystem: '10.0.19045.4291' },
    lastSeenDateTime: isoAt(created + 5000),
    ...overrides,
  };
}

/** A queued operation for a device. */
export function makeOperation(device: { tenantId: string; id: string }, overrides: Partial<Operation> = {}): Operation {
  const now = Date.now();
  const operationType: OperationType = overrides.operationType ?? 'softwareUpdate';
  const softwareType: SoftwareType | null = overrides.softwareType !== undefined
    ? overrides.softwareType
    : operationType === 'softwareUpdate' ? 'teamsClient' : null;
  return {
    tenantId: device.tenantId,
    deviceId: device.id,
    id: randomUUID(),
    operationType,
    softwareType,
    softwareVersion: softwareType ? '5.1.24.0' : null,
    status: 'queued',
    createdDateTime: isoAt(now),
    createdBy: adminBy,
    lastActionDateTime: isoAt(now),
    lastActionBy: adminBy,
    startedDateTime: null,
    completedDateTime: null,
    error: null,
    startDeadline: isoAt(now + 24 * 3600_000),
    runDeadline: null,
    progressPercent: null,
    progressMessage: null,
    cancelRequested: false,
    result: null,
    artifact: null,
    ...overrides,
  };
}

/**
 * The reference meaning of a device filter (OData: a comparison with null is false, `ne` is
 * null-safe, `not` of a false comparison is true), evaluated in JavaScript over the columns.
 */
export function matchesFilter(device: Device, filter: DeviceFilter): boolean {
  switch (filter.op) {
    case 'and':
      return filter.operands.every((f) => matchesFilter(device, f));
    case 'or':
      return filter.operands.some((f) => matchesFilter(device, f));
    case 'not':
      return !matchesFilter(device, filter.operand);
    case 'eq':
      return columnValue(device, filter.property) === filter.value;
    case 'ne':
      return columnValue(device, filter.property) !== filter.value;
    case 'in': {
      const value = columnValue(device, filter.property);
      return value !== null && filter.values.includes(value);
    }
    case 'startswith': {
      const value = columnValue(device, filter.property);
      return value !== null && value.startsWith(filter.value);
    }
  }
}

function columnValue(device: Device, property: OrderableProperty | FilterableProperty): string | null {
  const freshness = /^health\/softwareUpdateHealth\/(\w+)SoftwareUpdateStatus\/softwareFreshness$/.exec(property);
  if (freshness) return softwareFreshnessOf(device.health, freshness[1] as SoftwareType);
  switch (property) {
    case 'createdDateTime': return device.createdDateTime;
    case 'lastModifiedDateTime': return device.lastModifiedDateTime;
    case 'deviceType': return device.deviceType;
    case 'healthStatus': return device.healthStatus;
    case 'activityState': return device.activityState;
    case 'companyAssetTag': return device.companyAssetTag;
    case 'notes': return device.notes;
    case 'displayName':
    case 'currentUser/displayName': return device.currentUser?.displayName ?? null;
    case 'hardwareDetail/uniqueId': return device.hardwareDetail.uniqueId;
    case 'hardwareDetail/serialNumber': return device.hardwareDetail.serialNumber;
    case 'hardwareDetail/manufacturer': return device.hardwareDetail.manufacturer;
    case 'hardwareDetail/model': return device.hardwareDetail.model;
    case 'currentUser/id': return device.currentUser?.id ?? null;
    default: throw new Error(`no reference value for ${property}`);
  }
}

/**
 * The reference page order of a filter's matches (its order's keys, then the id in the last key's direction), in
 * byte order of UTF-8 as the binary / "C" collation sorts; a null key sorts first.
 */
export function inPageOrder(devices: Device[], filter: DeviceFilter | null, order: DeviceOrderKey[] = devicePageOrder(filter)): Device[] {
  const bytes = (value: string | null) => Buffer.from(value ?? '', 'utf8');
  return [...devices].sort((a, b) => {
    for (const key of order) {
      const [x, y] = [columnValue(a, key.property), columnValue(b, key.property)];
      const compared = x === y ? 0 : x === null ? -1 : y === null ? 1 : Buffer.compare(bytes(x), bytes(y));
      if (compared !== 0) return key.descending ? -compared : compared;
    }
    const last = order[order.length - 1];
    return last?.descending ? byId(b, a) : byId(a, b);
  });
}

/** Byte-order comparison of ASCII ids, as `ORDER BY id` gives them (binary / "C" collation). */
export const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The audit event store tests hand to createOperation (what it says is not under test there). */
export const operationAudit: AuditEvent = auditEvent(null, 'operationCreated', operatorActor, null);
