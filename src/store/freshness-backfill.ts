import type { GeneratedFrom } from '../domain/device.js';
import { freshnessColumns } from './filter-sql.js';
import { freshnessValues, parsed } from './rows.js';
import type { SqlExecutor } from './sql-driver.js';
import type { SeededDocuments } from './store.js';

/** Devices read and written per step: 500 rows × 8 values stays far inside both databases' parameter limits. */
const devicesPerStep = 500;

/**
 * Fills the freshness columns (migration 14) of every device already stored, from its health
 * document, a step of devices at a time in key order: stored documents are read as they are,
 * seeded devices' documents are regenerated from their descriptors (which is why a store that
 * migrates a database holding seeded devices needs `seededDocuments`). Each step is one UPDATE
 * joined to a VALUES list, whose columns both databases name column1, column2, …
 */
export async function fillFreshnessColumns(tx: SqlExecutor, seededDocuments: SeededDocuments | undefined): Promise<void> {
  const columns = Object.values(freshnessColumns);
  let after: [string, string] = ['', ''];
  for (;;) {
    const rows = await tx.query<{ tenant_id: string; id: string; health: unknown; documents_seed: unknown }>(
      'SELECT tenant_id, id, health, documents_seed FROM devices WHERE (tenant_id, id) > (?, ?) ORDER BY tenant_id, id LIMIT ?',
      [...after, devicesPerStep],
    );
    if (rows.length === 0) return;
    const params: unknown[] = [];
    for (const row of rows) {
      const values = freshnessValues(healthOf(row, seededDocuments));
      params.push(row.tenant_id, row.id, ...columns.map((column) => values[column]));
    }
    const tuple = `(${['?', '?', ...columns.map(() => '?')].join(', ')})`;
    await tx.query(
      `UPDATE devices SET ${columns.map((column, i) => `${column} = step.column${i + 3}`).join(', ')}
       FROM (VALUES ${rows.map(() => tuple).join(', ')}) AS step
       WHERE devices.tenant_id = step.column1 AND devices.id = step.column2`,
      params,
    );
    const last = rows[rows.length - 1];
    after = [last.tenant_id, last.id];
  }
}

function healthOf(row: { tenant_id: string; health: unknown; documents_seed: unknown }, seededDocuments: SeededDocuments | undefined): Record<string, unknown> {
  if (row.health !== null) return parsed(row.health);
  if (row.documents_seed === null) return {};
  if (!seededDocuments) throw new Error('Migration 14 reads seeded devices\' health documents: open this database with the seeded documents source (teamwork-devices serve, migrate, seed or token).');
  return seededDocuments(row.tenant_id, parsed<GeneratedFrom>(row.documents_seed)).health;
}
