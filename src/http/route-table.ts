import type { FastifyInstance, FastifySchema, RouteHandlerMethod } from 'fastify';
import { ServiceError } from '../domain/errors.js';
import type { RouteAccess } from './request-caller.js';
import type {} from './sub-requests.js';

const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
type Method = (typeof methods)[number];

/** Graph serves every path with and without the version segment (the documented Location has none). */
const versionPrefixes = ['', '/beta'];

/**
 * Registers routes under every version prefix and answers the methods a path does not
 * have with 405 and `Allow`, where Fastify on its own would say 404.
 */
export class RouteTable {
  private readonly byUrl = new Map<string, Set<Method>>();

  /**
   * `batchable`: whether a `$batch` may reach these routes (the Graph API's may, the agent
   * protocol's may not).
   */
  constructor(
    private readonly app: FastifyInstance,
    private readonly prefixes: string[] = versionPrefixes,
    private readonly batchable = true,
  ) {}

  /**
   * `schema` is the route's JSON Schemas (`body`, `querystring`, `params`, `response`) and its
   * words (`summary`, `description`): requests are validated against it before the handler
   * runs, and /openapi.json is generated from it.
   */
  add(method: Method, urls: string[], access: RouteAccess, handler: RouteHandlerMethod, schema: FastifySchema = {}): void {
    for (const prefix of this.prefixes) {
      for (const url of urls) {
        const full = prefix + url;
        const config = { access, batchable: this.batchable, ...(prefix ? { documentedAs: url } : {}) };
        this.app.route({ method, url: full, handler, schema, config });
        const known = this.byUrl.get(full) ?? new Set<Method>();
        known.add(method);
        this.byUrl.set(full, known);
      }
    }
  }

  /** Call once, after every route has been added. */
  closeWith405(): void {
    for (const [url, known] of this.byUrl) {
      const allow = [...known, ...(known.has('GET') ? ['HEAD'] : [])].join(', ');
      const others = methods.filter((m) => !known.has(m));
      if (others.length === 0) continue;
      this.app.route({
        method: [...others, 'OPTIONS'],
        url,
        schema: { hide: true },
        config: { access: 'none', batchable: this.batchable },
        handler: async (request) => {
          throw new ServiceError('methodNotAllowed', `The method '${request.method}' is not allowed on this resource; allowed: ${allow}.`, { allow });
        },
      });
    }
  }
}

/**
 * A body that may be left out: checked against `schema` only when one is sent as JSON (an
 * empty JSON body reads as `{}`). A plain `body` schema also refuses a missing body.
 */
export function optionalBody(schema: object): { content: { 'application/json': { schema: object } } } {
  return { content: { 'application/json': { schema } } };
}
