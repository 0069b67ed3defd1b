import type { Logger } from 'pino';
import { isoNow, type Clock } from '../domain/clock.js';
import { ServiceError } from '../domain/errors.js';
import type { Caller, IdentitySet } from '../domain/identity.js';
import { newOperationId } from '../domain/operation-id.js';
import {
  failureThresholdCrossed, retryAt, stageFinished, stageSize, stageSucceeded, type RolloutCounts, type SkipReason,
} from '../domain/rollout.js';
import { isOffered, newestVersion, type CatalogEntry } from '../domain/software-catalog.js';
import type { DueDevice, OperationProgress, RolloutChange, RolloutRecord, TargetClaim, TargetMove } from '../store/rollout-store.js';
import type { Store } from '../store/store.js';
import { BackgroundLoop, moreDueNow } from './background-loop.js';
import { requestOperation } from './operation-requests.js';

/** Devices read per expansion statement (bounded work, whatever the filter). */
const expansionBatch = 5000;
/** Time a tick spends expanding one rollout's targets before it moves on. */
const expansionBudgetMs = 250;
/** Operations a tick creates per rollout at most (a stage with no concurrency limit goes on at the next tick). */
const createsPerTick = 1000;
/** Operations created at once: the group commit gathers them into few commits. */
const createsInParallel = 100;
/** A device waiting behind an operation an admin asked for directly is tried again after this. */
const blockedRetryMs = 60_000;
/**
 * Late enrollers are looked for from this far before the last device expansion read too: a
 * device's created_at is taken before its enrollment commits, so one may commit just after a
 * later one was read.
 */
const lateCommitMarginMs = 5000;

export interface RolloutSchedulerDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  intervalMs: number;
  startTimeoutMs: number;
  /** wakes the device's long-poll on this replica (the store tells the others) */
  wake: (deviceId: string) => void;
  /** withdraws a pending operation another rollout created (supersession); false when it had started */
  withdraw: (tenantId: string, operationId: string, by: IdentitySet, at: string) => Promise<boolean>;
}

/**
 * Runs rollouts: expands each one's targets, starts its stages, creates its operations within
 * the stage's concurrency, follows them to their end (retrying transient failures with
 * backoff), pauses at the failure threshold, soaks and waits for approvals. Runs on the one
 * replica holding the supervisor lease; every change is a conditional statement and each
 * operation's id is chosen and recorded before the operation is created, so a replica killed
 * mid-tick leaves nothing the next holder would do twice: it creates a missing operation
 * again under the same id, which the database refuses if it exists.
 */
export class RolloutScheduler {
  private readonly loop: BackgroundLoop;

  constructor(private readonly deps: RolloutSchedulerDeps) {
    this.loop = new BackgroundLoop('rollouts', deps.intervalMs, () => this.tick(), deps.log);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass over the rollouts; moreDueNow when one moved on to a step that can run at once (its next stage, more devices). */
  async tick(): Promise<typeof moreDueNow | void> {
    const { store } = this.deps;
    if (!(await store.holdsSupervisorLease())) return;
    let more = false;
    for (const rollout of await store.rollouts.rolloutsIn(['running', 'paused', 'cancelled'], 100)) {
      try {
        await this.follow(rollout);
        if (rollout.status === 'running' && (await this.advance(rollout))) more = true;
      } catch (error) {
        this.deps.log.error({ err: error, rolloutId: rollout.id }, 'rollout step failed; it is tried again at the next tick');
      }
    }
    if (more) return moreDueNow;
  }

  /**
   * Brings each asked device's state up to its operation's status: one read finds the targets
   * whose operation moved on; those that only need a new state move together, failures and
   * missing operations are decided one by one.
   */
  private async follow(r: RolloutRecord): Promise<void> {
    const rollouts = this.deps.store.rollouts;
    const progress = await rollouts.operationProgress(r.tenantId, r.id, 5000);
    const moves: TargetMove[] = [
      { state: 'running', operationIds: [] }, { state: 'successful', operationIds: [] }, { state: 'cancelled', operationIds: [] },
    ];
    const toDecide: OperationProgress[] = [];
    for (const p of progress) {
      const state = p.operationStatus === 'inProgress' ? 'running' : p.operationStatus;
      const move = moves.find((m) => m.state === state);
      if (move) move.operationIds.push(p.operationId);
      else toDecide.push(p);
    }
    await rollouts.followOperations(r.tenantId, r.id, moves, isoNow(this.deps.clock));
    for (const p of toDecide) await this.followOne(r, p);
    if (r.status === 'cancelled' && progress.length === 0) {
      const counts = await rollouts.rolloutCounts(r.tenantId, r.id);
      if (counts.all.scheduled + counts.all.running === 0) await this.change(r, { completedDateTime: isoNow(this.deps.clock) });
    }
  }

  /** A target whose operation failed (retried or not) or never came to exist (created again). */
  private async followOne(r: RolloutRecord, p: OperationProgress): Promise<void> {
    const now = this.deps.clock.now();
    if (p.operationStatus === null) {
      // The operation's id was recorded but its creation never committed (a crash between
      // the two): create it again under the same id.
      if (r.status !== 'cancelled') await this.create(r, p.deviceId, p.operationId);
      return;
    }
    if (p.operationStatus !== 'failed') return;
    const from = { from: [p.state], operationId: p.operationId, at: new Date(now).toISOString() } as const;
    const again = r.status === 'cancelled' ? null : retryAt(r.retry, p.error?.code ?? null, p.attempts, now);
    await this.deps.store.rollouts.changeRolloutDevice(r.tenantId, r.id, p.deviceId, again === null
      ? { ...from, state: 'failed', error: p.error }
      : { ...from, state: 'pending', nextAttemptAt: new Date(again).toISOString(), error: p.error });
  }

  /** One step of a running rollout: expansion, then its current stage. True when its next step is due at once. */
  private async advance(r: RolloutRecord): Promise<boolean> {
    // Targets still being read: the next batch is due at once.
    if (!(await this.expand(r))) return true;
    const rollouts = this.deps.store.rollouts;
    const at = isoNow(this.deps.clock);
    const k = r.currentStage;
    const last = r.stages.length - 1;
    if (k > last) {
      await this.change(r, { status: 'completed', stagePhase: null, completedDateTime: at });
      return false;
    }
    const stage = r.stages[k];
    switch (r.stagePhase) {
      case null:
      case 'awaitingApproval': {
        if (stage.requiresApproval && r.approvedStage < k) {
          if (r.stagePhase === null) await this.change(r, { stagePhase: 'awaitingApproval' });
          return false;
        }
        // A stage whose targets were chosen before a pause or a crash keeps them.
        const chosen = (await rollouts.stageCounts(r.tenantId, r.id, k)).total;
        if (chosen === 0) {
          const remaining = await rollouts.unassignedTargets(r.tenantId, r.id);
          await rollouts.assignStage(r.tenantId, r.id, k, stageSize(stage, remaining, k === last));
        }
        await this.change(r, { stagePhase: 'running', acceptedFailures: 0 });
        return true;
      }
      case 'soaking':
        if (r.soakUntil !== null && at < r.soakUntil) return false;
        await this.change(r, { currentStage: k + 1, stagePhase: null, soakUntil: null });
        return true;
      case 'running': {
        // Late enrollers join the last stage while it runs (earlier ones wait for the next stage's share).
        if (k === last && r.includeNewDevices) await rollouts.assignStage(r.tenantId, r.id, k, await rollouts.unassignedTargets(r.tenantId, r.id));
        const counts = await rollouts.stageCounts(r.tenantId, r.id, k);
        if (failureThresholdCrossed(stage, counts, r.acceptedFailures)) {
          await this.change(r, { status: 'paused', pausedReason: 'failureThreshold' });
          this.deps.log.warn({ rolloutId: r.id, stage: k, failed: counts.failed }, 'rollout paused: the stage crossed its failure threshold');
          return false;
        }
        if (stageFinished(counts)) return this.finishStage(r, counts);
        return this.dispatch(r, counts);
      }
    }
  }

  /** True when the next stage may begin at once. */
  private async finishStage(r: RolloutRecord, counts: RolloutCounts): Promise<boolean> {
    const stage = r.stages[r.currentStage];
    if (!stageSucceeded(stage, counts)) {
      await this.change(r, { status: 'paused', pausedReason: 'successThresholdNotMet' });
      return false;
    }
    if (stage.soakMinutes > 0) {
      await this.change(r, { stagePhase: 'soaking', soakUntil: new Date(this.deps.clock.now() + stage.soakMinutes * 60_000).toISOString() });
      return false;
    }
    await this.change(r, { currentStage: r.currentStage + 1, stagePhase: null });
    return true;
  }

  /**
   * Adds targets in bounded batches until every device the target named is in; then, for a
   * rollout that takes new devices, looks for devices enrolled since. True when stages may run.
   */
  private async expand(r: RolloutRecord): Promise<boolean> {
    const rollouts = this.deps.store.rollouts;
    const at = isoNow(this.deps.clock);
    if ('deviceIds' in r.target) {
      if (!r.expanded) {
        await rollouts.addTargetIds(r, r.target.deviceIds, at);
        await this.change(r, { expanded: true });
      }
      return true;
    }
    if (r.expanded && !r.includeNewDevices) return true;
    if (r.expanded && r.expansionAfter) {
      // One bounded look just behind the position: a device whose enrollment committed after a
      // later one was read. Then on from the position itself, so the look never holds it back.
      const behind = { createdAt: new Date(Date.parse(r.expansionAfter.createdAt) - lateCommitMarginMs).toISOString(), id: '' };
      await rollouts.expandTargets(r, behind, expansionBatch, at);
    }
    const started = Date.now();
    let after = r.expansionAfter;
    let expanded = r.expanded;
    for (;;) {
      const { read, last } = await rollouts.expandTargets(r, after, expansionBatch, at);
      after = last ?? after;
      if (read < expansionBatch) {
        expanded = true;
        break;
      }
      if (Date.now() - started > expansionBudgetMs) break;
    }
    if (expanded !== r.expanded || after !== r.expansionAfter) await this.change(r, { expanded, expansionAfter: after });
    return expanded;
  }

  /** Asks the stage's due devices, up to its concurrency; true when more were due than one tick asks. */
  private async dispatch(r: RolloutRecord, counts: RolloutCounts): Promise<boolean> {
    const stage = r.stages[r.currentStage];
    const open = counts.scheduled + counts.running;
    const room = Math.min(createsPerTick, stage.concurrency === null ? createsPerTick : stage.concurrency - open);
    if (room <= 0) return false;
    const due = await this.deps.store.rollouts.dueDevices(r, r.currentStage, isoNow(this.deps.clock), room);
    if (due.length === 0) return false;
    const catalog = (await this.deps.store.listCatalog(r.tenantId)).filter((e) => e.softwareType === r.softwareType);
    const now = this.deps.clock.now();
    const at = new Date(now).toISOString();
    const skips: { deviceId: string; reason: SkipReason }[] = [];
    const claims: TargetClaim[] = [];
    for (const d of due) {
      const reason = skipReason(r, d, catalog);
      if (reason) skips.push({ deviceId: d.deviceId, reason });
      // The id is recorded first: if this replica dies before the operation commits, the next
      // lease holder creates it under this same id, and never a second one.
      else claims.push({ deviceId: d.deviceId, operationId: newOperationId(now), attempts: d.attempts + 1 });
    }
    const rollouts = this.deps.store.rollouts;
    await rollouts.skipTargets(r.tenantId, r.id, skips, at);
    const claimed = await rollouts.claimTargets(r.tenantId, r.id, claims, at);
    const toCreate = claims.filter((c) => claimed.has(c.deviceId));
    for (let i = 0; i < toCreate.length; i += createsInParallel) {
      await Promise.all(toCreate.slice(i, i + createsInParallel).map((c) => this.create(r, c.deviceId, c.operationId)));
    }
    return due.length === createsPerTick;
  }

  /** Creates the operation recorded for a device; what to do when something is in its way. */
  private async create(r: RolloutRecord, deviceId: string, operationId: string, supersede = true): Promise<void> {
    const { store, clock } = this.deps;
    const rollouts = store.rollouts;
    const at = isoNow(clock);
    try {
      await requestOperation(store, rolloutCaller(r), deviceId, 'updateSoftware', {
        softwareType: r.softwareType, softwareVersion: r.softwareVersion,
      }, this.deps.startTimeoutMs, clock, operationId);
      this.deps.wake(deviceId);
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      const mine = { from: ['scheduled'] as const, operationId, at };
      if (error.kind === 'itemNotFound' || error.kind === 'invalidRequest') {
        // The device was removed, or the catalog offers it nothing (it changed model, say).
        const device = await store.getDevice(r.tenantId, deviceId);
        await rollouts.changeRolloutDevice(r.tenantId, r.id, deviceId, device
          ? { ...mine, state: 'skipped', skipReason: 'notOffered' }
          : { ...mine, state: 'cancelled', error: { code: 'deviceRemoved', message: 'The device was removed.' } });
        return;
      }
      if (error.kind !== 'conflict') throw error;
      // Created already (by this replica before a crash, or by the previous lease holder)?
      if (await store.getOperation(r.tenantId, deviceId, operationId)) return;
      const pending = await rollouts.pendingUpdate(r.tenantId, deviceId, r.softwareType);
      const owner = pending ? await rollouts.rolloutOfOperation(r.tenantId, pending) : null;
      if (pending && owner && owner.rolloutId < r.id && supersede) {
        // The newer rollout wins: the older one's operation is withdrawn before it starts. If
        // the device started it meanwhile, the older rollout keeps following it, and the device
        // runs this one after it (one at a time).
        if (await this.deps.withdraw(r.tenantId, pending, r.createdBy, at)) {
          await rollouts.changeRolloutDevice(r.tenantId, owner.rolloutId, deviceId, {
            from: ['scheduled'], operationId: pending, state: 'skipped', skipReason: 'superseded', at,
          });
        }
        await this.create(r, deviceId, operationId, false);
        return;
      }
      if (owner && owner.rolloutId > r.id) {
        await rollouts.changeRolloutDevice(r.tenantId, r.id, deviceId, { ...mine, state: 'skipped', skipReason: 'superseded' });
        return;
      }
      // An admin's own update of this software waits on the device: this one is asked after it.
      await rollouts.changeRolloutDevice(r.tenantId, r.id, deviceId, {
        ...mine, state: 'pending', newOperationId: null, nextAttemptAt: new Date(clock.now() + blockedRetryMs).toISOString(),
      });
    }
  }

  private async change(r: RolloutRecord, change: Omit<RolloutChange, 'at'>): Promise<void> {
    const changed = await this.deps.store.rollouts.changeRollout(r.tenantId, r.id, {
      status: [r.status], currentStage: r.currentStage, stagePhase: r.stagePhase,
    }, { ...change, at: isoNow(this.deps.clock) });
    if (changed) Object.assign(r, changed);
  }
}

/** Why a due target is not asked: a newer rollout has it, the catalog offers it nothing, or it runs the version already. */
function skipReason(r: RolloutRecord, d: DueDevice, catalog: CatalogEntry[]): SkipReason | null {
  if (d.newerRollout) return 'superseded';
  const version = r.softwareVersion ?? newestVersion(catalog, r.softwareType, d.deviceType, d.model);
  if (version === null || !isOffered(catalog, r.softwareType, version, d.deviceType, d.model)) return 'notOffered';
  if (d.installed[r.softwareType] === version) return 'alreadyOnVersion';
  return null;
}

/** The rollout acts for the admin who created it: its operations' createdBy and audit events name them. */
function rolloutCaller(r: RolloutRecord): Caller {
  const who = r.createdBy.user ?? r.createdBy.application;
  return {
    tenantId: r.tenantId,
    kind: r.createdBy.user ? 'user' : 'application',
    id: who?.id ?? 'rollout',
    displayName: who?.displayName ?? null,
    appId: r.createdBy.application?.id ?? 'rollout',
    permissions: new Set(),
  };
}
