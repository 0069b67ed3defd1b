import type { ChangeType, NotificationStatus, PendingNotification, ResourceKind } from '../domain/subscription.js';
import { iso } from './rows.js';
import type { SqlDriver } from './sql-driver.js';
import type { DueDelivery, StoredSubscription, SubscriptionRenewal, SubscriptionStore } from './subscription-store.js';

interface SubscriptionRow {
  id: string;
  tenant_id: string;
  resource: string;
  resource_kind: string;
  device_id: string | null;
  change_types: string;
  notification_url: string;
  client_state: string | null;
  signing_secret: string;
  expires_at: string | Date;
  application_id: string;
  creator_id: string;
  created_at: string | Date;
  notification_status: string;
  consecutive_failures: number;
  next_attempt_at: string | Date | null;
  last_delivery_at: string | Date | null;
  last_delivery_error: string | null;
}

interface NotificationRow {
  seq: number | string;
  change_type: string;
  resource_kind: string;
  resource_id: string;
  device_id: string | null;
  status: string | null;
  detail_type: string | null;
}

const isoOrNull = (value: string | Date | null) => (value === null ? null : iso(value));

function subscriptionFromRow(row: SubscriptionRow): StoredSubscription {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    resource: { resource: row.resource, kind: row.resource_kind as ResourceKind, deviceId: row.device_id },
    changeTypes: row.change_types.split(',') as ChangeType[],
    notificationUrl: row.notification_url,
    clientState: row.client_state,
    signingSecret: row.signing_secret,
    expirationDateTime: iso(row.expires_at),
    applicationId: row.application_id,
    creatorId: row.creator_id,
    createdDateTime: iso(row.created_at),
    notificationStatus: row.notification_status as NotificationStatus,
    consecutiveFailures: Number(row.consecutive_failures),
    nextAttemptDateTime: isoOrNull(row.next_attempt_at),
    lastDeliveryDateTime: isoOrNull(row.last_delivery_at),
    lastDeliveryError: row.last_delivery_error,
  };
}

function notificationFromRow(row: NotificationRow): PendingNotification {
  return {
    seq: Number(row.seq),
    changeType: row.change_type as ChangeType,
    kind: row.resource_kind as ResourceKind,
    resourceId: row.resource_id,
    deviceId: row.device_id,
    status: row.status,
    detailType: row.detail_type,
  };
}

const placeholders = (values: readonly unknown[]) => values.map(() => '?').join(', ');

/** The subscription statements, written once for both databases. */
export class SqlSubscriptions implements SubscriptionStore {
  constructor(private readonly sql: SqlDriver) {}

  async create(s: StoredSubscription, limit: number): Promise<boolean> {
    // Counted and inserted under the tenant's lock, so concurrent creations cannot pass the limit.
    return this.sql.transaction(async (tx) => {
      const [{ n }] = await tx.query<{ n: number | string }>('SELECT count(*) AS n FROM subscriptions WHERE tenant_id = ?', [s.tenantId]);
      if (Number(n) >= limit) return false;
      await tx.query(
        `INSERT INTO subscriptions (id, tenant_id, resource, resource_kind, device_id, change_types, notification_url, client_state,
           signing_secret, expires_at, application_id, creator_id, created_at, notification_status, consecutive_failures)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', 0)`,
        [s.id, s.tenantId, s.resource.resource, s.resource.kind, s.resource.deviceId, s.changeTypes.join(','), s.notificationUrl,
          s.clientState, s.signingSecret, s.expirationDateTime, s.applicationId, s.creatorId, s.createdDateTime],
      );
      return true;
    }, { lockKey: `subscriptions:${s.tenantId}` });
  }

  async list(tenantId: string): Promise<StoredSubscription[]> {
    const rows = await this.sql.query<SubscriptionRow>('SELECT * FROM subscriptions WHERE tenant_id = ? ORDER BY created_at, id', [tenantId]);
    return rows.map(subscriptionFromRow);
  }

  async get(tenantId: string, id: string): Promise<StoredSubscription | null> {
    const [row] = await this.sql.query<SubscriptionRow>('SELECT * FROM subscriptions WHERE tenant_id = ? AND id = ?', [tenantId, id]);
    return row ? subscriptionFromRow(row) : null;
  }

  async renew(tenantId: string, id: string, renewal: SubscriptionRenewal): Promise<StoredSubscription | null> {
    const set = ["notification_status = 'active'", 'consecutive_failures = 0', 'next_attempt_at = NULL'];
    const params: unknown[] = [];
    if (renewal.expirationDateTime !== undefined) {
      set.push('expires_at = ?');
      params.push(renewal.expirationDateTime);
    }
    if (renewal.notificationUrl !== undefined) {
      set.push('notification_url = ?');
      params.push(renewal.notificationUrl);
    }
    const [row] = await this.sql.query<SubscriptionRow>(
      `UPDATE subscriptions SET ${set.join(', ')} WHERE tenant_id = ? AND id = ? RETURNING *`, [...params, tenantId, id],
    );
    return row ? subscriptionFromRow(row) : null;
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    return this.sql.transaction(async (tx) => {
      const deleted = await tx.query('DELETE FROM subscriptions WHERE tenant_id = ? AND id = ? RETURNING id', [tenantId, id]);
      if (deleted.length === 0) return false;
      await tx.query('DELETE FROM subscription_notifications WHERE subscription_id = ?', [id]);
      return true;
    });
  }

  async fanOut(now: string, limit: number): Promise<number> {
    // A look first: an idle tick takes no write lock (SQLite has one for the whole database).
    if ((await this.sql.query('SELECT seq FROM change_events LIMIT 1')).length === 0) return 0;
    return this.sql.transaction(async (tx) => {
      const events = await tx.query<{ seq: number | string }>(`SELECT seq FROM change_events ORDER BY seq LIMIT ?${this.sql.dialect.skipLocked}`, [limit]);
      if (events.length === 0) return 0;
      const seqs = events.map((e) => Number(e.seq));
      // Deleted by the list read, never by a range: on PostgreSQL an event of a lower seq may
      // commit after this read, and must stay for the next fan-out.
      await tx.query(
        `INSERT INTO subscription_notifications (subscription_id, event_seq, change_type, resource_kind, resource_id, device_id, status, detail_type, at)
         SELECT s.id, e.seq, e.change_type, e.resource_kind, e.resource_id, e.device_id, e.status, e.detail_type, e.at
         FROM change_events e JOIN subscriptions s ON s.tenant_id = e.tenant_id AND s.resource_kind = e.resource_kind
         WHERE e.seq IN (${placeholders(seqs)})
           AND (s.device_id IS NULL OR s.device_id = e.device_id)
           AND s.notification_status = 'active' AND s.expires_at > ?
           AND (',' || s.change_types || ',') LIKE ('%,' || e.change_type || ',%')
         ORDER BY e.seq, s.id`,
        [...seqs, now],
      );
      await tx.query(`DELETE FROM change_events WHERE seq IN (${placeholders(seqs)})`, seqs);
      return seqs.length;
    });
  }

  async due(now: string, limit: number, perDelivery: number, busy: ReadonlySet<string>): Promise<DueDelivery[]> {
    const rows = await this.sql.query<SubscriptionRow>(
      `SELECT * FROM subscriptions s
       WHERE s.notification_status = 'active' AND s.expires_at > ? AND (s.next_attempt_at IS NULL OR s.next_attempt_at <= ?)
         AND EXISTS (SELECT 1 FROM subscription_notifications n WHERE n.subscription_id = s.id)
       ORDER BY s.id LIMIT ?`,
      [now, now, limit + busy.size],
    );
    const result: DueDelivery[] = [];
    for (const row of rows.filter((r) => !busy.has(r.id)).slice(0, limit)) {
      const queued = await this.sql.query<NotificationRow>(
        'SELECT * FROM subscription_notifications WHERE subscription_id = ? ORDER BY seq LIMIT ?', [row.id, perDelivery],
      );
      if (queued.length) result.push({ subscription: subscriptionFromRow(row), notifications: queued.map(notificationFromRow) });
    }
    return result;
  }

  async delivered(id: string, seqs: number[], at: string): Promise<void> {
    await this.sql.transaction(async (tx) => {
      if (seqs.length) await tx.query(`DELETE FROM subscription_notifications WHERE seq IN (${placeholders(seqs)})`, seqs);
      await tx.query(
        'UPDATE subscriptions SET consecutive_failures = 0, next_attempt_at = NULL, last_delivery_at = ?, last_delivery_error = NULL WHERE id = ?',
        [at, id],
      );
    });
  }

  async deliveryFailed(id: string, error: string, at: string, nextAttemptAt: string, suspend: boolean): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.query(
        `UPDATE subscriptions SET consecutive_failures = consecutive_failures + 1, last_delivery_error = ?, next_attempt_at = ?,
           notification_status = ? WHERE id = ?`,
        [`${at} ${error}`.slice(0, 1000), nextAttemptAt, suspend ? 'suspended' : 'active', id],
      );
      if (suspend) await tx.query('DELETE FROM subscription_notifications WHERE subscription_id = ?', [id]);
    });
  }

  async removeExpired(now: string): Promise<number> {
    if ((await this.sql.query('SELECT id FROM subscriptions WHERE expires_at <= ? LIMIT 1', [now])).length === 0) return 0;
    return this.sql.transaction(async (tx) => {
      const expired = await tx.query<{ id: string }>(`SELECT id FROM subscriptions WHERE expires_at <= ? ORDER BY id LIMIT 100${this.sql.dialect.skipLocked}`, [now]);
      if (expired.length === 0) return 0;
      const ids = expired.map((r) => r.id);
      await tx.query(`DELETE FROM subscription_notifications WHERE subscription_id IN (${placeholders(ids)})`, ids);
      await tx.query(`DELETE FROM subscriptions WHERE id IN (${placeholders(ids)})`, ids);
      return ids.length;
    });
  }
}
