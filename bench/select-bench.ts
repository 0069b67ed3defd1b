import type { BenchConfig } from './bench-config.js';
import { fmt, progress, ratioOf, type BenchOutcome } from './bench-report.js';
import type { BenchWorkspace } from './bench-workspace.js';
import { loadSummary, measureGet } from './load.js';
import { fetchPage, listPath } from './page-walk.js';
import { startTarget } from './target-process.js';

/**
 * Serialisation cost: the same `$top=50` device page with every teamworkDevice property
 * against the same page with `$select=id,deviceType`, from the real server over the small
 * list file (the one the list benchmark uses as its baseline).
 */
export async function selectBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  const { file } = await workspace.seed('small', config.listSmall);
  const headers = { authorization: `Bearer ${await workspace.token('small')}` };
  const fullPath = listPath({ $top: '50' });
  const selectPath = listPath({ $top: '50', $select: 'id,deviceType' });
  const target = await startTarget('real', file.db);
  const options = { connections: config.listConnections, seconds: config.listSeconds, warmupSeconds: config.listWarmupSeconds };
  let full, selected, fullPage, selectedPage;
  try {
    fullPage = await fetchPage(target.url, fullPath, headers);
    selectedPage = await fetchPage(target.url, selectPath, headers);
    progress('select: page without $select');
    full = await measureGet(target.url, fullPath, headers, options);
    progress('select: page with $select=id,deviceType');
    selected = await measureGet(target.url, selectPath, headers, options);
  } finally {
    await target.stop();
  }
  const costRatio = ratioOf(selected.measured.rps, full.measured.rps);
  const p99Ratio = ratioOf(full.measured.p99, selected.measured.p99);
  const notes = [
    `GET /beta/teamwork/devices?$top=50 vs ?$top=50&$select=id,deviceType over ${fmt.int(file.devices)} devices; real server in a child process`,
    `${config.listConnections} connections, ${config.listSeconds} s measured after ${config.listWarmupSeconds} s warm-up; ratio = cost full/select (requests/s select ÷ full; p99 full ÷ select)`,
  ];
  for (const m of [full, selected]) if (m.unexpected.count) notes.push(`!!! ${m.unexpected.count} responses were not 200 (${m.unexpected.text}) on ${m.path} !!!`);
  return {
    name: 'select',
    tables: [
      {
        title: 'serialisation: device page without $select vs $select=id,deviceType',
        columns: { measured: 'full page', baseline: '$select=id,deviceType', ratio: 'cost full/select' },
        rows: [
          { figure: 'requests/s', measured: fmt.rps(full.measured.rps), baseline: fmt.rps(selected.measured.rps), ratio: fmt.ratio(costRatio) },
          { figure: 'p99 (ms)', measured: fmt.ms(full.measured.p99), baseline: fmt.ms(selected.measured.p99), ratio: fmt.ratio(p99Ratio) },
          { figure: 'response bytes', measured: fmt.int(fullPage.bytes), baseline: fmt.int(selectedPage.bytes), ratio: fmt.ratio(ratioOf(fullPage.bytes, selectedPage.bytes)) },
        ],
        notes,
      },
    ],
    data: {
      devices: file.devices,
      full: { path: fullPath, bytes: fullPage.bytes, ...loadSummary(full.measured) },
      select: { path: selectPath, bytes: selectedPage.bytes, ...loadSummary(selected.measured) },
      ratios: { cost: costRatio, p99: p99Ratio },
    },
  };
}
