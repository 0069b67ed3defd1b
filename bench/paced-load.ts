import http from 'node:http';

/** One request of a paced load. */
export interface PacedRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
}

/**
 * Requests at a fixed rate (not as fast as the server answers, as wrk does): a soak must put
 * the same work on the server in its 25th minute as in its 5th, so memory is compared at equal
 * load. At most `concurrency` are in flight; a slot that is not free delays the next request,
 * and the rate achieved is reported. Answers are counted by "kind status" per window
 * (takeWindow), socket failures as "kind error <code>".
 */
export class PacedLoad {
  private window: Record<string, number> = {};
  readonly totals: Record<string, number> = {};
  private stopping = false;
  private inFlight = 0;
  private readonly agent: http.Agent;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly kind: string,
    private readonly base: URL,
    token: string,
    private readonly rate: number,
    private readonly concurrency: number,
    private readonly next: (k: number) => PacedRequest,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    this.headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  }

  /** Sends until stop(); resolves once the last answer is in. */
  async run(): Promise<void> {
    const started = performance.now();
    const pending = new Set<Promise<void>>();
    for (let k = 0; !this.stopping; k++) {
      const wait = started + (k * 1000) / this.rate - performance.now();
      if (wait > 0) await sleep(wait);
      while (this.inFlight >= this.concurrency && !this.stopping) await Promise.race(pending);
      if (this.stopping) break;
      const sent = this.send(this.next(k));
      pending.add(sent);
      void sent.finally(() => pending.delete(sent));
    }
    await Promise.all(pending);
    this.agent.destroy();
  }

  stop(): void {
    this.stopping = true;
  }

  /** Answers counted since the previous call. */
  takeWindow(): Record<string, number> {
    const window = this.window;
    this.window = {};
    return window;
  }

  private count(key: string): void {
    this.window[key] = (this.window[key] ?? 0) + 1;
    this.totals[key] = (this.totals[key] ?? 0) + 1;
  }

  private send(request: PacedRequest): Promise<void> {
    this.inFlight++;
    return new Promise<void>((resolve) => {
      let finished = false;
      const done = (key: string) => {
        // a socket failure after the answer began may be reported twice: count the request once
        if (finished) return;
        finished = true;
        this.inFlight--;
        this.count(`${this.kind} ${key}`);
        resolve();
      };
      const headers = request.body === undefined ? this.headers : { ...this.headers, 'content-length': String(Buffer.byteLength(request.body)) };
      const outgoing = http.request(
        { host: this.base.hostname, port: this.base.port, method: request.method, path: request.path, agent: this.agent, headers },
        (response) => {
          response.resume();
          response.on('end', () => done(String(response.statusCode)));
          response.on('error', (error: NodeJS.ErrnoException) => done(`error ${error.code ?? error.message}`));
        },
      );
      outgoing.setTimeout(60_000, () => outgoing.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      outgoing.on('error', (error: NodeJS.ErrnoException) => done(`error ${error.code ?? error.message}`));
      outgoing.end(request.body);
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
