import type { Logger } from 'pino';
import { auditEvent, type AuditActor, type AuditEvent } from '../domain/audit.js';
import type { Store } from '../store/store.js';

/** Distinct failures kept between flushes; beyond this they are counted under one entry per tenant. */
const maxPendingFailures = 10_000;

/**
 * Writes audit events. Failed authentications are counted in memory per tenant, actor,
 * source address, reason and minute, and written as one event with `occurrences` every few
 * seconds: anyone can send bad tokens, and one row per attempt would let them fill the database.
 */
export class AuditLog {
  private failures = new Map<string, AuditEvent>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly flushMs = 5000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** Writes an event now; a failure to write is logged, never turned into the request's error. */
  async record(event: AuditEvent): Promise<void> {
    try {
      await this.store.recordAudit([event]);
    } catch (error) {
      this.log.error({ err: error, activity: event.activity }, 'could not write an audit event');
    }
  }

  authenticationFailed(tenantId: string | null, actor: AuditActor, reason: string): void {
    const minute = new Date().toISOString().slice(0, 16);
    let key = JSON.stringify([tenantId, actor.type, actor.id, actor.ipAddress, reason, minute]);
    let entry = this.failures.get(key);
    if (!entry && this.failures.size >= maxPendingFailures) {
      key = JSON.stringify([tenantId, 'overflow', minute]);
      entry = this.failures.get(key);
      actor = { type: 'anonymous', id: null, displayName: null, ipAddress: null };
      reason = 'many distinct failures';
    }
    if (entry) entry.occurrences++;
    else this.failures.set(key, auditEvent(tenantId, 'authenticationFailed', actor, null, { result: 'failure', resultReason: reason }));
  }

  /** Writes the counted failures; the next flush waits for this one. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.failures.size === 0) return;
      const events = [...this.failures.values()];
      this.failures = new Map();
      try {
        await this.store.recordAudit(events);
      } catch (error) {
        this.log.warn({ err: error, events: events.length }, 'could not write failed authentications to the audit log');
      }
    });
    return this.flushing;
  }
}
