/** One operation's abort signal, tied to longer-lived ones for as long as the operation runs. */
export interface LinkedAbort {
  signal: AbortSignal;
  /** Detaches the signal from its sources and clears its timer; call it when the operation ends. */
  release(): void;
}

/**
 * A signal that aborts when any of `sources` aborts (with that source's reason) or, given
 * `timeoutMs`, when the time is up (a `TimeoutError`, as AbortSignal.timeout gives).
 *
 * Not AbortSignal.any: on Node 20 a composite stays registered on each of its sources for as
 * long as the source lives (nodejs/node#55351, #64476), and even a forced GC does not drop it.
 * An agent's or the engine's stop signal lives as long as the process, so every request made
 * under it left an entry (a WeakRef in a Set) behind for ever: in `serve --simulate 500` under
 * the soak benchmark's load, 22,516 more WeakRefs after three minutes (docs/BENCHMARKS.md).
 * Here the source holds a listener only until release().
 */
export function linkedAbort(sources: readonly (AbortSignal | undefined)[], timeoutMs: number | null = null): LinkedAbort {
  const controller = new AbortController();
  const live = sources.filter((source): source is AbortSignal => source !== undefined);
  const onAbort = (event: Event) => controller.abort((event.target as AbortSignal).reason);
  let timer: NodeJS.Timeout | null = null;
  const release = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    for (const source of live) source.removeEventListener('abort', onAbort);
  };
  for (const source of live) {
    if (source.aborted) {
      controller.abort(source.reason);
      break;
    }
    source.addEventListener('abort', onAbort, { once: true });
  }
  if (!controller.signal.aborted && timeoutMs !== null) {
    timer = setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), timeoutMs);
    // like AbortSignal.timeout: a pending deadline alone does not keep the process alive
    timer.unref();
  }
  return { signal: controller.signal, release };
}
