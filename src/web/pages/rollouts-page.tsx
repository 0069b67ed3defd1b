import { useState } from 'preact/hooks';
import { softwareTypes } from '../../domain/enums';
import { rolloutStatuses, type RolloutStatus } from '../../domain/rollout';
import { odataString, postJson } from '../api-client';
import { ChoiceFilter } from '../components/choice-filter';
import { ErrorMessage } from '../components/error-message';
import { Pager, usePages } from '../components/paged-list';
import type { RolloutJson } from '../graph-types';
import { labelOf } from '../labels';
import { href, navigate } from '../router';

/** Software rollouts: one update to many devices in stages. The list (by status), and a new rollout. */
export function RolloutsPage({ query }: { query: URLSearchParams }) {
  const status = rolloutStatuses.find((s) => s === query.get('status')) ?? null;
  const filter = status ? `&$filter=${encodeURIComponent(`status eq ${odataString(status)}`)}` : '';
  const pages = usePages<RolloutJson>(`/teamwork/softwareRollouts?$top=25${filter}`);
  const [creating, setCreating] = useState(false);
  return (
    <>
      <h1 tabIndex={-1}>Rollouts</h1>
      <div class="filters">
        <ChoiceFilter label="Status" value={status} values={rolloutStatuses} onChange={(chosen) => navigate('/rollouts', { status: chosen })} />
        <button type="button" class="primary" onClick={() => setCreating(true)}>New rollout…</button>
      </div>
      {creating && <RolloutForm onCancel={() => setCreating(false)} />}
      <ErrorMessage error={pages.page.error} />
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Rollouts</caption>
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Software</th><th scope="col">Status</th><th scope="col">Stage</th><th scope="col">Devices</th><th scope="col">Successful</th><th scope="col">Failed</th><th scope="col">Created</th></tr>
          </thead>
          <tbody>
            {pages.page.value?.value.map((rollout) => (
              <tr key={rollout.id}>
                <td><a href={href(`/rollouts/${encodeURIComponent(rollout.id)}`)}>{rollout.displayName}</a></td>
                <td>{labelOf(rollout.softwareType)} {rollout.softwareVersion ?? '(newest)'}</td>
                <td><StatusBadge status={rollout.status} /></td>
                <td>{rollout.currentStage + 1} of {rollout.stages.length}</td>
                <td>{rollout.counts.total}</td>
                <td>{rollout.counts.successful}</td>
                <td>{rollout.counts.failed}</td>
                <td>{new Date(rollout.createdDateTime).toLocaleString()}</td>
              </tr>
            ))}
            {pages.page.value?.value.length === 0 && <tr><td colSpan={8}>No rollouts{status ? ` ${labelOf(status).toLowerCase()}` : ''}.</td></tr>}
          </tbody>
        </table>
      </div>
      <Pager pages={pages} />
    </>
  );
}

/** A rollout's status as a badge. */
export function StatusBadge({ status }: { status: RolloutStatus }) {
  return <span class={`badge ${status}`}>{labelOf(status)}</span>;
}

/**
 * A new rollout: what to install, on which devices (a devices $filter), in stages of a share
 * of the devices still to update; created not started, then shown.
 */
function RolloutForm({ onCancel }: { onCancel(): void }) {
  const [displayName, setDisplayName] = useState('');
  const [softwareType, setSoftwareType] = useState('teamsClient');
  const [softwareVersion, setSoftwareVersion] = useState('');
  const [filter, setFilter] = useState("deviceType eq 'teamsRoom'");
  const [stagePercents, setStagePercents] = useState('10, 100');
  const [approval, setApproval] = useState(false);
  const [problem, setProblem] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const create = async (event: Event) => {
    event.preventDefault();
    const percents = stagePercents.split(',').map((part) => Number(part.trim()));
    if (percents.some((p) => !Number.isInteger(p) || p < 1 || p > 100)) {
      setProblem(new Error('Stages are whole percentages from 1 to 100, separated by commas (such as 10, 50, 100).'));
      return;
    }
    setBusy(true);
    setProblem(null);
    try {
      const response = await postJson('/teamwork/softwareRollouts', {
        displayName,
        softwareType,
        softwareVersion: softwareVersion.trim() || null,
        target: { filter },
        stages: percents.map((percent) => ({ percent, requiresApproval: approval })),
      });
      const rollout = (await response.json()) as RolloutJson;
      navigate(`/rollouts/${encodeURIComponent(rollout.id)}`);
    } catch (error) {
      setProblem(error);
      setBusy(false);
    }
  };
  return (
    <form class="card edit-form" onSubmit={create} aria-labelledby="rollout-form-title">
      <h2 id="rollout-form-title">New rollout</h2>
      <label>Name<input type="text" required value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} /></label>
      <label>
        Software
        <select value={softwareType} onChange={(e) => setSoftwareType(e.currentTarget.value)}>
          {softwareTypes.map((type) => <option key={type} value={type}>{labelOf(type)}</option>)}
        </select>
      </label>
      <label>Version (empty: the newest the catalog offers each device)<input type="text" value={softwareVersion} onInput={(e) => setSoftwareVersion(e.currentTarget.value)} /></label>
      <label>Devices (a devices $filter)<input type="text" required value={filter} onInput={(e) => setFilter(e.currentTarget.value)} /></label>
      <label>Stages (% of the devices still to update, in order)<input type="text" required value={stagePercents} onInput={(e) => setStagePercents(e.currentTarget.value)} /></label>
      <label class="inline"><input type="checkbox" checked={approval} onChange={(e) => setApproval(e.currentTarget.checked)} />Ask for approval before each stage</label>
      <ErrorMessage error={problem} />
      <div class="dialog-buttons">
        <button type="button" onClick={onCancel}>Cancel</button>
        <button type="submit" class="primary" disabled={busy}>Create</button>
      </div>
    </form>
  );
}
