import { Option, type Command } from 'commander';
import { deviceTypes, softwareTypes } from '../domain/enums.js';
import { compareVersions, versionTextPattern } from '../domain/software-catalog.js';
import { seedDemoCatalog } from '../seed/demo-catalog.js';
import { dbOption, tenantOption, withStore } from './cli-options.js';

/** `catalog add|list|demo`: the software versions devices can be updated to. */
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
    .action(async (options) => {
      const versions = options.version as string[];
      const invalid = versions.filter((v) => !versionTextPattern.test(v));
      if (invalid.length) throw new Error(`--version must be 1-64 characters of letters, digits and . - + _ (not '${invalid[0]}')`);
      await withStore(options.db, async (store) => {
        const createdDateTime = new Date().toISOString();
        for (const version of versions) {
          const result = await store.addCatalogEntry({
            tenantId: options.tenant,
            softwareType: options.softwareType,
            version,
            deviceType: options.deviceType ?? null,
            model: options.model ?? null,
            createdDateTime,
          });
          process.stdout.write(`${result === 'added' ? 'added' : 'already in the catalog'}: ${options.softwareType} ${version}\n`);
        }
      });
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
          process.stdout.write(`${e.softwareType.padEnd(16)} ${e.version.padEnd(28)} ${e.deviceType ?? '*'}${e.model ? ` / ${e.model}` : ''}\n`);
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
