import type { InstalledVersions } from '../domain/device-health.js';
import type { DeviceType, SoftwareType } from '../domain/enums.js';
import { pendingStatuses } from '../domain/operation.js';
import { emptyCounts, type RolloutCounts, type RolloutDeviceState, type RolloutStatus, type SkipReason } from '../domain/rollout.js';
import type { Page } from './device-query.js';
import { compileFilter } from './filter-sql.js';
import { iso, jsonText, parsed } from './rows.js';
import { rolloutDeviceFromRow, rolloutFromRow, type CountRow, type RolloutDeviceRow, type RolloutRow } from './rollout-rows.js';
import type { SqlDriver } from './sql-driver.js';
import type {
  DueDevice, OperationProgress, RolloutChange, RolloutCondition, RolloutDevice, RolloutDeviceChange, RolloutPageQuery, RolloutRecord,
  RolloutStore, TargetClaim, TargetMove,
} from './rollout-store.js';

/** Columns of RolloutChange and how each is written. */
const changeColumns: [keyof RolloutChange, string, (value: never) => unknown][] = [
  ['status', 'status', (v) => v],
  ['pausedReason', 'paused_reason', (v) => v],
  ['currentStage', 'current_stage', (v) => v],
  ['stagePhase', 'stage_phase', (v) => v],
  ['soakUntil', 'soak_until', (v) => v],
  ['approvedStage', 'approved_stage', (v) => v],
  ['expanded', 'expanded', (v: boolean) => v],
  ['expansionAfter', 'expansion_after', (v) => jsonText(v)],
  ['acceptedFailures', 'accepted_failures', (v) => v],
  ['startedDateTime', 'started_at', (v) => v],
  ['completedDateTime', 'completed_at', (v) => v],
];

const pendingList = pendingStatuses.map((s) => `'${s}'`).join(', ');

/** The rollouts' statements, written once for both databases. */
export class RolloutSql implements RolloutStore {
  constructor(private readonly sql: SqlDriver) {}

  private bool(value: boolean): unknown {
    return this.sql.dialect.name === 'sqlite' ? (value ? 1 : 0) : value;
  }

  async createRollout(r: RolloutRecord): Promise<void> {
    await this.sql.query(
      `INSERT INTO rollouts (tenant_id, id, display_name, software_type, software_version, target, target_filter,
        include_new_devices, stages, retry, status, paused_reason, current_stage, stage_phase, soak_until, approved_stage,
        expanded, expansion_after, accepted_failures, created_at, created_by, last_modified_at, started_at, completed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.tenantId, r.id, r.displayName, r.softwareType, r.softwareVersion, jsonText(r.target), jsonText(r.targetFilter),
        this.bool(r.includeNewDevices), jsonText(r.stages), jsonText(r.retry), r.status, r.pausedReason, r.currentStage, r.stagePhase,
        r.soakUntil, r.approvedStage, this.bool(r.expanded), jsonText(r.expansionAfter), r.acceptedFailures, r.createdDateTime,
        jsonText(r.createdBy), r.lastModifiedDateTime, r.startedDateTime, r.completedDateTime,
      ],
    );
  }

  async getRollout(tenantId: string, id: string): Promise<RolloutRecord | null> {
    const [row] = await this.sql.query<RolloutRow>('SELECT * FROM rollouts WHERE tenant_id = ? AND id = ?', [tenantId, id]);
    return row ? rolloutFromRow(row) : null;
  }

  async listRollouts(q: RolloutPageQuery): Promise<Page<RolloutRecord, string>> {
    const where = ['tenant_id = ?'];
    const params: unknown[] = [q.tenantId];
    if (q.status !== null) {
      where.push('status = ?');
      params.push(q.status);
    }
    if (q.beforeId !== null) {
      where.push('id < ?');
      params.push(q.beforeId);
    }
    const rows = await this.sql.query<RolloutRow>(
      `SELECT * FROM rollouts WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`, [...params, q.top + 1]);
    const items = rows.slice(0, q.top).map(rolloutFromRow);
    return { items, next: rows.length > q.top ? items[items.length - 1].id : null };
  }

  async rolloutsIn(statuses: readonly RolloutStatus[], limit: number): Promise<RolloutRecord[]> {
    const rows = await this.sql.query<RolloutRow>(
      `SELECT * FROM rollouts WHERE status IN (${statuses.map(() => '?').join(', ')}) AND completed_at IS NULL ORDER BY id LIMIT ?`, [...statuses, limit]);
    return rows.map(rolloutFromRow);
  }

  async changeRollout(tenantId: string, id: string, condition: RolloutCondition, change: RolloutChange): Promise<RolloutRecord | null> {
    const set = ['last_modified_at = ?'];
    const params: unknown[] = [change.at];
    for (const [key, column, write] of changeColumns) {
      if (change[key] === undefined) continue;
      set.push(`${column} = ?`);
      const value = write(change[key] as never);
      params.push(typeof value === 'boolean' ? this.bool(value) : value);
    }
    const where = ['tenant_id = ?', 'id = ?', `status IN (${condition.status.map(() => '?').join(', ')})`];
    params.push(tenantId, id, ...condition.status);
    if (condition.currentStage !== undefined) {
      where.push('current_stage = ?');
      params.push(condition.currentStage);
    }
    if (condition.stagePhase !== undefined) {
      if (condition.stagePhase === null) where.push('stage_phase IS NULL');
      else {
        where.push('stage_phase = ?');
        params.push(condition.stagePhase);
      }
    }
    const [row] = await this.sql.query<RolloutRow>(`UPDATE rollouts SET ${set.join(', ')} WHERE ${where.join(' AND ')} RETURNING *`, params);
    return row ? rolloutFromRow(row) : null;
  }

  async rolloutCounts(tenantId: string, id: string): Promise<{ all: RolloutCounts; stages: RolloutCounts[] }> {
    return this.countRows(await this.sql.query<CountRow>(
      `SELECT stage, state, skip_reason, count(*) AS n FROM rollout_devices WHERE rollout_id = ? AND tenant_id = ?
       GROUP BY stage, state, skip_reason`, [id, tenantId]));
  }

  async stageCounts(tenantId: string, id: string, stage: number): Promise<RolloutCounts> {
    const { stages } = this.countRows(await this.sql.query<CountRow>(
      `SELECT stage, state, skip_reason, count(*) AS n FROM rollout_devices WHERE rollout_id = ? AND stage = ? AND tenant_id = ?
       GROUP BY stage, state, skip_reason`, [id, stage, tenantId]));
    return stages[stage] ?? emptyCounts();
  }

  private countRows(rows: CountRow[]): { all: RolloutCounts; stages: RolloutCounts[] } {
    const all = emptyCounts();
    const stages: RolloutCounts[] = [];
    for (const row of rows) {
      const n = Number(row.n);
      const targets = [all];
      if (row.stage !== null) {
        const stage = Number(row.stage);
        while (stages.length <= stage) stages.push(emptyCounts());
        targets.push(stages[stage]);
      }
      for (const counts of targets) {
        counts.total += n;
        if (row.state === 'skipped') counts.skipped[(row.skip_reason ?? 'superseded') as SkipReason] += n;
        else counts[row.state as Exclude<RolloutDeviceState, 'skipped'>] += n;
      }
    }
    return { all, stages };
  }

  async expandTargets(
    r: RolloutRecord, after: { createdAt: string; id: string } | null, limit: number, at: string,
  ): Promise<{ read: number; last: { createdAt: string; id: string } | null }> {
    const matches = r.targetFilter ? compileFilter(r.targetFilter) : { sql: '1 = 1', params: [] };
    // Bounded work: exactly `limit` devices are read, whether or not they match, so a filter
    // that matches few devices of a big tenant still costs the same per tick.
    const position = after ? 'AND (created_at, id) > (?, ?)' : '';
    const rows = await this.sql.scan<{ id: string; created_at: string | Date; matches: number | boolean }>(
      `SELECT id, created_at, CASE WHEN ${matches.sql} THEN 1 ELSE 0 END AS matches FROM devices
       WHERE tenant_id = ? ${position} ORDER BY created_at, id LIMIT ?`,
      [...matches.params, r.tenantId, ...(after ? [after.createdAt, after.id] : []), limit],
    );
    const chosen = rows.filter((row) => Number(row.matches) === 1).map((row) => row.id);
    await this.insertTargets(r, chosen, at);
    const lastRow = rows[rows.length - 1];
    return { read: rows.length, last: lastRow ? { createdAt: iso(lastRow.created_at), id: lastRow.id } : null };
  }

  async addTargetIds(r: RolloutRecord, deviceIds: string[], at: string): Promise<void> {
    for (let i = 0; i < deviceIds.length; i += 500) {
      const ids = deviceIds.slice(i, i + 500);
      const rows = await this.sql.query<{ id: string }>(
        `SELECT id FROM devices WHERE tenant_id = ? AND id IN (${ids.map(() => '?').join(', ')})`, [r.tenantId, ...ids]);
      const existing = new Set(rows.map((row) => row.id));
      await this.insertTargets(r, ids.filter((id) => existing.has(id)), at);
    }
  }

  private async insertTargets(r: RolloutRecord, deviceIds: string[], at: string): Promise<void> {
    if (deviceIds.length === 0) return;
    // One statement per chunk; a device already a target (expansion read again after a crash,
    // a late enroller seen twice) keeps its row.
    for (let i = 0; i < deviceIds.length; i += 500) {
      const ids = deviceIds.slice(i, i + 500);
      const values = ids.map(() => "(?, ?, ?, 'pending', ?)").join(', ');
      await this.sql.query(
        `INSERT INTO rollout_devices (tenant_id, rollout_id, device_id, state, last_changed_at) VALUES ${values}
         ON CONFLICT (rollout_id, device_id) DO NOTHING`,
        ids.flatMap((id) => [r.tenantId, r.id, id, at]),
      );
    }
  }

  async assignStage(tenantId: string, rolloutId: string, stage: number, size: number): Promise<number> {
    if (size <= 0) return 0;
    const rows = await this.sql.query(
      `UPDATE rollout_devices SET stage = ? WHERE seq IN (
         SELECT seq FROM rollout_devices WHERE rollout_id = ? AND tenant_id = ? AND stage IS NULL ORDER BY seq LIMIT ?)
       RETURNING seq`, [stage, rolloutId, tenantId, size]);
    return rows.length;
  }

  async unassignedTargets(tenantId: string, rolloutId: string): Promise<number> {
    const [row] = await this.sql.query<{ n: number | string }>(
      'SELECT count(*) AS n FROM rollout_devices WHERE rollout_id = ? AND tenant_id = ? AND stage IS NULL', [rolloutId, tenantId]);
    return Number(row.n);
  }

  async dueDevices(r: RolloutRecord, stage: number, now: string, limit: number): Promise<DueDevice[]> {
    const rows = await this.sql.query<{
      device_id: string; attempts: number; device_type: string; hw_model: string | null; installed: unknown; newer: number | boolean;
    }>(
      `SELECT rd.device_id, rd.attempts, d.device_type, d.hw_model, d.installed,
         CASE WHEN EXISTS (SELECT 1 FROM rollout_devices other JOIN rollouts newer
           ON newer.tenant_id = other.tenant_id AND newer.id = other.rollout_id
           WHERE other.tenant_id = rd.tenant_id AND other.device_id = rd.device_id AND other.rollout_id > rd.rollout_id
             AND newer.software_type = ? AND newer.status <> 'cancelled') THEN 1 ELSE 0 END AS newer
       FROM rollout_devices rd JOIN devices d ON d.tenant_id = rd.tenant_id AND d.id = rd.device_id
       WHERE rd.rollout_id = ? AND rd.tenant_id = ? AND rd.stage = ? AND rd.state = 'pending'
         AND (rd.next_attempt_at IS NULL OR rd.next_attempt_at <= ?)
       ORDER BY rd.seq LIMIT ?`,
      [r.softwareType, r.id, r.tenantId, stage, now, limit],
    );
    return rows.map((row) => ({
      deviceId: row.device_id,
      attempts: Number(row.attempts),
      deviceType: row.device_type as DeviceType,
      model: row.hw_model,
      installed: (row.installed === null ? {} : parsed<InstalledVersions>(row.installed)) ?? {},
      newerRollout: Number(row.newer) === 1,
    }));
  }

  async followOperations(tenantId: string, rolloutId: string, moves: TargetMove[], at: string): Promise<void> {
    if (moves.every((m) => m.operationIds.length === 0)) return;
    // One transaction for the tick: one commit, not one per device.
    await this.sql.transaction(async (tx) => {
      for (const move of moves) {
        for (let i = 0; i < move.operationIds.length; i += 500) {
          const ids = move.operationIds.slice(i, i + 500);
          await tx.query(
            `UPDATE rollout_devices SET state = ?, last_changed_at = ?${move.state === 'successful' ? ', error_code = NULL, error_message = NULL' : ''}
             WHERE rollout_id = ? AND tenant_id = ? AND state IN ('scheduled', 'running') AND operation_id IN (${ids.map(() => '?').join(', ')})`,
            [move.state, at, rolloutId, tenantId, ...ids],
          );
        }
      }
    });
  }

  async claimTargets(tenantId: string, rolloutId: string, claims: TargetClaim[], at: string): Promise<Set<string>> {
    if (claims.length === 0) return new Set();
    return this.sql.transaction(async (tx) => {
      const claimed = new Set<string>();
      for (const c of claims) {
        const rows = await tx.query(
          `UPDATE rollout_devices SET state = 'scheduled', operation_id = ?, attempts = ?, next_attempt_at = NULL, last_changed_at = ?
           WHERE rollout_id = ? AND tenant_id = ? AND device_id = ? AND state = 'pending' RETURNING device_id`,
          [c.operationId, c.attempts, at, rolloutId, tenantId, c.deviceId], 'claim-rollout-target');
        if (rows.length > 0) claimed.add(c.deviceId);
      }
      return claimed;
    });
  }

  async skipTargets(tenantId: string, rolloutId: string, skips: { deviceId: string; reason: SkipReason }[], at: string): Promise<void> {
    if (skips.length === 0) return;
    await this.sql.transaction(async (tx) => {
      for (const skip of skips) {
        await tx.query(
          `UPDATE rollout_devices SET state = 'skipped', skip_reason = ?, last_changed_at = ?
           WHERE rollout_id = ? AND tenant_id = ? AND device_id = ? AND state = 'pending'`,
          [skip.reason, at, rolloutId, tenantId, skip.deviceId], 'skip-rollout-target');
      }
    });
  }

  async operationProgress(tenantId: string, rolloutId: string, limit: number): Promise<OperationProgress[]> {
    const rows = await this.sql.query<{
      device_id: string; state: string; attempts: number; operation_id: string; status: string | null; error_code: string | null; error_message: string | null;
    }>(
      `SELECT rd.device_id, rd.state, rd.attempts, rd.operation_id, o.status, o.error_code, o.error_message
       FROM rollout_devices rd LEFT JOIN operations o ON o.id = rd.operation_id
       WHERE rd.rollout_id = ? AND rd.tenant_id = ? AND rd.state IN ('scheduled', 'running')
         AND (o.status IS NULL
           OR NOT ((rd.state = 'scheduled' AND o.status IN (${pendingList})) OR (rd.state = 'running' AND o.status = 'inProgress')))
       LIMIT ?`,
      [rolloutId, tenantId, limit],
    );
    return rows.map((row) => ({
      deviceId: row.device_id,
      state: row.state as RolloutDeviceState,
      attempts: Number(row.attempts),
      operationId: row.operation_id,
      operationStatus: row.status,
      error: row.error_code === null && row.error_message === null ? null : { code: row.error_code, message: row.error_message },
    }));
  }

  async changeRolloutDevice(tenantId: string, rolloutId: string, deviceId: string, c: RolloutDeviceChange): Promise<boolean> {
    const set = ['state = ?', 'last_changed_at = ?'];
    const params: unknown[] = [c.state, c.at];
    const add = (column: string, value: unknown) => {
      set.push(`${column} = ?`);
      params.push(value);
    };
    if (c.skipReason !== undefined) add('skip_reason', c.skipReason);
    if (c.newOperationId !== undefined) add('operation_id', c.newOperationId);
    if (c.attempts !== undefined) add('attempts', c.attempts);
    if (c.nextAttemptAt !== undefined) add('next_attempt_at', c.nextAttemptAt);
    if (c.error !== undefined) {
      add('error_code', c.error?.code ?? null);
      add('error_message', c.error?.message ?? null);
    }
    const where = ['rollout_id = ?', 'tenant_id = ?', 'device_id = ?', `state IN (${c.from.map(() => '?').join(', ')})`];
    params.push(rolloutId, tenantId, deviceId, ...c.from);
    if (c.operationId !== undefined) {
      where.push(c.operationId === null ? 'operation_id IS NULL' : 'operation_id = ?');
      if (c.operationId !== null) params.push(c.operationId);
    }
    const rows = await this.sql.query(`UPDATE rollout_devices SET ${set.join(', ')} WHERE ${where.join(' AND ')} RETURNING seq`, params);
    return rows.length > 0;
  }

  async listRolloutDevices(tenantId: string, rolloutId: string, top: number, afterSeq: number | null): Promise<Page<RolloutDevice>> {
    const rows = await this.sql.query<RolloutDeviceRow>(
      `SELECT * FROM rollout_devices WHERE rollout_id = ? AND tenant_id = ? ${afterSeq === null ? '' : 'AND seq > ?'} ORDER BY seq LIMIT ?`,
      [rolloutId, tenantId, ...(afterSeq === null ? [] : [afterSeq]), top + 1],
    );
    const items = rows.slice(0, top);
    return { items: items.map(rolloutDeviceFromRow), next: rows.length > top ? Number(items[items.length - 1].seq) : null };
  }

  async rolloutOfOperation(tenantId: string, operationId: string): Promise<{ rolloutId: string; deviceId: string } | null> {
    const [row] = await this.sql.query<{ rollout_id: string; device_id: string }>(
      'SELECT rollout_id, device_id FROM rollout_devices WHERE operation_id = ? AND tenant_id = ?', [operationId, tenantId]);
    return row ? { rolloutId: row.rollout_id, deviceId: row.device_id } : null;
  }

  async pendingUpdate(tenantId: string, deviceId: string, softwareType: SoftwareType): Promise<string | null> {
    const [row] = await this.sql.query<{ id: string }>(
      `SELECT id FROM operations WHERE tenant_id = ? AND device_id = ? AND operation_type = 'softwareUpdate' AND software_type = ?
         AND status IN (${pendingList})`, [tenantId, deviceId, softwareType]);
    return row?.id ?? null;
  }

  async cancelTargets(tenantId: string, rolloutId: string, at: string): Promise<string[]> {
    await this.sql.query(
      `UPDATE rollout_devices SET state = 'cancelled', last_changed_at = ? WHERE rollout_id = ? AND tenant_id = ? AND state = 'pending'`,
      [at, rolloutId, tenantId]);
    const rows = await this.sql.query<{ operation_id: string }>(
      `SELECT operation_id FROM rollout_devices WHERE rollout_id = ? AND tenant_id = ? AND state = 'scheduled'`, [rolloutId, tenantId]);
    return rows.map((row) => row.operation_id);
  }
}
