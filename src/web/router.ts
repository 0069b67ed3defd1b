import { useEffect, useState } from 'preact/hooks';

/**
 * Hash routing: the console's paths live after `#` (`#/devices/{id}`), so they never collide
 * with the API's paths (`/teamwork/devices` exists without `/beta` too) and the server serves
 * one document.
 */
export interface Route {
  /** the path after `#`, without its query */
  path: string;
  /** the query after the path, e.g. `#/devices?health=critical` */
  query: URLSearchParams;
}

export function currentRoute(): Route {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  return { path: path || '/', query: new URLSearchParams(query) };
}

/** The current route, re-rendering on every change of the hash. */
export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

/** A link's href for a console path and its query parameters (empty values left out). */
export function href(path: string, query: Record<string, string | null | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value) params.set(name, value);
  const text = params.toString();
  return `#${path}${text ? `?${text}` : ''}`;
}

/** Goes to a console path (a new history entry, so Back returns). */
export function navigate(path: string, query: Record<string, string | null | undefined> = {}): void {
  location.hash = href(path, query);
}

/**
 * Matches a path against a pattern such as `/devices/:id`; the parameters (decoded) or null.
 */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/');
  const have = path.split('/');
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) params[want[i].slice(1)] = decodeURIComponent(have[i]);
    else if (want[i] !== have[i]) return null;
  }
  return params;
}
