/** What a GET asks of a representation: all of it, one part, or a part past its end. */
export type ByteRange =
  | { kind: 'whole' }
  | { kind: 'part'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const whole: ByteRange = { kind: 'whole' };

/**
 * The range a GET's `Range` and `If-Range` headers ask for (RFC 9110 §13.1.5, §14), of a
 * representation of `size` bytes whose strong ETag is `etag`. One range is served:
 * `bytes=a-b`, `bytes=a-` and `bytes=-n`. What the RFC lets a server ignore is ignored, so
 * the whole is sent: several ranges, other units, a malformed or backwards range, and an
 * `If-Range` that is not this ETag (a date, a weak or another tag: the client's partial copy is
 * of other bytes, and a part of these would corrupt it). Only a first byte at or past the end
 * is unsatisfiable (416).
 */
export function requestedRange(range: string | undefined, ifRange: string | undefined, etag: string, size: number): ByteRange {
  if (range === undefined) return whole;
  if (ifRange !== undefined && ifRange.trim() !== etag) return whole;
  const match = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i.exec(range);
  if (!match || (match[1] === '' && match[2] === '')) return whole;
  if (match[1] === '') {
    const length = Number(match[2]);
    return length === 0 ? { kind: 'unsatisfiable' } : { kind: 'part', start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(match[1]);
  const last = match[2] === '' ? Infinity : Number(match[2]);
  if (last < start) return whole;
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'part', start, end: Math.min(last, size - 1) };
}
