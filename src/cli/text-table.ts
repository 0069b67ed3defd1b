/**
 * Rows for people and for pipes: on a terminal a header row and space-aligned columns; piped,
 * tab-separated rows without a header, as the other list commands print, so `cut -f` and
 * `awk -F'\t'` keep working (scripts that want every field use --json).
 */
export function textTable(header: string[], rows: unknown[][], terminal: boolean): string {
  const cells = rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '' : String(cell))));
  if (!terminal) return cells.map((row) => row.join('\t')).join('\n');
  const all = [header, ...cells];
  const width = (cell: string) => [...cell].length;
  const widths = header.map((_, i) => Math.max(...all.map((row) => width(row[i] ?? ''))));
  const pad = (cell: string, i: number) => cell + ' '.repeat(widths[i] - width(cell));
  return all.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : pad(cell, i))).join('  ').trimEnd()).join('\n');
}
