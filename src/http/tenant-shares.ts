import { availableParallelism } from 'node:os';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServiceError } from '../domain/errors.js';
import type {} from './request-caller.js';
import type {} from './sub-requests.js';

/** How long after its last read a tenant still counts as reading. */
const activeWindowMs = 1000;

/** How long a read may wait for its tenant's turn before it is a 503 (the stores' statement limit). */
const defaultWaitLimitMs = 5000;

interface Waiter {
  admit(): void;
  refuse(error: Error): void;
  timer: NodeJS.Timeout;
}

interface TenantReads {
  tenantId: string;
  running: number;
  waiting: Waiter[];
  /** performance.now() of its last read's start or end */
  lastSeen: number;
}

/** A read's place: `admitted` settles when it may run; `leave()` gives the place back, in any state, once. */
export interface ReadTurn {
  admitted: Promise<void>;
  leave(): void;
}

/**
 * Fair shares of the process between tenants' reads. While a tenant is the only one reading,
 * nothing limits it: a single-tenant deployment never waits here. While others read too:
 * - each tenant may run `slots / tenants reading` reads at once (at least one); the rest wait
 *   their tenant's turn, first come first served;
 * - with `restBetweenTurns`, a tenant whose reads wait gets its next turn only after a pause as
 *   long as the read that just ended, so its backlog takes at most about half of its share's time.
 * So 4 clients of one tenant sending slow filters do not fill the event loop, and another
 * tenant's read does not queue behind theirs (`npm run bench`, filters). The rest is for
 * PostgreSQL: its backends scan at the same priority as this process, and one read at a time
 * still kept a core busy; SQLite's slow reads run in reader processes at nice 10, and resting
 * them left the other tenant's read no faster (both measured on 2 cores).
 */
export class TenantShares {
  private readonly tenants = new Map<string, TenantReads>();

  private readonly slots: number;
  private readonly waitLimitMs: number;
  private readonly restBetweenTurns: boolean;
  private readonly onWait: () => void;

  /** `slots`: the cores by default; `onWait`: called as a read starts waiting (a metric). */
  constructor(options: { slots?: number; waitLimitMs?: number; restBetweenTurns?: boolean; onWait?: () => void } = {}) {
    this.slots = options.slots ?? availableParallelism();
    this.waitLimitMs = options.waitLimitMs ?? defaultWaitLimitMs;
    this.restBetweenTurns = options.restBetweenTurns ?? false;
    this.onWait = options.onWait ?? (() => {});
  }

  take(tenantId: string): ReadTurn {
    const reads = this.reads(tenantId);
    let started = performance.now();
    reads.lastSeen = started;
    let state: 'running' | 'waiting' | 'left' = 'running';
    let waiter: Waiter | null = null;
    const leave = () => {
      if (state === 'running') this.finished(reads, performance.now() - started);
      else if (state === 'waiting') this.drop(reads, waiter!, new ServiceError('serviceNotAvailable', 'The request was abandoned while it waited for its turn.'));
      state = 'left';
    };
    if (reads.waiting.length === 0 && reads.running < this.share(tenantId)) {
      reads.running++;
      return { admitted: Promise.resolve(), leave };
    }
    state = 'waiting';
    this.onWait();
    const admitted = new Promise<void>((admit, refuse) => {
      waiter = {
        admit: () => {
          state = 'running';
          started = performance.now();
          admit();
        },
        refuse,
        timer: setTimeout(() => {
          state = 'left';
          this.drop(reads, waiter!, new ServiceError('serviceNotAvailable',
            `Too many reads of this tenant at once while other tenants read: this one waited ${this.waitLimitMs} ms for its turn.`, { 'retry-after': '1' }));
        }, this.waitLimitMs),
      };
      reads.waiting.push(waiter);
    });
    return { admitted, leave };
  }

  private finished(reads: TenantReads, tookMs: number): void {
    reads.lastSeen = performance.now();
    if (this.restBetweenTurns && reads.waiting.length > 0 && this.share(reads.tenantId) !== Infinity) {
      // The slot stays taken through the pause, so the backlog cannot fill it meanwhile.
      setTimeout(() => this.freeSlot(reads), tookMs);
      return;
    }
    this.freeSlot(reads);
  }

  private freeSlot(reads: TenantReads): void {
    reads.running--;
    const share = this.share(reads.tenantId);
    while (reads.waiting.length > 0 && reads.running < share) {
      const next = reads.waiting.shift()!;
      clearTimeout(next.timer);
      reads.running++;
      next.admit();
    }
  }

  private drop(reads: TenantReads, waiter: Waiter, error: Error): void {
    clearTimeout(waiter.timer);
    reads.waiting.splice(reads.waiting.indexOf(waiter), 1);
    waiter.refuse(error);
  }

  /** Reads `tenantId` may run at once now: unlimited while no other tenant reads. */
  private share(tenantId: string): number {
    const now = performance.now();
    let others = 0;
    for (const [id, reads] of this.tenants) {
      const active = reads.running > 0 || reads.waiting.length > 0 || now - reads.lastSeen < activeWindowMs;
      if (!active) this.tenants.delete(id);
      else if (id !== tenantId) others++;
    }
    return others === 0 ? Infinity : Math.max(1, Math.floor(this.slots / (others + 1)));
  }

  private reads(tenantId: string): TenantReads {
    let reads = this.tenants.get(tenantId);
    if (!reads) {
      reads = { tenantId, running: 0, waiting: [], lastSeen: performance.now() };
      this.tenants.set(tenantId, reads);
    }
    return reads;
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** gives back this request's turn among its tenant's reads; null when it has none */
    leaveReadTurn: (() => void) | null;
  }
}

/**
 * Graph reads (routes that need `read`, a `$batch`'s included; not streams) take their tenant's
 * turn after authentication, and give it back when the response is sent or the client goes away.
 */
export function installTenantShares(app: FastifyInstance, shares: TenantShares): void {
  app.decorateRequest('leaveReadTurn', null);
  const leave = async (request: FastifyRequest) => {
    request.leaveReadTurn?.();
    request.leaveReadTurn = null;
  };
  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    // A stream (the routes a $batch cannot reach, for the same reason) has no end to take turns by.
    if (config?.access !== 'read' || config.batchable === false || !request.caller) return;
    const turn = shares.take(request.caller.tenantId);
    request.leaveReadTurn = turn.leave;
    await turn.admitted;
  });
  app.addHook('onResponse', leave);
  app.addHook('onRequestAbort', leave);
}
