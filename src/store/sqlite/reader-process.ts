import Database from 'better-sqlite3';

/**
 * A reader process: runs the reads that may examine thousands of rows on its own read-only
 * connection to the WAL file, so they hold this process and not the event loop that serves
 * requests. One statement at a time; each answer carries its request's id. It ends with its
 * parent (the IPC channel closes).
 */
const db = new Database(process.argv[2], { readonly: true });
db.pragma('cache_size = -65536');
const statements = new Map<string, Database.Statement>();

process.on('message', (message: { id: number; sql: string; params: unknown[] }) => {
  try {
    let statement = statements.get(message.sql);
    if (!statement) {
      if (statements.size >= 500) statements.clear();
      statements.set(message.sql, (statement = db.prepare(message.sql)));
    }
    process.send!({ id: message.id, rows: statement.all(...message.params) });
  } catch (error) {
    process.send!({ id: message.id, failure: { error: (error as Error).message, code: (error as { code?: string }).code ?? null } });
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
