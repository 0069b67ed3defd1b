import { UnreachableError, type GraphClient } from './graph-client.js';
import { bar, progressWriter, type ProgressDisplay } from './progress-display.js';

/** The parts of a rollout's Graph body (src/http/graph/rollout-routes.ts) the CLI shows. */
export interface RolloutCounts {
  total: number;
  pending: number;
  scheduled: number;
  running: number;
  successful: number;
  failed: number;
  cancelled: number;
  skipped: number;
}

export interface RolloutStage {
  percent: number | null;
  count: number | null;
  concurrency: number | null;
  minSuccessPercent: number;
  maxFailurePercent: number | null;
  soakMinutes: number;
  requiresApproval: boolean;
  status: string;
  soakUntilDateTime: string | null;
  counts: RolloutCounts;
}

export interface Rollout {
  id: string;
  displayName: string;
  softwareType: string;
  softwareVersion: string | null;
  target: { filter: string } | { deviceIds: string[] };
  includeNewDevices: boolean;
  status: string;
  pausedReason: string | null;
  currentStage: number;
  stages: RolloutStage[];
  retry: { maxAttempts: number; initialBackoffSeconds: number };
  counts: RolloutCounts;
  createdDateTime: string;
}

/**
 * Exit codes of `rollouts get --wait` by the state it stopped at (README, Command line). 1 stays
 * what it is for every command: an error (usage, a Graph error, the server unreachable).
 */
export const waitExitCodes: Record<string, number> = { completed: 0, cancelled: 2, paused: 3 };

/** Statuses a wait stops at: nothing changes any more without an admin. */
const settledStatuses = Object.keys(waitExitCodes);

/** Targets that are through: they will not be asked again in this rollout. */
export function finished(c: RolloutCounts): number {
  return c.successful + c.failed + c.cancelled + c.skipped;
}

/** One stage as a line, e.g. `stage 1/3 ████████░░░░ 8/12 running  ✓7 ✗1 ↷0` (the bar on a terminal only). */
export function stageLine(rollout: Rollout, index: number, withBar: boolean): string {
  const stage = rollout.stages[index];
  const c = stage.counts;
  const parts = [`stage ${index + 1}/${rollout.stages.length}`];
  if (withBar) parts.push(bar(finished(c), c.total));
  parts.push(`${finished(c)}/${c.total}`, stage.status);
  let line = `${parts.join(' ')}  ✓${c.successful} ✗${c.failed} ↷${c.skipped}`;
  if (c.cancelled > 0) line += ` ⊘${c.cancelled}`;
  if (stage.soakUntilDateTime) line += `  soaking until ${new Date(stage.soakUntilDateTime).toTimeString().slice(0, 8)}`;
  return line;
}

/** The rollout's own line: status, why it paused, what it waits for. */
export function statusLine(rollout: Rollout): string {
  let line = `${rollout.id}  ${rollout.displayName}  ${rollout.status}`;
  if (rollout.pausedReason) line += ` (${rollout.pausedReason})`;
  const current = rollout.stages[rollout.currentStage];
  if (rollout.status === 'running' && current?.status === 'awaitingApproval') {
    line += ` · stage ${rollout.currentStage + 1} awaits approval: rollouts approve ${rollout.id}`;
  }
  const c = rollout.counts;
  return `${line} · ${finished(c)}/${c.total} done ✓${c.successful} ✗${c.failed} ↷${c.skipped}${c.cancelled > 0 ? ` ⊘${c.cancelled}` : ''}`;
}

/** Consecutive failed polls (network errors, not Graph errors) a wait rides out: a server restarting. */
const maxMissedPolls = 30;

/**
 * Polls the rollout every `intervalMs` until it is completed, cancelled or paused, showing its
 * stages on `out`; returns the rollout as it was last read.
 */
export async function followRollout(
  graph: GraphClient,
  id: string,
  options: { intervalMs: number; display: ProgressDisplay; out: NodeJS.WriteStream },
): Promise<Rollout> {
  const path = `/beta/teamwork/softwareRollouts/${encodeURIComponent(id)}`;
  const write = progressWriter(options.display, options.out);
  const show = (rollout: Rollout) => write([statusLine(rollout), ...rollout.stages.map((_, i) => stageLine(rollout, i, options.display === 'terminal'))]);
  let missed = 0;
  let seen = false;
  for (;;) {
    let rollout: Rollout;
    try {
      rollout = await graph.get<Rollout>(path);
      missed = 0;
      seen = true;
    } catch (error) {
      // A Graph error (404, 401…) will not mend itself; a refused connection to a server that
      // answered before may (a restart); a wrong --url fails at once.
      if (!(error instanceof UnreachableError) || !seen || ++missed > maxMissedPolls) throw error;
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
      continue;
    }
    show(rollout);
    if (settledStatuses.includes(rollout.status)) return rollout;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}
