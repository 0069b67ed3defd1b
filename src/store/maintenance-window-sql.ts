import type { IdentitySet } from '../domain/identity.js';
import { deviceTimeZone, type MaintenanceWindow, type WindowTarget } from '../domain/maintenance-window.js';
import type { Operation } from '../domain/operation.js';
import type { WindowSchedule } from '../domain/window-schedule.js';
import type { DeviceFilter, Page } from './device-query.js';
import { compileFilter } from './filter-sql.js';
import { documentsOf, iso, jsonText, operationFromRow, parsed, type DeviceRow, type OperationRow } from './rows.js';
import { notifyDevicesSql, workChannel } from './postgres/work-notifications.js';
import type { SqlDriver } from './sql-driver.js';
import type { DeviceWindows, MaintenanceWindowQuery, MaintenanceWindowStore } from './maintenance-window-store.js';
import type { SeededDocuments } from './store.js';


interface WindowRow {
  seq: number | string;
  id: string;
  tenant_id: string;
  display_name: string;
  target: unknown;
  target_filter: unknown;
  schedule: unknown;
  created_at: string | Date;
  created_by: unknown;
  last_modified_at: string | Date;
}

function windowFromRow(row: WindowRow): MaintenanceWindow {
  return {
    tenantId: row.tenant_id,
    id: row.id,
    displayName: row.display_name,
    target: parsed<WindowTarget>(row.target),
    schedule: parsed<WindowSchedule>(row.schedule),
    createdDateTime: iso(row.created_at),
    createdBy: row.created_by === null ? null : parsed<IdentitySet>(row.created_by),
    lastModifiedDateTime: iso(row.last_modified_at),
  };
}

/**
 * The statements of maintenance windows and of the operations they hold (`store.windows`). A
 * window's `$filter` is kept as text (what the API shows) and as its parsed tree, compiled to
 * parameterised SQL whenever a device's windows are looked up.
 */
export class MaintenanceWindowSql implements MaintenanceWindowStore {
  /** `released`: told of the operations releaseDue queued (the store's metrics count them). */
  constructor(
    private readonly sql: SqlDriver,
    private readonly seededDocuments: SeededDocuments,
    private readonly released: (operations: Operation[]) => void = () => {},
  ) {}

  async create(window: MaintenanceWindow, filter: DeviceFilter | null): Promise<void> {
    await this.sql.query(
      `INSERT INTO maintenance_windows (id, tenant_id, display_name, target, target_filter, schedule, created_at, created_by, last_modified_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [window.id, window.tenantId, window.displayName, jsonText(window.target), jsonText(filter), jsonText(window.schedule),
        window.createdDateTime, jsonText(window.createdBy), window.lastModifiedDateTime],
    );
  }

  async get(tenantId: string, id: string): Promise<MaintenanceWindow | null> {
    const [row] = await this.sql.query<WindowRow>('SELECT * FROM maintenance_windows WHERE tenant_id = ? AND id = ?', [tenantId, id]);
    return row ? windowFromRow(row) : null;
  }

  async count(tenantId: string): Promise<number> {
    const [row] = await this.sql.query<{ n: number | string }>('SELECT count(*) AS n FROM maintenance_windows WHERE tenant_id = ?', [tenantId]);
    return Number(row.n);
  }

  /** Newest first, keyset by sequence number. */
  async list(query: MaintenanceWindowQuery): Promise<Page<MaintenanceWindow>> {
    const rows = await this.sql.query<WindowRow>(
      'SELECT * FROM maintenance_windows WHERE tenant_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
      [query.tenantId, query.beforeSeq ?? Number.MAX_SAFE_INTEGER, query.top + 1],
    );
    const page = rows.slice(0, query.top);
    return { items: page.map(windowFromRow), next: rows.length > query.top ? Number(page[page.length - 1].seq) : null };
  }

  /**
   * Read-modify-write of one window with its row locked, so two PATCHes each change what they
   * name. `filter` undefined: the target is unchanged, and so is its parsed tree.
   */
  update(
    tenantId: string,
    id: string,
    change: (window: MaintenanceWindow) => { window: MaintenanceWindow; filter?: DeviceFilter | null },
  ): Promise<MaintenanceWindow | null> {
    return this.sql.transaction(async (tx) => {
      const [row] = await tx.query<WindowRow>(`SELECT * FROM maintenance_windows WHERE tenant_id = ? AND id = ?${this.sql.dialect.forUpdate}`, [tenantId, id]);
      if (!row) return null;
      const { window, filter } = change(windowFromRow(row));
      const keepTree = filter === undefined;
      await tx.query(
        `UPDATE maintenance_windows SET display_name = ?, target = ?, schedule = ?, last_modified_at = ?${keepTree ? '' : ', target_filter = ?'}
         WHERE tenant_id = ? AND id = ?`,
        [window.displayName, jsonText(window.target), jsonText(window.schedule), window.lastModifiedDateTime,
          ...(keepTree ? [] : [jsonText(filter)]), tenantId, id],
      );
      return window;
    });
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    const rows = await this.sql.query('DELETE FROM maintenance_windows WHERE tenant_id = ? AND id = ? RETURNING id', [tenantId, id]);
    return rows.length > 0;
  }

  /**
   * The windows that cover a device, and the time zone it reads them in. A tenant without
   * windows costs one empty range of maintenance_windows_by_tenant (every action pays this);
   * otherwise the device's row is read once more, with each filter window's condition as a
   * column of that read.
   */
  async deviceWindows(tenantId: string, deviceId: string): Promise<DeviceWindows> {
    const rows = await this.sql.query<WindowRow>('SELECT * FROM maintenance_windows WHERE tenant_id = ? ORDER BY seq', [tenantId], 'tenant-windows');
    if (rows.length === 0) return { windows: [], timeZone: null };
    const byFilter = rows.filter((row) => row.target_filter !== null);
    const columns: string[] = [];
    const params: unknown[] = [];
    byFilter.forEach((row, i) => {
      const compiled = compileFilter(parsed<DeviceFilter>(row.target_filter));
      columns.push(`CASE WHEN ${compiled.sql} THEN 1 ELSE 0 END AS window_${i}`);
      params.push(...compiled.params);
    });
    const [device] = await this.sql.query<DeviceRow & Record<string, unknown>>(
      `SELECT *${columns.map((c) => `, ${c}`).join('')} FROM devices WHERE tenant_id = ? AND id = ?`,
      [...params, tenantId, deviceId],
    );
    if (!device) return { windows: [], timeZone: null };
    const matched = new Set(byFilter.filter((_, i) => Number(device[`window_${i}`]) === 1));
    const windows = rows.filter((row) => {
      if (matched.has(row)) return true;
      const target = parsed<WindowTarget>(row.target);
      return 'deviceIds' in target && target.deviceIds.includes(deviceId);
    }).map(windowFromRow);
    if (windows.length === 0) return { windows, timeZone: null };
    return { windows, timeZone: deviceTimeZone(documentsOf(device, this.seededDocuments).configuration) };
  }

  /**
   * Releases scheduled operations whose time has come (`scheduled` → `queued`), oldest due
   * first, in one conditional UPDATE per batch. The claim's condition is operations_due's own,
   * and on PostgreSQL rows another replica holds are skipped rather than waited for, and the
   * same statement NOTIFYs every replica of the released devices (a window opening for ten
   * thousand devices is a few notifications, not ten thousand statements).
   */
  async releaseDue(now: string, limit: number): Promise<Operation[]> {
    const release = `UPDATE operations SET status = 'queued', last_action_at = ?
       WHERE seq IN (SELECT seq FROM operations WHERE status = 'scheduled' AND scheduled_at <= ? ORDER BY scheduled_at LIMIT ?${this.sql.dialect.skipLocked})
         AND status = 'scheduled'
       RETURNING *`;
    const rows = this.sql.dialect.name === 'postgres'
      ? await this.sql.query<OperationRow>(
        `WITH released AS (${release}), notified AS (${notifyDevicesSql('released', '?')})
         -- counting the notifications makes them happen: an unreferenced CTE is never run
         SELECT released.* FROM released CROSS JOIN (SELECT count(*) FROM notified) AS sent`,
        [now, now, limit, workChannel],
      )
      : await this.sql.query<OperationRow>(release, [now, now, limit]);
    const queued = rows.map(operationFromRow);
    this.released(queued);
    return queued;
  }

  /**
   * Makes a tenant's scheduled operations due now, so the scheduler releases them and each is
   * decided again against the windows as they now are (after a window changed or went).
   */
  async reviewScheduled(tenantId: string, now: string): Promise<number> {
    const rows = await this.sql.query(
      `UPDATE operations SET scheduled_at = ? WHERE status = 'scheduled' AND scheduled_at > ? AND tenant_id = ? RETURNING seq`,
      [now, now, tenantId],
    );
    return rows.length;
  }
}
