import Database from 'better-sqlite3';
import pg from 'pg';

/**
 * A migrated database's schema in the terms both databases can state: tables with their
 * columns (nullability), the migrations applied, and the indexes the migrations created
 * (not those a database makes for its own keys) with their table, uniqueness, partiality and
 * columns (null for an expression). Column types are left out: each dialect spells them its way.
 */
export interface DatabaseSchema {
  versions: number[];
  tables: Record<string, Record<string, { notNull: boolean }>>;
  indexes: Record<string, { table: string; unique: boolean; partial: boolean; columns: (string | null)[] }>;
}

const ordered = <T>(entries: [string, T][]): Record<string, T> => Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export function sqliteSchema(path: string): DatabaseSchema {
  const db = new Database(path, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
    const indexes = db.prepare("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").all() as { name: string; tbl_name: string }[];
    return {
      versions: (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[]).map((r) => r.version),
      tables: ordered(tables.map(({ name }) => [name, ordered(
        (db.prepare(`PRAGMA table_info("${name}")`).all() as { name: string; notnull: number; pk: number }[])
          // a key column is never null, whether or not its declaration says so
          .map((c) => [c.name, { notNull: c.notnull === 1 || c.pk > 0 }]),
      )])),
      indexes: ordered(indexes.map(({ name, tbl_name }) => {
        const list = (db.prepare(`PRAGMA index_list("${tbl_name}")`).all() as { name: string; unique: number; partial: number }[]).find((i) => i.name === name)!;
        const columns = (db.prepare(`PRAGMA index_xinfo("${name}")`).all() as { name: string | null; key: number; cid: number }[])
          .filter((c) => c.key === 1)
          .map((c) => (c.cid === -2 ? null : c.name));
        return [name, { table: tbl_name, unique: list.unique === 1, partial: list.partial === 1, columns }];
      })),
    };
  } finally {
    db.close();
  }
}

export async function postgresSchema(url: string): Promise<DatabaseSchema> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const columns = (await client.query<{ table_name: string; column_name: string; is_nullable: string }>(
      "SELECT table_name, column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'public'",
    )).rows;
    const indexes = (await client.query<{ name: string; table: string; unique: boolean; partial: boolean; columns: (string | null)[] }>(
      `SELECT i.relname AS name, t.relname AS table, x.indisunique AS unique, x.indpred IS NOT NULL AS partial,
         array(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
               LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace s ON s.oid = t.relnamespace
       WHERE s.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)`,
    )).rows;
    const tables = new Map<string, [string, { notNull: boolean }][]>();
    for (const c of columns) {
      if (!tables.has(c.table_name)) tables.set(c.table_name, []);
      tables.get(c.table_name)!.push([c.column_name, { notNull: c.is_nullable === 'NO' }]);
    }
    return {
      versions: (await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version),
      tables: ordered([...tables].map(([name, cols]) => [name, ordered(cols)])),
      indexes: ordered(indexes.map(({ name, ...index }) => [name, index])),
    };
  } finally {
    await client.end();
  }
}
