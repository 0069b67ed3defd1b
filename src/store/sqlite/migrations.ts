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
        health TEXT NOT NULL DEFAULT '{}',
        activity TEXT NOT NULL DEFAULT '{}',
        configuration TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (tenant_id, id)
      ) WITHOUT ROWID;
      -- Keyset pages walk (tenant_id, <filter column>, id): one index per documented filter.
      CREATE INDEX devices_by_type ON devices (tenant_id, device_type, id);
      CREATE INDEX devices_by_unique_id ON devices (tenant_id, hw_unique_id, id);
      CREATE INDEX devices_by_current_user ON devices (tenant_id, current_user_id, id);
      CREATE INDEX devices_by_health ON devices (tenant_id, health_status, id);

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
];
