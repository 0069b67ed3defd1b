import { createReadStream, statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { externalArtifactProblem, sha256Pattern, type Artifact } from '../domain/artifact.js';
import { deviceTypes, softwareTypes } from '../domain/enums.js';
import { compareVersions, versionTextPattern, type CatalogEntry } from '../domain/software-catalog.js';
import { seedDemoCatalog } from '../seed/demo-catalog.js';
import type { Store } from '../store/store.js';
import { artifactDirOption, dbOption, tenantOption, withStore } from './cli-options.js';

interface ArtifactOptions {
  artifact?: string;
  artifactUrl?: string;
  sha256?: string;
  size?: string;
}

/** `catalog add|list|demo`: the software versions devices can be updated to, and the artifacts they install from. */
export function addCatalogCommand(program: Command): void {
  const group = program.command('catalog').description('available software versions per software type and device type/model');
  group
    .command('add')
    .description('offer versions of a software type (to every device, or only to a device type and model); updateSoftware refuses any other version with a 404')
    .addOption(dbOption())
    .addOption(tenantOption())
    .addOption(new Option('--software-type <type>', 'software type').choices([...softwareTypes]).makeOptionMandatory())
    .requiredOption('--version <version>', 'version string (repeatable)', (value: string, previous: string[] = []) => [...previous, value])
    .addOption(new Option('--device-type <type>', 'only for this device type').choices([...deviceTypes]))
    .option('--model <model>', 'only for this hardware model (any case)')
    .addOption(new Option('--artifact <file>', 'the file devices install the version from: stored by the service (content-addressed by SHA-256), downloaded by devices with their credential').conflicts(['artifactUrl', 'sha256', 'size']))
    .option('--artifact-url <url>', 'instead of --artifact: where devices download the file (https; plain http only to a loopback address); needs --sha256 and --size')
    .option('--sha256 <hex>', "the --artifact-url file's SHA-256 (64 lower-case hex digits), which devices check")
    .option('--size <bytes>', "the --artifact-url file's size in bytes, which devices check")
    .addOption(artifactDirOption())
    .action(async (options) => {
      const versions = options.version as string[];
      const invalid = versions.filter((v) => !versionTextPattern.test(v));
      if (invalid.length) throw new Error(`--version must be 1-64 characters of letters, digits and . - + _ (not '${invalid[0]}')`);
      const external = externalArtifact(options as ArtifactOptions);
      if ((options.artifact || external) && versions.length > 1) throw new Error('an artifact is one version\'s file: give one --version with --artifact or --artifact-url');
      const file = options.artifact ? artifactFile(options.artifact) : null;
      await withStore(options.db, async (store) => {
        // Stored before the entry names it: a device must never be handed an artifact that is not there.
        const artifact = file ? await upload(store, file) : external;
        const createdDateTime = new Date().toISOString();
        for (const version of versions) {
          const entry = {
            tenantId: options.tenant,
            softwareType: options.softwareType,
            version,
            deviceType: options.deviceType ?? null,
            model: options.model ?? null,
            createdDateTime,
            artifact,
          };
          if ((await store.addCatalogEntry(entry)) === 'added') {
            process.stdout.write(`added: ${options.softwareType} ${version}${artifact ? ` (${describeArtifact(artifact)})` : ''}\n`);
            continue;
          }
          const existing = (await store.listCatalog(options.tenant)).find((e) => sameKey(e, entry));
          if (artifact && !sameArtifact(existing?.artifact ?? null, artifact)) {
            throw new Error(`${options.softwareType} ${version} is already in the catalog with ${existing?.artifact ? describeArtifact(existing.artifact) : 'no artifact'}; entries are never changed`);
          }
          process.stdout.write(`already in the catalog: ${options.softwareType} ${version}\n`);
        }
      }, { artifactDir: options.artifactDir ?? null });
    });
  group
    .command('list')
    .description('list the catalog, newest version first per software type')
    .addOption(dbOption())
    .addOption(tenantOption())
    .option('--json', 'machine-readable output', false)
    .action(async (options) => {
      await withStore(options.db, async (store) => {
        const entries = (await store.listCatalog(options.tenant)).sort(
          (a, b) => a.softwareType.localeCompare(b.softwareType) || compareVersions(b.version, a.version),
        );
        if (options.json) {
          process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
          return;
        }
        for (const e of entries) {
          const target = `${e.deviceType ?? '*'}${e.model ? ` / ${e.model}` : ''}`;
          process.stdout.write(`${e.softwareType.padEnd(16)} ${e.version.padEnd(28)} ${e.artifact ? `${target.padEnd(28)} ${describeArtifact(e.artifact)}` : target}\n`);
        }
      });
    });
  group
    .command('demo')
    .description('add the demo catalog (the versions demo and simulated devices run)')
    .addOption(dbOption())
    .addOption(tenantOption())
    .action(async (options) => {
      await withStore(options.db, async (store) => {
        process.stdout.write(`added ${await seedDemoCatalog(store, options.tenant)} catalog entries\n`);
      });
    });
}

/** --artifact-url with --sha256 and --size, checked; null when none of them is given. */
function externalArtifact(options: ArtifactOptions): Artifact | null {
  if (options.artifactUrl === undefined) {
    if (options.sha256 !== undefined || options.size !== undefined) throw new Error('--sha256 and --size describe an --artifact-url (--artifact is measured when uploaded)');
    return null;
  }
  if (options.sha256 === undefined || options.size === undefined) throw new Error('--artifact-url needs --sha256 and --size, which devices check what they download against');
  const artifact = { url: options.artifactUrl, sha256: options.sha256, size: /^\d+$/.test(options.size) ? Number(options.size) : NaN };
  const problem = externalArtifactProblem(artifact);
  if (problem) throw new Error(`--artifact-url: ${problem}`);
  return artifact;
}

/** The path of a non-empty regular file, or a message saying why not. */
function artifactFile(path: string): string {
  let size: number;
  try {
    const found = statSync(path);
    if (!found.isFile()) throw new Error(`--artifact ${path} is not a file`);
    size = found.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`--artifact ${path} does not exist`);
    throw error;
  }
  if (size === 0) throw new Error(`--artifact ${path} is empty`);
  return path;
}

/** Streams the file into the store: a file of any size costs this process a buffer, not the file. */
async function upload(store: Store, path: string): Promise<Artifact> {
  const stored = await store.putArtifact(createReadStream(path));
  if (!sha256Pattern.test(stored.sha256) || stored.size === 0) throw new Error(`--artifact ${path} could not be stored`);
  return { sha256: stored.sha256, size: stored.size, url: null };
}

function describeArtifact(artifact: Artifact): string {
  return `artifact ${artifact.sha256}, ${artifact.size} bytes${artifact.url ? `, at ${artifact.url}` : ''}`;
}

function sameKey(a: Omit<CatalogEntry, 'artifact' | 'createdDateTime'>, b: Omit<CatalogEntry, 'artifact' | 'createdDateTime'>): boolean {
  return a.tenantId === b.tenantId && a.softwareType === b.softwareType && a.version === b.version && a.deviceType === b.deviceType && a.model === b.model;
}

function sameArtifact(a: Artifact | null, b: Artifact | null): boolean {
  return a?.sha256 === b?.sha256 && a?.size === b?.size && a?.url === b?.url;
}
