import { GraphError } from '../api-client';

/** An error as the operator should read it: the server's message, its code and the request id to quote. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const graph = error instanceof GraphError ? error : null;
  return (
    <div class="error" role="alert">
      <p>{(error as Error).message || 'Something went wrong.'}</p>
      {graph && graph.status > 0 && (
        <p class="error-details">
          {graph.status} <code>{graph.code}</code>
          {graph.requestId && <> · request id <code>{graph.requestId}</code></>}
        </p>
      )}
    </div>
  );
}
