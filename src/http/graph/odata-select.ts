import { badRequest } from '../../domain/errors.js';

/** Reads `$select=a,b`: names match the resource's properties case-insensitively; an unknown one is a 400. */
export function parseSelect(raw: string, selectable: readonly string[]): string[] {
  const names = raw.split(',').map((s) => s.trim());
  if (names.some((n) => n === '')) throw badRequest('Invalid $select: empty property name.');
  const result: string[] = [];
  for (const name of names) {
    const known = selectable.find((p) => p.toLowerCase() === name.toLowerCase());
    if (!known) throw badRequest(`Invalid $select: the property '${name.slice(0, 64)}' does not exist on this resource.`);
    if (!result.includes(known)) result.push(known);
  }
  return result;
}
