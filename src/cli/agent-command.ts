import type { Command } from 'commander';
import { AgentConfigError, readAgentConfig } from '../device/agent-config.js';
import { AgentStateDir } from '../device/agent-state.js';
import { CommandHost } from '../device/command-host.js';
import { DeviceAgent } from '../device/device-agent.js';
import { hostHardware } from '../device/host-facts.js';
import { unseededRandom } from '../seed/seeded-random.js';
import { integer } from './cli-options.js';

/** `agent`: the device agent people run on a device host (docs/agent.md). */
export function addAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run the device agent: enroll, then install what the server asks for with the commands of --config')
    .requiredOption('--url <url>', 'server base URL, e.g. https://devices.example.com')
    .option('--enrollment-token <token>', 'tenant enrollment token, for the first start (later starts use the credential in --state-dir)')
    .requiredOption('--state-dir <dir>', 'where the agent keeps its device id, credential and downloads (created 0700)')
    .requiredOption('--config <file>', 'the JSON config: device, software commands, restart, diagnostics')
    .option('--long-poll-seconds <s>', 'how long the server may hold a work poll', integer('--long-poll-seconds'), 30)
    .action(async (options) => {
      const log = (message: string) => process.stdout.write(`${new Date().toISOString()} ${message}\n`);
      let config;
      try {
        config = readAgentConfig(options.config);
      } catch (error) {
        if (!(error instanceof AgentConfigError)) throw error;
        process.stderr.write(`agent: ${error.message}\n`);
        process.exit(2);
      }
      const state = new AgentStateDir(options.stateDir);
      const identity = state.identity();
      if (!identity && !options.enrollmentToken) {
        process.stderr.write(`agent: not enrolled yet (no identity in ${options.stateDir}); give --enrollment-token\n`);
        process.exit(2);
      }
      const agent = new DeviceAgent({
        url: options.url,
        enrollmentToken: options.enrollmentToken ?? null,
        credential: identity?.credential ?? null,
        whenRefused: 'stop',
        longPollSeconds: options.longPollSeconds,
        heartbeatMs: config.inventoryIntervalSeconds * 1000,
        random: unseededRandom,
        name: 'agent',
        label: identity?.deviceId.slice(0, 8) ?? 'new',
        log,
      }, new CommandHost(config, state, hostHardware(), options.url));
      const stop = async () => {
        log('stopping');
        await agent.stop();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await agent.start();
      } catch (error) {
        process.stderr.write(`agent: ${(error as Error).message}\n`);
        process.exit(1);
      }
      log(`running as device ${agent.deviceId}; state in ${options.stateDir}`);
      await agent.done();
      if (agent.stopReason) {
        process.stderr.write(`agent: ${agent.stopReason}\n`);
        process.exit(3);
      }
    });
}
