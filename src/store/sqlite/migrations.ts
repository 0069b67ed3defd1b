/**
 * Versioned schema for SQLite. A migration is never edited once released; a change is a
 * new entry. Applied in order inside one transaction each, recorded in schema_migrations.
 */
export const sqliteMigrations: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'devices and operations',
    sql: `
      CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL,
        private_jwk TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        created_at TEXT NOT NULL
      );

      CREATE TABLE devices (
        tenant_id TEXT NOT NULL,
        id TEXT NOT NULL,
        device_type TEXT NOT NULL,
        health_status TEXT,
        activity_state TEXT,
        company_asset_tag TEXT,
        notes TEXT,
        hw_unique_id TEXT,
        hw_serial_number TEXT,
        hw_manufacturer TEXT,
        hw_model TEXT,
        hw_mac_addresses TEXT NOT NULL DEFAULT '[]',
        current_user_id TEXT,
        current_user_display_name TEXT,
        current_user_type TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT,
        last_modified_at TEXT NOT NULL,
        last_modified_by TEXT,
        health TEXT,
        activity TEXT,
        configuration TEXT,
        -- generator descriptor of a seeded device whose documents are not stored (Device.generatedFrom)
        documents_seed TEXT,
        -- A rowid table: rows carry kilobytes of JSON documents, which WITHOUT ROWID handles badly.
        UNIQUE (tenant_id, id)
      );
      -- Keyset pages walk (tenant_id, <filter column>, id): one index per documented filter.
      CREATE INDEX devices_by_type ON devices (tenant_id, device_type, id);
      CREATE INDEX devices_by_unique_id ON devices (tenant_id, hw_unique_id, id);
      CREATE INDEX devices_by_current_user ON devices (tenant_id, current_user_id, id);

      CREATE TABLE operations (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        operation_type TEXT NOT NULL,
        software_type TEXT,
        software_version TEXT,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT,
        last_action_at TEXT NOT NULL,
        last_action_by TEXT,
        started_at TEXT,
        completed_at TEXT,
        error_code TEXT,
        error_message TEXT,
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
    sql: `
      ALTER TABLE devices ADD COLUMN installed TEXT NOT NULL DEFAULT '{}';
      ALTER TABLE devices ADD COLUMN credential_hash TEXT;
      ALTER TABLE devices ADD COLUMN connection_status TEXT;
      ALTER TABLE devices ADD COLUMN last_seen_at TEXT;
      -- Device credentials name the device id alone; only enrolled devices have one.
      CREATE INDEX devices_by_id ON devices (id) WHERE credential_hash IS NOT NULL;
      CREATE INDEX devices_by_serial ON devices (tenant_id, hw_serial_number);
      CREATE INDEX devices_connected_by_last_seen ON devices (last_seen_at)
        WHERE connection_status = 'connected' AND last_seen_at IS NOT NULL;

      ALTER TABLE operations ADD COLUMN start_deadline TEXT;
      ALTER TABLE operations ADD COLUMN run_deadline TEXT;
      ALTER TABLE operations ADD COLUMN progress_percent INTEGER;
      ALTER TABLE operations ADD COLUMN progress_message TEXT;
      ALTER TABLE operations ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE operations ADD COLUMN result TEXT;
      -- One at a time: at most one running operation per device, whatever its type.
      CREATE UNIQUE INDEX operations_one_running ON operations (tenant_id, device_id) WHERE status = 'inProgress';
      CREATE INDEX operations_open_by_device ON operations (tenant_id, device_id, seq) WHERE status IN ('queued', 'scheduled', 'inProgress');
      CREATE INDEX operations_by_start_deadline ON operations (start_deadline) WHERE status IN ('queued', 'scheduled');
      CREATE INDEX operations_by_run_deadline ON operations (run_deadline) WHERE status = 'inProgress';

      CREATE TABLE enrollment_tokens (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
      );

      CREATE TABLE catalog_entries (
        seq INTEGER PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        software_type TEXT NOT NULL,
        version TEXT NOT NULL,
        device_type TEXT,
        model TEXT,
        created_at TEXT NOT NULL
      );
      CREATE UNIQUE INDEX catalog_entries_unique
        ON catalog_entries (tenant_id, software_type, version, coalesce(device_type, ''), coalesce(model, ''));
    `,
  },
  {
    version: 3,
    name: 'one index fewer to write per accepted operation',
    // Every 202 wrote a leaf page of this index at a random place. The open operations of a
    // device are found through operations_one_pending and operations_one_running instead.
    sql: `DROP INDEX operations_open_by_device;`,
  },
];
