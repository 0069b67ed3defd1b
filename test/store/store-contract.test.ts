import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { Device } from '../../src/domain/device.js';
import { operationStatuses, transitions, type Operation, type OperationStatus, type Transition } from '../../src/domain/operation.js';
import type { CatalogEntry } from '../../src/domain/software-catalog.js';
import { devicePageOrder } from '../../src/store/device-list-plan.js';
import type { DeviceFilter, DeviceOrderKey, DevicePage, DevicePosition, OperationFilter, OperationPosition, Page } from '../../src/store/device-query.js';
import { migrations } from '../../src/store/migrations.js';
import { openStore } from '../../src/store/open-store.js';
import type { EnrollmentProof, EnrollmentToken, Store, TransitionChanges } from '../../src/store/store.js';
import { auditEvent, operatorActor, type AuditActivity } from '../../src/domain/audit.js';
import { changeDatabase, createPostgresDatabase, queryDatabase, testStore } from '../helpers/test-database.js';
import {
  adminBy, byId, contractTenant as tenant, inPageOrder, type FreshStore, isoAt, makeDevice, makeOperation, matchesFilter, operationAudit, otherTenant, withStore,
} from '../helpers/store-fixtures.js';

/**
 * The Store contract, one suite run against every implementation (as kysely runs its suite
 * per dialect): the engine and the routes see only this interface, so both stores must
 * behave identically. Every test gets a fresh store: a new SQLite file, a new PostgreSQL database.
 */

const deviceBy = (deviceId: string) => ({ application: null, device: { id: deviceId, displayName: null }, user: null });

async function allPages(store: Store, tenantId: string, filter: DeviceFilter | null, top: number, order = devicePageOrder(filter)): Promise<Device[]> {
  const seen: Device[] = [];
  let after: DevicePosition | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const page: DevicePage = await store.listDevices({ tenantId, filter, order, top, after });
    assert.ok(page.items.length <= top, `a page holds at most ${top}`);
    seen.push(...page.items);
    if (page.next === null) return seen;
    const last = page.items[page.items.length - 1]?.id;
    assert.equal(page.next.keys.length, order.length, 'the keyset position holds a value per order key');
    if (filter === null || order.length > 0) {
      assert.equal(page.items.length, top, 'an unfiltered page, or one read in a property order, is short only at the end');
      assert.equal(page.next.id, last, 'the keyset position is the last device of the page');
    } else {
      // A filtered page may stop at its scan window: short, even empty, continuing after the window.
      assert.ok(last === undefined || page.next.id >= last, 'a page continues after its last device');
    }
    after = page.next;
  }
  throw new Error('paging did not end');
}

/** `bytes` in pieces of at most `size`, as a file stream would give them. */
function* pieces(bytes: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/**
 * A store's LISTEN connection comes up asynchronously: notifies probes from `sender` until
 * `heard` says one arrived (at most 5 s).
 */
async function untilListening(sender: Store, heard: (probe: string) => boolean): Promise<void> {
  const probe = `probe-${randomUUID()}`;
  const deadline = Date.now() + 5000;
  while (!heard(probe)) {
    assert.ok(Date.now() < deadline, 'the second store never heard a notification');
    await sender.notifyWork(probe);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Brings a fresh operation (its own device) to `status` by legal transitions only. */
async function operationIn(store: Store, status: OperationStatus, deviceOverrides: Partial<Device> = {}): Promise<Operation> {
  const device = makeDevice(deviceOverrides);
  await store.insertDevices([device]);
  const op = makeOperation(device);
  assert.equal(await store.createOperation(op, operationAudit), 'created');
  const at = isoAt(Date.now());
  const step = async (transition: Transition, changes: Partial<TransitionChanges> = {}) => {
    const moved = await store.transitionOperation(tenant, op.id, transition, { at, by: adminBy, ...changes });
    assert.ok(moved, `setting up ${status}: ${transition} failed`);
    return moved;
  };
  switch (status) {
    case 'queued': return (await store.getOperation(tenant, device.id, op.id))!;
    case 'scheduled': return step('schedule');
    case 'inProgress': return step('start', { runDeadline: isoAt(Date.now() + 3600_000) });
    case 'successful':
      await step('start', { runDeadline: isoAt(Date.now() + 3600_000) });
      return step('succeed');
    case 'failed': return step('fail', { error: { code: 'deviceError', message: 'broken' } });
    case 'cancelled': return step('withdraw');
  }
}

// `npm test` runs this file once per store (TWD_TEST_STORE).
{
  const kind = testStore;
  describe(`Store contract: ${kind}`, { concurrency: kind === 'postgres' ? 4 : 1 }, () => {
    const it = (name: string, work: (store: Store, fresh: FreshStore) => Promise<void>) =>
      test(name, () => withStore(kind, (fresh) => work(fresh.store, fresh)));

    it('getDevice calls made together (coalesced into one read per tenant) each get their own device, or null', async (store) => {
      const mine = Array.from({ length: 130 }, () => makeDevice());
      const theirs = makeDevice({ tenantId: otherTenant });
      await store.insertDevices([...mine, theirs]);
      const asks: [string, string, string | null][] = [
        ...mine.map((d): [string, string, string | null] => [tenant, d.id, d.id]),
        [tenant, mine[3].id, mine[3].id],
        [tenant, theirs.id, null],
        [otherTenant, theirs.id, theirs.id],
        [otherTenant, mine[0].id, null],
        [tenant, randomUUID(), null],
      ];
      const found = await Promise.all(asks.map(([tenantId, id]) => store.getDevice(tenantId, id)));
      assert.deepEqual(found.map((d) => d?.id ?? null), asks.map(([, , expected]) => expected));
      assert.deepEqual(found[3], mine[3]);
    });

    it('insertDevices/getDevice/countDevices round-trip every field', async (store) => {
      const full = makeDevice();
      const sparse = makeDevice({
        deviceType: 'ipPhone',
        healthStatus: null,
        activityState: null,
        companyAssetTag: null,
        notes: null,
        currentUser: null,
        createdBy: null,
        lastModifiedBy: null,
        hardwareDetail: { uniqueId: null, serialNumber: 'SN-ONLY', manufacturer: null, model: null, macAddresses: [] },
        health: {},
        activity: {},
        configuration: {},
        installed: {},
        lastSeenDateTime: null,
      });
      const other = makeDevice({ tenantId: otherTenant });
      await store.insertDevices([full, sparse, other]);
      assert.deepEqual(await store.getDevice(tenant, full.id), full);
      assert.deepEqual(await store.getDevice(tenant, sparse.id), sparse);
      assert.deepEqual(await store.getDevice(otherTenant, other.id), other);
      assert.equal(await store.getDevice(tenant, other.id), null, "another tenant's device does not exist");
      assert.equal(await store.getDevice(tenant, randomUUID()), null);
      assert.equal(await store.countDevices(tenant), 2);
      assert.equal(await store.countDevices(otherTenant), 1);
      assert.equal(await store.countDevices(randomUUID()), 0);
      const many = Array.from({ length: 1200 }, () => makeDevice());
      await store.insertDevices(many);
      assert.equal(await store.countDevices(tenant), 1202);
      assert.deepEqual(await store.getDevice(tenant, many[777].id), many[777]);
    });

    it('getDeviceCatalog: the device\'s id, type and model with its tenant\'s entries of one software type (and version), in order', async (store) => {
      const device = makeDevice({ deviceType: 'teamsPanel', hardwareDetail: { uniqueId: 'u', serialNumber: 's', manufacturer: 'crestron', model: 'TSS-770', macAddresses: [] } });
      const noModel = makeDevice({ hardwareDetail: { uniqueId: null, serialNumber: 's2', manufacturer: null, model: null, macAddresses: [] } });
      await store.insertDevices([device, noModel]);
      const entry = (version: string, overrides: Partial<CatalogEntry> = {}): CatalogEntry => ({
        tenantId: tenant, softwareType: 'teamsClient', version, deviceType: null, model: null,
        createdDateTime: isoAt(Date.UTC(2025, 2, 3, 4, 5, 6, 789)), artifact: null, ...overrides,
      });
      // Whoever an entry is for, the store returns it: which apply is the domain's rule.
      const entries = [
        entry('1.0.96.22'), entry('1.0.96.22', { deviceType: 'ipPhone' }), entry('1.0.96.30', { deviceType: 'teamsPanel', model: 'tss-770' }),
        entry('1.0.96.22', { softwareType: 'firmware' }), entry('1.0.96.22', { tenantId: otherTenant }),
      ];
      for (const e of entries) assert.equal(await store.addCatalogEntry(e), 'added');
      const offers = entries.map(({ softwareType, version, deviceType, model, artifact }) => ({ softwareType, version, deviceType, model, artifact }));
      const model = { id: device.id, deviceType: 'teamsPanel', model: 'TSS-770' };
      // One version's entries come in no particular order; all of a type's in the order added.
      const byJson = (a: object, b: object) => JSON.stringify(a).localeCompare(JSON.stringify(b));
      const oneVersion = await store.getDeviceCatalog(tenant, device.id, 'teamsClient', '1.0.96.22');
      assert.deepEqual({ ...oneVersion, entries: oneVersion?.entries.sort(byJson) }, { device: model, entries: offers.slice(0, 2).sort(byJson) });
      assert.deepEqual(await store.getDeviceCatalog(tenant, device.id, 'teamsClient', null), { device: model, entries: offers.slice(0, 3) });
      assert.deepEqual(await store.getDeviceCatalog(tenant, device.id, 'firmware', null), { device: model, entries: [offers[3]] });
      // Versions compare exactly, as stored.
      assert.deepEqual(await store.getDeviceCatalog(tenant, device.id, 'teamsClient', '1.0.96.022'), { device: model, entries: [] });
      assert.deepEqual(await store.getDeviceCatalog(tenant, noModel.id, 'companyPortal', null), {
        device: { id: noModel.id, deviceType: 'teamsRoom', model: null }, entries: [],
      });
      assert.equal(await store.getDeviceCatalog(otherTenant, device.id, 'teamsClient', null), null);
      assert.equal(await store.getDeviceCatalog(tenant, randomUUID(), 'teamsClient', '1.0.96.22'), null);
    });

    it('listDevices pages by keyset: every device exactly once, ordered by id, tenants kept apart', async (store) => {
      const mine = Array.from({ length: 53 }, () => makeDevice());
      const theirs = Array.from({ length: 9 }, () => makeDevice({ tenantId: otherTenant }));
      await store.insertDevices([...mine.slice(0, 20), ...theirs, ...mine.slice(20)]);
      const expected = [...mine].sort(byId).map((d) => d.id);
      for (const top of [1, 7, 50, 53, 100]) {
        const listed = await allPages(store, tenant, null, top);
        assert.deepEqual(listed.map((d) => d.id), expected, `top ${top}`);
      }
      const first = await store.listDevices({ tenantId: tenant, filter: null, order: [], top: 5, after: null });
      assert.deepEqual(first.items[0], { ...[...mine].sort(byId)[0], health: {}, activity: {}, configuration: {} },
        'listed devices carry every field but the three documents');
      assert.deepEqual((await allPages(store, otherTenant, null, 4)).map((d) => d.id), [...theirs].sort(byId).map((d) => d.id));
      assert.deepEqual(await store.listDevices({ tenantId: randomUUID(), filter: null, order: [], top: 10, after: null }), { items: [], next: null });
      const afterLast = await store.listDevices({ tenantId: tenant, filter: null, order: [], top: 10, after: { keys: [], id: expected[expected.length - 1] } });
      assert.deepEqual(afterLast, { items: [], next: null });
    });

    it('listDevices filters: eq, ne (null-safe), in, not, startswith with % and _, and/or nesting; the same with a small scan window', async (store, fresh) => {
      const notes = ['a%b1', 'a%bc', 'axb', 'a_b', 'aab', 'A%b', '%', '_x', null, 'a', ''];
      const types = ['teamsRoom', 'ipPhone', 'teamsPanel'] as const;
      const health = ['healthy', 'critical', null] as const;
      const tags = ['x', 'y', null] as const;
      const devices: Device[] = [];
      for (let i = 0; i < 66; i++) {
        devices.push(makeDevice({
          deviceType: types[i % 3],
          healthStatus: health[Math.floor(i / 3) % 3],
          companyAssetTag: tags[Math.floor(i / 9) % 3],
          notes: notes[i % notes.length],
          currentUser: i % 5 === 0 ? null : { id: `user-${i % 4}`, displayName: i % 2 ? 'Conf Room 1' : 'Conf_Room%2', userIdentityType: 'aadUser' },
        }));
      }
      // The same shapes in another tenant must never show up.
      await store.insertDevices([...devices, ...devices.slice(0, 12).map((d) => ({ ...d, id: randomUUID(), tenantId: otherTenant }))]);
      const eq = (property: any, value: string | null): DeviceFilter => ({ op: 'eq', property, value });
      const ne = (property: any, value: string | null): DeviceFilter => ({ op: 'ne', property, value });
      const filters: [string, DeviceFilter, number?][] = [
        ["deviceType eq 'teamsRoom'", eq('deviceType', 'teamsRoom'), 22],
        ['healthStatus eq null', eq('healthStatus', null)],
        ["companyAssetTag ne 'x' (includes nulls)", ne('companyAssetTag', 'x')],
        ['companyAssetTag ne null', ne('companyAssetTag', null)],
        ["notes ne 'axb'", ne('notes', 'axb')],
        ["healthStatus in ('healthy', 'critical')", { op: 'in', property: 'healthStatus', values: ['healthy', 'critical'] }],
        ["deviceType in ('ipPhone')", { op: 'in', property: 'deviceType', values: ['ipPhone'] }],
        ["not (companyAssetTag eq 'x') (true where null)", { op: 'not', operand: eq('companyAssetTag', 'x') }],
        ["not (companyAssetTag ne 'x')", { op: 'not', operand: ne('companyAssetTag', 'x') }],
        ["not (healthStatus in ('healthy'))", { op: 'not', operand: { op: 'in', property: 'healthStatus', values: ['healthy'] } }],
        ["not (startswith(notes, 'a'))", { op: 'not', operand: { op: 'startswith', property: 'notes', value: 'a' } }],
        ["startswith(notes, 'a%')", { op: 'startswith', property: 'notes', value: 'a%' }],
        ["startswith(notes, 'a_')", { op: 'startswith', property: 'notes', value: 'a_' }],
        ["startswith(notes, '%')", { op: 'startswith', property: 'notes', value: '%' }],
        ["startswith(notes, '_')", { op: 'startswith', property: 'notes', value: '_' }],
        ["startswith(notes, 'a')", { op: 'startswith', property: 'notes', value: 'a' }],
        ["startswith(displayName, 'Conf_Room%')", { op: 'startswith', property: 'displayName', value: 'Conf_Room%' }],
        ["startswith(notes, '')", { op: 'startswith', property: 'notes', value: '' }],
        ["currentUser/id eq 'user-1'", eq('currentUser/id', 'user-1')],
        ["deviceType eq 'teamsRoom' and (healthStatus eq 'healthy' or companyAssetTag eq null)", {
          op: 'and', operands: [eq('deviceType', 'teamsRoom'), { op: 'or', operands: [eq('healthStatus', 'healthy'), eq('companyAssetTag', null)] }],
        }],
        ["(deviceType eq 'ipPhone' and healthStatus eq 'critical') or not (companyAssetTag eq 'y' or healthStatus eq 'healthy')", {
          op: 'or',
          operands: [
            { op: 'and', operands: [eq('deviceType', 'ipPhone'), eq('healthStatus', 'critical')] },
            { op: 'not', operand: { op: 'or', operands: [eq('companyAssetTag', 'y'), eq('healthStatus', 'healthy')] } },
          ],
        }],
        ["notes in ('a_b', '%') or currentUser/id eq 'user-1'", {
          op: 'or', operands: [{ op: 'in', property: 'notes', values: ['a_b', '%'] }, eq('currentUser/id', 'user-1')],
        }],
        ["deviceType eq 'teamsRoom' and startswith(notes, '_x')", {
          op: 'and', operands: [eq('deviceType', 'teamsRoom'), { op: 'startswith', property: 'notes', value: '_x' }],
        }],
        ["healthStatus ne 'healthy' and (notes eq 'a_b' or (startswith(notes, 'a%') and deviceType eq 'ipPhone'))", {
          op: 'and', operands: [ne('healthStatus', 'healthy'), {
            op: 'or', operands: [eq('notes', 'a_b'), { op: 'and', operands: [{ op: 'startswith', property: 'notes', value: 'a%' }, eq('deviceType', 'ipPhone')] }],
          }],
        }],
        ["not (not (healthStatus eq 'critical') and companyAssetTag ne 'y')", {
          op: 'not', operand: { op: 'and', operands: [{ op: 'not', operand: eq('healthStatus', 'critical') }, ne('companyAssetTag', 'y')] },
        }],
      ];
      // A store that examines 5 devices per filtered page: pages come short or empty, and
      // following them still lists each match exactly once, in order.
      const scanning = await fresh.another({ scanRowsPerPage: 5 });
      let shortPages = 0;
      for (const [name, filter, count] of filters) {
        const expected = inPageOrder(devices.filter((d) => matchesFilter(d, filter)), filter).map((d) => d.id);
        if (count !== undefined) assert.equal(expected.length, count, `reference count for ${name}`);
        const listed = (await allPages(store, tenant, filter, 4)).map((d) => d.id);
        assert.deepEqual(listed, expected, `${name}: ${listed.length} listed, ${expected.length} expected`);
        const scanned = (await allPages(scanning, tenant, filter, 4)).map((d) => d.id);
        assert.deepEqual(scanned, expected, `${name}, 5 devices per page: ${scanned.length} listed, ${expected.length} expected`);
        const first = await scanning.listDevices({ tenantId: tenant, filter, order: devicePageOrder(filter), top: 4, after: null });
        if (first.items.length < 4 && first.next !== null) shortPages++;
      }
      assert.ok(shortPages > 0, 'some first pages stopped at the scan window with more to come');
      // Where the indexes narrow a filter to at most the window, its first page is whole and
      // final (a window of 10 devices out of 66 would end the page with a nextLink).
      const narrowing = await fresh.another({ scanRowsPerPage: 10 });
      const rare: DeviceFilter[] = [
        { op: 'and', operands: [eq('deviceType', 'teamsRoom'), { op: 'startswith', property: 'notes', value: '_x' }] },
        { op: 'or', operands: [{ op: 'in', property: 'notes', values: ['_x'] }, eq('currentUser/id', 'user-nope')] },
      ];
      for (const filter of rare) {
        const expected = devices.filter((d) => matchesFilter(d, filter)).sort(byId).map((d) => d.id);
        assert.ok(expected.length > 0 && expected.length <= 10, `${JSON.stringify(filter)} matches ${expected.length}`);
        const first = await narrowing.listDevices({ tenantId: tenant, filter, order: [], top: 10, after: null });
        assert.deepEqual({ ids: first.items.map((d) => d.id), next: first.next }, { ids: expected, next: null }, JSON.stringify(filter));
      }
      // The checks above are only as good as the reference: pin a few counts by hand.
      const count = async (filter: DeviceFilter) => (await allPages(store, tenant, filter, 50)).length;
      assert.equal(await count(ne('companyAssetTag', 'x')), devices.filter((d) => d.companyAssetTag !== 'x').length);
      assert.ok(devices.some((d) => d.companyAssetTag === null));
      assert.deepEqual(
        (await allPages(store, tenant, { op: 'startswith', property: 'notes', value: 'a%' }, 50)).map((d) => d.notes).sort(),
        devices.filter((d) => d.notes === 'a%b1' || d.notes === 'a%bc').map((d) => d.notes).sort(),
      );
      assert.deepEqual(
        [...new Set((await allPages(store, tenant, { op: 'startswith', property: 'notes', value: 'a_' }, 50)).map((d) => d.notes))],
        ['a_b'],
      );
      assert.equal(await count({ op: 'not', operand: eq('companyAssetTag', 'x') }), devices.filter((d) => d.companyAssetTag !== 'x').length);
    });

    it('listDevices in an explicit order: any keys either way, a null first ascending, ties by id, exact pages, filters and $skip', async (store) => {
      const notes = ['b', 'a', null, 'c', 'a', null, 'b2'];
      const health = ['healthy', null, 'critical'] as const;
      const devices = Array.from({ length: 41 }, (_, i) => makeDevice({
        deviceType: (['teamsRoom', 'ipPhone'] as const)[i % 2],
        healthStatus: health[i % 3],
        notes: notes[i % notes.length],
        companyAssetTag: i % 4 === 0 ? null : `T${i % 5}`,
        currentUser: i % 6 === 0 ? null : { id: `user-${i}`, displayName: `Room ${i % 4}`, userIdentityType: 'aadUser' },
        createdDateTime: isoAt(Date.UTC(2025, 0, 1) + (i % 9) * 3_600_000),
        lastModifiedDateTime: isoAt(Date.UTC(2025, 1, 1) + ((i * 7) % 41) * 60_000),
      }));
      await store.insertDevices([...devices, ...devices.slice(0, 5).map((d) => ({ ...d, id: randomUUID(), tenantId: otherTenant }))]);
      const key = (property: DeviceOrderKey['property'], descending = false): DeviceOrderKey => ({ property, descending });
      const orders: DeviceOrderKey[][] = [
        [key('notes')], [key('notes', true)], [key('healthStatus', true), key('notes')], [key('createdDateTime', true)],
        [key('lastModifiedDateTime')], [key('displayName'), key('companyAssetTag', true), key('createdDateTime')], [key('deviceType')],
      ];
      const filters: (DeviceFilter | null)[] = [
        null,
        { op: 'eq', property: 'deviceType', value: 'ipPhone' },
        { op: 'not', operand: { op: 'eq', property: 'healthStatus', value: 'healthy' } },
        { op: 'startswith', property: 'notes', value: 'b' },
      ];
      for (const order of orders) {
        for (const filter of filters) {
          const expected = inPageOrder(devices.filter((d) => filter === null || matchesFilter(d, filter)), filter, order).map((d) => d.id);
          for (const top of [3, 50]) {
            const listed = (await allPages(store, tenant, filter, top, order)).map((d) => d.id);
            assert.deepEqual(listed, expected, `${JSON.stringify(order)} ${JSON.stringify(filter)} top ${top}`);
          }
          for (const skip of [1, 4, 40]) {
            const page = await store.listDevices({ tenantId: tenant, filter, order, top: 3, after: null, skip });
            assert.deepEqual(page.items.map((d) => d.id), expected.slice(skip, skip + 3), `skip ${skip}: ${JSON.stringify(order)} ${JSON.stringify(filter)}`);
          }
        }
      }
      // $skip over the id-ordered plans, the scan window's included.
      const byIds = [...devices].sort(byId).map((d) => d.id);
      for (const skip of [2, 39, 41, 100]) {
        const page = await store.listDevices({ tenantId: tenant, filter: null, order: [], top: 5, after: null, skip });
        assert.deepEqual(page.items.map((d) => d.id), byIds.slice(skip, skip + 5), `skip ${skip}`);
      }
      const notHealthy = devices.filter((d) => d.healthStatus !== 'healthy').sort(byId).map((d) => d.id);
      const skipped = await store.listDevices({ tenantId: tenant, filter: filters[2], order: [], top: 50, after: null, skip: 3 });
      assert.deepEqual(skipped.items.map((d) => d.id), notHealthy.slice(3));
    });

    // --- operations ---------------------------------------------------------------------

    it('createOperation: created, conflict for the same pending key, created for another softwareType, created again once started', async (store) => {
      const device = makeDevice();
      await store.insertDevices([device]);
      const first = makeOperation(device, { softwareType: 'teamsClient' });
      assert.equal(await store.createOperation(first, operationAudit), 'created');
      assert.deepEqual(await store.getOperation(tenant, device.id, first.id), first, 'the operation round-trips');
      assert.equal(await store.createOperation(makeOperation(device, { softwareType: 'teamsClient' }), operationAudit), 'conflict');
      assert.equal(await store.createOperation(makeOperation(device, { softwareType: 'firmware' }), operationAudit), 'created');
      assert.equal(await store.createOperation(makeOperation(device, { operationType: 'deviceRestart' }), operationAudit), 'created');
      assert.equal(await store.createOperation(makeOperation(device, { operationType: 'deviceRestart' }), operationAudit), 'conflict', 'softwareType null is one key');
      // scheduled is pending too
      assert.ok(await store.transitionOperation(tenant, first.id, 'schedule', { at: isoAt(Date.now()), by: adminBy }));
      assert.equal(await store.createOperation(makeOperation(device, { softwareType: 'teamsClient' }), operationAudit), 'conflict', 'scheduled counts as pending');
      const started = await store.transitionOperation(tenant, first.id, 'start', { at: isoAt(Date.now()), by: deviceBy(device.id), runDeadline: isoAt(Date.now() + 60_000) });
      assert.equal(started?.status, 'inProgress');
      const again = makeOperation(device, { softwareType: 'teamsClient' });
      assert.equal(await store.createOperation(again, operationAudit), 'created', 'a running operation does not block a new pending one');
      assert.equal(await store.createOperation(makeOperation(device, { softwareType: 'teamsClient' }), operationAudit), 'conflict');
      // the same key on another device, or another tenant's device, is independent
      const second = makeDevice();
      const foreign = makeDevice({ tenantId: otherTenant, id: device.id });
      await store.insertDevices([second, foreign]);
      assert.equal(await store.createOperation(makeOperation(second, { softwareType: 'teamsClient' }), operationAudit), 'created');
      assert.equal(await store.createOperation(makeOperation(foreign, { softwareType: 'teamsClient' }), operationAudit), 'created');
      const page = await store.listOperations({ tenantId: tenant, deviceId: device.id, top: 10, beforeSeq: null });
      assert.deepEqual(page.items.map((o) => o.status), ['queued', 'queued', 'queued', 'inProgress'], 'newest first');
      assert.equal(page.next, null);
    });

    it('createOperation: noDevice for a device missing from the tenant, in a batch with others, and nothing is written', async (store) => {
      const device = makeDevice();
      const foreign = makeDevice({ tenantId: otherTenant });
      await store.insertDevices([device, foreign]);
      const missing = makeOperation(makeDevice(), { softwareType: 'teamsClient' });
      const otherTenants = { ...makeOperation(foreign, { softwareType: 'teamsClient' }), tenantId: tenant };
      const good = makeOperation(device, { softwareType: 'teamsClient' });
      // submitted together, so the group commit writes them in one batch
      assert.deepEqual(
        await Promise.all([missing, good, otherTenants].map((op) => store.createOperation(op, operationAudit))),
        ['noDevice', 'created', 'noDevice'],
      );
      assert.equal(await store.getOperation(tenant, missing.deviceId, missing.id), null);
      assert.equal(await store.getOperation(tenant, foreign.id, otherTenants.id), null);
      assert.equal(await store.getOperation(otherTenant, foreign.id, otherTenants.id), null);
      assert.deepEqual(await store.getOperation(tenant, device.id, good.id), good);
    });

    it('createOperation: created, conflict and noDevice in one batch, each answered, only the created one written with its audit event', async (store) => {
      const device = makeDevice();
      const other = makeDevice();
      await store.insertDevices([device, other]);
      const pending = makeOperation(device, { softwareType: 'teamsClient' });
      assert.equal(await store.createOperation(pending, operationAudit), 'created');
      const before = (await store.listAudit({ tenantId: tenant, top: 50, beforeSeq: null })).items.length;
      const refused = makeOperation(device, { softwareType: 'teamsClient' });
      const missing = makeOperation(makeDevice(), { softwareType: 'teamsClient' });
      const good = makeOperation(other, { softwareType: 'teamsClient' });
      // submitted together, so the group commit writes them in one batch
      assert.deepEqual(
        await Promise.all([refused, missing, good].map((op) => store.createOperation(op, auditEvent(tenant, 'operationCreated', { type: 'user', id: 'u1', displayName: 'Admin', ipAddress: '10.0.0.7' }, { type: 'operation', id: op.id })))),
        ['conflict', 'noDevice', 'created'],
      );
      assert.equal(await store.getOperation(tenant, device.id, refused.id), null);
      assert.equal(await store.getOperation(tenant, missing.deviceId, missing.id), null);
      assert.deepEqual(await store.getOperation(tenant, other.id, good.id), good);
      const audit = (await store.listAudit({ tenantId: tenant, top: 50, beforeSeq: null })).items;
      assert.equal(audit.length, before + 1, 'one audit event: the created operation\'s');
      assert.equal(audit[0].target?.id, good.id);
    });

    it('50 concurrent createOperation calls for one key: exactly one created', async (store) => {
      const device = makeDevice();
      await store.insertDevices([device]);
      const attempts = Array.from({ length: 50 }, () => makeOperation(device, { softwareType: 'teamsClient' }));
      const outcomes = await Promise.all(attempts.map((op) => store.createOperation(op, operationAudit)));
      assert.equal(outcomes.filter((o) => o === 'created').length, 1, JSON.stringify(outcomes));
      assert.equal(outcomes.filter((o) => o === 'conflict').length, 49);
      const winner = attempts[outcomes.indexOf('created')];
      const page = await store.listOperations({ tenantId: tenant, deviceId: device.id, top: 50, beforeSeq: null });
      assert.deepEqual(page.items.map((o) => o.id), [winner.id]);
    });

    it('listOperations pages newest first by keyset', async (store) => {
      const device = makeDevice();
      await store.insertDevices([device]);
      const ids: string[] = [];
      for (const softwareType of ['adminAgent', 'operatingSystem', 'teamsClient', 'firmware', 'partnerAgent', 'companyPortal'] as const) {
        const op = makeOperation(device, { softwareType });
        assert.equal(await store.createOperation(op, operationAudit), 'created');
        ids.push(op.id);
      }
      const seen: string[] = [];
      let beforeSeq: number | null = null;
      for (;;) {
        const page = await store.listOperations({ tenantId: tenant, deviceId: device.id, top: 4, beforeSeq });
        seen.push(...page.items.map((o) => o.id));
        if (page.next === null) break;
        assert.equal(typeof page.next, 'number');
        beforeSeq = page.next as number;
      }
      assert.deepEqual(seen, ids.reverse());
      assert.deepEqual((await store.listOperations({ tenantId: otherTenant, deviceId: device.id, top: 4, beforeSeq: null })).items, []);
    });

    it("listTenantOperations pages the tenant's operations across devices newest first (ties by acceptance), filtered, and countTenantOperations agrees", async (store) => {
      const devices = [makeDevice(), makeDevice(), makeDevice()];
      const foreign = makeDevice({ tenantId: otherTenant });
      await store.insertDevices([...devices, foreign]);
      const base = Date.parse('2026-03-01T00:00:00.000Z');
      const kinds: Partial<Operation>[] = [
        { operationType: 'softwareUpdate', softwareType: 'teamsClient', status: 'queued' },
        { operationType: 'deviceRestart', status: 'failed' },
        { operationType: 'deviceDiagnostics', status: 'successful' },
        { operationType: 'softwareUpdate', softwareType: 'firmware', status: 'successful' },
      ];
      const created: Operation[] = [];
      for (const [d, device] of devices.entries()) {
        for (const [k, kind] of kinds.entries()) {
          // Two operations in each minute share their createdDateTime: the order of acceptance breaks the tie.
          const op = makeOperation(device, { ...kind, createdDateTime: isoAt(base + Math.floor((d * kinds.length + k) / 2) * 60_000) });
          assert.equal(await store.createOperation(op, operationAudit), 'created');
          created.push(op);
        }
      }
      assert.equal(await store.createOperation(makeOperation(foreign, { createdDateTime: isoAt(base + 3 * 60_000) }), operationAudit), 'created');
      const newestFirst = [...created].reverse();
      const at = (minutes: number) => isoAt(base + minutes * 60_000);
      const cases: [string, OperationFilter | null, (op: Operation) => boolean][] = [
        ['none', null, () => true],
        ['a status', { status: 'successful', operationType: null, created: [], nothing: false }, (op) => op.status === 'successful'],
        ['a type', { status: null, operationType: 'softwareUpdate', created: [], nothing: false }, (op) => op.operationType === 'softwareUpdate'],
        ['both', { status: 'successful', operationType: 'softwareUpdate', created: [], nothing: false }, (op) => op.status === 'successful' && op.operationType === 'softwareUpdate'],
        ['dates', { status: null, operationType: null, created: [{ op: 'ge', value: at(1) }, { op: 'lt', value: at(4) }], nothing: false }, (op) => op.createdDateTime >= at(1) && op.createdDateTime < at(4)],
        ['a type after a date', { status: null, operationType: 'deviceRestart', created: [{ op: 'gt', value: at(0) }], nothing: false }, (op) => op.operationType === 'deviceRestart' && op.createdDateTime > at(0)],
        ['up to a date', { status: 'failed', operationType: null, created: [{ op: 'le', value: at(2) }], nothing: false }, (op) => op.status === 'failed' && op.createdDateTime <= at(2)],
        ['nothing', { status: 'queued', operationType: null, created: [], nothing: true }, () => false],
      ];
      for (const [name, filter, matches] of cases) {
        const expected = newestFirst.filter(matches).map((op) => op.id);
        const seen: string[] = [];
        let after: OperationPosition | null = null;
        for (let pages = 0; ; pages++) {
          assert.ok(pages < 20, `${name}: paging ends`);
          const page: Page<Operation, OperationPosition> = await store.listTenantOperations({ tenantId: tenant, filter, top: 2, after });
          seen.push(...page.items.map((op) => op.id));
          if (page.next === null) break;
          after = page.next;
        }
        assert.deepEqual(seen, expected, name);
        assert.equal(await store.countTenantOperations(tenant, filter), expected.length, `${name}: count`);
      }
      assert.equal(await store.countTenantOperations(otherTenant, null), 1);
    });

    for (const [transition, rule] of Object.entries(transitions) as [Transition, (typeof transitions)[Transition]][]) {
      it(`transitionOperation ${transition}: ${rule.from.join('|')} → ${rule.to} once; refused from every other state`, async (store) => {
        for (const from of operationStatuses) {
          const op = await operationIn(store, from);
          const at = isoAt(Date.now() + 1000);
          const changes: TransitionChanges = {
            at,
            by: deviceBy(op.deviceId),
            ...(transition === 'fail' ? { error: { code: 'deviceError', message: 'it broke' } } : {}),
            ...(transition === 'start' ? { runDeadline: isoAt(Date.now() + 3600_000) } : {}),
            ...(transition === 'succeed' ? { result: { installed: { teamsClient: '5.1.24.0' } } } : {}),
          };
          const legal = (rule.from as readonly OperationStatus[]).includes(from);
          const moved = await store.transitionOperation(tenant, op.id, transition, changes);
          if (!legal) {
            assert.equal(moved, null, `${transition} from ${from} must be refused`);
            assert.deepEqual(await store.getOperation(tenant, op.deviceId, op.id), op, `${transition} from ${from} changed nothing`);
            continue;
          }
          assert.ok(moved, `${transition} from ${from} must succeed`);
          assert.equal(moved.id, op.id);
          assert.equal(moved.status, rule.to);
          assert.equal(moved.lastActionDateTime, at);
          assert.deepEqual(moved.lastActionBy, deviceBy(op.deviceId));
          assert.equal(moved.createdDateTime, op.createdDateTime);
          assert.deepEqual(moved.createdBy, op.createdBy);
          if (rule.to === 'inProgress') {
            assert.equal(moved.startedDateTime, at);
            assert.equal(moved.runDeadline, changes.runDeadline);
          }
          if (['successful', 'failed', 'cancelled'].includes(rule.to)) assert.equal(moved.completedDateTime, at);
          else assert.equal(moved.completedDateTime, null);
          if (transition === 'fail') assert.deepEqual(moved.error, { code: 'deviceError', message: 'it broke' });
          if (transition === 'succeed') assert.deepEqual(moved.result, { installed: { teamsClient: '5.1.24.0' } });
          assert.deepEqual(await store.getOperation(tenant, op.deviceId, op.id), moved, 'what it returns is what it stored');
          assert.equal(await store.transitionOperation(tenant, op.id, transition, { ...changes, at: isoAt(Date.now() + 2000) }), null,
            `a second ${transition} from ${from} must be refused`);
          assert.deepEqual(await store.getOperation(tenant, op.deviceId, op.id), moved, 'the refused second call changed nothing');
          assert.equal(await store.transitionOperation(otherTenant, op.id, transition, changes), null, 'another tenant cannot move it');
        }
      });
    }

    it('concurrent identical transitions: exactly one wins', async (store) => {
      const op = await operationIn(store, 'inProgress');
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        store.transitionOperation(tenant, op.id, i % 2 ? 'succeed' : 'fail', { at: isoAt(Date.now()), by: adminBy })));
      assert.equal(outcomes.filter(Boolean).length, 1);
    });

    it("start is refused while another operation of the device runs or an older one is queued", async (store) => {
      const device = makeDevice();
      await store.insertDevices([device]);
      const changes = () => ({ at: isoAt(Date.now()), by: deviceBy(device.id), runDeadline: isoAt(Date.now() + 60_000) });
      const older = makeOperation(device, { softwareType: 'teamsClient' });
      const newer = makeOperation(device, { softwareType: 'firmware' });
      const newest = makeOperation(device, { operationType: 'deviceRestart' });
      for (const op of [older, newer, newest]) assert.equal(await store.createOperation(op, operationAudit), 'created');
      assert.equal(await store.transitionOperation(tenant, newer.id, 'start', changes()), null, 'an older one is queued');
      assert.equal((await store.getOperation(tenant, device.id, newer.id))?.status, 'queued');
      assert.equal((await store.transitionOperation(tenant, older.id, 'start', changes()))?.status, 'inProgress');
      assert.equal(await store.transitionOperation(tenant, newer.id, 'start', changes()), null, 'another one runs');
      assert.equal((await store.getOperation(tenant, device.id, newer.id))?.status, 'queued');
      assert.ok(await store.transitionOperation(tenant, older.id, 'succeed', changes()));
      assert.equal((await store.transitionOperation(tenant, newer.id, 'start', changes()))?.status, 'inProgress', 'free again');
      assert.equal(await store.transitionOperation(tenant, newest.id, 'start', changes()), null);
      // A scheduled older operation waits for its window and does not block a queued one... but a running one still does.
      const other = makeDevice();
      await store.insertDevices([other]);
      const waiting = makeOperation(other, { softwareType: 'teamsClient' });
      const next = makeOperation(other, { softwareType: 'firmware' });
      for (const op of [waiting, next]) assert.equal(await store.createOperation(op, operationAudit), 'created');
      assert.ok(await store.transitionOperation(tenant, waiting.id, 'schedule', changes()));
      assert.equal((await store.transitionOperation(tenant, next.id, 'start', changes()))?.status, 'inProgress');
      assert.equal(await store.transitionOperation(tenant, waiting.id, 'start', changes()), null, 'one at a time');
      // Two devices run at once: the rule is per device.
      assert.equal((await store.getOperation(tenant, device.id, newer.id))?.status, 'inProgress');
    });

    it('concurrent starts of two operations of one device: at most one runs', async (store) => {
      const device = makeDevice();
      await store.insertDevices([device]);
      const a = makeOperation(device, { softwareType: 'teamsClient' });
      const b = makeOperation(device, { softwareType: 'firmware' });
      for (const op of [a, b]) assert.equal(await store.createOperation(op, operationAudit), 'created');
      assert.ok(await store.transitionOperation(tenant, a.id, 'schedule', { at: isoAt(Date.now()), by: adminBy }));
      const outcomes = await Promise.all([a, b, a, b, a, b].map((op) =>
        store.transitionOperation(tenant, op.id, 'start', { at: isoAt(Date.now()), by: adminBy, runDeadline: isoAt(Date.now() + 60_000) })));
      assert.equal(outcomes.filter(Boolean).length, 1, JSON.stringify(outcomes.map((o) => o?.id ?? null)));
    });

    it('expireOverdue fails past-deadline operations with the given errors, once', async (store) => {
      const now = Date.now();
      const devices = Array.from({ length: 5 }, () => makeDevice());
      await store.insertDevices(devices);
      const lateQueued = makeOperation(devices[0], { startDeadline: isoAt(now - 1000) });
      const lateScheduled = makeOperation(devices[1], { startDeadline: isoAt(now - 1) });
      const onTime = makeOperation(devices[2], { startDeadline: isoAt(now + 60_000) });
      const running = makeOperation(devices[3], { startDeadline: isoAt(now - 5000) });
      const runningOnTime = makeOperation(devices[4], { startDeadline: isoAt(now - 5000) });
      for (const op of [lateQueued, lateScheduled, onTime, running, runningOnTime]) assert.equal(await store.createOperation(op, operationAudit), 'created');
      assert.ok(await store.transitionOperation(tenant, lateScheduled.id, 'schedule', { at: isoAt(now - 500), by: adminBy }));
      assert.ok(await store.transitionOperation(tenant, running.id, 'start', { at: isoAt(now - 4000), by: adminBy, runDeadline: isoAt(now - 10) }));
      assert.ok(await store.transitionOperation(tenant, runningOnTime.id, 'start', { at: isoAt(now - 4000), by: adminBy, runDeadline: isoAt(now + 60_000) }));
      const errors = {
        start: { code: 'deviceUnreachable', message: 'not started in time' },
        run: { code: 'timeout', message: 'not finished in time' },
      };
      const at = isoAt(now);
      const expired = await store.expireOverdue(at, errors, 100);
      assert.deepEqual(expired.map((o) => o.id).sort(), [lateQueued.id, lateScheduled.id, running.id].sort());
      for (const op of expired) {
        assert.equal(op.status, 'failed');
        assert.equal(op.completedDateTime, at);
        assert.equal(op.lastActionDateTime, at);
        assert.equal(op.lastActionBy, null);
        assert.deepEqual(op.error, op.id === running.id ? errors.run : errors.start);
        assert.deepEqual(await store.getOperation(tenant, op.deviceId, op.id), op);
      }
      assert.equal((await store.getOperation(tenant, devices[2].id, onTime.id))?.status, 'queued');
      assert.equal((await store.getOperation(tenant, devices[4].id, runningOnTime.id))?.status, 'inProgress');
      assert.deepEqual(await store.expireOverdue(isoAt(now + 1), errors, 100), [], 'each is failed once');
      assert.deepEqual(await store.getOperation(tenant, devices[0].id, lateQueued.id), expired.find((o) => o.id === lateQueued.id));
    });

    it('expireOverdue respects the limit and concurrent callers fail each operation once', async (store) => {
      const now = Date.now();
      const devices = Array.from({ length: 30 }, () => makeDevice());
      await store.insertDevices(devices);
      for (const d of devices) assert.equal(await store.createOperation(makeOperation(d, { startDeadline: isoAt(now - 1000) }), operationAudit), 'created');
      const errors = { start: { code: 'deviceUnreachable', message: 'x' }, run: { code: 'timeout', message: 'y' } };
      assert.equal((await store.expireOverdue(isoAt(now), errors, 4)).length, 4);
      const batches = await Promise.all(Array.from({ length: 6 }, () => store.expireOverdue(isoAt(now), errors, 100)));
      const ids = batches.flat().map((o) => o.id);
      assert.equal(ids.length, 26, 'the other 26, each once');
      assert.equal(new Set(ids).size, 26);
    });

    it('nextOperation: the running operation first, else the oldest queued', async (store) => {
      const device = makeDevice();
      await store.insertDevices([device]);
      assert.equal(await store.nextOperation(tenant, device.id), null);
      const a = makeOperation(device, { softwareType: 'teamsClient' });
      const b = makeOperation(device, { softwareType: 'firmware' });
      assert.equal(await store.createOperation(a, operationAudit), 'created');
      assert.equal(await store.createOperation(b, operationAudit), 'created');
      assert.equal((await store.nextOperation(tenant, device.id))?.id, a.id, 'oldest queued');
      assert.equal(await store.nextOperation(otherTenant, device.id), null);
      assert.ok(await store.transitionOperation(tenant, a.id, 'schedule', { at: isoAt(Date.now()), by: adminBy }));
      assert.equal((await store.nextOperation(tenant, device.id))?.id, b.id, 'scheduled ones wait for their window');
      assert.ok(await store.transitionOperation(tenant, b.id, 'start', { at: isoAt(Date.now()), by: adminBy, runDeadline: isoAt(Date.now() + 60_000) }));
      const c = makeOperation(device, { operationType: 'deviceRestart' });
      assert.equal(await store.createOperation(c, operationAudit), 'created');
      assert.equal((await store.nextOperation(tenant, device.id))?.id, b.id, 'running');
      assert.ok(await store.transitionOperation(tenant, b.id, 'succeed', { at: isoAt(Date.now()), by: adminBy }));
      assert.equal((await store.nextOperation(tenant, device.id))?.id, c.id);
      // A running operation is preferred even over an older queued one.
      const other = makeDevice();
      await store.insertDevices([other]);
      const olderQueued = makeOperation(other, { softwareType: 'teamsClient' });
      const newerRunning = makeOperation(other, { operationType: 'deviceRestart', status: 'inProgress', startedDateTime: isoAt(Date.now()) });
      assert.equal(await store.createOperation(olderQueued, operationAudit), 'created');
      assert.equal(await store.createOperation(newerRunning, operationAudit), 'created');
      assert.equal((await store.nextOperation(tenant, other.id))?.id, newerRunning.id);
    });

    it('setProgress and requestCancel only on an inProgress operation', async (store) => {
      for (const status of operationStatuses) {
        const op = await operationIn(store, status);
        const at = isoAt(Date.now() + 500);
        const progressed = await store.setProgress(tenant, op.id, 40, 'downloading', at);
        const flagged = await store.requestCancel(tenant, op.id, adminBy, at);
        if (status !== 'inProgress') {
          assert.equal(progressed, null, `setProgress on ${status}`);
          assert.equal(flagged, null, `requestCancel on ${status}`);
          assert.deepEqual(await store.getOperation(tenant, op.deviceId, op.id), op);
          continue;
        }
        assert.equal(progressed?.progressPercent, 40);
        assert.equal(progressed?.progressMessage, 'downloading');
        assert.equal(progressed?.lastActionDateTime, at);
        assert.equal(progressed?.status, 'inProgress');
        assert.equal(flagged?.cancelRequested, true);
        assert.deepEqual(flagged?.lastActionBy, adminBy);
        assert.equal(flagged?.progressPercent, 40);
        assert.equal(flagged?.status, 'inProgress', 'the device confirms the cancel');
        assert.deepEqual(await store.getOperation(tenant, op.deviceId, op.id), flagged);
        assert.equal(await store.setProgress(otherTenant, op.id, 50, null, at), null);
        assert.equal(await store.requestCancel(otherTenant, op.id, adminBy, at), null);
        const cleared = await store.setProgress(tenant, op.id, null, null, at);
        assert.equal(cleared?.progressPercent, null);
        assert.equal(cleared?.cancelRequested, true);
      }
    });

    // --- agents -------------------------------------------------------------------------

    const newToken = (overrides: Partial<EnrollmentToken> = {}): EnrollmentToken => ({
      id: randomUUID(),
      tenantId: tenant,
      tokenHash: 'hash-' + randomUUID(),
      createdDateTime: isoAt(Date.UTC(2025, 4, 1, 12, 0, 0, 1)),
      expiresDateTime: isoAt(Date.now() + 3600_000),
      maxUses: null,
      uses: 0,
      revokedDateTime: null,
      description: null,
      ...overrides,
    });
    const audit = (activity: AuditActivity = 'deviceEnrolled') => auditEvent(tenant, activity, operatorActor, null);
    const enroll = (store: Store, device: Device, proof: EnrollmentProof, credentialHash = 'hash-' + randomUUID(), deviceQuota = 1000) =>
      store.enrollDevice({ device, credentialHash, proof, deviceQuota, audit: (outcome, id) => auditEvent(tenant, outcome === 'created' ? 'deviceEnrolled' : 'deviceReenrolled', operatorActor, { type: 'device', id }) });

    it('enrollment tokens: found by hash, listed per tenant, revoked once', async (store) => {
      const token = newToken({ maxUses: 3, description: 'lobby phones' });
      await store.createEnrollmentToken(token, audit('enrollmentTokenCreated'));
      assert.deepEqual(await store.findEnrollmentToken(token.tokenHash), token);
      assert.equal(await store.findEnrollmentToken('hash-unknown'), null);
      await assert.rejects(store.createEnrollmentToken({ ...token, id: randomUUID() }, audit('enrollmentTokenCreated')), 'token hashes are unique');
      assert.deepEqual(await store.listEnrollmentTokens(tenant), [token]);
      assert.deepEqual(await store.listEnrollmentTokens(otherTenant), []);
      assert.equal(await store.revokeEnrollmentToken(otherTenant, token.id, audit('enrollmentTokenRevoked')), null, "another tenant's token");
      const revoked = await store.revokeEnrollmentToken(tenant, token.id, { ...audit('enrollmentTokenRevoked'), activityDateTime: isoAt(Date.UTC(2025, 5, 1)) });
      assert.equal(revoked?.revokedDateTime, isoAt(Date.UTC(2025, 5, 1)));
      const again = await store.revokeEnrollmentToken(tenant, token.id, { ...audit('enrollmentTokenRevoked'), activityDateTime: isoAt(Date.UTC(2025, 6, 1)) });
      assert.equal(again?.revokedDateTime, isoAt(Date.UTC(2025, 5, 1)), 'the first revocation time is kept');
    });

    it('findDeviceByHardware: uniqueId first, then serial number within the same manufacturer and model, within the tenant', async (store) => {
      const hw = (uniqueId: string | null, serialNumber: string | null, model = 'a') => ({ uniqueId, serialNumber, manufacturer: 'm', model, macAddresses: [] });
      // x sorts after y by id, so only ordering by the uniqueId match can pick x
      const x = makeDevice({ id: `f${randomUUID().slice(1)}`, hardwareDetail: hw('U1', 'S1') });
      const y = makeDevice({ id: `0${randomUUID().slice(1)}`, hardwareDetail: hw('U2', 'S2') });
      const z = makeDevice({ hardwareDetail: hw(null, 'S3') });
      const foreign = makeDevice({ tenantId: otherTenant, hardwareDetail: hw('U9', 'S9') });
      await store.insertDevices([y, z, x, foreign]);
      assert.equal((await store.findDeviceByHardware(tenant, hw('U1', 'S2')))?.id, x.id, 'uniqueId beats serial');
      assert.equal((await store.findDeviceByHardware(tenant, hw('U1', null)))?.id, x.id);
      assert.equal(await store.findDeviceByHardware(tenant, hw('nope', 'S2')), null, 'a serial number never matches a device with another uniqueId');
      assert.equal((await store.findDeviceByHardware(tenant, hw(null, 'S2')))?.id, y.id, 'no uniqueId given: the serial of the same model');
      assert.equal((await store.findDeviceByHardware(tenant, hw('U7', 'S3')))?.id, z.id, 'a device without uniqueId matches by serial');
      assert.equal(await store.findDeviceByHardware(tenant, hw(null, 'S3', 'other-model')), null, 'never across models');
      assert.equal(await store.findDeviceByHardware(tenant, { ...hw(null, 'S3'), manufacturer: 'other' }), null, 'never across manufacturers');
      assert.equal(await store.findDeviceByHardware(tenant, hw(null, null)), null);
      assert.equal(await store.findDeviceByHardware(tenant, hw('U9', 'S9')), null, "another tenant's hardware");
      assert.deepEqual(await store.findDeviceByHardware(otherTenant, hw('U9', null)), foreign);
    });

    it('enrollDevice with a token: a new device, a use of the token, the quota counted; refused without writing anything', async (store) => {
      const token = newToken({ maxUses: 2 });
      await store.createEnrollmentToken(token, audit());
      const device = makeDevice({ lastSeenDateTime: isoAt(Date.now()) });
      assert.deepEqual(await enroll(store, device, { kind: 'token', tokenId: token.id }, 'hash-1'), { outcome: 'created', deviceId: device.id });
      assert.deepEqual(await store.getDevice(tenant, device.id), device);
      assert.deepEqual(await store.deviceCredential(device.id), { tenantId: tenant, credentialHash: 'hash-1', previousCredentialHash: null, previousUntil: null });
      assert.equal((await store.findEnrollmentToken(token.tokenHash))?.uses, 1);

      // The same hardware again with the token: refused, nothing changes.
      const again = makeDevice({ hardwareDetail: device.hardwareDetail, notes: 'attacker' });
      assert.deepEqual(await enroll(store, again, { kind: 'token', tokenId: token.id }, 'hash-evil'), { outcome: 'refused', reason: 'hardwareEnrolled' });
      assert.deepEqual(await store.getDevice(tenant, device.id), device);
      assert.equal((await store.deviceCredential(device.id))?.credentialHash, 'hash-1');
      assert.equal((await store.findEnrollmentToken(token.tokenHash))?.uses, 1, 'a refused enrollment uses nothing');

      // The quota: refused without a use of the token.
      assert.deepEqual(await enroll(store, makeDevice(), { kind: 'token', tokenId: token.id }, 'h', 1), { outcome: 'refused', reason: 'quotaReached' });
      assert.equal((await store.findEnrollmentToken(token.tokenHash))?.uses, 1);
      assert.equal((await enroll(store, makeDevice(), { kind: 'token', tokenId: token.id })).outcome, 'created');
      assert.deepEqual(await enroll(store, makeDevice(), { kind: 'token', tokenId: token.id }), { outcome: 'refused', reason: 'tokenUnusable' }, 'used up');
      const expired = newToken({ expiresDateTime: isoAt(Date.now() - 1000) });
      await store.createEnrollmentToken(expired, audit());
      assert.deepEqual(await enroll(store, makeDevice(), { kind: 'token', tokenId: expired.id }), { outcome: 'refused', reason: 'tokenUnusable' });
      const revoked = newToken();
      await store.createEnrollmentToken(revoked, audit());
      await store.revokeEnrollmentToken(tenant, revoked.id, audit());
      assert.deepEqual(await enroll(store, makeDevice(), { kind: 'token', tokenId: revoked.id }), { outcome: 'refused', reason: 'tokenUnusable' });
      assert.equal(await store.countDevices(tenant), 2);
    });

    it('enrollDevice: 10 concurrent enrollments on a one-use token make exactly one device', async (store) => {
      const token = newToken({ maxUses: 1 });
      await store.createEnrollmentToken(token, audit());
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => enroll(store, makeDevice(), { kind: 'token', tokenId: token.id })));
      assert.equal(outcomes.filter((o) => o.outcome === 'created').length, 1, JSON.stringify(outcomes));
      assert.equal(await store.countDevices(tenant), 1);
      assert.equal((await store.findEnrollmentToken(token.tokenHash))?.uses, 1);
    });

    it("enrollDevice: a tenant's first 10 enrollments at once, each with its own token, under a quota of 8 make exactly 8 devices", async (store) => {
      // Separate tokens: one token's row would make the enrollments take turns before they count.
      const tokens = Array.from({ length: 10 }, () => newToken());
      for (const token of tokens) await store.createEnrollmentToken(token, audit());
      const outcomes = await Promise.all(tokens.map((token) => enroll(store, makeDevice(), { kind: 'token', tokenId: token.id }, undefined, 8)));
      assert.equal(outcomes.filter((o) => o.outcome === 'created').length, 8, JSON.stringify(outcomes));
      assert.ok(outcomes.every((o) => o.outcome === 'created' || (o.outcome === 'refused' && o.reason === 'quotaReached')), JSON.stringify(outcomes));
      assert.equal(await store.countDevices(tenant), 8);
      const uses = await Promise.all(tokens.map(async (token) => (await store.findEnrollmentToken(token.tokenHash))?.uses));
      assert.equal(uses.reduce((a, b) => a! + b!, 0), 8, 'a refused enrollment uses nothing');
    });

    it('enrollDevice: the same new hardware enrolling 10 times at once becomes one device; the others are refused', async (store) => {
      const token = newToken();
      await store.createEnrollmentToken(token, audit());
      const hardware = makeDevice().hardwareDetail;
      const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) =>
        enroll(store, makeDevice({ hardwareDetail: hardware, notes: `attempt ${i}` }), { kind: 'token', tokenId: token.id })));
      assert.equal(outcomes.filter((o) => o.outcome === 'created').length, 1, JSON.stringify(outcomes));
      assert.ok(outcomes.every((o) => o.outcome === 'created' || (o.outcome === 'refused' && o.reason === 'hardwareEnrolled')));
      assert.equal(await store.countDevices(tenant), 1);
    });

    it('enrollDevice with the credential re-enrolls; revokeDeviceCredential lets a token take the hardware over; removeDevice', async (store) => {
      const token = newToken();
      await store.createEnrollmentToken(token, audit());
      const device = makeDevice();
      await enroll(store, device, { kind: 'token', tokenId: token.id }, 'hash-1');
      const other = makeDevice();
      await enroll(store, other, { kind: 'token', tokenId: token.id }, 'hash-o');
      const changed: Device = { ...device, hardwareDetail: { ...device.hardwareDetail, serialNumber: 'SN-NEW-BOARD' }, installed: { teamsClient: '1.0.96.1' } };
      assert.deepEqual(await enroll(store, changed, { kind: 'credential', deviceId: device.id }, 'hash-2'), { outcome: 'reenrolled', deviceId: device.id });
      assert.deepEqual((await store.getDevice(tenant, device.id))?.hardwareDetail, changed.hardwareDetail);
      assert.equal((await store.deviceCredential(device.id))?.credentialHash, 'hash-2');
      // A credential cannot take another device's hardware identity.
      assert.deepEqual(await enroll(store, { ...other, id: device.id }, { kind: 'credential', deviceId: device.id }), { outcome: 'refused', reason: 'hardwareOfAnotherDevice' });

      assert.equal(await store.revokeDeviceCredential(otherTenant, device.id, audit('deviceCredentialRevoked')), false);
      assert.equal(await store.revokeDeviceCredential(tenant, device.id, audit('deviceCredentialRevoked')), true);
      assert.equal(await store.deviceCredential(device.id), null);
      assert.deepEqual(await enroll(store, changed, { kind: 'credential', deviceId: device.id }), { outcome: 'refused', reason: 'deviceGone' });
      const op = makeOperation(device);
      assert.equal(await store.createOperation(op, operationAudit), 'created');
      assert.deepEqual(await enroll(store, { ...changed, id: randomUUID() }, { kind: 'token', tokenId: token.id }, 'hash-3'), { outcome: 'reenrolled', deviceId: device.id });
      assert.equal((await store.deviceCredential(device.id))?.credentialHash, 'hash-3');
      assert.equal((await store.nextOperation(tenant, device.id))?.id, op.id, 'the device keeps its operations');
      // Taken over once: the reset is used up.
      assert.deepEqual(await enroll(store, { ...changed, id: randomUUID() }, { kind: 'token', tokenId: token.id }), { outcome: 'refused', reason: 'hardwareEnrolled' });

      assert.equal(await store.removeDevice(otherTenant, device.id, audit('deviceRemoved')), false);
      assert.equal(await store.removeDevice(tenant, device.id, audit('deviceRemoved')), true);
      assert.equal(await store.getDevice(tenant, device.id), null);
      assert.equal(await store.getOperation(tenant, device.id, op.id), null);
      assert.equal(await store.removeDevice(tenant, device.id, audit('deviceRemoved')), false);
      // The removed device's place in the quota is free again.
      assert.equal((await enroll(store, makeDevice(), { kind: 'token', tokenId: token.id }, 'h', 2)).outcome, 'created');
    });

    it('rotateDeviceCredential: the presented credential becomes the previous one; a stale one cannot rotate', async (store) => {
      const token = newToken();
      await store.createEnrollmentToken(token, audit());
      const device = makeDevice();
      await enroll(store, device, { kind: 'token', tokenId: token.id }, 'hash-1');
      const until = isoAt(Date.now() + 3600_000);
      assert.equal(await store.rotateDeviceCredential(tenant, device.id, 'hash-1', 'hash-2', until, audit('deviceCredentialRotated')), true);
      assert.deepEqual(await store.deviceCredential(device.id), { tenantId: tenant, credentialHash: 'hash-2', previousCredentialHash: 'hash-1', previousUntil: until });
      // The reply was lost: the device rotates again with the old one, which stays the previous.
      assert.equal(await store.rotateDeviceCredential(tenant, device.id, 'hash-1', 'hash-3', until, audit('deviceCredentialRotated')), true);
      assert.deepEqual(await store.deviceCredential(device.id), { tenantId: tenant, credentialHash: 'hash-3', previousCredentialHash: 'hash-1', previousUntil: until });
      assert.equal(await store.rotateDeviceCredential(tenant, device.id, 'hash-2', 'hash-4', until, audit('deviceCredentialRotated')), false);
      assert.equal(await store.rotateDeviceCredential(otherTenant, device.id, 'hash-3', 'hash-4', until, audit('deviceCredentialRotated')), false);
    });

    it('the audit log: events of every kind, newest first, paged, per tenant or all', async (store) => {
      const token = newToken();
      await store.createEnrollmentToken(token, audit('enrollmentTokenCreated'));
      const device = makeDevice();
      await enroll(store, device, { kind: 'token', tokenId: token.id });
      const op = makeOperation(device);
      const opAudit = auditEvent(tenant, 'operationCreated', { type: 'user', id: 'u1', displayName: 'Admin', ipAddress: '10.0.0.7' }, { type: 'operation', id: op.id }, {
        additionalDetails: { deviceId: device.id, softwareVersion: '1.0' },
      });
      assert.equal(await store.createOperation(op, opAudit), 'created');
      assert.equal(await store.createOperation(makeOperation(device), { ...opAudit, target: { type: 'operation', id: 'refused' } }), 'conflict');
      await store.recordAudit([auditEvent(null, 'authenticationFailed', { type: 'anonymous', id: null, displayName: null, ipAddress: '203.0.113.9' }, null, {
        result: 'failure', resultReason: 'expired token', occurrences: 7,
      })]);
      const mine = await store.listAudit({ tenantId: tenant, top: 50, beforeSeq: null });
      assert.deepEqual(mine.items.map((e) => e.activity), ['operationCreated', 'deviceEnrolled', 'enrollmentTokenCreated'], 'no event for the refused operation');
      const [created] = mine.items;
      assert.deepEqual({ ...created, id: '' }, opAudit);
      const all = await store.listAudit({ tenantId: null, top: 2, beforeSeq: null });
      assert.deepEqual(all.items.map((e) => [e.activity, e.occurrences, e.tenantId]), [['authenticationFailed', 7, null], ['operationCreated', 1, tenant]]);
      const rest = await store.listAudit({ tenantId: null, top: 2, beforeSeq: all.next as number });
      assert.deepEqual(rest.items.map((e) => e.activity), ['deviceEnrolled', 'enrollmentTokenCreated']);
      assert.deepEqual((await store.listAudit({ tenantId: otherTenant, top: 5, beforeSeq: null })).items, []);
    });

    it('updateDevice is a read-modify-write unit: concurrent changes are not lost', async (store) => {
      const device = makeDevice({ health: { counter: 0 } });
      await store.insertDevices([device]);
      assert.equal(await store.updateDevice(tenant, randomUUID(), (d) => d), null);
      const results = await Promise.all(Array.from({ length: 20 }, () =>
        store.updateDevice(tenant, device.id, (d) => ({ ...d, health: { ...d.health, counter: (d.health.counter as number) + 1 } }))));
      assert.ok(results.every(Boolean));
      const stored = await store.getDevice(tenant, device.id);
      assert.equal(stored?.health.counter, 20);
      assert.deepEqual(stored, results.find((r) => r!.health.counter === 20));
      assert.equal(await store.updateDevice(otherTenant, device.id, (d) => d), null, "another tenant's device");
    });

    it('updateDevice writes nothing when the change hands back the device it was given', async (store, fresh) => {
      const device = makeDevice();
      await store.insertDevices([device]);
      // SQLite: data_version on a connection of our own moves when another commits a change;
      // PostgreSQL: an UPDATE makes a new row version (xmin, ctid). The row lock of the
      // read-modify-write (xmax) is not a change of the row.
      const sqlite = fresh.kind === 'sqlite' ? new Database(fresh.db, { readonly: true }) : null;
      const version = async () => sqlite
        ? String(sqlite.pragma('data_version', { simple: true }))
        : (await queryDatabase<{ v: string }>(fresh.db, "SELECT xmin::text || '/' || ctid::text AS v FROM devices WHERE id = ?", [device.id]))[0].v;
      try {
        const before = await version();
        const stored = await store.getDevice(tenant, device.id);
        assert.deepEqual(await store.updateDevice(tenant, device.id, (d) => d), stored);
        assert.equal(await version(), before, 'nothing to write, nothing written');
        await store.updateDevice(tenant, device.id, (d) => ({ ...d, notes: 'changed' }));
        assert.notEqual(await version(), before, 'a change is written');
        assert.equal((await store.getDevice(tenant, device.id))?.notes, 'changed');
      } finally {
        sqlite?.close();
      }
    });

    it('updateDevice writes reported and derived state; lastSeen is kept when not given', async (store) => {
      const device = makeDevice();
      await store.insertDevices([device]);
      const updated: Device = {
        ...device,
        healthStatus: 'critical',
        activityState: 'busy',
        health: { connection: { connectionStatus: 'disconnected' }, hardwareHealth: { x: 1 } },
        activity: { activePeripherals: null },
        configuration: { softwareVersions: { teamsClientSoftwareVersion: '5.1.24.0' } },
        installed: { teamsClient: '5.1.24.0' },
        lastModifiedDateTime: isoAt(Date.now()),
        lastModifiedBy: deviceBy(device.id),
        lastSeenDateTime: null,
      };
      assert.deepEqual(await store.updateDevice(tenant, device.id, () => updated), updated);
      assert.deepEqual(await store.getDevice(tenant, device.id), { ...updated, lastSeenDateTime: device.lastSeenDateTime });
      // connection_status follows health.connection: the device is no longer "connected" for silentDevices
      assert.deepEqual(await store.silentDevices(isoAt(Date.now() + 3600_000), 10), []);
    });

    it('markSeen records the time and returns the devices not connected', async (store) => {
      const connected = makeDevice();
      const disconnected = makeDevice({ health: { connection: { connectionStatus: 'disconnected' } } });
      const unknown = makeDevice({ health: {} });
      const foreign = makeDevice({ tenantId: otherTenant });
      await store.insertDevices([connected, disconnected, unknown, foreign]);
      const at = isoAt(Date.now());
      const returned = await store.markSeen([
        { tenantId: tenant, deviceId: connected.id },
        { tenantId: tenant, deviceId: disconnected.id },
        { tenantId: tenant, deviceId: unknown.id },
        { tenantId: tenant, deviceId: randomUUID() },
        { tenantId: tenant, deviceId: foreign.id },
      ], at);
      const key = (r: { tenantId: string; deviceId: string }) => `${r.tenantId}/${r.deviceId}`;
      assert.deepEqual(returned.map(key).sort(), [disconnected, unknown].map((d) => `${tenant}/${d.id}`).sort());
      for (const d of [connected, disconnected, unknown]) assert.equal((await store.getDevice(tenant, d.id))?.lastSeenDateTime, at);
      assert.equal((await store.getDevice(otherTenant, foreign.id))?.lastSeenDateTime, foreign.lastSeenDateTime, 'tenant and id must both match');
      assert.deepEqual(await store.markSeen([], at), []);
    });

    it('silentDevices: connected devices not heard from since the cutoff', async (store) => {
      const now = Date.now();
      const silent = makeDevice({ lastSeenDateTime: isoAt(now - 120_000) });
      const recent = makeDevice({ lastSeenDateTime: isoAt(now - 1000) });
      const disconnected = makeDevice({ lastSeenDateTime: isoAt(now - 120_000), health: { connection: { connectionStatus: 'disconnected' } } });
      const neverSeen = makeDevice({ lastSeenDateTime: null });
      const silentElsewhere = makeDevice({ tenantId: otherTenant, lastSeenDateTime: isoAt(now - 200_000) });
      await store.insertDevices([silent, recent, disconnected, neverSeen, silentElsewhere]);
      const cutoff = isoAt(now - 90_000);
      assert.deepEqual((await store.silentDevices(cutoff, 10)).map((d) => d.id).sort(), [silent.id, silentElsewhere.id].sort());
      assert.equal((await store.silentDevices(cutoff, 1)).length, 1);
      assert.deepEqual((await store.silentDevices(cutoff, 10)).find((d) => d.id === silent.id), silent);
      await store.markSeen([{ tenantId: tenant, deviceId: silent.id }], isoAt(now));
      assert.deepEqual((await store.silentDevices(cutoff, 10)).map((d) => d.id), [silentElsewhere.id]);
    });

    it('takeRateToken: a bucket of capacity N gives N tokens, then the seconds to wait; shared by every store on the database', async (store, fresh) => {
      const key = `tenant/app/${randomUUID()}`;
      const outcomes = await Promise.all(Array.from({ length: 12 }, () => store.takeRateToken(key, 5, 0.01)));
      assert.equal(outcomes.filter((o) => o === null).length, 5, JSON.stringify(outcomes));
      for (const wait of outcomes.filter((o) => o !== null)) assert.ok(typeof wait === 'number' && wait >= 1, `wait ${wait}`);
      assert.equal(await store.takeRateToken(`${key}/other`, 1, 0.01), null, 'buckets are per key');
      if (kind === 'postgres') {
        const other = await fresh.another();
        assert.notEqual(await other.takeRateToken(key, 5, 0.01), null, 'another replica sees the emptied bucket');
      }
      // refill: 4 tokens a second brings one back within 250 ms (slow enough for a loaded machine
      // not to refill between the first two takes)
      const fast = `fast/${randomUUID()}`;
      assert.equal(await store.takeRateToken(fast, 1, 4), null);
      assert.notEqual(await store.takeRateToken(fast, 1, 4), null);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await store.takeRateToken(fast, 1, 4), null);
    });

    // --- catalog, signing key -----------------------------------------------------------

    it('catalog: add (a duplicate exists) and list in order, per tenant', async (store) => {
      const entry = (overrides: Partial<CatalogEntry>): CatalogEntry => ({
        tenantId: tenant, softwareType: 'teamsClient', version: '5.1.24.0', deviceType: null, model: null,
        createdDateTime: isoAt(Date.UTC(2025, 2, 3, 4, 5, 6, 789)), artifact: null, ...overrides,
      });
      const a = entry({});
      const b = entry({ deviceType: 'teamsRoom' });
      const c = entry({ deviceType: 'teamsRoom', model: 'ThinkSmart Hub' });
      const d = entry({ softwareType: 'firmware', version: '122.15.0.61', deviceType: 'ipPhone' });
      for (const e of [a, b, c, d]) assert.equal(await store.addCatalogEntry(e), 'added');
      assert.equal(await store.addCatalogEntry(a), 'exists', 'null deviceType/model are one key');
      assert.equal(await store.addCatalogEntry({ ...c, createdDateTime: isoAt(Date.now()) }), 'exists');
      assert.equal(await store.addCatalogEntry({ ...a, tenantId: otherTenant }), 'added');
      assert.deepEqual(await store.listCatalog(tenant), [a, b, c, d]);
      assert.deepEqual(await store.listCatalog(otherTenant), [{ ...a, tenantId: otherTenant }]);
      assert.deepEqual(await store.listCatalog(randomUUID()), []);
    });

    // --- artifacts ------------------------------------------------------------------------

    it('putArtifact/tenantArtifact: content-addressed, stored once, any range streamed back, seen by another process', async (store, fresh) => {
      // Past two chunks of the database store, so ranges cross chunk boundaries.
      const bytes = randomBytes(2 * 1024 * 1024 + 4321);
      const stored = await store.putArtifact(Readable.from(pieces(bytes, 100_000)));
      assert.deepEqual(stored, { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
      assert.deepEqual(await store.putArtifact(Readable.from([bytes])), stored, 'the same bytes again: the same address');
      assert.equal(await store.tenantArtifact(tenant, stored.sha256), null, 'no catalog entry names it yet');
      const entry = { tenantId: tenant, softwareType: 'teamsClient' as const, version: '1', deviceType: null, model: null, createdDateTime: isoAt(Date.now()) };
      assert.equal(await store.addCatalogEntry({ ...entry, artifact: { ...stored, url: null } }), 'added');
      const content = await store.tenantArtifact(tenant, stored.sha256);
      assert.equal(content?.size, bytes.length);
      const mib = 1024 * 1024;
      for (const [start, end] of [[0, bytes.length - 1], [0, 0], [mib - 3, mib + 3], [mib, 2 * mib - 1], [2 * mib - 1, 2 * mib], [bytes.length - 1, bytes.length - 1], [17, bytes.length - 2]]) {
        assert.deepEqual(await readAll(content!.read(start, end)), bytes.subarray(start, end + 1), `bytes ${start}-${end}`);
      }
      const other = await fresh.another();
      assert.deepEqual(await readAll((await other.tenantArtifact(tenant, stored.sha256))!.read(0, bytes.length - 1)), bytes, 'another process reads it');
      // Only a tenant whose catalog names it as stored here; malformed addresses are simply unknown.
      assert.equal(await store.tenantArtifact(otherTenant, stored.sha256), null);
      assert.equal(await store.addCatalogEntry({ ...entry, tenantId: otherTenant, artifact: { ...stored, url: 'https://example.com/a' } }), 'added');
      assert.equal(await store.tenantArtifact(otherTenant, stored.sha256), null, 'an external entry of the same SHA-256 does not count');
      for (const name of [stored.sha256.toUpperCase(), '../contract.db', '', 'f'.repeat(64)]) assert.equal(await store.tenantArtifact(tenant, name), null, name);
      assert.deepEqual((await store.listCatalog(tenant))[0].artifact, { ...stored, url: null });
    });

    it('addCatalogEntry refuses a stored artifact that is not stored (or of another size); an upload cut short leaves nothing', async (store, fresh) => {
      const entry = { tenantId: tenant, softwareType: 'teamsClient' as const, version: '1', deviceType: null, model: null, createdDateTime: isoAt(Date.now()) };
      await assert.rejects(store.addCatalogEntry({ ...entry, artifact: { sha256: 'e'.repeat(64), size: 10, url: null } }), /not stored/);
      // What a killed upload left a day ago goes with the next upload; a recent one stays (it may still be running).
      const dir = join(dirname(fresh.db), 'artifacts');
      if (kind === 'postgres') {
        await changeDatabase(fresh.db, "INSERT INTO artifact_chunks (upload_id, n, data) VALUES ('2000-01-01T00:00:00.000Z/killed', 0, '\\x00')");
      } else {
        await store.putArtifact(Readable.from([Buffer.from('x')]));
        writeFileSync(join(dir, '.incoming-killed'), 'x');
        utimesSync(join(dir, '.incoming-killed'), new Date('2000-01-01'), new Date('2000-01-01'));
        writeFileSync(join(dir, '.incoming-running'), 'x');
      }
      const stored = await store.putArtifact(Readable.from([Buffer.from('twelve bytes')]));
      await assert.rejects(store.addCatalogEntry({ ...entry, artifact: { ...stored, size: 13, url: null } }), /not stored/);
      assert.deepEqual(await store.listCatalog(tenant), []);
      const failing = Readable.from((async function* () {
        yield randomBytes(1024 * 1024 + 10);
        throw new Error('the source broke');
      })());
      await assert.rejects(store.putArtifact(failing), /the source broke/);
      if (kind === 'postgres') {
        const chunks = await queryDatabase<{ upload_id: string }>(fresh.db, 'SELECT upload_id FROM artifact_chunks');
        const [blob] = await queryDatabase<{ upload_id: string }>(fresh.db, 'SELECT upload_id FROM artifact_blobs');
        assert.deepEqual(chunks, [blob], 'only the twelve bytes\' chunk');
      } else {
        const files = readdirSync(dir).sort();
        const x = createHash('sha256').update('x').digest('hex');
        assert.deepEqual(files, ['.incoming-running', stored.sha256, x].sort(), 'no temporary file of the broken upload, nor the old one');
      }
    });

    it('with an artifact directory, artifacts are files there that every store on it shares (0700 directory, 0600 files)', async (_store, fresh) => {
      const dir = join(mkdtempSync(join(tmpdir(), 'twd-artifact-dir-')), 'shared');
      try {
        const [one, two] = [await fresh.another({ artifactDir: dir }), await fresh.another({ artifactDir: dir })];
        const bytes = randomBytes(100_000);
        const stored = await one.putArtifact(Readable.from([bytes]));
        assert.equal(statSync(dir).mode & 0o777, 0o700);
        assert.equal(statSync(join(dir, stored.sha256)).mode & 0o777, 0o600);
        await two.addCatalogEntry({ tenantId: tenant, softwareType: 'firmware', version: '2', deviceType: null, model: null, createdDateTime: isoAt(Date.now()), artifact: { ...stored, url: null } });
        assert.deepEqual(await readAll((await two.tenantArtifact(tenant, stored.sha256))!.read(10, 99)), bytes.subarray(10, 100));
        if (kind === 'postgres') {
          const [chunks] = await queryDatabase<{ n: string }>(fresh.db, 'SELECT count(*) AS n FROM artifact_chunks');
          assert.equal(Number(chunks.n), 0, 'nothing in the database');
        }
      } finally {
        rmSync(dirname(dir), { recursive: true, force: true });
      }
    });

    it('an operation keeps the artifact it was accepted with', async (store) => {
      const device = makeDevice();
      await store.insertDevices([device]);
      const internal = makeOperation(device, { artifact: { sha256: 'c'.repeat(64), size: 5_000_000_000, url: null } });
      assert.equal(await store.createOperation(internal, operationAudit), 'created');
      assert.deepEqual(await store.getOperation(tenant, device.id, internal.id), internal, 'sizes past 4 GiB too');
      assert.deepEqual(await store.nextOperation(tenant, device.id), internal);
      const external = makeOperation(device, { softwareType: 'firmware', artifact: { sha256: 'd'.repeat(64), size: 7, url: 'https://example.com/fw.bin' } });
      assert.equal(await store.createOperation(external, operationAudit), 'created');
      assert.deepEqual(await store.getOperation(tenant, device.id, external.id), external);
    });

    it('signingKeys: kept, newest first, a kid added twice kept once, seen by another process', async (store, fresh) => {
      assert.deepEqual(await store.signingKeys(), []);
      const key = (kid: string, createdAt: string) => ({
        kid, alg: 'ES256', privateJwk: { kty: 'EC', d: `secret-${kid}` }, publicJwk: { kty: 'EC', x: kid, y: 'y' }, createdAt,
      });
      const first = key('kid-1', '2024-05-01T10:00:00.000Z');
      const second = key('kid-2', '2024-05-02T10:00:00.000Z');
      await store.addSigningKey(first);
      assert.deepEqual(await store.signingKeys(), [first]);
      await store.addSigningKey(second);
      await store.addSigningKey({ ...first, createdAt: '2024-06-01T00:00:00.000Z', privateJwk: { kty: 'EC', d: 'other' } });
      assert.deepEqual(await store.signingKeys(), [second, first], 'newest first; the kid already kept is left as it was');
      const other = await fresh.another();
      assert.deepEqual(await other.signingKeys(), [second, first], 'another process sees the same keys');
    });

    // --- work notifications and the supervisor lease --------------------------------------

    it('notifyWork/onWork', async (store, fresh) => {
      if (kind === 'sqlite') {
        assert.doesNotThrow(() => store.onWork(() => {}));
        await store.notifyWork(randomUUID());
        return;
      }
      const other = await fresh.another();
      const received: string[] = [];
      other.onWork((deviceId) => received.push(deviceId));
      await untilListening(store, (probe) => received.includes(probe));
      const deviceId = randomUUID();
      const sent = Date.now();
      await store.notifyWork(deviceId);
      while (!received.includes(deviceId)) {
        assert.ok(Date.now() - sent < 2000, 'the notification did not arrive within 2 s');
        await new Promise((r) => setTimeout(r, 5));
      }
      // the sender hears its own notifications only when it listens too
      const own: string[] = [];
      store.onWork((id) => own.push(id));
      const again = randomUUID();
      const until = Date.now() + 5000;
      while (!own.includes(again)) {
        assert.ok(Date.now() < until, 'a listening sender hears it too');
        await store.notifyWork(again);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(received.includes(again));
    });

    it('createOperation tells listening replicas of every new operation\'s device, also when one batch holds hundreds', async (store, fresh) => {
      if (kind === 'sqlite') return; // one process: the engine wakes its own polls
      const other = await fresh.another();
      const received = new Set<string>();
      other.onWork((deviceId) => received.add(deviceId));
      await untilListening(store, (probe) => received.has(probe));
      // 400 device ids are about 15,000 bytes: more than one notification's 8,000-byte payload
      const devices = Array.from({ length: 400 }, () => makeDevice());
      await store.insertDevices(devices);
      const outcomes = await Promise.all(devices.map((d) => store.createOperation(makeOperation(d, { softwareType: 'teamsClient' }), operationAudit)));
      assert.ok(outcomes.every((o) => o === 'created'), JSON.stringify(outcomes.filter((o) => o !== 'created')));
      const until = Date.now() + 5000;
      while (devices.some((d) => !received.has(d.id))) {
        assert.ok(Date.now() < until, `heard ${devices.filter((d) => received.has(d.id)).length} of 400 devices`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const missing = makeDevice(); // never inserted: its operation is refused, and nobody is told
      assert.equal(await store.createOperation(makeOperation(missing), operationAudit), 'noDevice');
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(!received.has(missing.id));
    });

    it('holdsSupervisorLease: one holder at a time, handed over when it closes', async (store, fresh) => {
      if (kind === 'sqlite') {
        assert.equal(await store.holdsSupervisorLease(), true, 'one process: always');
        return;
      }
      const other = await fresh.another();
      const first = await Promise.all([store.holdsSupervisorLease(), other.holdsSupervisorLease()]);
      assert.equal(first.filter(Boolean).length, 1, JSON.stringify(first));
      const [holder, waiting] = first[0] ? [store, other] : [other, store];
      for (let i = 0; i < 3; i++) {
        assert.equal(await holder.holdsSupervisorLease(), true, 'the holder keeps it');
        assert.equal(await waiting.holdsSupervisorLease(), false, 'the other does not get it');
      }
      await holder.close();
      const deadline = Date.now() + 5000;
      while (!(await waiting.holdsSupervisorLease())) {
        assert.ok(Date.now() < deadline, 'the lease was not handed over within 5 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      const third = await fresh.another();
      assert.equal(await third.holdsSupervisorLease(), false);
    });
  });
}

describe('PostgreSQL migrations', { skip: testStore !== 'postgres' && 'replicas share PostgreSQL: run in the PostgreSQL pass' }, () => {
  test('stores opened at the same time on a fresh database all succeed and apply each version once', async () => {
    const database = await createPostgresDatabase();
    const stores: Store[] = [];
    try {
      const opened = await Promise.allSettled(Array.from({ length: 4 }, () => openStore(database.url)));
      for (const o of opened) if (o.status === 'fulfilled') stores.push(o.value);
      assert.deepEqual(opened.map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
        opened.map((o) => (o.status === 'rejected' ? String(o.reason) : 'ok')).join('; '));
      const rows = await queryDatabase<{ version: number; n: string }>(database.url,
        'SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version');
      assert.ok(rows.length >= 2, JSON.stringify(rows));
      for (const row of rows) assert.equal(Number(row.n), 1, `version ${row.version} applied once`);
      // Every version of the list, once: numbers are taken by branches in parallel, so the list may have gaps.
      assert.deepEqual(rows.map((r) => Number(r.version)), migrations.map((m) => m.version).sort((a, b) => a - b), 'every version of the list');
      // and reopening later applies nothing new
      const again = await openStore(database.url);
      stores.push(again);
      const after = await queryDatabase<{ n: string }>(database.url, 'SELECT count(*) AS n FROM schema_migrations');
      assert.equal(Number(after[0].n), rows.length);
    } finally {
      for (const s of stores) await s.close().catch(() => {});
      await database.drop();
    }
  });
});
