import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifySchema } from 'fastify';
import { ServiceError } from '../domain/errors.js';
import type { Store } from '../store/store.js';
import { addConsoleSignIn, type ConsoleSignIn } from './console-sign-in.js';

/** Where `vite build` writes the console (dist/console, beside the compiled server). */
export const builtConsoleDir = fileURLToPath(new URL('../../console/', import.meta.url));

export interface ConsoleOptions extends ConsoleSignIn {
  /** the built console; when it has no index.html, `/` answers consoleNotBuilt */
  dir: string;
}

/** Seconds a hashed asset may be kept: its name changes whenever its content does. */
const immutableSeconds = 365 * 24 * 3600;

/**
 * The web console at `/`: its built files, its sign-in configuration and the dev sign-in.
 * None of these routes needs a token, none is reachable from a `$batch`, and none is in the
 * OpenAPI document (the console is not part of the API).
 */
export async function addConsoleRoutes(app: FastifyInstance, options: ConsoleOptions, store: Store): Promise<void> {
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...route.config, access: 'none', batchable: false };
      // @fastify/swagger leaves `hide` routes out of /openapi.json.
      route.schema = { ...route.schema, hide: true } as FastifySchema;
    });
    const signIn = addConsoleSignIn(scope, options, store);
    if (!existsSync(join(options.dir, 'index.html'))) {
      scope.get('/', async () => {
        throw new ServiceError('consoleNotBuilt');
      });
      return;
    }
    scope.addHook('onRequest', async (request, reply) => {
      // The policy names the identity provider's token endpoint, where the browser trades its code.
      if (request.routeOptions.url?.startsWith('/console/')) return;
      reply.headers(documentHeaders(await signIn.tokenEndpointOrigin()));
    });
    await scope.register(fastifyStatic, {
      root: options.dir,
      prefix: '/',
      // One route per built file, read once at start: a request for any other path falls through
      // to the Graph 404, and nothing outside the folder can be named.
      wildcard: false,
      cacheControl: false,
      etag: true,
      lastModified: false,
      setHeaders: (reply: FastifyReply, path: string) => {
        // Vite names every asset by its content's hash; index.html names the current ones.
        const hashed = path.startsWith(join(options.dir, 'assets'));
        reply.header('cache-control', hashed ? `public, max-age=${immutableSeconds}, immutable` : 'no-cache');
      },
    });
  });
}

/** Headers of the console's files: scripts, styles and fetches from this origin only. */
function documentHeaders(tokenEndpointOrigin: string | null): Record<string, string> {
  const connect = ["'self'", ...(tokenEndpointOrigin ? [tokenEndpointOrigin] : [])].join(' ');
  return {
    'content-security-policy': [
      "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", `connect-src ${connect}`,
      "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ].join('; '),
    'x-frame-options': 'DENY',
    // The OAuth code arrives in the console's query string: no other site may see it in a Referer.
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
  };
}
