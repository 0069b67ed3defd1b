import { useEffect, useState } from 'preact/hooks';
import type { RolloutCounts } from '../../domain/rollout';
import { getJson, postJson } from '../api-client';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorMessage } from '../components/error-message';
import { useAsync } from '../components/use-async';
import type { RolloutCountsJson, RolloutJson } from '../graph-types';
import { labelOf } from '../labels';
import { href } from '../router';
import { StatusBadge } from './rollouts-page';

type Verb = 'start' | 'pause' | 'resume' | 'approve' | 'cancel';

/** What each verb does, as its confirmation says it; `when`: the rollout states it applies to. */
const verbs: { verb: Verb; label: string; warning: string; danger?: boolean; when(r: RolloutJson): boolean }[] = [
  { verb: 'start', label: 'Start', warning: 'Its first stage takes its devices and their updates are queued.', when: (r) => r.status === 'notStarted' },
  { verb: 'approve', label: 'Approve next stage', warning: 'The stage waiting for approval starts.', when: (r) => r.status === 'running' && r.stages[r.currentStage]?.status === 'awaitingApproval' },
  { verb: 'pause', label: 'Pause', warning: 'No new updates are queued; those running finish.', when: (r) => r.status === 'running' },
  { verb: 'resume', label: 'Resume', warning: 'The rollout goes on from where it paused.', when: (r) => r.status === 'paused' },
  { verb: 'cancel', label: 'Cancel rollout', warning: 'Updates not yet started are withdrawn; those running finish.', danger: true, when: (r) => r.status !== 'completed' && r.status !== 'cancelled' },
];

const countColumns: (keyof Omit<RolloutCounts, 'skipped'>)[] = ['total', 'pending', 'scheduled', 'running', 'successful', 'failed', 'cancelled'];

/** How often a rollout that is moving is read again, so its counts follow its devices. */
const refreshMs = 2000;

/** A rollout: its plan, where it is, its counts whole and per stage, and the verbs that apply now. */
export function RolloutPage({ id }: { id: string }) {
  const path = `/teamwork/softwareRollouts/${encodeURIComponent(id)}`;
  const [version, setVersion] = useState(0);
  const rollout = useAsync(() => getJson<RolloutJson>(path), [path, version]);
  const [confirming, setConfirming] = useState<(typeof verbs)[number] | null>(null);
  const [problem, setProblem] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const moving = rollout.value?.status === 'running';
  useEffect(() => {
    if (!moving || rollout.loading) return;
    const timer = setTimeout(() => setVersion((n) => n + 1), refreshMs);
    return () => clearTimeout(timer);
  }, [moving, rollout.loading, version]);
  const act = async (verb: (typeof verbs)[number]) => {
    setProblem(null);
    try {
      await postJson(`${path}/${verb.verb}`, {});
      setNotice(`${verb.label}: done.`);
      setVersion((n) => n + 1);
    } catch (error) {
      setProblem(error);
    }
  };
  const r = rollout.value;
  return (
    <>
      <p><a href={href('/rollouts')}>All rollouts</a></p>
      <h1 tabIndex={-1}>{r ? r.displayName : 'Rollout'}</h1>
      <ErrorMessage error={problem ?? (r ? null : rollout.error)} />
      {r && (
        <>
          <dl class="facts">
            <dt>Status</dt><dd><StatusBadge status={r.status} />{r.pausedReason ? ` (${labelOf(r.pausedReason)})` : ''}</dd>
            <dt>Software</dt><dd>{labelOf(r.softwareType)} {r.softwareVersion ?? '(the newest offered to each device)'}</dd>
            <dt>Devices</dt><dd>{'filter' in r.target ? <code>{r.target.filter}</code> : `${r.target.deviceIds.length} by id`}</dd>
            <dt>Stage</dt><dd>{r.currentStage + 1} of {r.stages.length}</dd>
          </dl>
          <div class="actions">
            {verbs.filter((v) => v.when(r)).map((v) => (
              <button key={v.verb} type="button" class={v.danger ? 'danger' : v.verb === 'start' ? 'primary' : undefined} onClick={() => { setNotice(null); setConfirming(v); }}>{v.label}…</button>
            ))}
          </div>
          <p aria-live="polite" class="note">{notice}</p>
          <div class="table-wrap">
            <table data-testid="rollout-counts">
              <caption>Devices by state, whole and per stage</caption>
              <thead>
                <tr><th scope="col">Stage</th><th scope="col">Status</th>{countColumns.map((c) => <th key={c} scope="col">{labelOf(c)}</th>)}<th scope="col">Skipped</th></tr>
              </thead>
              <tbody>
                {r.stages.map((stage, i) => (
                  <tr key={i}>
                    <th scope="row">{i + 1} ({stage.percent !== null ? `${stage.percent} %` : `${stage.count} devices`})</th>
                    <td>{labelOf(stage.status)}</td>
                    <CountCells counts={stage.counts} />
                  </tr>
                ))}
                <tr class="total-row" data-testid="rollout-total">
                  <th scope="row">All stages</th>
                  <td />
                  <CountCells counts={r.counts} />
                </tr>
              </tbody>
            </table>
          </div>
        </>
      )}
      {confirming && r && (
        <ConfirmDialog title={`${confirming.label}: ${r.displayName}?`} confirmLabel={confirming.label} danger={confirming.danger} onClose={() => setConfirming(null)} onConfirm={() => void act(confirming)}>
          <p>{confirming.warning}</p>
        </ConfirmDialog>
      )}
    </>
  );
}

function CountCells({ counts }: { counts: RolloutCountsJson }) {
  return (
    <>
      {countColumns.map((c) => <td key={c} data-count={c}>{counts[c]}</td>)}
      <td data-count="skipped">{counts.skipped}</td>
    </>
  );
}
