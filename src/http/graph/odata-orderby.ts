import { badRequest } from '../../domain/errors.js';

/** One key of `$orderby`: a property the resource may be ordered by, and its direction. */
export interface OrderKey {
  property: string;
  descending: boolean;
}

const maxOrderKeys = 8;

/** Reads `$orderby=p1 desc,p2`; property names match case-insensitively, as Graph's do. */
export function parseOrderBy(raw: string, orderable: readonly string[]): OrderKey[] {
  const items = raw.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw badRequest('Invalid $orderby: empty property name.');
  if (items.length > maxOrderKeys) throw badRequest(`Invalid $orderby: at most ${maxOrderKeys} properties.`);
  const keys: OrderKey[] = [];
  for (const item of items) {
    const match = /^(\S+?)(?:\s+(asc|desc))?$/i.exec(item);
    if (!match) throw badRequest(`Invalid $orderby: '${item.slice(0, 64)}' is not a property followed by asc or desc.`);
    const property = orderable.find((name) => name.toLowerCase() === match[1].toLowerCase());
    if (!property) {
      throw badRequest(`Unsupported $orderby: the property '${match[1].slice(0, 64)}'. Supported: ${orderable.join(', ') || 'none'}.`);
    }
    if (keys.some((key) => key.property === property)) throw badRequest(`Invalid $orderby: '${property}' appears more than once.`);
    keys.push({ property, descending: match[2]?.toLowerCase() === 'desc' });
  }
  return keys;
}
