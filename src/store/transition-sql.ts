import { pendingStatuses, transitions, type Transition } from '../domain/operation.js';
import type { TransitionChanges } from './store.js';
import { jsonText } from './rows.js';

/** The status list of the partial index operations_one_pending's condition, as the migrations write it. */
const pendingStatusList = pendingStatuses.map((status) => `'${status}'`).join(', ');

/**
 * The one conditional UPDATE that performs a transition. The allowed from-states come from
 * the domain's closed table, never from input; values are parameters.
 */
export function transitionSql(
  transition: Transition,
  tenantId: string,
  operationId: string,
  changes: TransitionChanges,
): { sql: string; params: unknown[] } {
  const { from, to } = transitions[transition];
  const params: unknown[] = [];
  const p = (value: unknown) => {
    params.push(value);
    return '?';
  };
  const set = [`status = ${p(to)}`, `last_action_at = ${p(changes.at)}`, `last_action_by = ${p(jsonText(changes.by))}`];
  if (to === 'inProgress') set.push(`started_at = ${p(changes.at)}`);
  if (to === 'successful' || to === 'failed' || to === 'cancelled') set.push(`completed_at = ${p(changes.at)}`);
  if (changes.error !== undefined) {
    set.push(`error_code = ${p(changes.error?.code ?? null)}`, `error_message = ${p(changes.error?.message ?? null)}`);
  }
  if (changes.runDeadline !== undefined) set.push(`run_deadline = ${p(changes.runDeadline)}`);
  if (changes.result !== undefined) set.push(`result = ${p(jsonText(changes.result))}`);
  if (changes.scheduledAt !== undefined) set.push(`scheduled_at = ${p(changes.scheduledAt)}`);
  if (changes.startDeadline !== undefined) set.push(`start_deadline = ${p(changes.startDeadline)}`);
  const where = [
    `tenant_id = ${p(tenantId)}`,
    `id = ${p(operationId)}`,
    `status IN (${from.map((s) => p(s)).join(', ')})`,
  ];
  if (transition === 'start') {
    // Oldest first: an operation starts only when no older one of its device is still queued.
    // The status IN term is operations_one_pending's own condition, so that partial index serves
    // it; the unary + keeps SQLite from walking the device's whole history in operations_by_device.
    where.push(`NOT EXISTS (SELECT 1 FROM operations older WHERE older.tenant_id = operations.tenant_id
      AND older.device_id = operations.device_id AND older.status IN (${pendingStatusList}) AND older.status = 'queued'
      AND +older.seq < operations.seq)`);
  }
  return { sql: `UPDATE operations SET ${set.join(', ')} WHERE ${where.join(' AND ')} RETURNING *`, params };
}

/**
 * The operation a device should work on next: the one it runs, else its oldest queued one,
 * unless the device is busy (in a meeting: it is not interrupted; its running one is still
 * returned). Each branch repeats a partial index's own condition (operations_one_running,
 * operations_one_pending), so both databases answer it from those small indexes; no index over
 * every open operation has to be written on each 202; the busy check is one primary-key read.
 * Parameters: tenant, device, tenant, device, tenant, device.
 */
export const nextOperationSql = `SELECT * FROM (
    SELECT * FROM operations WHERE tenant_id = ? AND device_id = ? AND status = 'inProgress'
    UNION ALL
    SELECT * FROM operations WHERE tenant_id = ? AND device_id = ?
      AND status IN (${pendingStatusList}) AND status = 'queued'
      AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.tenant_id = ? AND d.id = ? AND d.activity_state = 'busy')
  ) AS open_operations ORDER BY status = 'inProgress' DESC, seq LIMIT 1`;
