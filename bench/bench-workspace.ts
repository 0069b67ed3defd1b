import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { devSigningKey, signDevToken } from '../src/auth/dev-issuer.js';
import { seedDevices } from '../src/seed/seed-devices.js';
import { openStore } from '../src/store/open-store.js';

/** The tenant every benchmark database belongs to. */
export const benchTenant = '5e7c1a2b-3d4e-4f50-8a61-b2c3d4e5f607';

export interface SeedTiming {
  /** devices added by this call */
  devices: number;
  seconds: number;
  devicesPerSecond: number;
}

export interface SeededFile {
  path: string;
  /** devices of benchTenant in the file */
  devices: number;
  /** every seeding step that built the file, in order */
  timings: SeedTiming[];
}

export interface DeviceKey {
  id: string;
  deviceType: string;
}

/**
 * A temporary folder holding the benchmark's SQLite files, removed by cleanup(). Seeded files
 * are named, so one benchmark can reuse (and top up) a file another one built.
 */
export class BenchWorkspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'twd-bench-'));
  private readonly files = new Map<string, SeededFile>();

  path(name: string): string {
    return join(this.dir, `${name}.db`);
  }

  existing(name: string): SeededFile | undefined {
    return this.files.get(name);
  }

  /**
   * Makes the named file hold at least `count` devices, seeding only the missing ones with
   * the project's seedDevices. The timing covers seedDevices alone (the store is opened first).
   */
  async seed(name: string, count: number): Promise<{ file: SeededFile; added: SeedTiming | null }> {
    const file = this.files.get(name) ?? { path: this.path(name), devices: 0, timings: [] };
    this.files.set(name, file);
    if (file.devices >= count) return { file, added: null };
    const store = await openStore(file.path);
    try {
      const missing = count - file.devices;
      const started = performance.now();
      file.devices = await seedDevices(store, { tenantId: benchTenant, count: missing, seed: 1 });
      const seconds = (performance.now() - started) / 1000;
      const added = { devices: missing, seconds, devicesPerSecond: missing / seconds };
      file.timings.push(added);
      return { file, added };
    } finally {
      await store.close();
    }
  }

  /** A dev token (TeamworkDevice.ReadWrite.All, delegated) the file's own dev issuer accepts. */
  async token(name: string): Promise<string> {
    const store = await openStore(this.path(name));
    try {
      const key = await devSigningKey(store);
      return await signDevToken(key, { tenantId: benchTenant, ttlSeconds: 3600 });
    } finally {
      await store.close();
    }
  }

  /** Device ids and types of the file, read directly (the server is not running yet). */
  deviceKeys(name: string): DeviceKey[] {
    const db = new Database(this.path(name), { readonly: true });
    try {
      return db.prepare('SELECT id, device_type AS deviceType FROM devices WHERE tenant_id = ?').all(benchTenant) as DeviceKey[];
    } finally {
      db.close();
    }
  }

  sizeBytes(name: string): number {
    let total = 0;
    for (const suffix of ['', '-wal', '-shm']) {
      try {
        total += statSync(this.path(name) + suffix).size;
      } catch {
        // no such file
      }
    }
    return total;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
