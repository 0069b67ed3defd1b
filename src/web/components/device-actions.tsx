import { useState } from 'preact/hooks';
import type { AvailableVersion } from '../graph-types';
import { labelOf } from '../labels';
import { ConfirmDialog } from './confirm-dialog';

type Action = 'update' | 'restart' | 'diagnostics';

/** The device's three actions, each behind a confirmation; the update names a version the catalog offers the device. */
export function DeviceActions({ versions, busy, onAction }: {
  versions: AvailableVersion[];
  busy: boolean;
  onAction(label: string, action: string, body: unknown): void;
}) {
  const [open, setOpen] = useState<Action | null>(null);
  const types = [...new Set(versions.map((v) => v.softwareType))];
  const [softwareType, setSoftwareType] = useState<string>(types.includes('teamsClient') ? 'teamsClient' : types[0] ?? '');
  const offered = versions.filter((v) => v.softwareType === softwareType).map((v) => v.softwareVersion);
  const [version, setVersion] = useState<string | null>(null);
  const chosen = version && offered.includes(version) ? version : offered[0] ?? '';
  return (
    <div class="actions">
      <button type="button" class="primary" disabled={busy || versions.length === 0} onClick={() => setOpen('update')}>Update software…</button>
      <button type="button" disabled={busy} onClick={() => setOpen('restart')}>Restart…</button>
      <button type="button" disabled={busy} onClick={() => setOpen('diagnostics')}>Run diagnostics…</button>
      {versions.length === 0 && <span class="note">The catalog offers this device no software.</span>}
      {open === 'update' && (
        <ConfirmDialog title="Update software" confirmLabel="Update" onClose={() => setOpen(null)}
          onConfirm={() => onAction(`Update of ${labelOf(softwareType)} to ${chosen}`, 'updateSoftware', { softwareType, softwareVersion: chosen })}>
          <label>
            Software
            <select value={softwareType} onChange={(event) => { setSoftwareType(event.currentTarget.value); setVersion(null); }}>
              {types.map((type) => <option key={type} value={type}>{labelOf(type)}</option>)}
            </select>
          </label>
          <label>
            Version
            <select value={chosen} onChange={(event) => setVersion(event.currentTarget.value)}>
              {offered.map((v, i) => <option key={v} value={v}>{v}{i === 0 ? ' (newest)' : ''}</option>)}
            </select>
          </label>
          <p>The device installs it when it is next free (or in its maintenance window).</p>
        </ConfirmDialog>
      )}
      {open === 'restart' && (
        <ConfirmDialog title="Restart the device?" confirmLabel="Restart" danger onClose={() => setOpen(null)} onConfirm={() => onAction('Restart', 'restart', {})}>
          <p>A meeting in progress on the device is interrupted.</p>
        </ConfirmDialog>
      )}
      {open === 'diagnostics' && (
        <ConfirmDialog title="Run diagnostics?" confirmLabel="Run diagnostics" onClose={() => setOpen(null)} onConfirm={() => onAction('Diagnostics', 'runDiagnostics', {})}>
          <p>The device collects its logs and checks; the result appears in its operation history.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
