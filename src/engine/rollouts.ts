import { actorOf, auditEvent, type AuditActivity } from '../domain/audit.js';
import { isoNow, type Clock } from '../domain/clock.js';
import { ServiceError, badRequest, notFound } from '../domain/errors.js';
import { identitySetOf, type Caller, type IdentitySet } from '../domain/identity.js';
import { newOperationId } from '../domain/operation-id.js';
import { emptyCounts, type RolloutCounts, type RolloutStatus } from '../domain/rollout.js';
import type { RolloutBody } from '../domain/rollout-body.js';
import type { DeviceFilter, Page } from '../store/device-query.js';
import type { RolloutDevice, RolloutPageQuery, RolloutRecord } from '../store/rollout-store.js';
import type { Store } from '../store/store.js';
import type { AuditLog } from './audit-log.js';

/** What an admin asks for when creating a rollout (the route has validated it), with the target's $filter parsed (null for a list of ids). */
export type RolloutRequest = RolloutBody & { targetFilter: DeviceFilter | null };

/** A rollout with its counts, as the API shows it. */
export interface RolloutView {
  rollout: RolloutRecord;
  counts: RolloutCounts;
  stageCounts: RolloutCounts[];
}

export type RolloutVerb = 'start' | 'pause' | 'resume' | 'approve' | 'cancel';

/** The statuses each verb may be used in. */
const verbFrom: Record<RolloutVerb, readonly RolloutStatus[]> = {
  start: ['notStarted'],
  pause: ['running'],
  resume: ['paused'],
  approve: ['notStarted', 'running', 'paused'],
  cancel: ['notStarted', 'running', 'paused'],
};

/**
 * The admin's side of rollouts: create (answers at once; the scheduler expands targets and
 * creates operations in the background), read with counts, and the verbs. Each verb is one
 * conditional change of the rollout row, so two admins (or an admin and the scheduler) racing
 * cannot both win; the loser gets a 409 naming the status it found.
 */
export class Rollouts {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    /** withdraws a pending operation (the lifecycle's rule), used by cancel */
    private readonly withdraw: (tenantId: string, operationId: string, by: IdentitySet, at: string) => Promise<boolean>,
  ) {}

  async create(caller: Caller, request: RolloutRequest): Promise<RolloutView> {
    if (request.softwareVersion !== null) {
      const catalog = await this.store.listCatalog(caller.tenantId);
      if (!catalog.some((e) => e.softwareType === request.softwareType && e.version === request.softwareVersion)) {
        throw badRequest(`The catalog has no ${request.softwareType} version '${request.softwareVersion}' for any device.`);
      }
    }
    const now = this.clock.now();
    const at = new Date(now).toISOString();
    const rollout: RolloutRecord = {
      ...request,
      tenantId: caller.tenantId,
      id: newOperationId(now),
      status: 'notStarted',
      pausedReason: null,
      currentStage: 0,
      stagePhase: null,
      soakUntil: null,
      approvedStage: -1,
      expanded: false,
      expansionAfter: null,
      acceptedFailures: 0,
      createdDateTime: at,
      createdBy: identitySetOf(caller),
      lastModifiedDateTime: at,
      startedDateTime: null,
      completedDateTime: null,
    };
    await this.store.rollouts.createRollout(rollout);
    await this.record(caller, 'rolloutCreated', rollout.id, { softwareType: rollout.softwareType, softwareVersion: rollout.softwareVersion });
    return { rollout, counts: emptyCounts(), stageCounts: request.stages.map(() => emptyCounts()) };
  }

  async get(tenantId: string, id: string): Promise<RolloutView> {
    const rollout = await this.store.rollouts.getRollout(tenantId, id);
    if (!rollout) throw notFound(`The rollout '${id.slice(0, 64)}' does not exist.`);
    return this.view(rollout);
  }

  async list(query: RolloutPageQuery): Promise<Page<RolloutView, string>> {
    const page = await this.store.rollouts.listRollouts(query);
    return { items: await Promise.all(page.items.map((r) => this.view(r))), next: page.next };
  }

  async devices(tenantId: string, id: string, top: number, afterSeq: number | null): Promise<Page<RolloutDevice>> {
    await this.get(tenantId, id);
    return this.store.rollouts.listRolloutDevices(tenantId, id, top, afterSeq);
  }

  async act(caller: Caller, id: string, verb: RolloutVerb): Promise<RolloutView> {
    const { tenantId } = caller;
    const current = await this.store.rollouts.getRollout(tenantId, id);
    if (!current) throw notFound(`The rollout '${id.slice(0, 64)}' does not exist.`);
    const refuse = (why: string) => new ServiceError('conflict', `The rollout cannot be ${pastTense[verb]}: ${why}.`);
    if (!verbFrom[verb].includes(current.status)) throw refuse(`it is ${current.status}`);
    const at = isoNow(this.clock);
    const condition = { status: verbFrom[verb] };
    let changed: RolloutRecord | null;
    switch (verb) {
      case 'start':
        changed = await this.store.rollouts.changeRollout(tenantId, id, condition, { status: 'running', startedDateTime: at, at });
        break;
      case 'pause':
        changed = await this.store.rollouts.changeRollout(tenantId, id, condition, { status: 'paused', pausedReason: null, at });
        break;
      case 'resume': {
        // Resuming accepts the failures that paused the stage: the threshold counts only new ones.
        const failed = (await this.store.rollouts.stageCounts(tenantId, id, current.currentStage)).failed;
        changed = await this.store.rollouts.changeRollout(tenantId, id, { status: ['paused'], currentStage: current.currentStage }, {
          status: 'running', pausedReason: null, acceptedFailures: failed, at,
        });
        break;
      }
      case 'approve': {
        const stage = current.stages.findIndex((s, i) => s.requiresApproval && i > current.approvedStage && i >= current.currentStage);
        if (stage < 0) throw refuse('no stage awaits approval');
        changed = await this.store.rollouts.changeRollout(tenantId, id, { status: condition.status, currentStage: current.currentStage }, { approvedStage: stage, at });
        break;
      }
      case 'cancel':
        changed = await this.store.rollouts.changeRollout(tenantId, id, condition, { status: 'cancelled', pausedReason: null, at });
        if (changed) await this.cancelTargets(caller, id, at);
        break;
    }
    if (!changed) {
      const now = await this.store.rollouts.getRollout(tenantId, id);
      throw refuse(`it is ${now?.status ?? 'gone'}`);
    }
    await this.record(caller, verbActivity[verb], id, { status: changed.status });
    return this.view(changed);
  }

  /** Pending targets end cancelled; operations already created but not started are withdrawn. */
  private async cancelTargets(caller: Caller, id: string, at: string): Promise<void> {
    const by = identitySetOf(caller);
    for (const operationId of await this.store.rollouts.cancelTargets(caller.tenantId, id, at)) {
      await this.withdraw(caller.tenantId, operationId, by, at);
    }
  }

  private async view(rollout: RolloutRecord): Promise<RolloutView> {
    const { all, stages } = await this.store.rollouts.rolloutCounts(rollout.tenantId, rollout.id);
    return { rollout, counts: all, stageCounts: rollout.stages.map((_, i) => stages[i] ?? emptyCounts()) };
  }

  private record(caller: Caller, activity: AuditActivity, id: string, details: Record<string, string | number | boolean | null>): Promise<void> {
    return this.audit.record(auditEvent(caller.tenantId, activity, actorOf(caller), { type: 'rollout', id }, { additionalDetails: details }));
  }
}

const verbActivity: Record<RolloutVerb, AuditActivity> = {
  start: 'rolloutStarted', pause: 'rolloutPaused', resume: 'rolloutResumed', approve: 'rolloutApproved', cancel: 'rolloutCancelled',
};

const pastTense: Record<RolloutVerb, string> = {
  start: 'started', pause: 'paused', resume: 'resumed', approve: 'approved', cancel: 'cancelled',
};
