import { randomUUID } from 'node:crypto';

/**
 * A new operation id: a GUID whose first 48 bits are the creation time in milliseconds
 * (the UUID version 7 layout, RFC 9562). Ids created close together sort together, so each
 * 202 appends to the end of the id index instead of writing a leaf page at a random place.
 * The other 74 bits come from randomUUID (its variant bits kept), so ids stay unguessable.
 */
export function newOperationId(now = Date.now()): string {
  const random = randomUUID(); // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}
