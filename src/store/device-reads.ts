import type { DeviceRow } from './rows.js';
import type { SqlDriver } from './sql-driver.js';

/** Ids per statement, within every driver's limit on parameters. */
const maxIdsPerRead = 100;

interface Waiting {
  tenantId: string;
  deviceId: string;
  resolve(row: DeviceRow | undefined): void;
  reject(error: unknown): void;
}

/**
 * Reads of single devices by id, coalesced: the reads asked for in one turn of the event loop
 * (the requests of a `$batch`, concurrent GETs under load) become one statement per tenant,
 * `id IN (…)` on the primary key, instead of one round trip each. A read waits at most until
 * the loop's next check phase. Used where a statement is a round trip (dialect.coalescesReads).
 */
export class CoalescedDeviceReads {
  private waiting: Waiting[] = [];

  constructor(private readonly sql: SqlDriver) {}

  read(tenantId: string, deviceId: string): Promise<DeviceRow | undefined> {
    return new Promise((resolve, reject) => {
      if (this.waiting.length === 0) setImmediate(() => this.flush());
      this.waiting.push({ tenantId, deviceId, resolve, reject });
    });
  }

  private flush(): void {
    const waiting = this.waiting;
    this.waiting = [];
    const byTenant = new Map<string, Waiting[]>();
    for (const read of waiting) {
      const reads = byTenant.get(read.tenantId) ?? [];
      reads.push(read);
      byTenant.set(read.tenantId, reads);
    }
    for (const [tenantId, reads] of byTenant) {
      for (let start = 0; start < reads.length; start += maxIdsPerRead) void this.readTogether(tenantId, reads.slice(start, start + maxIdsPerRead));
    }
  }

  private async readTogether(tenantId: string, reads: Waiting[]): Promise<void> {
    const ids = [...new Set(reads.map((read) => read.deviceId))];
    try {
      const rows = await this.sql.query<DeviceRow>(`SELECT * FROM devices WHERE tenant_id = ? AND id IN (${ids.map(() => '?').join(', ')})`, [tenantId, ...ids]);
      const byId = new Map(rows.map((row) => [row.id, row]));
      for (const read of reads) read.resolve(byId.get(read.deviceId));
    } catch (error) {
      for (const read of reads) read.reject(error);
    }
  }
}
