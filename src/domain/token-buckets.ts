/**
 * Token buckets in memory: for a store that only one process uses, and for limits each
 * replica keeps on its own (the agent routes'). At most `maxKeys` buckets are kept; the least
 * recently used goes first (it is then full again), so a caller with many addresses cannot
 * grow the map without bound.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly maxKeys = 100_000) {}

  /** Takes a token; null when taken, else seconds (rounded up, at least 1) until one is available. */
  take(key: string, capacity: number, perSecond: number, now: number): number | null {
    const bucket = this.buckets.get(key);
    if (bucket) this.buckets.delete(key);
    else if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    const tokens = bucket ? Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * perSecond) : capacity;
    if (tokens >= 1) {
      this.buckets.set(key, { tokens: tokens - 1, at: now });
      return null;
    }
    this.buckets.set(key, { tokens, at: now });
    return Math.max(1, Math.ceil((1 - tokens) / perSecond));
  }
}
