import { useState } from 'preact/hooks';
import { daysOfWeek, type DayOfWeek } from '../../domain/window-schedule';
import type { MaintenanceWindow, WindowChanges } from '../../domain/maintenance-window';
import { deleteResource, patchJson, postJson } from '../api-client';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorMessage } from '../components/error-message';
import { Pager, usePages } from '../components/paged-list';
import { labelOf } from '../labels';

type WindowJson = Omit<MaintenanceWindow, 'tenantId'>;

const path = '/teamwork/maintenanceWindows';

/** Maintenance windows: when the devices they cover may be given work. List, create, edit, delete. */
export function MaintenanceWindowsPage() {
  const [version, setVersion] = useState(0);
  const pages = usePages<WindowJson>(`${path}?$top=25`, version);
  const [editing, setEditing] = useState<WindowJson | 'new' | null>(null);
  const [deleting, setDeleting] = useState<WindowJson | null>(null);
  const [problem, setProblem] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const done = (message: string) => {
    setEditing(null);
    setNotice(message);
    setVersion((n) => n + 1);
  };
  const remove = async (window: WindowJson) => {
    setProblem(null);
    try {
      await deleteResource(`${path}/${encodeURIComponent(window.id)}`);
      done(`Deleted “${window.displayName}”.`);
    } catch (error) {
      setProblem(error);
    }
  };
  return (
    <>
      <h1 tabIndex={-1}>Maintenance windows</h1>
      <p class="note">Devices a window covers are given work only while one of their windows is open.</p>
      <div class="actions">
        <button type="button" class="primary" onClick={() => { setNotice(null); setEditing('new'); }}>New window…</button>
      </div>
      {editing && <WindowForm window={editing === 'new' ? null : editing} onDone={done} onCancel={() => setEditing(null)} />}
      <p aria-live="polite" class="note">{notice}</p>
      <ErrorMessage error={problem ?? pages.page.error} />
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Maintenance windows</caption>
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Devices</th><th scope="col">Days</th><th scope="col">Opens</th><th scope="col">Minutes</th><th scope="col">Time zone</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody>
            {pages.page.value?.value.map((window) => (
              <tr key={window.id}>
                <td>{window.displayName}</td>
                <td>{'filter' in window.target ? <code>{window.target.filter}</code> : `${window.target.deviceIds.length} devices by id`}</td>
                <td>{window.schedule.daysOfWeek.map((day) => labelOf(day).slice(0, 3)).join(', ')}</td>
                <td>{window.schedule.startTime}</td>
                <td>{window.schedule.durationMinutes}</td>
                <td>{window.schedule.timeZone}</td>
                <td class="row-actions">
                  <button type="button" onClick={() => { setNotice(null); setEditing(window); }} aria-label={`Edit ${window.displayName}`}>Edit</button>
                  <button type="button" onClick={() => setDeleting(window)} aria-label={`Delete ${window.displayName}`}>Delete</button>
                </td>
              </tr>
            ))}
            {pages.page.value?.value.length === 0 && <tr><td colSpan={7}>No maintenance windows: every device may be given work at any time.</td></tr>}
          </tbody>
        </table>
      </div>
      <Pager pages={pages} />
      {deleting && (
        <ConfirmDialog title={`Delete “${deleting.displayName}”?`} confirmLabel="Delete" danger onClose={() => setDeleting(null)} onConfirm={() => void remove(deleting)}>
          <p>Operations it holds are decided again at once: devices no other window covers get them now.</p>
        </ConfirmDialog>
      )}
    </>
  );
}

/** Creates a window, or changes one (a PATCH of what the form holds). */
function WindowForm({ window, onDone, onCancel }: { window: WindowJson | null; onDone(message: string): void; onCancel(): void }) {
  const [displayName, setDisplayName] = useState(window?.displayName ?? '');
  const [filter, setFilter] = useState(window && 'filter' in window.target ? window.target.filter : "deviceType eq 'teamsRoom'");
  const [days, setDays] = useState<DayOfWeek[]>(window?.schedule.daysOfWeek ?? ['saturday', 'sunday']);
  const [startTime, setStartTime] = useState(window?.schedule.startTime ?? '02:00');
  const [durationMinutes, setDuration] = useState(String(window?.schedule.durationMinutes ?? 120));
  const [timeZone, setTimeZone] = useState(window?.schedule.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone);
  const [problem, setProblem] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const byIds = window !== null && 'deviceIds' in window.target;
  const save = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const body: WindowChanges = {
      displayName,
      ...(byIds ? {} : { target: { filter } }),
      schedule: { daysOfWeek: days, startTime, durationMinutes: Number(durationMinutes), timeZone },
    };
    try {
      if (window) await patchJson(`${path}/${encodeURIComponent(window.id)}`, body);
      else await postJson(path, body);
      onDone(window ? `Saved “${displayName}”.` : `Created “${displayName}”.`);
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  };
  const toggle = (day: DayOfWeek, on: boolean) => setDays(daysOfWeek.filter((d) => (d === day ? on : days.includes(d))));
  return (
    <form class="card edit-form" onSubmit={save} aria-labelledby="window-form-title">
      <h2 id="window-form-title">{window ? `Edit “${window.displayName}”` : 'New maintenance window'}</h2>
      <label>Name<input type="text" required value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} /></label>
      {byIds ? <p class="note">This window names its devices by id; the API changes that list.</p> : (
        <label>Devices (a devices $filter)<input type="text" required value={filter} onInput={(e) => setFilter(e.currentTarget.value)} /></label>
      )}
      <fieldset>
        <legend>Days</legend>
        {daysOfWeek.map((day) => (
          <label key={day} class="inline"><input type="checkbox" checked={days.includes(day)} onChange={(e) => toggle(day, e.currentTarget.checked)} />{labelOf(day)}</label>
        ))}
      </fieldset>
      <label>Opens at (HH:MM)<input type="text" required pattern="\d{2}:\d{2}(:\d{2})?" value={startTime} onInput={(e) => setStartTime(e.currentTarget.value)} /></label>
      <label>Open for (minutes, 30 to 1440)<input type="number" required min={30} max={1440} value={durationMinutes} onInput={(e) => setDuration(e.currentTarget.value)} /></label>
      <label>Time zone (IANA)<input type="text" required value={timeZone} onInput={(e) => setTimeZone(e.currentTarget.value)} /></label>
      <ErrorMessage error={problem} />
      <div class="dialog-buttons">
        <button type="button" onClick={onCancel}>Cancel</button>
        <button type="submit" class="primary" disabled={busy}>{window ? 'Save' : 'Create'}</button>
      </div>
    </form>
  );
}
