import type { ColumnTypes, SqlDialect } from './sql-driver.js';

/**
 * The tables of change notifications and the triggers that produce change events.
 *
 * A change is recorded by a trigger in the transaction that makes it, so no path that changes
 * a row (the group commit, a transition, the supervisor's expiry, a bulk withdrawal, a process
 * killed right after its commit) can make a change without its event, or an event without its
 * change. The trigger writes only when the tenant has a subscription to that kind of resource:
 * an EXISTS on subscriptions_by_tenant, so tenants without subscriptions pay one index probe
 * per changed row and write nothing.
 */

/** A table whose inserts and status changes become change events of one resource kind. */
export interface ChangeEventSource {
  table: string;
  /** the resource kind the events carry ('operation', 'softwareRollout') */
  kind: string;
  /** columns of the table copied into the event (null: the event has none) */
  id: string;
  status: string;
  device: string | null;
  detail: string | null;
  at: string;
}

export const operationChanges: ChangeEventSource = {
  table: 'operations', kind: 'operation', id: 'id', status: 'status', device: 'device_id', detail: 'operation_type', at: 'last_action_at',
};

/** Rollouts: created, and each change of status (running, paused, completed, cancelled). */
export const rolloutChanges: ChangeEventSource = {
  table: 'rollouts', kind: 'softwareRollout', id: 'id', status: 'status', device: null, detail: null, at: 'last_modified_at',
};

/**
 * The triggers of one source: every inserted row is a 'created' event, every UPDATE that
 * changes its status an 'updated' one. A new producer (rollouts) is one call of this in a
 * migration, plus its kind in the domain's changeNotification.
 */
export function changeEventTriggers(dialect: SqlDialect['name'], source: ChangeEventSource): string {
  const row = (r: string) => [
    `${r}.tenant_id`, `'${source.kind}'`, '$CHANGE', `${r}.${source.id}`, source.device ? `${r}.${source.device}` : 'NULL',
    `${r}.${source.status}`, source.detail ? `${r}.${source.detail}` : 'NULL', `${r}.${source.at}`,
  ].join(', ');
  const columns = 'tenant_id, resource_kind, change_type, resource_id, device_id, status, detail_type, at';
  const subscribed = (r: string) => `EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant_id = ${r}.tenant_id AND s.resource_kind = '${source.kind}')`;
  const name = `${source.table}_change_events`;
  if (dialect === 'sqlite') {
    return `
      CREATE TRIGGER ${name}_created AFTER INSERT ON ${source.table}
      WHEN ${subscribed('NEW')}
      BEGIN
        INSERT INTO change_events (${columns}) VALUES (${row('NEW').replace('$CHANGE', "'created'")});
      END;
      CREATE TRIGGER ${name}_updated AFTER UPDATE OF ${source.status} ON ${source.table}
      WHEN OLD.${source.status} IS NOT NEW.${source.status} AND ${subscribed('NEW')}
      BEGIN
        INSERT INTO change_events (${columns}) VALUES (${row('NEW').replace('$CHANGE', "'updated'")});
      END;
    `;
  }
  // Inserts come in batches (the group commit's one INSERT per batch): one statement-level
  // trigger over the batch's transition table instead of a function call per row. Status
  // changes come one row at a time (or a few hundred by the supervisor), and PostgreSQL allows
  // no transition table on a trigger with a column list, so those are per row.
  return `
    CREATE FUNCTION ${name}_created() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      INSERT INTO change_events (${columns})
        SELECT ${row('c').replace('$CHANGE', "'created'")} FROM created_rows c WHERE ${subscribed('c')};
      RETURN NULL;
    END
    $fn$;
    CREATE TRIGGER ${name}_created AFTER INSERT ON ${source.table}
      REFERENCING NEW TABLE AS created_rows FOR EACH STATEMENT EXECUTE FUNCTION ${name}_created();
    CREATE FUNCTION ${name}_updated() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      IF ${subscribed('NEW')} THEN
        INSERT INTO change_events (${columns}) VALUES (${row('NEW').replace('$CHANGE', "'updated'")});
      END IF;
      RETURN NULL;
    END
    $fn$;
    CREATE TRIGGER ${name}_updated AFTER UPDATE OF ${source.status} ON ${source.table}
      FOR EACH ROW WHEN (OLD.${source.status} IS DISTINCT FROM NEW.${source.status}) EXECUTE FUNCTION ${name}_updated();
  `;
}

/** Migration 10's tables: subscriptions, the change events the triggers write, each subscription's pending notifications. */
export function changeNotificationTables(t: ColumnTypes): string {
  return `
    CREATE TABLE subscriptions (
      id text PRIMARY KEY,
      tenant_id ${t.key} NOT NULL,
      resource text NOT NULL,
      resource_kind text NOT NULL,
      -- one device's operations; NULL: all of the tenant's
      device_id ${t.key},
      -- 'created', 'updated' or 'created,updated'
      change_types text NOT NULL,
      notification_url text NOT NULL,
      client_state text,
      -- the HMAC key of the signature header; shown once, in the reply that created it
      signing_secret text NOT NULL,
      expires_at ${t.timestamp} NOT NULL,
      application_id text NOT NULL,
      creator_id text NOT NULL,
      created_at ${t.timestamp} NOT NULL,
      -- 'active', or 'suspended' after suspendAfterFailures failed deliveries in a row
      notification_status text NOT NULL DEFAULT 'active',
      consecutive_failures integer NOT NULL DEFAULT 0,
      next_attempt_at ${t.timestamp},
      last_delivery_at ${t.timestamp},
      last_delivery_error text
    );
    -- The triggers' EXISTS, and a tenant's list.
    CREATE INDEX subscriptions_by_tenant ON subscriptions (tenant_id, resource_kind);

    -- Written by the triggers in the changing transaction; fanned out to subscriptions and deleted.
    CREATE TABLE change_events (
      seq ${t.sequenceKey},
      tenant_id ${t.key} NOT NULL,
      resource_kind text NOT NULL,
      change_type text NOT NULL,
      resource_id text NOT NULL,
      device_id ${t.key},
      status text,
      detail_type text,
      at ${t.timestamp} NOT NULL
    );

    -- A subscription's changes not yet delivered, sent in the order they were queued (seq). Not
    -- by event_seq: SQLite hands out the seq of deleted events again once change_events is empty.
    CREATE TABLE subscription_notifications (
      seq ${t.sequenceKey},
      subscription_id text NOT NULL,
      event_seq bigint NOT NULL,
      change_type text NOT NULL,
      resource_kind text NOT NULL,
      resource_id text NOT NULL,
      device_id ${t.key},
      status text,
      detail_type text,
      at ${t.timestamp} NOT NULL
    );
    CREATE INDEX subscription_notifications_by_subscription ON subscription_notifications (subscription_id, seq);
  `;
}
