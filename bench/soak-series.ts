import { median } from './bench-report.js';

/** One 10-second sample of the soak benchmark's server. */
export interface SoakSample {
  /** since the load began */
  seconds: number;
  /** VmRSS, bytes */
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** process.getActiveResourcesInfo() entries other than Timeout (sockets, pipes, fs requests…) */
  handles: number;
  /** ref'd timers (Timeout entries) */
  timers: number;
  resources: Record<string, number>;
  fds: number;
  /** RSS of the server's child processes (the SQLite readers), bytes, and how many */
  readerRss: number;
  readers: number;
  /** SQLite file + WAL + shared memory, bytes */
  dbBytes: number;
  /** answers per second over the sample's 10 s, and their counts by "kind status" */
  requestsPerSecond: number;
  requests: Record<string, number>;
}

/** Samples in a reading point's median (3 × 10 s), and in a window of the count rule (6 × 10 s). */
const pointSamples = 3;
const windowSamples = 6;

export function growthOf(from: number, to: number): number {
  return (to - from) / from;
}

/**
 * RSS at the end of the warm-up and at the end (each the median of the 3 samples up to it, so
 * one sample caught mid-burst does not decide), the growth between them, the max and the
 * least-squares slope over the judged samples.
 */
export function judgeRss(samples: SoakSample[], warmupSeconds: number): { atWarmup: number; end: number; growth: number; max: number; slope: number } {
  const warm = samples.filter((s) => s.seconds <= warmupSeconds).slice(-pointSamples);
  const judged = samples.filter((s) => s.seconds > warmupSeconds);
  const atWarmup = median((warm.length ? warm : samples.slice(0, 1)).map((s) => s.rss));
  const end = median(samples.slice(-pointSamples).map((s) => s.rss));
  return { atWarmup, end, growth: growthOf(atWarmup, end), max: Math.max(...judged.map((s) => s.rss)), slope: slopePer10Minutes(judged, (s) => s.rss) };
}

/**
 * "No growth" of a count (handles, timers, open files) that moves with the load from one
 * sample to the next: the median of the last minute's samples is at most the max of the first
 * minute after the warm-up. A leak of one per operation (hundreds a minute) fails this at once;
 * the slope is printed beside it.
 */
export function judgeCount(samples: SoakSample[], warmupSeconds: number, count: (s: SoakSample) => number): { firstWindowMax: number; end: number; slope: number; met: boolean } {
  const judged = samples.filter((s) => s.seconds > warmupSeconds);
  const firstWindowMax = Math.max(...judged.slice(0, windowSamples).map(count));
  const end = median(judged.slice(-windowSamples).map(count));
  return { firstWindowMax, end, slope: slopePer10Minutes(judged, count), met: end <= firstWindowMax };
}

/** Least-squares slope of a value over time, per 10 minutes; 0 with fewer than two samples. */
export function slopePer10Minutes(samples: SoakSample[], value: (s: SoakSample) => number): number {
  if (samples.length < 2) return 0;
  const xs = samples.map((s) => s.seconds);
  const ys = samples.map(value);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 600;
}
