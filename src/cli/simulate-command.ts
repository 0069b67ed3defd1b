import type { Command } from 'commander';
import { demoTenant, serveDefaults } from '../config.js';
import { SimulatedFleet } from '../device/simulated-fleet.js';
import { integer } from './cli-options.js';

/** `simulate`: a simulated fleet against any server, over the real agent protocol. */
export function addSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('run N simulated devices against a server')
    .requiredOption('--url <url>', 'server base URL, e.g. http://127.0.0.1:8080')
    .requiredOption('--enrollment-token <token>', 'tenant enrollment token (teamwork-devices enrollment-token create)')
    .requiredOption('--devices <n>', 'how many devices', integer('--devices'))
    .option('--sim-update-ms <ms>', 'how long an update takes (±30 %)', integer('--sim-update-ms'), serveDefaults.simUpdateMs)
    .option('--sim-failure-rate <r>', 'share of updates that fail, 0..1', failureRate, serveDefaults.simFailureRate)
    .option('--random-seed <n>', 'seed of the hardware generator', integer('--random-seed'), 42)
    .option('--state-file <file>', 'keep the devices\' credentials here, so a restarted fleet re-enrolls as the same devices')
    .action(async (options) => {
      const fleet = new SimulatedFleet({
        url: options.url,
        enrollmentToken: options.enrollmentToken,
        devices: options.devices,
        tenantId: demoTenant,
        updateMs: options.simUpdateMs,
        failureRate: options.simFailureRate,
        seed: options.randomSeed,
        stateFile: options.stateFile,
      });
      await fleet.start();
      process.stdout.write(`${options.devices} simulated devices running against ${options.url}; Ctrl-C stops them\n`);
      const report = setInterval(() => process.stdout.write(`${JSON.stringify(fleet.stats())}\n`), 10_000);
      const stop = async () => {
        clearInterval(report);
        await fleet.stop();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

function failureRate(value: string): number {
  const rate = Number(value);
  if (!(rate >= 0 && rate <= 1)) throw new Error(`--sim-failure-rate must be between 0 and 1, got '${value}'`);
  return rate;
}
