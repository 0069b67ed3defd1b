import type { Command } from 'commander';
import { rotateDevSigningKey } from '../auth/dev-issuer.js';
import { verifyingDevKeys } from '../auth/dev-keys.js';
import { dbOption, withStore } from './cli-options.js';

/** `keys`: the dev issuer's signing keys (public facts only; private keys never leave the store). */
export function addKeysCommand(program: Command): void {
  const keys = program.command('keys').description("the dev issuer's signing keys");
  keys
    .command('rotate')
    .description('make a new key the one that signs dev tokens; older keys still verify the tokens they signed')
    .addOption(dbOption())
    .action(async (options) => {
      await withStore(options.db, async (store) => {
        const key = await rotateDevSigningKey(store);
        process.stdout.write(`${key.kid}\n`);
      });
    });
  keys
    .command('list')
    .description('kid, algorithm, creation time and status of each key, newest first')
    .addOption(dbOption())
    .action(async (options) => {
      await withStore(options.db, async (store) => {
        const all = await store.signingKeys();
        const verifying = new Set(verifyingDevKeys(all, Date.now()).map((key) => key.kid));
        const lines = all.map((key, i) => {
          const status = i === 0 ? 'signing' : verifying.has(key.kid) ? 'verifying' : 'retired';
          return `${key.kid}\t${key.alg}\t${key.createdAt}\t${status}`;
        });
        process.stdout.write(lines.length ? `${lines.join('\n')}\n` : '');
      });
    });
}
