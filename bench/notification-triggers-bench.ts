/**
 * What the change-event triggers cost the operation insert path (the group commit behind every
 * updateSoftware 202): operations created through the engine's own requestOperation, 64 at a
 * time, in rounds that alternate the triggers dropped ('none'), present with no subscription
 * ('idle': every tenant without subscriptions), and present with a subscription of the tenant
 * ('subscribed': each insert also writes its change event). No HTTP, so the figure is the
 * store's alone. Not part of `npm run bench`:
 *
 *   node dist/bench/notification-triggers-bench.js sqlite|postgres
 *   BENCH_PG=postgres://…  TRIGGER_BENCH_PER_ROUND=4000  TRIGGER_BENCH_ROUNDS=3
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Caller } from '../src/domain/identity.js';
import { requestOperation } from '../src/engine/operation-requests.js';
import { seedDevices } from '../src/seed/seed-devices.js';
import { regenerateSeededDocuments } from '../src/seed/seeded-documents.js';
import { changeEventTriggers, operationChanges } from '../src/store/change-notification-schema.js';
import { openStore } from '../src/store/open-store.js';

type Mode = 'none' | 'idle' | 'subscribed';

const kind = process.argv[2] === 'postgres' ? 'postgres' : 'sqlite';
const perRound = Number(process.env.TRIGGER_BENCH_PER_ROUND ?? 4000);
const rounds = Number(process.env.TRIGGER_BENCH_ROUNDS ?? 3);
const adminUrl = process.env.BENCH_PG?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';
const tenant = '5e7c1a2b-3d4e-4f50-8a61-b2c3d4e5f607';
const modes: Mode[] = Array.from({ length: rounds }, () => ['none', 'idle', 'subscribed'] as Mode[]).flat();

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh database: its --db value, a way to run DDL on it beside the store, and its removal. */
async function freshDatabase(): Promise<{ db: string; run(sql: string): Promise<unknown[]>; remove(): Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'twd-trigger-bench-'));
    const db = join(dir, 'bench.db');
    return {
      db,
      async run(sql) {
        const conn = new Database(db);
        try {
          conn.pragma('busy_timeout = 5000');
          if (/^\s*SELECT/i.test(sql)) return conn.prepare(sql).all();
          conn.exec(sql);
          return [];
        } finally {
          conn.close();
        }
      },
      async remove() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const name = `twd_trigger_bench_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    db: url.toString(),
    async run(sql) {
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        const result = await client.query(sql);
        return Array.isArray(result) ? [] : result.rows;
      } finally {
        await client.end();
      }
    },
    remove: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

const database = await freshDatabase();
const store = await openStore(database.db, { seededDocuments: regenerateSeededDocuments });
try {
  await seedDevices(store, { tenantId: tenant, count: perRound * modes.length, seed: 3 });
  const ids = ((await database.run('SELECT id FROM devices ORDER BY id')) as { id: string }[]).map((r) => r.id);
  const dropTriggers = kind === 'sqlite'
    ? 'DROP TRIGGER operations_change_events_created; DROP TRIGGER operations_change_events_updated;'
    : 'DROP FUNCTION operations_change_events_created() CASCADE; DROP FUNCTION operations_change_events_updated() CASCADE;';
  const caller: Caller = { tenantId: tenant, kind: 'application', id: 'bench', displayName: 'bench', appId: 'bench', permissions: new Set() };
  const clock = { now: () => Date.now() };
  const perSecond: Record<Mode, number[]> = { none: [], idle: [], subscribed: [] };
  let triggers = true;
  let next = 0;
  for (const mode of modes) {
    if (mode === 'none' && triggers) await database.run(dropTriggers);
    if (mode !== 'none' && !triggers) await database.run(changeEventTriggers(kind, operationChanges));
    triggers = mode !== 'none';
    await database.run('DELETE FROM subscriptions; DELETE FROM change_events;');
    if (mode === 'subscribed') {
      await database.run(`INSERT INTO subscriptions (id, tenant_id, resource, resource_kind, change_types, notification_url, signing_secret,
        expires_at, application_id, creator_id, created_at) VALUES ('bench', '${tenant}', 'teamwork/devices/operations', 'operation',
        'created,updated', 'https://receiver.example', 'k', '2099-01-01T00:00:00Z', 'bench', 'bench', '2026-01-01T00:00:00Z')`);
    }
    const devices = ids.slice(next, next + perRound);
    next += perRound;
    let i = 0;
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (i < devices.length) {
        await requestOperation(store, caller, devices[i++], 'restart', { softwareType: null, softwareVersion: null }, 3_600_000, clock);
      }
    }));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    perSecond[mode].push(Math.round(devices.length / seconds));
  }
  process.stdout.write(`${kind}: operations created per second, ${perRound} per round, rounds in the order none, idle, subscribed\n`);
  for (const mode of ['none', 'idle', 'subscribed'] as Mode[]) process.stdout.write(`  ${mode.padEnd(10)} ${perSecond[mode].join(', ')}\n`);
} finally {
  await store.close();
  await database.remove();
}
