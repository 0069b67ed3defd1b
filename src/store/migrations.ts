// One list of every migration both databases apply, in order, and its runner. Past 400 lines
// because a migration is never edited once released: splitting the list by era would scatter
// one ordered history across files without making any entry shorter.
import { changeEventTriggers, changeNotificationTables, operationChanges, rolloutChanges } from './change-notification-schema.js';
import { freshnessColumns } from './filter-sql.js';
import { fillFreshnessColumns } from './freshness-backfill.js';
import type { ColumnTypes, SqlDialect, SqlDriver, SqlExecutor } from './sql-driver.js';
import type { SeededDocuments } from './store.js';

export interface Migration {
  version: number;
  name: string;
  /** `dialect`: for what only one database spells its own way (triggers and their functions) */
  sql: (t: ColumnTypes, dialect: SqlDialect['name']) => string;
  /** rows the new schema needs computed by the service's own rules, written after `sql` in the same transaction */
  fill?: (tx: SqlExecutor, context: MigrationContext) => Promise<void>;
}

/** What a migration's fill may need beside the database. */
export interface MigrationContext {
  /** regenerates seeded devices' documents; absent, a fill that meets a seeded device fails */
  seededDocuments?: SeededDocuments;
}

/**
 * The schema, one list for both databases: the same version numbers, tables, columns and
 * indexes (test/store/schema-drift.test.ts compares them). A migration is never edited once
 * released; a change is a new entry. Column types come from the dialect (`t`): text keys use
 * byte order everywhere ("C" collation on PostgreSQL), so keyset order and the startswith
 * range agree across databases.
 */
export const migrations: Migration[] = [
  {
    version: 1,
    name: 'devices and operations',
    sql: (t) => `
      CREATE TABLE signing_keys (
        kid text PRIMARY KEY,
        alg text NOT NULL,
        private_jwk ${t.json} NOT NULL,
        public_jwk ${t.json} NOT NULL,
        created_at ${t.timestamp} NOT NULL
      );

      CREATE TABLE devices (
        tenant_id ${t.key} NOT NULL,
        id ${t.key} NOT NULL,
        device_type ${t.key} NOT NULL,
        health_status ${t.key},
        activity_state ${t.key},
        company_asset_tag ${t.key},
        notes ${t.key},
        hw_unique_id ${t.key},
        hw_serial_number ${t.key},
        hw_manufacturer ${t.key},
        hw_model ${t.key},
        hw_mac_addresses ${t.json} NOT NULL DEFAULT '[]',
        current_user_id ${t.key},
        current_user_display_name ${t.key},
        current_user_type text,
        created_at ${t.timestamp} NOT NULL,
        created_by ${t.json},
        last_modified_at ${t.timestamp} NOT NULL,
        last_modified_by ${t.json},
        health ${t.json},
        activity ${t.json},
        configuration ${t.json},
        -- a seeded device's generator descriptor, kept instead of its documents (Device.generatedFrom)
        documents_seed ${t.json},
        -- SQLite keeps a rowid table: rows carry kilobytes of JSON, which WITHOUT ROWID handles badly.
        PRIMARY KEY (tenant_id, id)
      );
      -- Keyset pages walk (tenant_id, <filter column>, id): one index per documented filter.
      CREATE INDEX devices_by_type ON devices (tenant_id, device_type, id);
      CREATE INDEX devices_by_unique_id ON devices (tenant_id, hw_unique_id, id);
      CREATE INDEX devices_by_current_user ON devices (tenant_id, current_user_id, id);

      CREATE TABLE operations (
        seq ${t.sequenceKey},
        id text NOT NULL UNIQUE,
        tenant_id ${t.key} NOT NULL,
        device_id ${t.key} NOT NULL,
        operation_type text NOT NULL,
        software_type text,
        software_version text,
        status text NOT NULL,
        created_at ${t.timestamp} NOT NULL,
        created_by ${t.json},
        last_action_at ${t.timestamp} NOT NULL,
        last_action_by ${t.json},
        started_at ${t.timestamp},
        completed_at ${t.timestamp},
        error_code text,
        error_message text,
        FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
      );
      CREATE INDEX operations_by_device ON operations (tenant_id, device_id, seq);
      -- The 409 rule: at most one pending operation per (device, type, softwareType).
      CREATE UNIQUE INDEX operations_one_pending
        ON operations (tenant_id, device_id, operation_type, coalesce(software_type, ''))
        WHERE status IN ('queued', 'scheduled');
    `,
  },
  {
    version: 2,
    name: 'agents, engine and software catalog',
    sql: (t) => `
      ALTER TABLE devices ADD COLUMN installed ${t.json} NOT NULL DEFAULT '{}';
      ALTER TABLE devices ADD COLUMN credential_hash text;
      ALTER TABLE devices ADD COLUMN connection_status text;
      ALTER TABLE devices ADD COLUMN last_seen_at ${t.timestamp};
      -- Device credentials name the device id alone; only enrolled devices have one.
      CREATE INDEX devices_by_id ON devices (id) WHERE credential_hash IS NOT NULL;
      CREATE INDEX devices_by_serial ON devices (tenant_id, hw_serial_number);
      CREATE INDEX devices_connected_by_last_seen ON devices (last_seen_at)
        WHERE connection_status = 'connected' AND last_seen_at IS NOT NULL;

      ALTER TABLE operations ADD COLUMN start_deadline ${t.timestamp};
      ALTER TABLE operations ADD COLUMN run_deadline ${t.timestamp};
      ALTER TABLE operations ADD COLUMN progress_percent integer;
      ALTER TABLE operations ADD COLUMN progress_message text;
      ALTER TABLE operations ADD COLUMN cancel_requested ${t.boolean} NOT NULL DEFAULT false;
      ALTER TABLE operations ADD COLUMN result ${t.json};
      -- One at a time: at most one running operation per device, whatever its type.
      CREATE UNIQUE INDEX operations_one_running ON operations (tenant_id, device_id) WHERE status = 'inProgress';
      CREATE INDEX operations_open_by_device ON operations (tenant_id, device_id, seq) WHERE status IN ('queued', 'scheduled', 'inProgress');
      CREATE INDEX operations_by_start_deadline ON operations (start_deadline) WHERE status IN ('queued', 'scheduled');
      CREATE INDEX operations_by_run_deadline ON operations (run_deadline) WHERE status = 'inProgress';

      CREATE TABLE enrollment_tokens (
        id text PRIMARY KEY,
        tenant_id text NOT NULL,
        token_hash text NOT NULL UNIQUE,
        created_at ${t.timestamp} NOT NULL,
        expires_at ${t.timestamp} NOT NULL
      );

      CREATE TABLE catalog_entries (
        seq ${t.sequenceKey},
        tenant_id text NOT NULL,
        software_type text NOT NULL,
        version text NOT NULL,
        device_type text,
        model text,
        created_at ${t.timestamp} NOT NULL
      );
      CREATE UNIQUE INDEX catalog_entries_unique
        ON catalog_entries (tenant_id, software_type, version, coalesce(device_type, ''), coalesce(model, ''));
    `,
  },
  {
    version: 3,
    name: 'rate limit buckets shared by replicas',
    // Used by PostgreSQL's replicas; SQLite's single process keeps its buckets in memory, and
    // has the table only so that both databases keep one schema.
    sql: (t) => `
      CREATE TABLE rate_buckets (
        key text PRIMARY KEY,
        tokens double precision NOT NULL,
        updated_at ${t.timestamp} NOT NULL,
        taken ${t.boolean} NOT NULL DEFAULT true
      );
    `,
  },
  {
    version: 4,
    name: 'one index fewer to write per accepted operation',
    // Every 202 wrote a leaf page of this index at a random place. The open operations of a
    // device are found through operations_one_pending and operations_one_running instead.
    sql: () => `DROP INDEX operations_open_by_device;`,
  },
  {
    version: 5,
    name: 'device security: enrollment limits, credential rotation, audit log',
    sql: (t) => `
      ALTER TABLE enrollment_tokens ADD COLUMN max_uses integer;
      ALTER TABLE enrollment_tokens ADD COLUMN uses integer NOT NULL DEFAULT 0;
      ALTER TABLE enrollment_tokens ADD COLUMN revoked_at ${t.timestamp};
      ALTER TABLE enrollment_tokens ADD COLUMN description text;
      CREATE INDEX enrollment_tokens_by_tenant ON enrollment_tokens (tenant_id, created_at);

      -- 'enrolled', or 'reset' (credential revoked by an admin: its hardware may enroll again);
      -- null for devices registered without an agent (seed).
      ALTER TABLE devices ADD COLUMN enrollment_state text;
      -- A rotated credential keeps working until this time, so a device that lost the reply
      -- of its rotation is not locked out.
      ALTER TABLE devices ADD COLUMN previous_credential_hash text;
      ALTER TABLE devices ADD COLUMN previous_credential_until ${t.timestamp};
      UPDATE devices SET enrollment_state = 'enrolled' WHERE credential_hash IS NOT NULL;

      -- The device quota's count, kept by enrollments and removals rather than counted per enrollment.
      CREATE TABLE tenant_enrolled_devices (
        tenant_id text PRIMARY KEY,
        enrolled integer NOT NULL
      );
      INSERT INTO tenant_enrolled_devices (tenant_id, enrolled)
        SELECT tenant_id, count(*) FROM devices WHERE enrollment_state IS NOT NULL GROUP BY tenant_id;

      CREATE TABLE audit_events (
        seq ${t.sequenceKey},
        tenant_id ${t.key},
        at ${t.timestamp} NOT NULL,
        activity text NOT NULL,
        result text NOT NULL,
        result_reason text,
        actor_type text NOT NULL,
        actor_id text,
        actor_name text,
        source_address text,
        target_type text,
        target_id text,
        detail ${t.json},
        -- failed authentications are recorded once per source, reason and minute, with a count
        occurrences integer NOT NULL DEFAULT 1
      );
      CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, seq);
    `,
  },
  {
    version: 6,
    name: 'an index for every device filter property',
    // Each index is (tenant_id, column, id): an eq walks it in page order, and an in or a
    // startswith reads only the devices it names. Values stay far below PostgreSQL's 2,704-byte
    // limit on an index entry (displayName ≤ 256 characters, hardware fields ≤ 128). The serial
    // number's index gains the id and replaces the one the hardware lookup used.
    sql: () => `
      DROP INDEX devices_by_serial;
      CREATE INDEX devices_by_serial ON devices (tenant_id, hw_serial_number, id);
      CREATE INDEX devices_by_health ON devices (tenant_id, health_status, id);
      CREATE INDEX devices_by_activity ON devices (tenant_id, activity_state, id);
      CREATE INDEX devices_by_asset_tag ON devices (tenant_id, company_asset_tag, id);
      CREATE INDEX devices_by_notes ON devices (tenant_id, notes, id);
      CREATE INDEX devices_by_manufacturer ON devices (tenant_id, hw_manufacturer, id);
      CREATE INDEX devices_by_model ON devices (tenant_id, hw_model, id);
      CREATE INDEX devices_by_user_name ON devices (tenant_id, current_user_display_name, id);
    `,
  },
  {
    version: 7,
    name: 'indexes for $orderby on the two timestamps',
    // Every other $orderby key already has its filter index; with these, each key's first page
    // is an index range, not a sort of the tenant.
    sql: () => `
      CREATE INDEX devices_by_created ON devices (tenant_id, created_at, id);
      CREATE INDEX devices_by_last_modified ON devices (tenant_id, last_modified_at, id);
    `,
  },
  {
    version: 8,
    name: 'software artifacts',
    sql: (t) => `
      -- A catalog entry's artifact: stored by the service (artifact_url NULL) or at an external URL.
      ALTER TABLE catalog_entries ADD COLUMN artifact_sha256 text;
      ALTER TABLE catalog_entries ADD COLUMN artifact_size bigint;
      ALTER TABLE catalog_entries ADD COLUMN artifact_url text;
      -- Whether a device's tenant may download an artifact is one entry of this index.
      CREATE INDEX catalog_entries_by_artifact ON catalog_entries (tenant_id, artifact_sha256);

      -- The artifact an update was accepted with: the work poll hands it over without another read.
      ALTER TABLE operations ADD COLUMN artifact_sha256 text;
      ALTER TABLE operations ADD COLUMN artifact_size bigint;
      ALTER TABLE operations ADD COLUMN artifact_url text;

      -- Artifacts kept in the database (PostgreSQL without --artifact-dir; SQLite keeps files and
      -- has the tables only so that both databases keep one schema). A file is uploaded as
      -- chunks under an upload id, then named by its SHA-256 here once complete: a row of
      -- artifact_blobs is a whole file, and chunks no row names belong to an upload that never finished.
      CREATE TABLE artifact_blobs (
        sha256 text PRIMARY KEY,
        size bigint NOT NULL,
        upload_id ${t.key} NOT NULL,
        chunk_bytes integer NOT NULL,
        created_at ${t.timestamp} NOT NULL
      );
      CREATE TABLE artifact_chunks (
        upload_id ${t.key} NOT NULL,
        n integer NOT NULL,
        data ${t.bytes} NOT NULL,
        PRIMARY KEY (upload_id, n)
      );
    `,
  },
  {
    version: 9,
    name: 'maintenance windows',
    sql: (t) => `
      CREATE TABLE maintenance_windows (
        seq ${t.sequenceKey},
        id ${t.key} NOT NULL UNIQUE,
        tenant_id ${t.key} NOT NULL,
        display_name text NOT NULL,
        -- {"filter": text} or {"deviceIds": [...]}, as the API shows it
        target ${t.json} NOT NULL,
        -- the filter's parsed tree, compiled to SQL when a device's windows are looked up
        target_filter ${t.json},
        schedule ${t.json} NOT NULL,
        created_at ${t.timestamp} NOT NULL,
        created_by ${t.json},
        last_modified_at ${t.timestamp} NOT NULL
      );
      -- Every action reads a tenant's windows through this (none: one empty index range).
      CREATE INDEX maintenance_windows_by_tenant ON maintenance_windows (tenant_id, seq);

      -- When a scheduled operation runs: the next opening of its device's windows.
      ALTER TABLE operations ADD COLUMN scheduled_at ${t.timestamp};
      CREATE INDEX operations_due ON operations (scheduled_at) WHERE status = 'scheduled';
    `,
  },
  {
    version: 10,
    name: 'change notifications: subscriptions, change events and their triggers',
    sql: (t, dialect) => changeNotificationTables(t) + changeEventTriggers(dialect, operationChanges),
  },
  {
    version: 11,
    name: 'software rollouts',
    sql: (t) => `
      CREATE TABLE rollouts (
        tenant_id ${t.key} NOT NULL,
        -- time-ordered (UUID version 7): id order is creation order, which decides supersession
        id ${t.key} NOT NULL,
        display_name text NOT NULL,
        software_type text NOT NULL,
        software_version text,
        target ${t.json} NOT NULL,
        -- the target's $filter as the store's filter tree (null for a list of ids)
        target_filter ${t.json},
        include_new_devices ${t.boolean} NOT NULL,
        stages ${t.json} NOT NULL,
        retry ${t.json} NOT NULL,
        status text NOT NULL,
        paused_reason text,
        current_stage integer NOT NULL DEFAULT 0,
        stage_phase text,
        soak_until ${t.timestamp},
        approved_stage integer NOT NULL DEFAULT -1,
        expanded ${t.boolean} NOT NULL,
        -- where expansion continues: the last device read, in (created_at, id) order
        expansion_after ${t.json},
        accepted_failures integer NOT NULL DEFAULT 0,
        created_at ${t.timestamp} NOT NULL,
        created_by ${t.json} NOT NULL,
        last_modified_at ${t.timestamp} NOT NULL,
        started_at ${t.timestamp},
        completed_at ${t.timestamp},
        PRIMARY KEY (tenant_id, id)
      );
      -- The scheduler's one question each tick: which rollouts run.
      CREATE INDEX rollouts_by_status ON rollouts (status, id);

      CREATE TABLE rollout_devices (
        -- expansion order: stages take targets in it
        seq ${t.sequenceKey},
        tenant_id ${t.key} NOT NULL,
        rollout_id ${t.key} NOT NULL,
        device_id ${t.key} NOT NULL,
        stage integer,
        state text NOT NULL,
        skip_reason text,
        -- chosen before the operation is created: the id makes creating it again after a crash harmless
        operation_id text,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at ${t.timestamp},
        error_code text,
        error_message text,
        last_changed_at ${t.timestamp} NOT NULL,
        UNIQUE (rollout_id, device_id)
      );
      CREATE INDEX rollout_devices_by_stage ON rollout_devices (rollout_id, stage, state, seq);
      CREATE INDEX rollout_devices_by_state ON rollout_devices (rollout_id, state);
      -- Supersession: the rollouts that target one device.
      CREATE INDEX rollout_devices_by_device ON rollout_devices (tenant_id, device_id);
      CREATE INDEX rollout_devices_by_operation ON rollout_devices (operation_id);
    `,
  },
  {
    version: 12,
    name: 'change notifications of rollouts',
    sql: (_t, dialect) => changeEventTriggers(dialect, rolloutChanges),
  },
  {
    version: 13,
    name: "the tenant's operations newest first; audit events by activity",
    // GET /teamwork/devices/operations reads a page as one or a few ranges of these (operation-pages.ts).
    // A new operation's entries go at the end of its tenant's ranges (created_at grows), not at
    // random leaves, so the 202's insert dirties pages it is already writing.
    sql: () => `
      CREATE INDEX operations_by_tenant ON operations (tenant_id, created_at, seq);
      CREATE INDEX operations_by_status ON operations (tenant_id, status, operation_type, created_at, seq);
      -- GET /teamwork/auditEvents?$filter=activity eq '…': a page is one range of this.
      CREATE INDEX audit_events_by_activity ON audit_events (tenant_id, activity, seq);
    `,
  },
  {
    version: 14,
    name: "each software type's freshness as its own column",
    // What `$filter` on health/softwareUpdateHealth/…/softwareFreshness compares: the value the
    // device's health document holds, kept on every device write (rows.ts freshnessValues).
    // Indexed like every filter property: the overview counts each value of each software type,
    // and a count read from an index costs milliseconds where a scan of a large tenant costs seconds.
    sql: (t) => Object.values(freshnessColumns)
      .map((column) => `ALTER TABLE devices ADD COLUMN ${column} ${t.key};\nCREATE INDEX devices_by_${column} ON devices (tenant_id, ${column}, id);`)
      .join('\n'),
    fill: (tx, context) => fillFreshnessColumns(tx, context.seededDocuments),
  },
];

/**
 * Before the two lists became one, SQLite files recorded the index drop as version 3
 * (PostgreSQL's 3 was the rate buckets). Such a file is renumbered to the one list, then
 * migrates on like any other (it gains version 3).
 */
const renumberLegacySqlite = `UPDATE schema_migrations SET version = 4
  WHERE version = 3 AND name = 'one index fewer to write per accepted operation'
    AND NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = 4)`;

/**
 * Applies pending migrations in order, in one transaction that replicas (or processes opening
 * a new SQLite file together) take in turn, so each version is applied exactly once.
 */
export async function migrate(driver: SqlDriver, list: Migration[] = migrations, context: MigrationContext = {}): Promise<void> {
  const t = driver.dialect.types;
  await driver.transaction(async (tx) => {
    await tx.script(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at ${t.timestamp} NOT NULL)`);
    await tx.query(renumberLegacySqlite);
    const done = new Set((await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)));
    for (const migration of list) {
      if (done.has(migration.version)) continue;
      await tx.script(migration.sql(t, driver.dialect.name));
      await migration.fill?.(tx, context);
      await tx.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        migration.version, migration.name, new Date().toISOString(),
      ]);
    }
  }, { lockKey: 'schema-migrations', unlimitedTime: true });
}
