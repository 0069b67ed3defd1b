import type { ActionName } from '../domain/operation.js';
import { graphErrorOfAnswer, retryAfterSeconds, type BatchResponse, type GraphClient } from './graph-client.js';

/** What became of one device's request: 202, 409, a version not offered it, anything else. */
export type BulkResult = 'accepted' | 'alreadyPending' | 'notOffered' | 'failed';

export interface DeviceResult {
  id: string;
  result: BulkResult;
  /** the HTTP status of the device's own request */
  status: number;
  /** the operation's path (`Location`), when accepted */
  operation?: string;
  /** the Graph error, when not accepted */
  error?: { code: string; message: string };
}

/** An action asked of every device a `$filter` matches. */
export interface BulkAction {
  action: ActionName;
  /** the action's body (updateSoftware's); none for restart and runDiagnostics */
  body?: unknown;
  filter: string;
}

/** Graph's limit of requests in one `$batch`. */
export const batchSize = 20;
/**
 * Batches in flight at once. The server runs 8 requests of all batches at a time, so more
 * batches only queue there; a few keep it busy while answers travel. (5,000 restarts against
 * SQLite on a shared 2-core machine: 1 batch 10.7 s, 3 batches 9.2 s, 6 batches 7.0 s and
 * 10.9 s in two runs: the server sets the pace.)
 */
const batchesInFlight = 3;
/** Rounds of a device's request that was throttled (429) or shed (503) before it counts as failed. */
const maxThrottledRounds = 8;
/** Devices per listing page: Graph's maximum `$top`. */
const pageSize = 50;

/**
 * Asks the action of every device the filter matches, page by page (only ids, `$select=id`,
 * following `@odata.nextLink`, so a fleet is never held in memory), 20 requests per `$batch`,
 * a few batches in flight. A device's request answered 429 or 503 is sent again after the
 * `Retry-After` its answer gives. `onResult` sees each device's result as it arrives.
 */
export async function askDevices(graph: GraphClient, action: BulkAction, onResult: (result: DeviceResult) => void): Promise<void> {
  await eachConcurrently(idChunks(graph, action.filter), batchesInFlight, async (ids) => {
    for (const result of await askChunk(graph, action, ids)) onResult(result);
  });
}

/** How many devices the filter matches now (`/$count`), or null when the server cannot say. */
export async function countDevices(graph: GraphClient, filter: string): Promise<number | null> {
  const count = await graph.get<unknown>(`/beta/teamwork/devices/$count?${new URLSearchParams({ $filter: filter })}`);
  return typeof count === 'number' ? count : null;
}

/** The ids of the matching devices, 20 at a time, read a page at a time as they are needed. */
async function* idChunks(graph: GraphClient, filter: string): AsyncGenerator<string[]> {
  let next: string | undefined = `/beta/teamwork/devices?${new URLSearchParams({ $filter: filter, $select: 'id', $top: String(pageSize) })}`;
  let chunk: string[] = [];
  while (next) {
    const page: { value: { id: string }[]; '@odata.nextLink'?: string } = await graph.get(next);
    for (const device of page.value) {
      chunk.push(device.id);
      if (chunk.length === batchSize) {
        yield chunk;
        chunk = [];
      }
    }
    next = page['@odata.nextLink'];
  }
  if (chunk.length > 0) yield chunk;
}

/** One batch of the action for up to 20 devices, throttled requests sent again until answered or out of rounds. */
async function askChunk(graph: GraphClient, action: BulkAction, ids: string[]): Promise<DeviceResult[]> {
  const results = new Map<string, DeviceResult>();
  let waiting = ids;
  for (let round = 1; waiting.length > 0; round++) {
    const answers = await graph.batch(waiting.map((id, i) => ({
      id: String(i),
      method: 'POST' as const,
      url: `/teamwork/devices/${encodeURIComponent(id)}/${action.action}`,
      body: action.body,
    })));
    const again: string[] = [];
    let wait = 0;
    answers.forEach((answer, i) => {
      const id = waiting[i];
      if ((answer.status === 429 || answer.status === 503) && round < maxThrottledRounds) {
        again.push(id);
        wait = Math.max(wait, retryAfterSeconds(answer.headers['Retry-After']));
      } else {
        results.set(id, resultOf(id, action, answer));
      }
    });
    if (again.length > 0) await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    waiting = again;
  }
  return ids.map((id) => results.get(id)!);
}

/**
 * A device's answer as a result. For updateSoftware, a 404 is the catalog not offering the
 * named version to the device's type and model, and a 400 the catalog having no version of the
 * software for it (the body was checked before anything was sent, so it is not the body).
 */
function resultOf(id: string, action: BulkAction, answer: BatchResponse): DeviceResult {
  if (answer.status === 202) return { id, result: 'accepted', status: 202, operation: answer.headers.Location };
  const { code, detail } = graphErrorOfAnswer('POST', '', answer);
  const error = { code: code ?? `http${answer.status}`, message: detail };
  const notOffered = action.action === 'updateSoftware' && (answer.status === 404 || answer.status === 400);
  const result: BulkResult = answer.status === 409 ? 'alreadyPending' : notOffered ? 'notOffered' : 'failed';
  return { id, result, status: answer.status, error };
}

/**
 * Runs `work` on each item, at most `limit` at a time, pulling items only as a worker is free
 * (so a generator reading pages is read no faster than the work goes). The first error stops
 * the pulling and is thrown once the work in flight has ended.
 */
export async function eachConcurrently<T>(items: AsyncIterable<T> | Iterable<T>, limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const iterator = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : (items as Iterable<T>)[Symbol.iterator]();
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (!failure) {
      try {
        const next = await iterator.next();
        if (next.done) return;
        await work(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  if (failure) throw (failure as { error: unknown }).error;
}
