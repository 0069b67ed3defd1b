import { useEffect, useState } from 'preact/hooks';
import { getJson, type Collection } from '../api-client';
import type { OperationJson } from '../graph-types';
import { labelOf } from '../labels';
import { ErrorMessage } from './error-message';

const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '–');

/**
 * The device's operations, newest first: type, status, times, the error of a failed one and a
 * diagnostics result; older ones a page at a time through `@odata.nextLink`.
 */
export function OperationHistory({ deviceId, firstPage }: { deviceId: string; firstPage: Collection<OperationJson> }) {
  const [older, setOlder] = useState<{ operations: OperationJson[]; next: string | undefined; error: unknown }>({ operations: [], next: undefined, error: null });
  useEffect(() => setOlder({ operations: [], next: undefined, error: null }), [firstPage]);
  const operations = [...firstPage.value, ...older.operations];
  const next = older.operations.length ? older.next : firstPage['@odata.nextLink'];
  const more = () => getJson<Collection<OperationJson>>(next!).then(
    (page) => setOlder({ operations: [...older.operations, ...page.value], next: page['@odata.nextLink'], error: null }),
    (error: unknown) => setOlder({ ...older, error }),
  );
  return (
    <section aria-labelledby="operations-title">
      <h2 id="operations-title">Operations</h2>
      {operations.length === 0 ? <p class="note">No operations yet.</p> : (
        <div class="table-wrap">
          <table data-testid="operations">
            <thead>
              <tr><th scope="col">Operation</th><th scope="col">Status</th><th scope="col">Requested</th><th scope="col">Ended</th><th scope="col">Details</th></tr>
            </thead>
            <tbody>
              {operations.map((operation) => (
                <tr key={operation.id}>
                  <td>{labelOf(operation.operationType)}</td>
                  <td><span class={`badge ${operation.status}`}>{labelOf(operation.status)}</span></td>
                  <td>{when(operation.createdDateTime)}</td>
                  <td>{when(operation.completedDateTime)}</td>
                  <td>
                    {operation.error && <span class="operation-error">{operation.error.code}: {operation.error.message}</span>}
                    {operation.scheduledDateTime && !operation.completedDateTime && <span>runs at {when(operation.scheduledDateTime)}</span>}
                    {operation.status === 'inProgress' && typeof operation.progressPercent === 'number' && <OperationProgress operation={operation} />}
                    {operation.operationType === 'deviceDiagnostics' && operation.status === 'successful' && <DiagnosticsResult deviceId={deviceId} operationId={operation.id} />}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ErrorMessage error={older.error} />
      {next && <p><button type="button" onClick={() => void more()}>Show older operations</button></p>}
    </section>
  );
}

/** A running operation's progress as its device reported it. */
export function OperationProgress({ operation }: { operation: OperationJson }) {
  return (
    <span class="operation-progress">
      <progress max={100} value={operation.progressPercent ?? 0} aria-label="Progress">{operation.progressPercent}%</progress>
      {' '}{operation.progressPercent}%{operation.progressMessage ? `: ${operation.progressMessage}` : ''}
    </span>
  );
}

function DiagnosticsResult({ deviceId, operationId }: { deviceId: string; operationId: string }) {
  const [result, setResult] = useState<unknown>(null);
  const [error, setError] = useState<unknown>(null);
  const show = () => getJson(`/teamwork/devices/${encodeURIComponent(deviceId)}/operations/${encodeURIComponent(operationId)}/result`).then(setResult, setError);
  if (error) return <ErrorMessage error={error} />;
  if (!result) return <button type="button" onClick={() => void show()}>Show result</button>;
  return <pre class="result" tabIndex={0} aria-label="Diagnostics result">{JSON.stringify(result, null, 2)}</pre>;
}
