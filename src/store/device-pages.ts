import { partsFrom, partSql, sortColumns } from './device-order.js';
import type { DeviceFilter, DevicePage, DevicePageQuery } from './device-query.js';
import { candidateConditions, readsInPageOrder, unionOfIndexedConditions, type IndexedCondition } from './device-list-plan.js';
import { compileFilter, filterColumns, orderColumns, prefixEnd, type CompiledSql } from './filter-sql.js';
import { deviceFromRow, deviceListColumns, type DeviceRow } from './rows.js';
import type { SqlDriver } from './sql-driver.js';
import type { SeededDocuments } from './store.js';

/**
 * Devices a filtered page examines at most. Timed by hand on SQLite with a 64 MiB page cache
 * over 200,000 seeded devices: about 10 ms for 5,000, well inside the 50 ms any request may
 * hold the event loop.
 */
const defaultScanRowsPerPage = 5000;

/**
 * Devices a page reads through its conditions' indexes at most; past this, the indexed
 * conditions are common, and the page examines the scan window instead (whose rows it reads
 * lazily, stopping at a full page). Counting candidates up to it is cheap at any fleet size.
 */
const maxCandidatesPerPage = 1000;

/**
 * Devices, in scan windows, that a filter made only of indexed conditions (a startswith
 * covering many values) may name for its page to be found among their ids: those come from
 * the indexes alone and only the page's are kept, which is cheap per id (on SQLite, timed by
 * hand over 200,000 devices: 3.9 ms for a page among 6,081 ids), while a window's page of a
 * sparse prefix reads its rows (about 20 ms over 1,000,000 devices, `npm run bench`). Past
 * this, the page examines the scan window.
 */
const unionCandidatesPerWindow = 4;

/**
 * Index ranges (one property, one value) a page walks side by side at most: an `in` of that
 * many values, or a startswith covering that many distinct values, reads at most this many
 * times a page's devices.
 */
const maxIndexWalks = 16;

/** Devices read per step when passing over a $skip. */
const skipStepDevices = 1000;

/** Sets of candidate conditions a filtered page tries, and conditions in one set, before it scans. */
const maxCandidateSets = 4;
const maxConditionsPerSet = 16;

/** One index range of a walked page: the devices whose `column` holds `value`, in id order. */
interface IndexWalk {
  column: string;
  value: string;
}

/**
 * Pages of a tenant's devices, each read with bounded work whatever the filter and however
 * large the fleet (the plan, cheapest first):
 * - a lone startswith: its index range, in the property's order (devicePageOrder);
 * - no filter, or an eq: the index, in page order (id order, as every plan below);
 * - an in, a startswith covering few values, an or of them: those index ranges side by side;
 * - indexed conditions that name few devices: just those devices;
 * - anything else: a window of devices in id order, after which the page says where it stopped.
 * The reads that may examine many rows go through the driver's `scan` (off the event loop on SQLite).
 */
export class DevicePages {
  constructor(
    private readonly sql: SqlDriver,
    private readonly seededDocuments: SeededDocuments,
    private readonly scanRowsPerPage = defaultScanRowsPerPage,
  ) {}

  /**
   * A page, after passing over `skip` devices: those are read as pages of at most
   * skipStepDevices, each bounded like any page, so a large $skip costs time, not a stall.
   */
  async list(query: DevicePageQuery): Promise<DevicePage> {
    let after = query.after;
    for (let toSkip = query.skip ?? 0; toSkip > 0;) {
      const skipped = await this.pageAt({ ...query, after, top: Math.min(toSkip, skipStepDevices) });
      if (skipped.next === null) return { items: [], next: null };
      toSkip -= skipped.items.length;
      after = skipped.next;
    }
    return this.pageAt({ ...query, after });
  }

  private async pageAt(query: DevicePageQuery): Promise<DevicePage> {
    const filter = query.filter;
    if (query.order.length > 0) return readsPrefixRange(query) ? this.prefixDevicePage(query) : this.orderedDevicePage(query);
    if (readsInPageOrder(filter)) return this.devicePage(query, filter && compileFilter(filter));
    const union = unionOfIndexedConditions(filter!);
    const walks = union && (await this.indexWalks(query.tenantId, union));
    if (walks) return this.walkedDevicePage(query, walks);
    if (union && union.length <= maxConditionsPerSet && (await this.fewCandidates(query.tenantId, union, unionCandidatesPerWindow * this.scanRowsPerPage))) {
      return this.unionDevicePage(query, union);
    }
    const compiled = compileFilter(filter!);
    for (const conditions of candidateConditions(filter!).slice(0, maxCandidateSets)) {
      if (conditions.length > maxConditionsPerSet) continue;
      if (await this.fewCandidates(query.tenantId, conditions, Math.min(maxCandidatesPerPage, this.scanRowsPerPage))) return this.candidateDevicePage(query, conditions, compiled);
    }
    return this.scannedDevicePage(query, compiled);
  }

  private async devicePage(query: DevicePageQuery, filter: CompiledSql | null): Promise<DevicePage> {
    const where = ['tenant_id = ?'];
    const params: unknown[] = [query.tenantId];
    if (filter) {
      where.push(filter.sql);
      params.push(...filter.params);
    }
    if (query.after !== null) {
      where.push('id > ?');
      params.push(query.after.id);
    }
    params.push(query.top + 1);
    const rows = await this.sql.query<DeviceRow>(
      `SELECT ${deviceListColumns} FROM devices WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, params,
    );
    return this.page(rows, query.top);
  }

  /**
   * A page of a lone startswith in its property's order (devicePageOrder): one range of the
   * property's index (tenant_id, column, id), read for exactly a page. A later page enters the
   * range by a row-value comparison in place of the prefix's lower bound, which it implies:
   * SQLite seeks to a row value only when no other lower bound on the column competes with it
   * (a position outside the range, from an altered token, keeps both and stays correct).
   */
  private async prefixDevicePage(query: DevicePageQuery): Promise<DevicePage> {
    const filter = query.filter as DeviceFilter & { op: 'startswith' };
    const column = filterColumns[filter.property];
    const after = query.after;
    const inRange = typeof after?.keys[0] === 'string' && after.keys[0].startsWith(filter.value);
    const from = [...(inRange ? [] : [`${column} >= ?`]), ...(after ? [`(${column}, id) > (?, ?)`] : [])];
    const fromParams = [...(inRange ? [] : [filter.value]), ...(after ? [after.keys[0], after.id] : [])];
    const rows = await this.sql.query<DeviceRow>(
      `SELECT ${deviceListColumns} FROM devices WHERE tenant_id = ? AND ${from.join(' AND ')} AND ${column} < ? ORDER BY ${column}, id LIMIT ?`,
      [query.tenantId, ...fromParams, prefixEnd(filter.value), query.top + 1],
    );
    return this.page(rows, query.top, [column as keyof DeviceRow]);
  }

  /**
   * A page in an explicit order ($orderby): each part of the listing (first key null, then
   * valued, or the reverse) read from its first key's index, with the filter checked on the way.
   * Pages are full; a rare filter that no index narrows is read through the order's index,
   * which is why these reads go through the driver's `scan` and its time limit.
   */
  private async orderedDevicePage(query: DevicePageQuery): Promise<DevicePage> {
    const filter = query.filter ? compileFilter(query.filter) : { sql: 'TRUE', params: [] };
    const rows: DeviceRow[] = [];
    let after = query.after;
    for (const part of partsFrom(query.order, query.after)) {
      const { where, orderBy } = partSql(query.order, part, after);
      rows.push(...await this.sql.scan<DeviceRow>(
        `SELECT ${deviceListColumns} FROM devices WHERE tenant_id = ? AND ${filter.sql} AND ${where.sql} ORDER BY ${orderBy} LIMIT ?`,
        [query.tenantId, ...filter.params, ...where.params, query.top + 1 - rows.length],
      ));
      if (rows.length > query.top) break;
      // The next part lies wholly after the position.
      after = null;
    }
    return this.page(rows, query.top, sortColumns(query.order).slice(0, -1).map((key) => key.column as keyof DeviceRow));
  }

  /**
   * The (column, value) index ranges that together hold exactly the devices of a union of
   * indexed conditions, or null past maxIndexWalks. A startswith becomes the distinct values
   * its prefix covers, found by seeking the index from one value to the next: a few seeks,
   * however many devices share each value.
   */
  private async indexWalks(tenantId: string, conditions: IndexedCondition[]): Promise<IndexWalk[] | null> {
    const walks = new Map<string, IndexWalk>();
    const add = (column: string, values: string[]) => {
      for (const value of values) walks.set(JSON.stringify([column, value]), { column, value });
    };
    for (const condition of conditions) {
      const column = filterColumns[condition.property];
      if (condition.op === 'eq') add(column, [condition.value!]);
      else if (condition.op === 'in') add(column, condition.values);
      else add(column, await this.valuesWithPrefix(tenantId, column, condition.value, maxIndexWalks + 1 - walks.size));
      if (walks.size > maxIndexWalks) return null;
    }
    return [...walks.values()];
  }

  private async valuesWithPrefix(tenantId: string, column: string, prefix: string, limit: number): Promise<string[]> {
    const end = prefixEnd(prefix);
    const rows = await this.sql.query<{ value: string | null }>(
      `WITH RECURSIVE found (value, n) AS (
         SELECT (SELECT ${column} FROM devices WHERE tenant_id = ? AND ${column} >= ? AND ${column} < ? ORDER BY ${column} LIMIT 1), 1
         UNION ALL
         SELECT (SELECT ${column} FROM devices WHERE tenant_id = ? AND ${column} > found.value AND ${column} < ? ORDER BY ${column} LIMIT 1), n + 1
           FROM found WHERE found.value IS NOT NULL AND n < ?
       ) SELECT value FROM found WHERE value IS NOT NULL`,
      [tenantId, prefix, end, tenantId, end, limit],
    );
    return rows.map((row) => row.value!);
  }

  /**
   * A page of the devices in any of these index ranges: each range read in id order up to a
   * page, the ranges merged. Exact and cheap however common the values; a device in ranges of
   * several columns is listed once.
   */
  private async walkedDevicePage(query: DevicePageQuery, walks: IndexWalk[]): Promise<DevicePage> {
    if (walks.length === 0) return { items: [], next: null };
    const branches: string[] = [];
    const params: unknown[] = [];
    walks.forEach((walk, i) => {
      branches.push(`SELECT * FROM (SELECT ${deviceListColumns} FROM devices WHERE tenant_id = ? AND ${walk.column} = ? AND id > ? ORDER BY id LIMIT ?) AS walk${i}`);
      params.push(query.tenantId, walk.value, query.after?.id ?? '', query.top + 1);
    });
    // A device is in one range per column at most.
    const columns = new Set(walks.map((walk) => walk.column)).size;
    const rows = await this.sql.scan<DeviceRow>(
      `SELECT * FROM (${branches.join(' UNION ALL ')}) AS walked ORDER BY id LIMIT ?`, [...params, columns * (query.top + 1)],
    );
    return this.page(rows.filter((row, i) => i === 0 || row.id !== rows[i - 1].id), query.top);
  }

  /**
   * Whether the devices matching these conditions number at most `bound`: each condition's
   * index is counted up to that bound and no further, so asking costs little whatever the answer.
   */
  private async fewCandidates(tenantId: string, conditions: IndexedCondition[], bound: number): Promise<boolean> {
    let found = 0;
    for (const condition of conditions) {
      const { sql, params } = compileFilter(condition);
      const [row] = await this.sql.scan<{ n: number | string }>(
        `SELECT count(*) AS n FROM (SELECT 1 FROM devices WHERE tenant_id = ? AND ${sql} LIMIT ?) AS counted`,
        [tenantId, ...params, bound + 1 - found],
      );
      found += Number(row.n);
      if (found > bound) return false;
    }
    return true;
  }

  /**
   * A page of a filter that is exactly a union of indexed conditions (a startswith covering
   * many values, say) naming at most unionCandidatesPerWindow windows of devices: their ids
   * are read from the indexes alone, the page's kept (a top-N sort), and only their rows read.
   */
  private async unionDevicePage(query: DevicePageQuery, conditions: IndexedCondition[]): Promise<DevicePage> {
    const { branches, params } = candidateIds(query.tenantId, conditions);
    const rows = await this.sql.scan<DeviceRow>(
      `WITH page AS MATERIALIZED (
         SELECT candidate_id FROM (${branches}) AS found WHERE candidate_id > ? ORDER BY candidate_id LIMIT ?
       )
       SELECT ${deviceListColumns} FROM page CROSS JOIN devices
       WHERE devices.tenant_id = ? AND devices.id = page.candidate_id ORDER BY devices.id`,
      [...params, query.after?.id ?? '', query.top + 1, query.tenantId],
    );
    return this.page(rows, query.top);
  }

  /**
   * A page read from few candidates: their ids, the set materialised and joined to devices
   * from its side; then the whole filter is checked on their rows.
   */
  private async candidateDevicePage(query: DevicePageQuery, conditions: IndexedCondition[], filter: CompiledSql): Promise<DevicePage> {
    const { branches, params } = candidateIds(query.tenantId, conditions);
    const rows = await this.sql.scan<DeviceRow>(
      `WITH candidates AS MATERIALIZED (${branches})
       SELECT ${deviceListColumns} FROM candidates CROSS JOIN devices
       WHERE devices.tenant_id = ? AND devices.id = candidates.candidate_id AND devices.id > ? AND ${filter.sql}
       ORDER BY devices.id LIMIT ?`,
      [...params, query.tenantId, query.after?.id ?? '', ...filter.params, query.top + 1],
    );
    return this.page(rows, query.top);
  }

  /**
   * Any other filter is checked over the next `scanRowsPerPage` devices in id order and no
   * further: a rare match costs each page the same, however large the tenant. When the window
   * ends before the page is full, the page continues after the window's last device.
   */
  private async scannedDevicePage(query: DevicePageQuery, filter: CompiledSql): Promise<DevicePage> {
    const after = query.after?.id ?? '';
    const rows = await this.sql.scan<DeviceRow>(
      `SELECT ${deviceListColumns} FROM (
         SELECT * FROM devices WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?
       ) AS scanned WHERE ${filter.sql} ORDER BY id LIMIT ?`,
      [query.tenantId, after, this.scanRowsPerPage, ...filter.params, query.top + 1],
    );
    const page = this.page(rows, query.top);
    if (page.next !== null) return page;
    const [windowEnd] = await this.sql.scan<{ id: string }>(
      'SELECT id FROM devices WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT 1 OFFSET ?',
      [query.tenantId, after, this.scanRowsPerPage - 1],
    );
    return { items: page.items, next: windowEnd ? { keys: [], id: windowEnd.id } : null };
  }

  /**
   * Up to `top` devices from rows in page order; `next` when one more row was read, at the
   * page's last row (the values of the order's columns, then its id).
   */
  private page(rows: DeviceRow[], top: number, orderColumns: (keyof DeviceRow)[] = []): DevicePage {
    const kept = rows.slice(0, top);
    const items = kept.map((row) => deviceFromRow(row, this.seededDocuments));
    const last = kept[kept.length - 1];
    const keyOf = (value: unknown) => (value instanceof Date ? value.toISOString() : (value as string | null));
    const next = rows.length > top ? { keys: orderColumns.map((column) => keyOf(last[column])), id: last.id } : null;
    return { items, next };
  }
}

/**
 * The ids of the devices matching any of the conditions, once each, read from the conditions'
 * indexes alone. `id || ''` is the same text in the same order, but no index serves it, so
 * neither database is tempted to answer a condition on it (`> ?`, the UNION's sort) by
 * walking the tenant in id order instead of the conditions' indexes.
 */
function candidateIds(tenantId: string, conditions: IndexedCondition[]): { branches: string; params: unknown[] } {
  const branches: string[] = [];
  const params: unknown[] = [];
  for (const condition of conditions) {
    const compiled = compileFilter(condition);
    branches.push(`SELECT id || '' AS candidate_id FROM devices WHERE tenant_id = ? AND ${compiled.sql}`);
    params.push(tenantId, ...compiled.params);
  }
  return { branches: branches.join(' UNION '), params };
}

/** Whether a page in this order is one range of a startswith's index: the filter is that startswith, the order its property, ascending. */
function readsPrefixRange(query: DevicePageQuery): boolean {
  const [key] = query.order;
  return query.filter?.op === 'startswith' && query.order.length === 1 && !key.descending
    && orderColumns[key.property] === filterColumns[query.filter.property];
}
