import { useEffect, useState } from 'preact/hooks';
import { getJson, postJson, type Collection } from '../api-client';
import { ErrorMessage } from '../components/error-message';
import { useAsync } from '../components/use-async';
import { DeviceActions } from '../components/device-actions';
import { HealthCards } from '../components/health-cards';
import { OperationHistory, OperationProgress } from '../components/operation-history';
import type { AvailableVersion, DeviceJson, OperationJson } from '../graph-types';
import { labelOf } from '../labels';
import { followOperation, hasEnded } from '../operation-follow';
import { href } from '../router';

/** What the device page reads: the device with its three documents, its operations, its catalog. */
async function loadDevice(id: string) {
  const path = `/teamwork/devices/${encodeURIComponent(id)}`;
  const [device, operations, versions] = await Promise.all([
    getJson<DeviceJson>(`${path}?$expand=health,activity,configuration`),
    getJson<Collection<OperationJson>>(`${path}/operations?$top=20`),
    getJson<Collection<AvailableVersion>>(`${path}/availableSoftwareVersions`),
  ]);
  return { device, operations, versions: versions.value };
}

/** One device: hardware, health, peripherals, software (installed and offered), operations, actions. */
export function DevicePage({ id }: { id: string }) {
  const data = useAsync(() => loadDevice(id), [id]);
  const [running, setRunning] = useState<{ label: string; operation: OperationJson | null; error: unknown } | null>(null);
  const [follow, setFollow] = useState<string | null>(null);
  useEffect(() => {
    if (!follow) return;
    const stop = new AbortController();
    void followOperation(follow, (operation) => setRunning((now) => now && { ...now, operation }), stop.signal)
      .catch((error: unknown) => setRunning((now) => now && { ...now, error }))
      .finally(() => !stop.signal.aborted && data.reload());
    return () => stop.abort();
  }, [follow]);

  const act = async (label: string, action: string, body: unknown) => {
    setRunning({ label, operation: null, error: null });
    try {
      const response = await postJson(`/teamwork/devices/${encodeURIComponent(id)}/${action}`, body);
      const location = response.headers.get('location');
      data.reload();
      if (location) setFollow(location);
    } catch (error) {
      setRunning({ label, operation: null, error });
    }
  };

  const device = data.value?.device;
  const name = device ? device.currentUser?.displayName ?? device.hardwareDetail?.serialNumber ?? device.id : 'Device';
  return (
    <>
      <p class="note"><a href={href('/devices')}>Devices</a> ›</p>
      <h1 tabIndex={-1}>{name}</h1>
      <ErrorMessage error={data.error} />
      {data.loading && !device && <p aria-live="polite">Loading…</p>}
      {device && (
        <>
          <p class="summary">
            <span class={`badge ${device.healthStatus ?? ''}`}>{labelOf(device.healthStatus)}</span>
            <span>{labelOf(device.deviceType)}</span>
            <span>{labelOf(device.activityState)}</span>
          </p>
          <DeviceActions versions={data.value!.versions} busy={running !== null && !running.error && !(running.operation && hasEnded(running.operation))} onAction={act} />
          <div aria-live="polite" aria-atomic="true" class="live-status" data-testid="live-status">
            {running && (
              <p>
                {running.label}: {running.error ? 'not accepted' : running.operation ? <strong class={`badge ${running.operation.status}`}>{labelOf(running.operation.status)}</strong> : 'sending…'}
                {running.operation?.status === 'inProgress' && typeof running.operation.progressPercent === 'number' && <> <OperationProgress operation={running.operation} /></>}
                {running.operation?.error?.message && <> – {running.operation.error.message}</>}
              </p>
            )}
          </div>
          {running?.error ? <ErrorMessage error={running.error} /> : null}
          <HealthCards device={device} />
          <OperationHistory deviceId={device.id} firstPage={data.value!.operations} />
        </>
      )}
    </>
  );
}
