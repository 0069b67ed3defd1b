import type { BenchConfig, StoreName } from './bench-config.js';
import { fmt, goalText, progress, ratioOf, type BenchOutcome, type ReportRow } from './bench-report.js';
import { storeLabel, type BenchWorkspace, type SeededFile } from './bench-workspace.js';
import { loadSummary, measureGet, type GetMeasurement } from './load.js';
import { deepPagePath, listPath } from './page-walk.js';
import { startTarget } from './target-process.js';

const filter = "deviceType eq 'teamsRoom'";
const pagesDeep = 10;

interface PageRuns {
  first: GetMeasurement;
  deep: GetMeasurement;
  deepPage: number;
}

interface StoreResult {
  store: StoreName;
  small: SeededFile;
  large: SeededFile;
  smallRuns: PageRuns;
  largeRuns: PageRuns;
  smallBytes: number;
  largeBytes: number;
}

/**
 * Cost of one filtered page over a small and a large fleet: the same `$top=50` page with
 * `$filter=deviceType eq 'teamsRoom'` (first page, and a page reached through `$skiptoken`)
 * from the real server over 10,000 devices (the baseline) and over 1,000,000 devices, each in
 * its own database, on every store of BENCH_STORES (SQLite files, PostgreSQL databases). Keyset
 * paging should make the two cost the same. Each store is seeded and then measured before the
 * next one is seeded.
 */
export async function listDevicesBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  const results: StoreResult[] = [];
  for (const store of config.stores) {
    const label = storeLabel[store];
    progress(`list: ${label}: seeding small database, ${fmt.int(config.listSmall)} devices`);
    const small = (await workspace.seed('small', config.listSmall, store)).file;
    const before = workspace.existing('large', store);
    progress(`list: ${label}: seeding large database, ${fmt.int(config.listLarge)} devices` + (before ? ` (topping up the seed benchmark's ${fmt.int(before.devices)})` : ''));
    const large = (await workspace.seed('large', config.listLarge, store)).file;
    progress(`list: ${label}: seeded, large in ${fmt.seconds(seedingOf(large).seconds)} s (${fmt.int(seedingOf(large).devicesPerSecond)} devices/s)`);
    const smallRuns = await measureDatabase('small', small, config, workspace);
    const largeRuns = await measureDatabase('large', large, config, workspace);
    results.push({
      store, small, large, smallRuns, largeRuns,
      smallBytes: await workspace.sizeBytes('small', store),
      largeBytes: await workspace.sizeBytes('large', store),
    });
  }

  const rows: ReportRow[] = [];
  const seedRows: ReportRow[] = [];
  const seedNotes: string[] = [];
  const notes = [
    `GET /beta/teamwork/devices?$top=50&$filter=${filter}; the deep page follows @odata.nextLink ${pagesDeep} times (${results
      .map((r) => `${storeLabel[r.store]}: page ${r.smallRuns.deepPage} small, page ${r.largeRuns.deepPage} large`)
      .join('; ')})`,
    `real server in a child process per database, autocannon here: ${config.listConnections} connections, ${config.listSeconds} s measured after ${config.listWarmupSeconds} s warm-up`,
    `ratio = cost large/small: requests/s small ÷ large; p99 large ÷ small`,
  ];
  const data: Record<string, unknown> = {};
  for (const r of results) {
    const label = storeLabel[r.store];
    const ratios: Record<string, { costRatio: number; p99Ratio: number }> = {};
    for (const key of ['first', 'deep'] as const) {
      const s = r.smallRuns[key].measured;
      const l = r.largeRuns[key].measured;
      const costRatio = ratioOf(s.rps, l.rps); // rps_small / rps_large
      const p99Ratio = ratioOf(l.p99, s.p99);
      ratios[key] = { costRatio, p99Ratio };
      const page = key === 'first' ? 'first page' : `page ${r.largeRuns.deepPage} ($skiptoken)`;
      rows.push(
        { figure: `${label} ${page} requests/s`, measured: fmt.rps(l.rps), baseline: fmt.rps(s.rps), ratio: fmt.ratio(costRatio), goal: goalText(costRatio <= 1.25, '<= 1.25') },
        { figure: `${label} ${page} p99 (ms)`, measured: fmt.ms(l.p99), baseline: fmt.ms(s.p99), ratio: fmt.ratio(p99Ratio) },
      );
    }
    for (const [name, runs] of [['small', r.smallRuns], ['large', r.largeRuns]] as const) {
      for (const m of [runs.first, runs.deep]) {
        if (m.unexpected.count) notes.push(`!!! ${label} ${name}: ${m.unexpected.count} responses were not 200 (${m.unexpected.text}) on ${m.path} !!!`);
      }
    }

    const smallSeed = seedingOf(r.small);
    const largeSeed = seedingOf(r.large);
    const sizeLabel = r.store === 'sqlite' ? 'file size (MB)' : 'database size (MB)';
    seedRows.push(
      { figure: `${label} seeding devices/s`, measured: fmt.int(largeSeed.devicesPerSecond), baseline: fmt.int(smallSeed.devicesPerSecond), ratio: fmt.ratio(ratioOf(largeSeed.devicesPerSecond, smallSeed.devicesPerSecond)) },
      { figure: `${label} seeding seconds`, measured: fmt.seconds(largeSeed.seconds), baseline: fmt.seconds(smallSeed.seconds), ratio: fmt.ratio(ratioOf(largeSeed.seconds, smallSeed.seconds)) },
      { figure: `${label} ${sizeLabel}`, measured: fmt.int(r.largeBytes / 1e6), baseline: fmt.int(r.smallBytes / 1e6), ratio: fmt.ratio(ratioOf(r.largeBytes, r.smallBytes)) },
    );
    if (r.store === 'sqlite') {
      seedNotes.push(`SQLite: one file per size (WAL, database + WAL + shm)`);
      if (r.large.timings.length > 1) {
        seedNotes.push(`SQLite large file built in ${r.large.timings.length} steps: ${r.large.timings.map((t) => `${fmt.int(t.devices)} at ${fmt.int(t.devicesPerSecond)}/s`).join(', then ')} (the first is the seed benchmark's file)`);
      }
    } else {
      const analyze = (f: SeededFile) => f.timings.reduce((sum, t) => sum + (t.analyzeSeconds ?? 0), 0);
      seedNotes.push(
        `PostgreSQL: one fresh database per size (pg_database_size); seedDevices = one INSERT … SELECT FROM unnest(one array per column) per 5,000 devices, ` +
          `ending with VACUUM (ANALYZE) devices (in the seeding figures); then ANALYZE devices again (${fmt.seconds(analyze(r.large))} s large, ${fmt.seconds(analyze(r.small))} s small, not in the seeding figures) and a CHECKPOINT`,
      );
    }
    data[r.store] = {
      small: { devices: r.small.devices, bytes: r.smallBytes, seeding: r.small.timings, first: loadSummary(r.smallRuns.first.measured), deep: { page: r.smallRuns.deepPage, ...loadSummary(r.smallRuns.deep.measured) } },
      large: { devices: r.large.devices, bytes: r.largeBytes, seeding: r.large.timings, first: loadSummary(r.largeRuns.first.measured), deep: { page: r.largeRuns.deepPage, ...loadSummary(r.largeRuns.deep.measured) } },
      ratios,
    };
  }

  const largeCount = results[0].large.devices;
  const smallCount = results[0].small.devices;
  for (const r of results) {
    if (r.large.devices !== largeCount || r.small.devices !== smallCount) {
      notes.push(`!!! ${storeLabel[r.store]} holds ${fmt.int(r.large.devices)} and ${fmt.int(r.small.devices)} devices, not ${fmt.int(largeCount)} and ${fmt.int(smallCount)} !!!`);
    }
  }
  const storesText = results.map((r) => storeLabel[r.store]).join(' and ');
  return {
    name: 'listDevices',
    tables: [
      {
        title: `list devices: one filtered page over ${fmt.int(largeCount)} vs ${fmt.int(smallCount)} devices (${storesText})`,
        columns: { measured: `${fmt.int(largeCount)} devices`, baseline: `${fmt.int(smallCount)} devices`, ratio: 'cost large/small' },
        rows,
        notes,
      },
      {
        title: `list devices: seeding the databases with seedDevices (${storesText})`,
        columns: { measured: `${fmt.int(largeCount)} devices`, baseline: `${fmt.int(smallCount)} devices`, ratio: 'large/small' },
        rows: seedRows,
        notes: seedNotes,
      },
    ],
    data: { filter, top: 50, connections: config.listConnections, seconds: config.listSeconds, stores: data },
  };
}

async function measureDatabase(name: string, file: SeededFile, config: BenchConfig, workspace: BenchWorkspace): Promise<PageRuns> {
  const label = storeLabel[file.store];
  const headers = { authorization: `Bearer ${await workspace.token(name, file.store)}` };
  const target = await startTarget('real', file.db);
  try {
    const firstPath = listPath({ $top: '50', $filter: filter });
    const deep = await deepPagePath(target.url, firstPath, headers, pagesDeep);
    const options = { connections: config.listConnections, seconds: config.listSeconds, warmupSeconds: config.listWarmupSeconds };
    progress(`list: ${label} ${name} (${fmt.int(file.devices)} devices) first page`);
    const first = await measureGet(target.url, firstPath, headers, options);
    progress(`list: ${label} ${name} page ${deep.page} via $skiptoken`);
    const deepRun = await measureGet(target.url, deep.path, headers, options);
    return { first, deep: deepRun, deepPage: deep.page };
  } finally {
    await target.stop();
  }
}

function seedingOf(file: SeededFile): { devicesPerSecond: number; seconds: number } {
  const seconds = file.timings.reduce((sum, t) => sum + t.seconds, 0);
  const devices = file.timings.reduce((sum, t) => sum + t.devices, 0);
  return { seconds, devicesPerSecond: devices / seconds };
}
