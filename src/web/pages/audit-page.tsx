import type { AuditEvent, AuditTarget } from '../../domain/audit';
import { ErrorMessage } from '../components/error-message';
import { Pager, usePages } from '../components/paged-list';
import { labelOf } from '../labels';

/** An audit event as the API sends it. */
type AuditEventJson = Omit<AuditEvent, 'tenantId' | 'target'> & { targetResources: AuditTarget[] };

/**
 * The tenant's audit log, newest first, a page at a time. The API pages it ($top, $skiptoken)
 * and filters nothing, so neither does this page.
 */
export function AuditPage() {
  const pages = usePages<AuditEventJson>('/teamwork/auditEvents?$top=25');
  return (
    <>
      <h1 tabIndex={-1}>Audit log</h1>
      <ErrorMessage error={pages.page.error} />
      <p aria-live="polite" class="note">{pages.page.loading ? 'Loading events…' : ''}</p>
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Audit events, newest first</caption>
          <thead>
            <tr><th scope="col">When</th><th scope="col">Activity</th><th scope="col">Result</th><th scope="col">By</th><th scope="col">Target</th></tr>
          </thead>
          <tbody>
            {pages.page.value?.value.map((event) => (
              <tr key={event.id}>
                <td>{new Date(event.activityDateTime).toLocaleString()}</td>
                <td>{labelOf(event.activity)}{event.occurrences > 1 ? ` (${event.occurrences}×)` : ''}</td>
                <td>{labelOf(event.result)}{event.resultReason ? `: ${event.resultReason}` : ''}</td>
                <td>{event.initiatedBy.displayName ?? event.initiatedBy.id ?? labelOf(event.initiatedBy.type)}{event.initiatedBy?.ipAddress ? ` (${event.initiatedBy.ipAddress})` : ''}</td>
                <td>{event.targetResources.map((target) => `${labelOf(target.type)} ${target.id}`).join(', ') || '–'}</td>
              </tr>
            ))}
            {pages.page.value?.value.length === 0 && <tr><td colSpan={5}>No events yet.</td></tr>}
          </tbody>
        </table>
      </div>
      <Pager pages={pages} />
    </>
  );
}
