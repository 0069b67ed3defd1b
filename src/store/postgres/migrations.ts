/**
 * Versioned schema for PostgreSQL; the same tables and rules as the SQLite migrations.
 * Text columns that are filtered, ordered or range-scanned use the "C" collation, so keyset
 * order and the startswith range are byte order whatever the database's default collation.
 */
export const postgresMigrations: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'devices and operations',
    sql: `
      CREATE TABLE signing_keys (
        kid text PRIMARY KEY,
        alg text NOT NULL,
        private_jwk jsonb NOT NULL,
        public_jwk jsonb NOT NULL,
        created_at timestamptz NOT NULL
      );

      CREATE TABLE devices (
        tenant_id text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        device_type text COLLATE "C" NOT NULL,
        health_status text COLLATE "C",
        activity_state text COLLATE "C",
        company_asset_tag text COLLATE "C",
        notes text COLLATE "C",
        hw_unique_id text COLLATE "C",
        hw_serial_number text COLLATE "C",
        hw_manufacturer text COLLATE "C",
        hw_model text COLLATE "C",
        hw_mac_addresses jsonb NOT NULL DEFAULT '[]',
        current_user_id text COLLATE "C",
        current_user_display_name text COLLATE "C",
        current_user_type text,
        created_at timestamptz NOT NULL,
        created_by jsonb,
        last_modified_at timestamptz NOT NULL,
        last_modified_by jsonb,
        health jsonb,
        activity jsonb,
        configuration jsonb,
        documents_seed jsonb,
        PRIMARY KEY (tenant_id, id)
      );
      CREATE INDEX devices_by_type ON devices (tenant_id, device_type, id);
      CREATE INDEX devices_by_unique_id ON devices (tenant_id, hw_unique_id, id);
      CREATE INDEX devices_by_current_user ON devices (tenant_id, current_user_id, id);

      CREATE TABLE operations (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id text NOT NULL UNIQUE,
        tenant_id text COLLATE "C" NOT NULL,
        device_id text COLLATE "C" NOT NULL,
        operation_type text NOT NULL,
        software_type text,
        software_version text,
        status text NOT NULL,
        created_at timestamptz NOT NULL,
        created_by jsonb,
        last_action_at timestamptz NOT NULL,
        last_action_by jsonb,
        started_at timestamptz,
        completed_at timestamptz,
        error_code text,
        error_message text,
        FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
      );
      CREATE INDEX operations_by_device ON operations (tenant_id, device_id, seq);
      CREATE UNIQUE INDEX operations_one_pending
        ON operations (tenant_id, device_id, operation_type, coalesce(software_type, ''))
        WHERE status IN ('queued', 'scheduled');
    `,
  },
  {
    version: 2,
    name: 'agents, engine and software catalog',
    sql: `
      ALTER TABLE devices ADD COLUMN installed jsonb NOT NULL DEFAULT '{}';
      ALTER TABLE devices ADD COLUMN credential_hash text;
      ALTER TABLE devices ADD COLUMN connection_status text;
      ALTER TABLE devices ADD COLUMN last_seen_at timestamptz;
      CREATE INDEX devices_by_id ON devices (id) WHERE credential_hash IS NOT NULL;
      CREATE INDEX devices_by_serial ON devices (tenant_id, hw_serial_number);
      CREATE INDEX devices_connected_by_last_seen ON devices (last_seen_at)
        WHERE connection_status = 'connected' AND last_seen_at IS NOT NULL;

      ALTER TABLE operations ADD COLUMN start_deadline timestamptz;
      ALTER TABLE operations ADD COLUMN run_deadline timestamptz;
      ALTER TABLE operations ADD COLUMN progress_percent integer;
      ALTER TABLE operations ADD COLUMN progress_message text;
      ALTER TABLE operations ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;
      ALTER TABLE operations ADD COLUMN result jsonb;
      CREATE UNIQUE INDEX operations_one_running ON operations (tenant_id, device_id) WHERE status = 'inProgress';
      CREATE INDEX operations_open_by_device ON operations (tenant_id, device_id, seq) WHERE status IN ('queued', 'scheduled', 'inProgress');
      CREATE INDEX operations_by_start_deadline ON operations (start_deadline) WHERE status IN ('queued', 'scheduled');
      CREATE INDEX operations_by_run_deadline ON operations (run_deadline) WHERE status = 'inProgress';

      CREATE TABLE enrollment_tokens (
        id text PRIMARY KEY,
        tenant_id text NOT NULL,
        token_hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      );

      CREATE TABLE catalog_entries (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id text NOT NULL,
        software_type text NOT NULL,
        version text NOT NULL,
        device_type text,
        model text,
        created_at timestamptz NOT NULL
      );
      CREATE UNIQUE INDEX catalog_entries_unique
        ON catalog_entries (tenant_id, software_type, version, coalesce(device_type, ''), coalesce(model, ''));
    `,
  },
  {
    version: 3,
    name: 'rate limit buckets shared by replicas',
    sql: `
      CREATE TABLE rate_buckets (
        key text PRIMARY KEY,
        tokens double precision NOT NULL,
        updated_at timestamptz NOT NULL,
        taken boolean NOT NULL DEFAULT true
      );
    `,
  },
  {
    version: 4,
    name: 'one index fewer to write per accepted operation',
    // As in SQLite: the open operations of a device are found through operations_one_pending
    // and operations_one_running, so no 202 writes this index.
    sql: `DROP INDEX operations_open_by_device;`,
  },
];
