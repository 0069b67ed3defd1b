/** Paths of device-list pages, found by following `@odata.nextLink` as a client would. */

export const devicesPath = '/beta/teamwork/devices';

export function listPath(options: Record<string, string>): string {
  const query = Object.entries(options)
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
    .join('&');
  return `${devicesPath}?${query}`;
}

export interface FetchedPage {
  status: number;
  bytes: number;
  items: number;
  nextPath: string | null;
}

export async function fetchPage(baseUrl: string, path: string, headers: Record<string, string>): Promise<FetchedPage> {
  const response = await fetch(baseUrl + path, { headers });
  const text = await response.text();
  if (response.status !== 200) return { status: response.status, bytes: text.length, items: 0, nextPath: null };
  const body = JSON.parse(text) as { value: unknown[]; '@odata.nextLink'?: string };
  const next = body['@odata.nextLink'];
  const nextUrl = next ? new URL(next) : null;
  return { status: 200, bytes: Buffer.byteLength(text), items: body.value.length, nextPath: nextUrl ? nextUrl.pathname + nextUrl.search : null };
}

/**
 * Follows nextLink from `firstPath` up to `depth` times; returns the path of the deepest page
 * reached (a `$skiptoken` page) and how many pages deep it is (1 = the first page).
 */
export async function deepPagePath(baseUrl: string, firstPath: string, headers: Record<string, string>, depth: number): Promise<{ path: string; page: number }> {
  let path = firstPath;
  let page = 1;
  while (page <= depth) {
    const fetched = await fetchPage(baseUrl, path, headers);
    if (fetched.status !== 200) throw new Error(`GET ${path} answered ${fetched.status}`);
    if (!fetched.nextPath) break;
    path = fetched.nextPath;
    page++;
  }
  return { path, page };
}
