import { auditActivities, type AuditEvent, type AuditTarget } from '../../domain/audit';
import { odataString } from '../api-client';
import { ChoiceFilter } from '../components/choice-filter';
import { ErrorMessage } from '../components/error-message';
import { Pager, usePages } from '../components/paged-list';
import { labelOf } from '../labels';
import { navigate } from '../router';

/** An audit event as the API sends it. */
type AuditEventJson = Omit<AuditEvent, 'tenantId' | 'target'> & { targetResources: AuditTarget[] };

/**
 * The tenant's audit log, newest first, a page at a time, of one activity when chosen (the one
 * `$filter` the API takes); the choice is in the address, so it can be shared.
 */
export function AuditPage({ query }: { query: URLSearchParams }) {
  const activity = auditActivities.find((a) => a === query.get('activity')) ?? null;
  const filter = activity ? `&$filter=${encodeURIComponent(`activity eq ${odataString(activity)}`)}` : '';
  const pages = usePages<AuditEventJson>(`/teamwork/auditEvents?$top=25${filter}`);
  return (
    <>
      <h1 tabIndex={-1}>Audit log</h1>
      <div class="filters">
        <ChoiceFilter label="Activity" value={activity} values={auditActivities} onChange={(chosen) => navigate('/audit', { activity: chosen })} />
      </div>
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
