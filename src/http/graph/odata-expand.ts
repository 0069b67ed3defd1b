import { badRequest } from '../../domain/errors.js';
import { parseSelect } from './odata-select.js';

/** One navigation property to expand, with the properties its nested `$select` keeps (null: all). */
export interface ExpandItem {
  property: string;
  select: string[] | null;
}

/**
 * Reads `$expand=health($select=connection),operations` or `*`. Names match
 * case-insensitively; inside the parentheses only `$select` is honoured, anything else is a 400.
 */
export function parseExpand(raw: string, expandable: Readonly<Record<string, readonly string[]>>): ExpandItem[] {
  const names = Object.keys(expandable);
  const items: ExpandItem[] = [];
  const add = (item: ExpandItem) => {
    if (items.some((known) => known.property === item.property)) throw badRequest(`Invalid $expand: '${item.property}' appears more than once.`);
    items.push(item);
  };
  for (const part of splitTopLevel(raw)) {
    const match = /^\s*([^()\s]+)\s*(?:\((.*)\))?\s*$/s.exec(part);
    if (!match) throw badRequest(`Invalid $expand: '${part.slice(0, 64)}'.`);
    const [, name, nested] = match;
    if (name === '*') {
      if (nested !== undefined) throw badRequest('Invalid $expand: options cannot follow *.');
      for (const property of names) add({ property, select: null });
      continue;
    }
    const property = names.find((known) => known.toLowerCase() === name.toLowerCase());
    if (!property) throw badRequest(`Unsupported $expand: '${name.slice(0, 64)}'. Supported: ${names.join(', ') || 'none'}, *.`);
    add({ property, select: nested === undefined ? null : nestedSelect(nested, property, expandable[property]) });
  }
  return items;
}

function nestedSelect(nested: string, property: string, selectable: readonly string[]): string[] | null {
  let select: string[] | null = null;
  for (const option of nested.split(';').map((o) => o.trim()).filter((o) => o !== '')) {
    const [name, ...value] = option.split('=');
    if (name.replace(/^\$/, '').toLowerCase() !== 'select' || value.length === 0) {
      throw badRequest(`Unsupported $expand: the option '${name.slice(0, 32)}' inside ${property}(…); only $select is supported there.`);
    }
    if (select) throw badRequest(`Invalid $expand: $select appears more than once inside ${property}(…).`);
    select = parseSelect(value.join('='), selectable);
  }
  return select;
}

/** Splits at commas outside parentheses; unbalanced parentheses are a 400. */
function splitTopLevel(raw: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '(') depth++;
    else if (raw[i] === ')' && --depth < 0) break;
    else if (raw[i] === ',' && depth === 0) {
      parts.push(raw.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) throw badRequest('Invalid $expand: unbalanced parentheses.');
  parts.push(raw.slice(start));
  if (parts.some((part) => part.trim() === '')) throw badRequest('Invalid $expand: empty item.');
  return parts;
}
