import type { FastifyInstance } from 'fastify';
import { badRequest } from '../domain/errors.js';

/**
 * Nesting allowed in a JSON body: Graph action bodies and agent reports (Graph-shaped health
 * objects) nest a few levels; thousands overflow the stack of whatever walks the value later
 * (the row mapping did, a 500).
 */
export const maxJsonDepth = 32;

/** A UTF-16 surrogate not part of a pair: in `u` mode a well-formed pair is one code point, not Cs. */
const loneSurrogate = /\p{Cs}/u;

/**
 * Only JSON bodies are accepted (anything else is a 415). An empty JSON body reads as `{}`,
 * the body of restart and runDiagnostics, documented without one; a route's schema decides
 * whether `{}` will do.
 */
export function installJsonBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    const raw = (text as string).trim();
    if (raw === '') return done(null, {});
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return done(badRequest('The request body is not valid JSON.'), undefined);
    }
    const problem = unstorableJson(value);
    if (problem) return done(badRequest(problem), undefined);
    done(null, value);
  });
}

/**
 * Why a parsed body cannot be accepted, or null. JSON's `\ud800` escapes can produce strings
 * that are not Unicode text: PostgreSQL refuses them (a 500 there, stored on SQLite), and no
 * client could read them back. Walked with an explicit stack, since the value may be deep.
 */
function unstorableJson(root: unknown): string | null {
  const pending: Array<{ value: unknown; depth: number }> = [{ value: root, depth: 1 }];
  while (pending.length > 0) {
    const { value, depth } = pending.pop()!;
    if (typeof value === 'string') {
      if (loneSurrogate.test(value)) return unpairedSurrogate;
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth > maxJsonDepth) return `The request body is nested more than ${maxJsonDepth} levels deep.`;
    if (Array.isArray(value)) {
      for (const item of value) pending.push({ value: item, depth: depth + 1 });
      continue;
    }
    for (const [key, item] of Object.entries(value)) {
      if (loneSurrogate.test(key)) return unpairedSurrogate;
      pending.push({ value: item, depth: depth + 1 });
    }
  }
  return null;
}

const unpairedSurrogate = 'The request body contains an unpaired UTF-16 surrogate (such as \\ud800), which is not text.';
