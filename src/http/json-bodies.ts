import type { FastifyInstance } from 'fastify';
import { badRequest } from '../domain/errors.js';

/**
 * Only JSON bodies are accepted (anything else is a 415). An empty JSON body counts as
 * no body, because restart and runDiagnostics are documented without one.
 */
export function installJsonBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    const raw = (text as string).trim();
    if (raw === '') return done(null, undefined);
    try {
      done(null, JSON.parse(raw));
    } catch {
      done(badRequest('The request body is not valid JSON.'), undefined);
    }
  });
}
