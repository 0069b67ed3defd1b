import { useEffect, useState } from 'preact/hooks';
import { getJson, type Collection } from '../api-client';
import { useAsync, type Async } from './use-async';

/** A collection read a page at a time: the shown page, and moves along its `@odata.nextLink`s. */
export interface Pages<T> {
  page: Async<Collection<T>>;
  /** 1 for the first page */
  number: number;
  previous: (() => void) | null;
  next: (() => void) | null;
}

/**
 * Pages of a collection through the API (`$top`, then `@odata.nextLink`; Previous goes back
 * through the links already followed), never the whole collection at once. A new `first`
 * (another filter) starts again at its first page; `version` reloads the shown page.
 */
export function usePages<T>(first: string, version = 0): Pages<T> {
  const [trail, setTrail] = useState<string[]>([]);
  useEffect(() => setTrail([]), [first]);
  const link = trail.at(-1) ?? first;
  const page = useAsync(() => getJson<Collection<T>>(link), [link, version]);
  const next = page.value?.['@odata.nextLink'];
  return {
    page,
    number: trail.length + 1,
    previous: trail.length > 0 && !page.loading ? () => setTrail(trail.slice(0, -1)) : null,
    next: next && !page.loading ? () => setTrail([...trail, next]) : null,
  };
}

/** Previous and Next buttons for a paged list. */
export function Pager({ pages }: { pages: Pages<unknown> }) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={!pages.previous} onClick={() => pages.previous?.()}>Previous</button>
      <button type="button" disabled={!pages.next} onClick={() => pages.next?.()}>Next</button>
    </nav>
  );
}
