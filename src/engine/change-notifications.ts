import type { Logger } from 'pino';
import { isoNow, type Clock } from '../domain/clock.js';
import { retryDelayMs, shouldSuspend } from '../domain/notification-retry.js';
import { changeNotification } from '../domain/subscription.js';
import type { Store } from '../store/store.js';
import type { DueDelivery } from '../store/subscription-store.js';
import { BackgroundLoop } from './background-loop.js';
import { postNotifications } from './notification-delivery.js';

/** Change events fanned out per statement, and statements per tick. */
const eventsPerFanOut = 500;
const fanOutsPerTick = 20;
/** Notifications in one POST (its `value`). */
const notificationsPerDelivery = 50;
/** Deliveries in flight at once, each to a different subscription. */
const maxConcurrentDeliveries = 64;

/**
 * Delivers change notifications. Each tick (on the replica holding the supervisor lease, so
 * replicas do not deliver one notification twice at once): drops expired subscriptions, fans
 * the change events the triggers wrote out to the subscriptions they match, then starts a
 * delivery for every subscription whose queue is due. Deliveries run concurrently, each with
 * its own timeout, and the tick does not wait for them: a slow or dead receiver holds only its
 * own queue. A subscription has at most one delivery in flight, of its oldest notifications,
 * which leave the queue only when the receiver answered 2xx: at least once, in order.
 */
export class ChangeNotifications {
  private readonly loop: BackgroundLoop;
  private readonly inFlight = new Map<string, Promise<void>>();
  private stopping = new AbortController();

  constructor(
    private readonly store: Store,
    intervalMs: number,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    this.loop = new BackgroundLoop('change notifications', intervalMs, () => this.tick(), log);
  }

  start(): void {
    this.stopping = new AbortController();
    this.loop.start();
  }

  /** Stops ticking and aborts deliveries in flight: they stay queued and are sent again later. */
  async stop(): Promise<void> {
    await this.loop.stop();
    this.stopping.abort();
    await Promise.all(this.inFlight.values());
  }

  async tick(): Promise<void> {
    if (!(await this.store.holdsSupervisorLease())) return;
    const subscriptions = this.store.subscriptions;
    const now = isoNow(this.clock);
    const expired = await subscriptions.removeExpired(now);
    if (expired) this.log.info({ expired }, 'expired subscriptions removed');
    for (let round = 0; round < fanOutsPerTick; round++) {
      if ((await subscriptions.fanOut(now, eventsPerFanOut)) < eventsPerFanOut) break;
    }
    const room = maxConcurrentDeliveries - this.inFlight.size;
    if (room <= 0) return;
    for (const due of await subscriptions.due(now, room, notificationsPerDelivery, new Set(this.inFlight.keys()))) {
      const id = due.subscription.id;
      this.inFlight.set(id, this.deliver(due).finally(() => this.inFlight.delete(id)));
    }
  }

  private async deliver({ subscription, notifications }: DueDelivery): Promise<void> {
    try {
      const body = JSON.stringify({ value: notifications.map((n) => changeNotification(subscription, n)) });
      const result = await postNotifications(subscription.notificationUrl, body, subscription.signingSecret, this.stopping.signal);
      if (this.stopping.signal.aborted) return;
      if (result.ok) {
        await this.store.subscriptions.delivered(subscription.id, notifications.map((n) => n.seq), isoNow(this.clock));
        return;
      }
      const failures = subscription.consecutiveFailures + 1;
      const suspend = shouldSuspend(failures);
      const next = new Date(this.clock.now() + retryDelayMs(failures)).toISOString();
      await this.store.subscriptions.deliveryFailed(subscription.id, result.error, isoNow(this.clock), next, suspend);
      this.log.warn({ subscriptionId: subscription.id, failures, error: result.error, suspended: suspend }, suspend
        ? 'notification receiver kept failing: subscription suspended'
        : 'notification delivery failed; will retry');
    } catch (error) {
      this.log.error({ err: error, subscriptionId: subscription.id }, 'notification delivery could not be recorded');
    }
  }
}
