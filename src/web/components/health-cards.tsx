import { Fragment } from 'preact';
import type { DeviceJson } from '../graph-types';
import { labelOf } from '../labels';

type Json = Record<string, unknown>;
const asObject = (value: unknown): Json => (value && typeof value === 'object' ? (value as Json) : {});
const statusOf = (value: unknown) => (asObject(asObject(value).connection).connectionStatus as string | undefined) ?? null;

/** The device's hardware, health, peripherals and software, each a card of facts. */
export function HealthCards({ device }: { device: DeviceJson }) {
  const health = asObject(device.health);
  const hardware = device.hardwareDetail;
  return (
    <div class="cards">
      <section class="card" aria-labelledby="hardware-title">
        <h2 id="hardware-title">Hardware</h2>
        <dl class="facts">
          <dt>Manufacturer</dt><dd>{hardware?.manufacturer ?? '–'}</dd>
          <dt>Model</dt><dd>{hardware?.model ?? '–'}</dd>
          <dt>Serial number</dt><dd>{hardware?.serialNumber ?? '–'}</dd>
          <dt>Asset tag</dt><dd>{device.companyAssetTag ?? '–'}</dd>
          <dt>MAC addresses</dt><dd>{hardware?.macAddresses?.join(', ') || '–'}</dd>
          <dt>Signed in</dt><dd>{device.currentUser?.displayName ?? '–'}</dd>
          <dt>Notes</dt><dd>{device.notes ?? '–'}</dd>
        </dl>
      </section>
      <section class="card" aria-labelledby="health-title">
        <h2 id="health-title">Health</h2>
        <dl class="facts">
          <dt>Connection</dt><dd><Status value={statusOf(health)} /></dd>
          {Object.entries(asObject(health.loginStatus)).map(([name, value]) => (
            <Fragment key={name}><dt>{labelOf(name)}</dt><dd><Status value={(asObject(value).connectionStatus as string) ?? null} /></dd></Fragment>
          ))}
          {Object.entries(asObject(health.hardwareHealth)).map(([name, value]) => (
            <Fragment key={name}><dt>{labelOf(name.replace(/Health$/, ''))}</dt><dd><Status value={statusOf(value)} /></dd></Fragment>
          ))}
        </dl>
      </section>
      <section class="card" aria-labelledby="peripherals-title">
        <h2 id="peripherals-title">Peripherals</h2>
        <Peripherals health={asObject(health.peripheralsHealth)} />
      </section>
      <section class="card wide" aria-labelledby="software-title">
        <h2 id="software-title">Software</h2>
        <SoftwareVersions updates={asObject(health.softwareUpdateHealth)} />
      </section>
    </div>
  );
}

function Status({ value }: { value: string | null }) {
  const tone = value === 'connected' ? 'healthy' : value === 'disconnected' ? 'critical' : '';
  return <span class={`badge ${tone}`}>{labelOf(value ?? 'unknown')}</span>;
}

function Peripherals({ health }: { health: Json }) {
  const rows = Object.entries(health).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : value ? [value] : []).map((entry, i) => ({ key: `${name}-${i}`, kind: labelOf(name.replace(/Health(Collection)?$/, '')), entry: asObject(entry) })));
  if (rows.length === 0) return <p class="note">No peripherals reported.</p>;
  return (
    <table>
      <thead><tr><th scope="col">Kind</th><th scope="col">Peripheral</th><th scope="col">State</th></tr></thead>
      <tbody>
        {rows.map(({ key, kind, entry }) => (
          <tr key={key}>
            <td>{kind}{entry.isOptional === false ? ' (required)' : ''}</td>
            <td>{(asObject(entry.peripheral).displayName as string) ?? '–'}</td>
            <td><Status value={statusOf(entry)} /></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SoftwareVersions({ updates }: { updates: Json }) {
  const rows = Object.entries(updates).filter(([, value]) => value);
  if (rows.length === 0) return <p class="note">No software reported.</p>;
  return (
    <table data-testid="software">
      <thead><tr><th scope="col">Software</th><th scope="col">Installed</th><th scope="col">Available</th><th scope="col">Freshness</th></tr></thead>
      <tbody>
        {rows.map(([name, value]) => {
          const update = asObject(value);
          return (
            <tr key={name}>
              <td>{labelOf(name.replace(/SoftwareUpdateStatus$/, ''))}</td>
              <td>{(update.currentVersion as string) ?? '–'}</td>
              <td>{(update.availableVersion as string) ?? '–'}</td>
              <td><span class={`badge ${update.softwareFreshness as string}`}>{labelOf(update.softwareFreshness as string)}</span></td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
