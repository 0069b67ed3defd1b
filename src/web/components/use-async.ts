import { useEffect, useState } from 'preact/hooks';

export interface Async<T> {
  value: T | null;
  error: unknown;
  loading: boolean;
  reload(): void;
}

/**
 * Runs `load` when `keys` change and whenever reload() is called; an answer that arrives after a
 * newer load started is dropped, so a slow old page never overwrites a newer one.
 */
export function useAsync<T>(load: () => Promise<T>, keys: unknown[]): Async<T> {
  const [state, setState] = useState<{ value: T | null; error: unknown; loading: boolean }>({ value: null, error: null, loading: true });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let current = true;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (value) => current && setState({ value, error: null, loading: false }),
      (error: unknown) => current && setState({ value: null, error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [...keys, generation]);
  return { ...state, reload: () => setGeneration((n) => n + 1) };
}
