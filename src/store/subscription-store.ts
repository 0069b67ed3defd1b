import type { PendingNotification, Subscription } from '../domain/subscription.js';

/** A subscription as kept, with the key its notifications are signed with. */
export interface StoredSubscription extends Subscription {
  signingSecret: string;
}

/** What a renewal changes; a renewal also makes a suspended subscription active again. */
export interface SubscriptionRenewal {
  expirationDateTime?: string;
  notificationUrl?: string;
}

/** A subscription whose next notifications are due, with them (oldest first). */
export interface DueDelivery {
  subscription: StoredSubscription;
  notifications: PendingNotification[];
}

/**
 * Subscriptions and the notifications queued for them. Change events are written by triggers
 * (change-notification-schema.ts); `fanOut` turns them into each matching subscription's
 * queue; the delivery loop takes `due` queues and reports each attempt.
 */
export interface SubscriptionStore {
  /** Inserts unless the tenant already holds `limit` subscriptions (false then). */
  create(subscription: StoredSubscription, limit: number): Promise<boolean>;
  list(tenantId: string): Promise<StoredSubscription[]>;
  get(tenantId: string, id: string): Promise<StoredSubscription | null>;
  /** Renews (and reactivates); null when the tenant has no such subscription. */
  renew(tenantId: string, id: string, renewal: SubscriptionRenewal): Promise<StoredSubscription | null>;
  /** Deletes it and its pending notifications; false when the tenant has no such subscription. */
  delete(tenantId: string, id: string): Promise<boolean>;

  /**
   * Moves up to `limit` change events, oldest first, into the queues of the active, unexpired
   * subscriptions they match (tenant, kind, device, change type), and deletes them: one
   * transaction, rows claimed with SKIP LOCKED on PostgreSQL. Returns how many events it took.
   */
  fanOut(now: string, limit: number): Promise<number>;
  /**
   * Active, unexpired subscriptions with queued notifications whose backoff has passed, at
   * most `limit`, except those named in `busy` (being delivered by this process); each with its
   * oldest `perDelivery` notifications.
   */
  due(now: string, limit: number, perDelivery: number, busy: ReadonlySet<string>): Promise<DueDelivery[]>;
  /** The notifications up to `lastSeq` were delivered: dequeued, the failure count reset. */
  delivered(id: string, seqs: number[], at: string): Promise<void>;
  /**
   * A delivery failed: counted, retried not before `nextAttemptAt`; `suspend` marks it
   * suspended and drops its queue.
   */
  deliveryFailed(id: string, error: string, at: string, nextAttemptAt: string, suspend: boolean): Promise<void>;
  /** Deletes subscriptions expired before `now`, with their queues; returns how many. */
  removeExpired(now: string): Promise<number>;
}
