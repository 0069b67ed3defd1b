import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { devSigningKey, signDevToken } from '../src/auth/dev-issuer.js';
import { operatorActor } from '../src/domain/audit.js';
import { createEnrollmentToken } from '../src/engine/device-administration.js';
import { seedDemoCatalog } from '../src/seed/demo-catalog.js';
import { seedDevices } from '../src/seed/seed-devices.js';
import { openStore } from '../src/store/open-store.js';
import type { StoreName } from './bench-config.js';

/** The tenant every benchmark database belongs to. */
export const benchTenant = '5e7c1a2b-3d4e-4f50-8a61-b2c3d4e5f607';

/** How a store is named in the printed tables. */
export const storeLabel: Record<StoreName, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

export interface SeedTiming {
  /** devices added by this call */
  devices: number;
  seconds: number;
  devicesPerSecond: number;
  /** PostgreSQL: seconds of the `ANALYZE devices` that followed (not part of `seconds`) */
  analyzeSeconds?: number;
}

export interface SeededFile {
  store: StoreName;
  /** the server's `--db` value: a SQLite file path or a postgres:// URL */
  db: string;
  /** devices of benchTenant in the database */
  devices: number;
  /** every seeding step that built the database, in order */
  timings: SeedTiming[];
}

export interface DeviceKey {
  id: string;
  deviceType: string;
}

/**
 * The benchmark's databases, removed by cleanup(): SQLite files in a temporary folder, and
 * PostgreSQL databases (`twd_bench_<random>_<name>`) created on the server `pgAdminUrl` names
 * and dropped at the end. Seeded databases are named per store, so one benchmark can reuse
 * (and top up) one another built.
 */
export class BenchWorkspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'twd-bench-'));
  private readonly files = new Map<string, SeededFile>();
  private readonly pgPrefix = `twd_bench_${randomBytes(4).toString('hex')}_`;
  /** PostgreSQL databases created by this workspace (names), to drop at the end */
  private readonly pgDatabases = new Set<string>();

  constructor(private readonly pgAdminUrl = 'postgres://postgres@127.0.0.1:5432/postgres') {}

  /** The SQLite file of `name`. */
  path(name: string): string {
    return join(this.dir, `${name}.db`);
  }

  existing(name: string, store: StoreName = 'sqlite'): SeededFile | undefined {
    return this.files.get(`${store}:${name}`);
  }

  /** The `--db` value of `name` on `store`; for PostgreSQL, creates the (empty) database on first use. */
  async database(name: string, store: StoreName = 'sqlite'): Promise<SeededFile> {
    const key = `${store}:${name}`;
    let file = this.files.get(key);
    if (file) return file;
    if (store === 'sqlite') {
      file = { store, db: this.path(name), devices: 0, timings: [] };
    } else {
      const database = this.pgPrefix + name.toLowerCase().replace(/[^a-z0-9_]/g, '_');
      await this.admin((client) => client.query(`CREATE DATABASE ${database}`));
      this.pgDatabases.add(database);
      const url = new URL(this.pgAdminUrl);
      url.pathname = `/${database}`;
      file = { store, db: url.toString(), devices: 0, timings: [] };
    }
    this.files.set(key, file);
    return file;
  }

  /**
   * Makes the named database hold at least `count` devices, seeding only the missing ones with
   * the project's seedDevices. The timing covers seedDevices alone (the store is opened, and
   * migrated, first). On PostgreSQL, `ANALYZE devices` follows (timed on its own; autovacuum
   * may be off, and the planner needs statistics), then a CHECKPOINT, so the writes of the
   * seeding are not flushed during the measurements.
   */
  async seed(name: string, count: number, store: StoreName = 'sqlite', batchSize?: number): Promise<{ file: SeededFile; added: SeedTiming | null }> {
    const file = await this.database(name, store);
    if (file.devices >= count) return { file, added: null };
    const opened = await openStore(file.db);
    let added: SeedTiming;
    try {
      const missing = count - file.devices;
      const started = performance.now();
      file.devices = await seedDevices(opened, { tenantId: benchTenant, count: missing, seed: 1, batchSize });
      const seconds = (performance.now() - started) / 1000;
      added = { devices: missing, seconds, devicesPerSecond: missing / seconds };
    } finally {
      await opened.close();
    }
    if (store === 'postgres') {
      await this.withDatabase(file.db, async (client) => {
        const started = performance.now();
        await client.query('ANALYZE devices');
        added.analyzeSeconds = (performance.now() - started) / 1000;
        await client.query('CHECKPOINT');
      });
    }
    file.timings.push(added);
    return { file, added };
  }

  /**
   * Adds the demo catalog to the named database, so updateSoftware accepts the demo versions
   * the benchmarks ask for (a version the catalog does not offer is a 404). Not timed.
   */
  async offerDemoCatalog(name: string, store: StoreName = 'sqlite'): Promise<void> {
    const opened = await openStore((await this.database(name, store)).db);
    try {
      await seedDemoCatalog(opened, benchTenant);
    } finally {
      await opened.close();
    }
  }

  /**
   * Readies a database for an enrolling fleet: an enrollment token of the bench tenant (returned)
   * and the demo catalog, which the fleet's updateSoftware requests and health derivation need.
   */
  async fleetEnrollment(db: string): Promise<string> {
    const opened = await openStore(db);
    try {
      const { token } = await createEnrollmentToken(opened, { tenantId: benchTenant, ttlSeconds: 3600, maxUses: null, description: 'bench' }, operatorActor);
      await seedDemoCatalog(opened, benchTenant);
      return token;
    } finally {
      await opened.close();
    }
  }

  /** A dev token (TeamworkDevice.ReadWrite.All, delegated) the database's own dev issuer accepts. */
  async token(name: string, store: StoreName = 'sqlite', tenantId = benchTenant): Promise<string> {
    const opened = await openStore((await this.database(name, store)).db);
    try {
      const key = await devSigningKey(opened);
      return await signDevToken(key, { tenantId, ttlSeconds: 3600 });
    } finally {
      await opened.close();
    }
  }

  /** Device ids and types of the database in id order, read directly (the server is not running yet). */
  deviceKeys(name: string, store: StoreName = 'sqlite'): Promise<DeviceKey[]> {
    return this.rows<DeviceKey>(name, store, 'SELECT id, device_type AS "deviceType" FROM devices WHERE tenant_id = $1 ORDER BY id', [benchTenant]);
  }

  /** Rows of a statement, read directly; `$n` placeholders (`$1` is the benchmark tenant unless `params` are given). */
  async rows<T>(name: string, store: StoreName, sql: string, params: unknown[] = [benchTenant]): Promise<T[]> {
    const file = await this.database(name, store);
    if (store === 'postgres') return this.withDatabase(file.db, async (client) => (await client.query(sql, params)).rows as T[]);
    const db = new Database(file.db, { readonly: true });
    try {
      return db.prepare(sql.replace(/\$\d+/g, '?')).all(...params) as T[];
    } finally {
      db.close();
    }
  }

  /** SQLite: the file with its WAL and shared-memory files; PostgreSQL: pg_database_size. */
  async sizeBytes(name: string, store: StoreName = 'sqlite'): Promise<number> {
    const file = await this.database(name, store);
    if (store === 'postgres') {
      return this.withDatabase(file.db, async (client) => Number((await client.query('SELECT pg_database_size(current_database()) AS size')).rows[0].size));
    }
    let total = 0;
    for (const suffix of ['', '-wal', '-shm']) {
      try {
        total += statSync(file.db + suffix).size;
      } catch {
        // no such file
      }
    }
    return total;
  }

  /** Removes the SQLite folder and drops every PostgreSQL database this workspace created (connections forced off). */
  async cleanup(): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
    if (this.pgDatabases.size === 0) return;
    try {
      await this.admin(async (client) => {
        for (const database of [...this.pgDatabases]) {
          await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
          this.pgDatabases.delete(database);
        }
      });
    } catch (error) {
      console.error(`!!! could not drop the benchmark databases ${[...this.pgDatabases].join(', ')}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Process ids of the PostgreSQL backends connected to a benchmark database (its server's pool). */
  async backendPids(db: string): Promise<number[]> {
    const database = new URL(db).pathname.slice(1);
    return this.admin(async (client) =>
      (await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database])).rows.map((r) => r.pid));
  }

  private admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    return this.withDatabase(this.pgAdminUrl, work);
  }

  private async withDatabase<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }
}
