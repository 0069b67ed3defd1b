import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { requestValidation } from '../../src/http/request-validation.js';

// The validators alone, on a bare Fastify over HTTP: the service's own routes have no typed
// querystring, but routes other parts add may, and must keep Fastify's coercion there.
let app: FastifyInstance;
let url: string;

before(async () => {
  app = Fastify({ ...requestValidation() });
  const n = { type: 'integer', minimum: 1, maximum: 9 };
  app.post('/x', {
    schema: {
      querystring: { type: 'object', properties: { n } },
      body: { title: 'thing', type: 'object', additionalProperties: false, properties: { n } },
    },
  }, async (request) => ({ query: request.query, body: request.body }));
  url = `${await app.listen({ port: 0, host: '127.0.0.1' })}/x`;
});
after(() => app.close());

const post = (query: string, body: string) => fetch(`${url}${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

test('the querystring is coerced as Fastify does by default; the body is taken as sent', async () => {
  const response = await post('?n=5', '{"n":5}');
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { query: { n: 5 }, body: { n: 5 } });
});

test('a body is never coerced, and nothing in it is dropped: 400s that name the field and the rule', async () => {
  for (const [body, message] of [
    ['{"n":"5"}', "'n' must be a whole number from 1 to 9."],
    ['{"n":0}', "'n' must be a whole number from 1 to 9."],
    ['{"n":5,"m":1,"o":2}', "The properties 'm', 'o' do not exist on type 'thing'."],
    ['[5]', 'The request body must be a JSON object.'],
  ]) {
    const response = await post('', body);
    assert.equal(response.status, 400, body);
    assert.equal(((await response.json()) as { message: string }).message, message, body);
  }
  const query = await post('?n=x', '{}');
  assert.equal(query.status, 400);
  assert.match(((await query.json()) as { message: string }).message, /'n' must be a whole number/);
});
