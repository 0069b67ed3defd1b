import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { errorRegistry } from '../../src/domain/errors.js';

/**
 * README.md's "Errors" table is the registry's documentation: every entry (status and code)
 * has a row, and every row is an entry. Several entries may share a code (Graph reuses
 * `invalidRequest`), so rows are compared as status–code pairs.
 */

const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');

/** The `| status | code | when |` rows under "## Errors", as "status code" pairs. */
function documentedErrors(markdown: string): string[] {
  const start = markdown.search(/^## Errors\s*$/m);
  assert.ok(start >= 0, 'README.md has an "## Errors" section');
  const section = markdown.slice(start).split(/^## /m)[1];
  const rows: string[] = [];
  for (const line of section.split('\n')) {
    const match = /^\|\s*(\d{3})\s*\|\s*`([^`]+)`\s*\|/.exec(line);
    if (match) rows.push(`${match[1]} ${match[2]}`);
  }
  return rows;
}

test('every registry entry is a row of README.md\'s error table, and every row is an entry', () => {
  const documented = documentedErrors(readme);
  assert.ok(documented.length > 0, 'the error table has rows');
  const registered = Object.entries(errorRegistry).map(([name, entry]) => ({ name, pair: `${entry.status} ${entry.code}` }));
  const undocumented = registered.filter(({ pair }) => !documented.includes(pair)).map(({ name, pair }) => `${name} (${pair})`);
  const unregistered = documented.filter((pair) => !registered.some((entry) => entry.pair === pair));
  assert.deepEqual({ undocumented, unregistered }, { undocumented: [], unregistered: [] },
    'README.md "Errors" and src/domain/errors.ts disagree');
});

test('the README table reader finds status–code pairs and ignores the rest of the file', () => {
  const markdown = '# x\n| 999 | `elsewhere` | no |\n## Errors\n\n| status | code | when |\n|---|---|---|\n| 400 | `invalidRequest` | bad |\n| 431 | `invalidRequest` | big |\n\n## Next\n| 500 | `later` | no |\n';
  assert.deepEqual(documentedErrors(markdown), ['400 invalidRequest', '431 invalidRequest']);
});
