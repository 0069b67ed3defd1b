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

/** A whole number of at least 1, for an option named `name`. */
export function positive(name: string) {
  const whole = integer(name);
  return (value: string): number => {
    const n = whole(value);
    if (n < 1) throw new Error(`${name} must be at least 1, got '${value}'`);
    return n;
  };
}

/** The options of the Graph client commands (`devices …`, `rollouts …`): where, as whom, and --json for scripts. */
export function graphClientOptions(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'server base URL').env('TEAMWORK_DEVICES_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--token <token>', 'bearer token (else $TEAMWORK_DEVICES_TOKEN, else $TOKEN)'))
    .option('--json', 'print JSON for scripts', false);
}

/**
 * The Graph client those options name. The token: --token, else TEAMWORK_DEVICES_TOKEN, else
 * TOKEN (the name the README's examples and `npm start` export it under); an empty one is absent.
 */
export function graphClientOf(options: { url: string; token?: string }): GraphClient {
  const token = [options.token, process.env.TEAMWORK_DEVICES_TOKEN, process.env.TOKEN].find((t) => t !== undefined && t.trim() !== '');
  if (token === undefined) {
    throw new Error('no token: give --token, or set TEAMWORK_DEVICES_TOKEN or TOKEN (for a local server: export TOKEN=$(npx teamwork-devices token))');
  }
  let url: URL | null = null;
  try {
    url = new URL(options.url);
  } catch {
    // reported below with what to give instead
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new Error(`--url must be an http:// or https:// address, got '${options.url}'`);
  return new GraphClient(options.url.replace(/\/$/, ''), token.trim());
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
