import { freshnessProperty } from '../../domain/device';
import { activityStates, deviceTypes, healthStatuses, softwareFreshnesses, softwareTypes } from '../../domain/enums';
import type { OperationStatus } from '../../domain/operation';
import { batch, batchCount, type BatchRequest } from '../api-client';
import { BarChart, type Bar } from '../components/bar-chart';
import { ErrorMessage } from '../components/error-message';
import { FreshnessChart, type FreshnessRow } from '../components/freshness-chart';
import { useAsync } from '../components/use-async';
import { href } from '../router';
import { labelOf } from '../labels';

const outcomes: OperationStatus[] = ['successful', 'failed', 'cancelled', 'inProgress', 'queued', 'scheduled'];
const shown = <T extends string>(values: readonly T[]) => values.filter((value) => value !== 'unknownFutureValue');

/** The counts the overview draws, as one set of `$count` requests (three `$batch`es). */
function overviewRequests(since: string): BatchRequest[] {
  const count = (id: string, filter: string | null) => ({
    id, method: 'GET' as const, url: `/teamwork/devices/$count${filter ? `?$filter=${encodeURIComponent(filter)}` : ''}`,
  });
  return [
    count('total', null),
    ...shown(healthStatuses).map((health) => count(`health:${health}`, `healthStatus eq '${health}'`)),
    ...shown(deviceTypes).map((type) => count(`type:${type}`, `deviceType eq '${type}'`)),
    ...shown(activityStates).map((activity) => count(`activity:${activity}`, `activityState eq '${activity}'`)),
    ...softwareTypes.flatMap((type) => softwareFreshnesses.map((value) => count(`freshness:${type}:${value}`, `${freshnessProperty(type)} eq '${value}'`))),
    ...outcomes.map((status) => ({
      id: `operations:${status}`,
      method: 'GET' as const,
      url: `/teamwork/devices/operations/$count?$filter=${encodeURIComponent(`status eq '${status}' and createdDateTime ge ${since}`)}`,
    })),
  ];
}

/** Each software type some device has a freshness for, with its counts. */
function freshnessRows(count: (id: string) => number | null): FreshnessRow[] {
  const rows = softwareTypes.map((softwareType) => ({
    softwareType,
    counts: Object.fromEntries(softwareFreshnesses.map((value) => [value, count(`freshness:${softwareType}:${value}`)])) as FreshnessRow['counts'],
  }));
  return rows.filter((row) => softwareFreshnesses.some((value) => (row.counts[value] ?? 0) > 0));
}

/** Fleet overview: devices by health, type, activity and software freshness; operations of the last 24 hours by outcome. */
export function OverviewPage() {
  const counts = useAsync(async () => {
    const since = new Date(Date.now() - 24 * 3600_000).toISOString();
    const replies = await batch(overviewRequests(since));
    return (id: string) => batchCount(replies.get(id));
  }, []);
  const bars = <T extends string>(kind: string, values: readonly T[], filter: string): Bar[] =>
    shown(values).map((value) => ({ label: labelOf(value), value: counts.value?.(`${kind}:${value}`) ?? null, href: href('/devices', { [filter]: value }) }));
  const total = counts.value?.('total');
  const operationsKnown = counts.value && outcomes.some((status) => counts.value!(`operations:${status}`) !== null);
  return (
    <>
      <h1 tabIndex={-1}>Fleet overview</h1>
      <ErrorMessage error={counts.error} />
      <p aria-live="polite" class="summary">
        {counts.loading ? 'Counting devices…' : total != null ? <><strong data-testid="total-devices">{total}</strong> devices</> : null}
        {' '}<button type="button" onClick={counts.reload} disabled={counts.loading}>Refresh</button>
      </p>
      {counts.value && (
        <div class="charts">
          <BarChart title="Devices by health" bars={bars('health', healthStatuses, 'health')} />
          <BarChart title="Devices by type" bars={bars('type', deviceTypes, 'type')} />
          <BarChart title="Devices by activity" bars={bars('activity', activityStates, 'activity')} />
          <FreshnessChart rows={freshnessRows(counts.value)} />
          {operationsKnown ? (
            <BarChart title="Operations in the last 24 hours" unit="operations" bars={outcomes.map((status) => ({ label: labelOf(status), value: counts.value!(`operations:${status}`) }))} />
          ) : (
            <p class="note">Operations by outcome need the tenant's operation list (<code>/teamwork/devices/operations</code>), which this server does not offer.</p>
          )}
        </div>
      )}
    </>
  );
}
