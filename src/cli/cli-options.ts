import { Option, type Command } from 'commander';
import { defaultDbPath, demoTenant, isGuid } from '../config.js';
import { openStore } from '../store/open-store.js';
import { regenerateSeededDocuments } from '../seed/seeded-documents.js';
import type { Store, StoreOptions } from '../store/store.js';
import { GraphClient } from './graph-client.js';

/** Options several commands share, with the same flag, environment variable and default. */
export const dbOption = () =>
  new Option('--db <file|url>', 'SQLite file path').env('TEAMWORK_DEVICES_DB').default(defaultDbPath);

export const tenantOption = () =>
  new Option('--tenant <guid>', 'tenant id')
    .env('TEAMWORK_DEVICES_TENANT')
    .default(demoTenant)
    .argParser((value: string) => {
      if (!isGuid(value)) throw new Error('--tenant must be a GUID');
      return value;
    });

export function integer(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new Error(`${name} must be a whole number, got '${value}'`);
    return Number(value);
  };
}

/** The options of the Graph client commands (`devices …`, `rollouts …`): where, as whom, and --json for scripts. */
export function graphClientOptions(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'server base URL').env('TEAMWORK_DEVICES_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--token <token>', 'bearer token').env('TEAMWORK_DEVICES_TOKEN').makeOptionMandatory())
    .option('--json', 'print JSON for scripts', false);
}

/** The Graph client those options name. */
export function graphClientOf(options: { url: string; token: string }): GraphClient {
  return new GraphClient(options.url.replace(/\/$/, ''), options.token);
}

export const artifactDirOption = () =>
  new Option('--artifact-dir <dir>', 'keep uploaded artifacts as files in this directory, which every replica shares (default: SQLite: artifacts/ beside the database file; PostgreSQL: in the database)')
    .env('TEAMWORK_DEVICES_ARTIFACT_DIR');

/**
 * Opens the store a command names with --db. It can read seeded devices: opening may migrate,
 * and migration 14 reads their health documents.
 */
export function openCommandStore(db: string, options: StoreOptions = {}): Promise<Store> {
  return openStore(db, { seededDocuments: regenerateSeededDocuments, ...options });
}

/** Opens the store a command names with --db, runs `work` on it, and always closes it. */
export async function withStore<T>(db: string, work: (store: Store) => Promise<T>, options: StoreOptions = {}): Promise<T> {
  const store = await openCommandStore(db, options);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
