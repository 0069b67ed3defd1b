/** A source of uniform numbers in [0, 1); injected so that simulations can be replayed. */
export type RandomSource = () => number;

/** mulberry32: a small, fast, seeded PRNG; good enough for jitter and dice rolls. */
export function mulberry32(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of a text: a stable 32-bit seed for a device from, e.g., its hardware id. */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** `ms` ± `fraction` (0.3 = ±30 %), never negative. */
export function jitter(ms: number, fraction: number, random: RandomSource): number {
  return Math.max(0, ms * (1 + (random() * 2 - 1) * fraction));
}

/** Exponential backoff for the n-th consecutive failure (n ≥ 1), "equal jitter", capped. */
export function backoffMs(attempt: number, random: RandomSource, baseMs = 250, capMs = 5000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(20, Math.max(0, attempt - 1)));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** Picks one element uniformly. */
export function pickOne<T>(items: readonly T[], random: RandomSource): T {
  return items[Math.floor(random() * items.length)];
}
