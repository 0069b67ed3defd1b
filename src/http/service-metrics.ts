import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Histogram, Counter, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Engine } from '../engine/engine.js';
import type { Store } from '../store/store.js';
import { routeOf } from './request-log.js';

/** Every metric's name starts with this; prom-client's default (process, Node) metrics keep their usual names. */
const prefix = 'teamwork_devices_';

/** Latency buckets in seconds: a 202 takes milliseconds, an agent long-poll up to 30 s. */
const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Operations per group commit. */
const batchBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000];
const knownMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The service's Prometheus metrics, on a registry of its own (a process may run several
 * servers: the tests do). Request metrics are recorded as replies are sent; what the store
 * knows (open operations, connected devices) is read once per scrape, never per request.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly requestSeconds: Histogram<'method' | 'route' | 'status'>;
  /** label children by "method route status": prom-client hashes a label object on every observe otherwise */
  private readonly requestChildren = new Map<string, { observe(value: number): void }>();
  private readonly readWaits: Counter;

  constructor(store: Store, engine: Engine, log: Logger | null) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requestSeconds = new Histogram({
      name: `${prefix}http_request_duration_seconds`,
      help: 'HTTP requests by method, route pattern and status, and how long their replies took; _count counts them.',
      labelNames: ['method', 'route', 'status'],
      buckets: latencyBuckets,
      registers,
    });
    const readFailed = (what: string) => (error: unknown) => log?.warn({ err: error }, `metrics: could not read ${what}`);
    new Gauge({
      name: `${prefix}operations`,
      help: 'Operations not yet ended (queued, scheduled, inProgress) by type and status, in the whole database (every replica\'s), read at scrape time.',
      labelNames: ['operation_type', 'status'],
      registers,
      async collect() {
        this.reset();
        try {
          for (const { operationType, status, count } of await store.monitor.openOperations()) {
            this.set({ operation_type: operationType, status }, count);
          }
        } catch (error) {
          readFailed('open operations')(error);
        }
      },
    });
    const transitions = new Counter({
      name: `${prefix}operation_transitions_total`,
      help: 'Operations this process moved into a status (created, started, ended, expired), by type and the status entered.',
      labelNames: ['operation_type', 'status'],
      registers,
    });
    // On the 202's path: label children kept, as for the request histogram (types × statuses: at most 18).
    const transitionChildren = new Map<string, { inc(): void }>();
    store.monitor.onOperationStatus((operationType, status) => {
      const key = `${operationType} ${status}`;
      let child = transitionChildren.get(key);
      if (!child) transitionChildren.set(key, (child = transitions.labels(operationType, status)));
      child.inc();
    });
    new Gauge({
      name: `${prefix}devices_connected`,
      help: 'Devices the database considers connected (heard from within the heartbeat timeout), every replica\'s, read at scrape time.',
      registers,
      async collect() {
        try {
          this.set(await store.monitor.connectedDevices());
        } catch (error) {
          // Not 0: an unlabelled gauge always has a sample, and 0 would read as "no device is connected".
          this.set(Number.NaN);
          readFailed('connected devices')(error);
        }
      },
    });
    new Gauge({
      name: `${prefix}long_polls`,
      help: 'Devices whose work long-poll this process holds now.',
      registers,
      collect() {
        this.set(engine.devicesWaiting);
      },
    });
    new Gauge({
      name: `${prefix}db_pool_connections`,
      help: 'PostgreSQL: the pool\'s connections, by state (total, idle, and waiting: requests waiting for one).',
      labelNames: ['state'],
      registers,
      collect() {
        const connections = store.monitor.connections();
        if (connections.kind === 'postgres') setStates(this, { total: connections.total, idle: connections.idle, waiting: connections.waiting });
      },
    });
    new Gauge({
      name: `${prefix}sqlite_readers`,
      help: 'SQLite: the reader processes that run long reads (filtered pages, $count), by state (total, busy).',
      labelNames: ['state'],
      registers,
      collect() {
        const connections = store.monitor.connections();
        if (connections.kind === 'sqlite') setStates(this, { total: connections.readers, busy: connections.readersBusy });
      },
    });
    const batches = new Histogram({
      name: `${prefix}group_commit_batch_size`,
      help: 'Accepted operations written per group commit (one fsync on SQLite, one statement on PostgreSQL).',
      buckets: batchBuckets,
      registers,
    });
    store.monitor.onCommitBatch((size) => batches.observe(size));
    this.readWaits = new Counter({
      name: `${prefix}tenant_read_waits_total`,
      help: 'Graph reads that waited for their tenant\'s turn: the tenant had its share running while other tenants read (TenantShares).',
      registers,
    });
  }

  /** Counts a Graph read that waited for its tenant's turn. */
  readWaited(): void {
    this.readWaits.inc();
  }

  /** Records a request as its reply is sent. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    let child = this.requestChildren.get(key);
    if (!child) {
      child = this.requestSeconds.labels(knownMethods.has(method) ? method : 'other', route, String(status));
      this.requestChildren.set(key, child);
    }
    child.observe(seconds);
  }

  /** Records every request the app answers. */
  install(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      this.observeRequest(request.method, routeOf(request), reply.statusCode, reply.elapsedTime / 1000);
    });
  }

  /** The text a scrape answers with, and its content type. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}

/** Sets a gauge's value for each `state` label. */
function setStates(gauge: Gauge<'state'>, values: Record<string, number>): void {
  for (const [state, value] of Object.entries(values)) gauge.set({ state }, value);
}
