import type { TestServer } from './test-server.js';

/** One server-sent event as a client reads it: a `data:` event's JSON, or a comment line. */
export type StreamItem = { data: Record<string, unknown> } | { comment: string };

/**
 * An open `text/event-stream` response read the way the console reads it (fetch and a stream
 * reader): `next` waits for the next event or comment, null when the server ended the stream.
 */
export class EventStreamReader {
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private readonly queued: StreamItem[] = [];

  constructor(readonly response: Response, private readonly abort: AbortController) {
    this.reader = response.body!.getReader();
  }

  async next(timeoutMs = 10_000): Promise<StreamItem | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.queued.length === 0) {
      const chunk = await Promise.race([
        this.reader.read(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), Math.max(0, deadline - Date.now()))),
      ]);
      if (chunk.done) return null;
      this.buffer += this.decoder.decode(chunk.value, { stream: true });
      let end: number;
      while ((end = this.buffer.indexOf('\n\n')) !== -1) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        for (const line of block.split('\n')) {
          if (line.startsWith('data: ')) this.queued.push({ data: JSON.parse(line.slice(6)) as Record<string, unknown> });
          else if (line.startsWith(':')) this.queued.push({ comment: line.slice(1).trim() });
        }
      }
    }
    return this.queued.shift()!;
  }

  /** The next `data:` event, passing over heartbeats; null when the stream ended. */
  async nextData(timeoutMs = 10_000): Promise<Record<string, unknown> | null> {
    for (;;) {
      const item = await this.next(timeoutMs);
      if (!item || 'data' in item) return item?.data ?? null;
    }
  }

  /** Hangs up, as a browser tab that closes. */
  close(): void {
    this.abort.abort();
  }
}

/** GET an operation's event stream (as tenant A unless a token is given); the reader when it answered 200. */
export async function openOperationEvents(server: TestServer, deviceId: string, operationId: string, token?: string): Promise<{ response: Response; stream: EventStreamReader | null }> {
  const abort = new AbortController();
  const response = await server.request(`/beta/teamwork/devices/${deviceId}/operations/${operationId}/events`, { token, signal: abort.signal });
  return { response, stream: response.status === 200 ? new EventStreamReader(response, abort) : null };
}
