import type { WorkItem } from '../../src/domain/agent-protocol.js';
import type { Store } from '../../src/store/store.js';
import { enrollBody, enrollmentToken, TestAgent, uniqueHardware, type EnrollBody } from './test-agent.js';

/** What a scripted device does with an update: install it, or fail with a code. */
export type Outcome = { ok: true } | { ok: false; code: string };

/** Decides each update's outcome from the device's index in the fleet and how many updates it was given. */
export type Script = (deviceIndex: number, operation: WorkItem, attempt: number) => Outcome;

/**
 * Devices over the real agent protocol whose every update ends as the test's script says, so
 * thresholds, retries and supersession are tested deterministically (the simulator's failures
 * are random). Each device records every operation it was handed, so a test can show that no
 * device was asked twice.
 */
export class ScriptedFleet {
  readonly agents: TestAgent[] = [];
  /** operation ids each device was handed, in order */
  readonly received = new Map<string, string[]>();
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  /** devices that hold their work without starting it (a device in a meeting, say) */
  readonly holding = new Set<string>();

  constructor(private readonly server: { url: string; store: Store }, private readonly script: Script) {}

  /** Enrolls `count` more devices (of this hardware model, so a $filter can pick them) and starts their loops. */
  async add(count: number, model = 'scripted', overrides: Partial<EnrollBody> = {}, tenantId?: string): Promise<string[]> {
    const token = await enrollmentToken(this.server, tenantId);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const agent = new TestAgent(this.server.url);
      await agent.enrollOk(enrollBody(token, { hardwareDetail: uniqueHardware({ model }), ...overrides }), 201);
      const index = this.agents.length;
      this.agents.push(agent);
      this.received.set(agent.deviceId!, []);
      ids.push(agent.deviceId!);
      this.loops.push(this.run(agent, index));
    }
    return ids;
  }

  private async run(agent: TestAgent, index: number): Promise<void> {
    const attempts = new Map<string, number>();
    while (!this.stopped) {
      let work: WorkItem | null;
      try {
        work = await agent.nextWork(1);
      } catch {
        if (this.stopped) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (!work || this.stopped) continue;
      if (this.holding.has(agent.deviceId!)) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const seen = this.received.get(agent.deviceId!)!;
      if (!seen.includes(work.id)) seen.push(work.id);
      try {
        if (work.status !== 'inProgress') await agent.ackOk(work.id);
        const key = `${work.softwareType}`;
        const attempt = (attempts.get(key) ?? 0) + 1;
        attempts.set(key, attempt);
        const outcome = this.script(index, work, attempt);
        await agent.resultOk(work.id, outcome.ok
          ? { status: 'successful', installed: { [work.softwareType!]: work.softwareVersion } }
          : { status: 'failed', error: { code: outcome.code, message: `scripted failure ${outcome.code}` } });
      } catch {
        // the operation was withdrawn or cancelled meanwhile: the next poll says what is next
      }
    }
  }

  /** Devices that were handed more than one operation. */
  askedTwice(): string[] {
    return [...this.received].filter(([, ops]) => ops.length > 1).map(([id]) => id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}
