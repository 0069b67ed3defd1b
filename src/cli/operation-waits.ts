import { terminalStatuses, type OperationStatus } from '../domain/operation.js';
import { batchSize, eachConcurrently } from './bulk-actions.js';
import { graphErrorOfAnswer, UnreachableError, type GraphClient } from './graph-client.js';

/** An accepted operation followed to its end: where it is, and what it was when last read. */
export interface FollowedOperation {
  deviceId: string;
  /** its path, as the 202's `Location` gave it (`/teamwork/devices/{id}/operations/{id}`) */
  location: string;
  status: string;
  error: { code: string; message: string } | null;
}

/** Batches of reads in flight at once while following: polling must not crowd out the devices' own traffic. */
const pollBatchesInFlight = 2;
/** Consecutive passes that could not reach the server a wait rides out (a restart), as `rollouts get --wait` does. */
const maxMissedPasses = 30;

export const ended = (status: string) => terminalStatuses.includes(status as OperationStatus);

/**
 * Reads every operation not yet ended, 20 per `$batch`, two batches at a time, then waits
 * `intervalMs` and reads those still open again, until all have ended. `onPass` is called after
 * each batch's answers were applied. An operation that no longer exists (its device was
 * removed) ends as failed with the 404's error; a read throttled (429, 503) is read next pass.
 */
export async function followOperations(
  graph: GraphClient,
  operations: FollowedOperation[],
  options: { intervalMs: number; onPass: () => void },
): Promise<void> {
  let open = operations.filter((o) => !ended(o.status));
  let missed = 0;
  while (open.length > 0) {
    try {
      await eachConcurrently(chunksOf(open, batchSize), pollBatchesInFlight, async (chunk) => {
        const answers = await graph.batch(chunk.map((o, i) => ({ id: String(i), method: 'GET' as const, url: o.location })));
        answers.forEach((answer, i) => {
          const operation = chunk[i];
          if (answer.status === 200) {
            const body = answer.body as { status: string; error: { code: string; message: string } | null };
            operation.status = body.status;
            operation.error = body.error ?? null;
          } else if (answer.status === 404) {
            const { code, detail } = graphErrorOfAnswer('GET', operation.location, answer);
            operation.status = 'failed';
            operation.error = { code: code ?? 'itemNotFound', message: detail };
          } else if (answer.status !== 429 && answer.status !== 503) {
            throw graphErrorOfAnswer('GET', operation.location, answer);
          }
        });
        options.onPass();
      });
      missed = 0;
    } catch (error) {
      if (!(error instanceof UnreachableError) || ++missed > maxMissedPasses) throw error;
    }
    open = open.filter((o) => !ended(o.status));
    if (open.length > 0) await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}

function* chunksOf<T>(items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
