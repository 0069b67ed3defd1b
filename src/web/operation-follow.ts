import type { OperationStatus } from '../domain/operation';
import { apiFetch, getJson } from './api-client';
import type { OperationJson } from './graph-types';

const terminal: readonly OperationStatus[] = ['successful', 'failed', 'cancelled'];

/** Whether an operation has ended (successful, failed or cancelled). */
export function hasEnded(operation: OperationJson): boolean {
  return terminal.includes(operation.status);
}

/** How often the fallback asks again when the server has no event stream. */
const pollMs = 1000;

/**
 * Follows an operation until it ends, calling `onChange` with each state: from the server's
 * event stream (`…/events`, read with fetch because it needs the bearer token, which
 * EventSource cannot send), or by asking again every second when the server has none or the
 * stream breaks. `operationPath` is the action's `Location`.
 */
export async function followOperation(operationPath: string, onChange: (operation: OperationJson) => void, signal: AbortSignal): Promise<void> {
  let latest: OperationJson | null = null;
  const seen = (operation: OperationJson) => {
    latest = operation;
    onChange(operation);
  };
  try {
    await readEvents(operationPath, seen, signal);
  } catch {
    // no stream here (404), or it broke: asking again below is enough
  }
  while (!signal.aborted && !(latest && hasEnded(latest))) {
    seen(await getJson<OperationJson>(operationPath));
    if (hasEnded(latest!)) break;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Reads `text/event-stream` events (`data:` lines, an empty line ending each) until the stream ends. */
async function readEvents(operationPath: string, onEvent: (operation: OperationJson) => void, signal: AbortSignal): Promise<void> {
  const response = await apiFetch(`${operationPath}/events`, { headers: { accept: 'text/event-stream' }, signal });
  if (!response.body || !/^text\/event-stream/.test(response.headers.get('content-type') ?? '')) throw new Error('not an event stream');
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).replace(/^ /, '')).join('\n');
      if (data) onEvent(JSON.parse(data) as OperationJson);
    }
  }
}
