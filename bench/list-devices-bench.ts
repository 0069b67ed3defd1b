import type { BenchConfig } from './bench-config.js';
import { fmt, goalText, progress, ratioOf, type BenchOutcome, type ReportRow } from './bench-report.js';
import type { BenchWorkspace, SeededFile } from './bench-workspace.js';
import { loadSummary, measureGet, type GetMeasurement } from './load.js';
import { deepPagePath, listPath } from './page-walk.js';
import { startTarget } from './target-process.js';

const filter = "deviceType eq 'teamsRoom'";
const pagesDeep = 10;

/**
 * Cost of one filtered page over a small and a large fleet: the same `$top=50` page with
 * `$filter=deviceType eq 'teamsRoom'` (first page, and a page reached through `$skiptoken`)
 * from the real server over 10,000 devices (the baseline) and over 1,000,000 devices, each in
 * its own SQLite file. Keyset paging should make the two cost the same.
 */
export async function listDevicesBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  progress(`list: seeding small file, ${fmt.int(config.listSmall)} devices`);
  const small = (await workspace.seed('small', config.listSmall)).file;
  progress(`list: seeding large file, ${fmt.int(config.listLarge)} devices` + (workspace.existing('large') ? ` (topping up the seed benchmark's ${fmt.int(workspace.existing('large')!.devices)})` : ''));
  const large = (await workspace.seed('large', config.listLarge)).file;

  const smallRuns = await measureFile('small', small, config, workspace);
  const largeRuns = await measureFile('large', large, config, workspace);

  const rows: ReportRow[] = [];
  const ratios: Record<string, { costRatio: number; p99Ratio: number }> = {};
  for (const key of ['first', 'deep'] as const) {
    const s = smallRuns[key].measured;
    const l = largeRuns[key].measured;
    const costRatio = ratioOf(s.rps, l.rps); // rps_small / rps_large
    const p99Ratio = ratioOf(l.p99, s.p99);
    ratios[key] = { costRatio, p99Ratio };
    const label = key === 'first' ? 'first page' : `page ${largeRuns.deepPage} ($skiptoken)`;
    rows.push(
      { figure: `${label} requests/s`, measured: fmt.rps(l.rps), baseline: fmt.rps(s.rps), ratio: fmt.ratio(costRatio), goal: goalText(costRatio <= 1.25, '<= 1.25') },
      { figure: `${label} p99 (ms)`, measured: fmt.ms(l.p99), baseline: fmt.ms(s.p99), ratio: fmt.ratio(p99Ratio) },
    );
  }

  const notes = [
    `GET /beta/teamwork/devices?$top=50&$filter=${filter}; the deep page follows @odata.nextLink ${pagesDeep} times (page ${smallRuns.deepPage} small, page ${largeRuns.deepPage} large)`,
    `real server in a child process per file, autocannon here: ${config.listConnections} connections, ${config.listSeconds} s measured after ${config.listWarmupSeconds} s warm-up`,
    `ratio = cost large/small: requests/s small ÷ large; p99 large ÷ small`,
  ];
  for (const [name, runs] of [['small', smallRuns], ['large', largeRuns]] as const) {
    for (const m of [runs.first, runs.deep]) {
      if (m.unexpected.count) notes.push(`!!! ${name}: ${m.unexpected.count} responses were not 200 (${m.unexpected.text}) on ${m.path} !!!`);
    }
  }

  const smallSeed = seedingOf(small);
  const largeSeed = seedingOf(large);
  return {
    name: 'listDevices',
    tables: [
      {
        title: `list devices: one filtered page over ${fmt.int(large.devices)} vs ${fmt.int(small.devices)} devices`,
        columns: { measured: `${fmt.int(large.devices)} devices`, baseline: `${fmt.int(small.devices)} devices`, ratio: 'cost large/small' },
        rows,
        notes,
      },
      {
        title: 'list devices: seeding the two files with seedDevices',
        columns: { measured: `${fmt.int(large.devices)} devices`, baseline: `${fmt.int(small.devices)} devices`, ratio: 'large/small' },
        rows: [
          { figure: 'seeding devices/s', measured: fmt.int(largeSeed.devicesPerSecond), baseline: fmt.int(smallSeed.devicesPerSecond), ratio: fmt.ratio(ratioOf(largeSeed.devicesPerSecond, smallSeed.devicesPerSecond)) },
          { figure: 'seeding seconds', measured: fmt.seconds(largeSeed.seconds), baseline: fmt.seconds(smallSeed.seconds), ratio: fmt.ratio(ratioOf(largeSeed.seconds, smallSeed.seconds)) },
          { figure: 'file size (MB)', measured: fmt.int(workspace.sizeBytes('large') / 1e6), baseline: fmt.int(workspace.sizeBytes('small') / 1e6), ratio: fmt.ratio(ratioOf(workspace.sizeBytes('large'), workspace.sizeBytes('small'))) },
        ],
        notes: large.timings.length > 1
          ? [`large file built in ${large.timings.length} steps: ${large.timings.map((t) => `${fmt.int(t.devices)} at ${fmt.int(t.devicesPerSecond)}/s`).join(', then ')} (the first is the seed benchmark's file)`]
          : [],
      },
    ],
    data: {
      filter,
      top: 50,
      connections: config.listConnections,
      seconds: config.listSeconds,
      small: { devices: small.devices, seeding: small.timings, first: loadSummary(smallRuns.first.measured), deep: { page: smallRuns.deepPage, ...loadSummary(smallRuns.deep.measured) } },
      large: { devices: large.devices, seeding: large.timings, first: loadSummary(largeRuns.first.measured), deep: { page: largeRuns.deepPage, ...loadSummary(largeRuns.deep.measured) } },
      ratios,
    },
  };
}

async function measureFile(name: string, file: SeededFile, config: BenchConfig, workspace: BenchWorkspace) {
  const headers = { authorization: `Bearer ${await workspace.token(name)}` };
  const target = await startTarget('real', file.path);
  try {
    const firstPath = listPath({ $top: '50', $filter: filter });
    const deep = await deepPagePath(target.url, firstPath, headers, pagesDeep);
    const options = { connections: config.listConnections, seconds: config.listSeconds, warmupSeconds: config.listWarmupSeconds };
    progress(`list: ${name} (${fmt.int(file.devices)} devices) first page`);
    const first: GetMeasurement = await measureGet(target.url, firstPath, headers, options);
    progress(`list: ${name} page ${deep.page} via $skiptoken`);
    const deepRun: GetMeasurement = await measureGet(target.url, deep.path, headers, options);
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
