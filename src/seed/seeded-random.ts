/** A source of uniform numbers in [0, 1); injected so that simulations can be replayed. */
export interface RandomSource {
  next(): number;
}

/** Math.random as a RandomSource, for callers that need no replay. */
export const unseededRandom: RandomSource = { next: Math.random };

/**
 * mulberry32: a small, fast, seeded PRNG, good enough for demo data, jitter and dice rolls.
 * `reseed` restarts the stream in place, so the device generator can give every device its
 * own stream without allocating one per device.
 */
export class SeededRandom implements RandomSource {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  reseed(seed: number): void {
    this.state = seed | 0;
  }

  /** the next 32 random bits, as an unsigned integer */
  next32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  next(): number {
    return this.next32() / 4294967296;
  }

  /** a whole number in [0, n) */
  int(n: number): number {
    return (this.next() * n) | 0;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

/** FNV-1a of a text: a stable 32-bit seed from, e.g., a tenant id or a hardware id. */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** `ms` ± `fraction` (0.3 = ±30 %), never negative. */
export function jitter(ms: number, fraction: number, random: RandomSource): number {
  return Math.max(0, ms * (1 + (random.next() * 2 - 1) * fraction));
}

/** Exponential backoff for the n-th consecutive failure (n ≥ 1), "equal jitter", capped. */
export function backoffMs(attempt: number, random: RandomSource, baseMs = 250, capMs = 5000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(20, Math.max(0, attempt - 1)));
  return ceiling / 2 + random.next() * (ceiling / 2);
}
