import { useEffect, useState } from 'preact/hooks';
import { activityStates, deviceTypes, healthStatuses, softwareFreshnesses, softwareTypes } from '../../domain/enums';
import { ChoiceFilter } from '../components/choice-filter';
import { ErrorMessage } from '../components/error-message';
import { Pager, usePages } from '../components/paged-list';
import { choiceOf, devicesPath, queryOf, type DeviceListChoice } from '../device-query';
import type { DeviceJson } from '../graph-types';
import { labelOf } from '../labels';
import { href, navigate } from '../router';

const pageSize = 25;
const shown = <T extends string>(values: readonly T[]) => values.filter((value) => value !== 'unknownFutureValue');

interface Column {
  title: string;
  /** the `$orderby` property; none: not sortable */
  sort?: string;
  /** left out on narrow screens (a tablet), where the other columns matter more */
  optional?: boolean;
  cell(device: DeviceJson): preact.ComponentChildren;
}

const columns: Column[] = [
  { title: 'Name', sort: 'currentUser/displayName', cell: (d) => <a href={href(`/devices/${encodeURIComponent(d.id)}`)}>{d.currentUser?.displayName ?? d.hardwareDetail?.serialNumber ?? d.id}</a> },
  { title: 'Type', sort: 'deviceType', cell: (d) => labelOf(d.deviceType) },
  { title: 'Model', sort: 'hardwareDetail/model', optional: true, cell: (d) => [d.hardwareDetail?.manufacturer, d.hardwareDetail?.model].filter(Boolean).join(' ') || '–' },
  { title: 'Serial number', sort: 'hardwareDetail/serialNumber', cell: (d) => d.hardwareDetail?.serialNumber ?? '–' },
  { title: 'Asset tag', sort: 'companyAssetTag', cell: (d) => d.companyAssetTag ?? '–' },
  { title: 'Health', sort: 'healthStatus', cell: (d) => <span class={`badge ${d.healthStatus ?? ''}`}>{labelOf(d.healthStatus)}</span> },
  { title: 'Activity', sort: 'activityState', cell: (d) => labelOf(d.activityState) },
];

/**
 * The devices, a page at a time through the API (`$top`, then `@odata.nextLink`; Previous goes
 * back through the links already followed), never the whole fleet at once.
 */
export function DevicesPage({ query }: { query: URLSearchParams }) {
  const choice = choiceOf(query);
  const first = devicesPath(choice, pageSize);
  const pages = usePages<DeviceJson>(first);
  const page = pages.page;
  const choose = (change: Partial<DeviceListChoice>) => navigate('/devices', queryOf({ ...choice, ...change }));
  const [search, setSearch] = useState(choice.search ?? '');
  useEffect(() => setSearch(choice.search ?? ''), [choice.search]);
  const total = page.value?.['@odata.count'];
  const next = page.value?.['@odata.nextLink'];
  return (
    <>
      <h1 tabIndex={-1}>Devices</h1>
      <form class="filters" role="search" onSubmit={(event) => { event.preventDefault(); choose({ search: search.trim() || null }); }}>
        <label>
          Search
          <input type="search" value={search} placeholder="Name, serial or asset tag" onInput={(event) => setSearch(event.currentTarget.value)} />
        </label>
        <button type="submit">Search</button>
        <ChoiceFilter label="Type" value={choice.type} values={shown(deviceTypes)} onChange={(type) => choose({ type })} />
        <ChoiceFilter label="Health" value={choice.health} values={shown(healthStatuses)} onChange={(health) => choose({ health })} />
        <ChoiceFilter label="Activity" value={choice.activity} values={shown(activityStates)} onChange={(activity) => choose({ activity })} />
        <ChoiceFilter label="Software" value={choice.software} values={softwareTypes} onChange={(software) => choose({ software })} />
        <ChoiceFilter label="Freshness" value={choice.freshness} values={softwareFreshnesses} onChange={(freshness) => choose({ freshness })} />
      </form>
      <ErrorMessage error={page.error} />
      <p aria-live="polite" class="note">
        {page.loading ? 'Loading devices…' : total !== undefined ? `${total} devices match · page ${pages.number}` : ''}
      </p>
      <div class="table-wrap" role="region" aria-label="Devices table" tabIndex={0}>
        <table>
          <caption class="visually-hidden">Devices{total !== undefined ? `, ${total} matching` : ''}</caption>
          <thead>
            <tr>
              {columns.map((column) => (
                <th key={column.title} scope="col" class={column.optional ? 'wide-only' : undefined} aria-sort={choice.sort === column.sort ? (choice.descending ? 'descending' : 'ascending') : undefined}>
                  {column.sort ? (
                    <button type="button" onClick={() => choose({ sort: column.sort, descending: choice.sort === column.sort && !choice.descending })}>
                      {column.title}{choice.sort === column.sort ? (choice.descending ? ' ▼' : ' ▲') : ''}
                    </button>
                  ) : column.title}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {page.value?.value.map((device) => (
              <tr key={device.id}>{columns.map((column) => <td key={column.title} class={column.optional ? 'wide-only' : undefined}>{column.cell(device)}</td>)}</tr>
            ))}
            {page.value && page.value.value.length === 0 && (
              <tr><td colSpan={columns.length}>{next ? 'No matching devices in this stretch of the fleet; the next page looks further.' : 'No devices match.'}</td></tr>
            )}
          </tbody>
        </table>
      </div>
      <Pager pages={pages} />
    </>
  );
}
