import type { StoreName } from './bench-config.js';
import type { BenchWorkspace } from './bench-workspace.js';

/** One write of a device row, as the database shows it: its new last_modified_at. */
export interface DeviceWrite {
  deviceId: string;
  /** last_modified_at, wall-clock ms */
  at: number;
}

/**
 * The device rows a running server writes, read from its database: every write of a device
 * sets last_modified_at to the time of the change, so the rows whose stamp moved since the
 * last look (the index `devices_by_last_modified`) are the writes since then. Looked at every
 * `everyMs`, with an overlap (a change is stamped when it starts and committed a little
 * later), each (device, stamp) counted once. A device written twice between two looks counts
 * once; the inventory benchmark's devices report once a minute, far apart from two looks.
 * Presence (last_seen_at alone) is not a write here: it leaves last_modified_at as it is.
 */
export class DeviceWriteLog {
  private readonly seen = new Set<string>();
  readonly writes: DeviceWrite[] = [];
  private timer: NodeJS.Timeout | null = null;
  private looking: Promise<void> = Promise.resolve();
  private lastLook = 0;

  constructor(
    private readonly workspace: BenchWorkspace,
    private readonly name: string,
    private readonly store: StoreName,
    private readonly tenantId: string,
    private readonly everyMs = 2000,
    private readonly overlapMs = 10_000,
  ) {}

  /** Starts looking, counting writes stamped from `since` (wall-clock ms) on. */
  start(since: number): void {
    this.lastLook = since + this.overlapMs;
    this.timer = setInterval(() => {
      this.looking = this.looking.then(() => this.look());
    }, this.everyMs);
    this.looking = this.look();
  }

  /** Stops after one last look. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.looking;
    await this.look();
  }

  /** Writes stamped in [from, to). */
  between(from: number, to: number): DeviceWrite[] {
    return this.writes.filter((w) => w.at >= from && w.at < to);
  }

  private async look(): Promise<void> {
    const started = Date.now();
    const rows = await this.workspace.rows<{ id: string; stamp: string | Date }>(
      this.name, this.store,
      'SELECT id, last_modified_at AS "stamp" FROM devices WHERE tenant_id = $1 AND last_modified_at > $2',
      [this.tenantId, new Date(this.lastLook - this.overlapMs).toISOString()],
    );
    this.lastLook = started;
    for (const row of rows) {
      const at = new Date(row.stamp).getTime();
      const key = `${row.id} ${at}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.writes.push({ deviceId: row.id, at });
    }
  }
}
