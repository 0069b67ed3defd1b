/**
 * Validates response bodies against Microsoft Graph's own schema for the teamwork-devices family.
 *
 * Sources: the OpenAPI and CSDL extracts in test/fixtures/ (copies of ../shared/spec/, so the
 * tests do not depend on a sibling checkout). The OpenAPI extract gives the property schemas;
 * the CSDL extract decides nullability, because the generated OpenAPI writes `$ref`
 * properties without a nullable wrapper although the CSDL (and every Graph example:
 * `"createdBy": null`) says they may be null. Rules applied on top of the OpenAPI:
 *
 * - a property is nullable unless the CSDL says `Nullable="false"`; for `Collection(...)`
 *   properties the facet applies to the items and the collection itself is never null (OData);
 * - entity- and complex-type bodies reject unknown property names (`additionalProperties: false`),
 *   except the CSDL's open types (identity, identitySet, teamworkUserIdentity), so a
 *   misspelled property fails; `@odata.*` annotation keys are allowed everywhere;
 * - an entity's containment navigation properties (a device's health, activity, configuration,
 *   operations) are part of its body only when `$expand` asks for them: never required, and then
 *   checked against their own types; `<navigation>@odata.nextLink` is allowed beside them;
 * - an entity's `@odata.type`, when present, must name that entity type;
 * - `format: time` (Edm.TimeOfDay, no zone) is checked as `iso-time`;
 * - the error body follows spec §4.1: `innerError` carries `date`, `request-id`,
 *   `client-request-id` (strings) and may nest; the extract's free-form
 *   `additionalProperties: {type: object}` would reject those string values.
 *
 * `validateGraph(type, body)` checks a whole entity (every structural property present, as
 * Graph serialises them); `{ partial: true }` is for `$select` responses.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

export const openApiFixture = 'graph-beta-teamwork-openapi-extract.yaml';
export const csdlFixture = 'graph-beta-teamwork-csdl-extract.xml';

export const graphTypes = [
  'microsoft.graph.teamworkDevice',
  'microsoft.graph.teamworkDeviceOperation',
  'microsoft.graph.teamworkDeviceHealth',
  'microsoft.graph.teamworkDeviceActivity',
  'microsoft.graph.teamworkDeviceConfiguration',
  'microsoft.graph.teamworkDeviceCollectionResponse',
  'microsoft.graph.teamworkDeviceOperationCollectionResponse',
  'microsoft.graph.ODataErrors.ODataError',
] as const;
export type GraphType = (typeof graphTypes)[number];

export interface ValidateOptions {
  /** a `$select` response: properties may be missing (but none may be unknown) */
  partial?: boolean;
}

/** Schema errors of a body, as readable lines; empty when the body is valid. */
export function graphSchemaErrors(type: GraphType, body: unknown, options: ValidateOptions = {}): string[] {
  const validate = compiled(type, options.partial ?? false);
  if (validate(body)) return [];
  return (validate.errors ?? []).map(describeError);
}

/** Asserts that a body is valid for the Graph type, listing every schema error otherwise. */
export function assertGraphShape(type: GraphType, body: unknown, options: ValidateOptions = {}): void {
  const errors = graphSchemaErrors(type, body, options);
  assert.deepEqual(errors, [], `response body does not match ${type}${options.partial ? ' (partial)' : ''}:\n  ${errors.join('\n  ')}`);
}

/** Finds a fixture file by walking up from this module (works from test/ and dist/test/). */
export function fixturePath(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'test', 'fixtures', name);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`test fixture ${name} not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

// --- CSDL ---------------------------------------------------------------------------------

interface CsdlProperty {
  name: string;
  /** element type for collections */
  type: string;
  collection: boolean;
  nullable: boolean;
  navigation: boolean;
}

interface CsdlType {
  name: string;
  kind: 'entity' | 'complex';
  baseType: string | null;
  open: boolean;
  properties: CsdlProperty[];
}

const namespace = 'microsoft.graph';

function qualified(type: string): string {
  return type.startsWith('graph.') ? `${namespace}.${type.slice('graph.'.length)}` : type;
}

function attributes(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const match of text.matchAll(/([A-Za-z]+)="([^"]*)"/g)) result[match[1]] = match[2];
  return result;
}

/** A minimal reading of the CSDL extract: entity and complex types with their properties. */
export function parseCsdl(xml: string): Map<string, CsdlType> {
  const types = new Map<string, CsdlType>();
  for (const match of xml.matchAll(/<(EntityType|ComplexType)\s([^>]*?)>([\s\S]*?)<\/\1>/g)) {
    const attrs = attributes(match[2]);
    const properties: CsdlProperty[] = [];
    for (const prop of match[3].matchAll(/<(Property|NavigationProperty)\s([^>]*?)\/?>/g)) {
      const p = attributes(prop[2]);
      const collection = /^Collection\((.*)\)$/.exec(p.Type);
      properties.push({
        name: p.Name,
        type: qualified(collection ? collection[1] : p.Type),
        collection: collection !== null,
        nullable: p.Nullable !== 'false',
        navigation: prop[1] === 'NavigationProperty',
      });
    }
    const name = `${namespace}.${attrs.Name}`;
    types.set(name, {
      name,
      kind: match[1] === 'EntityType' ? 'entity' : 'complex',
      baseType: attrs.BaseType ? qualified(attrs.BaseType) : null,
      open: attrs.OpenType === 'true',
      properties,
    });
  }
  return types;
}

/** Own and inherited properties, base type first. */
function allProperties(types: Map<string, CsdlType>, type: CsdlType): CsdlProperty[] {
  const base = type.baseType ? types.get(type.baseType) : undefined;
  if (type.baseType && !base) throw new Error(`CSDL: base type ${type.baseType} of ${type.name} is missing`);
  return [...(base ? allProperties(types, base) : []), ...type.properties];
}

/** Properties that appear in the type's JSON body (an entity's contained navigations do not). */
function bodyProperties(types: Map<string, CsdlType>, type: CsdlType): CsdlProperty[] {
  return allProperties(types, type).filter((p) => !(type.kind === 'entity' && p.navigation));
}

// --- OpenAPI → JSON Schema ------------------------------------------------------------------

type Json = Record<string, unknown>;
const schemaBase = 'https://teamwork-devices.test/graph-schema.json';
const refPrefix = '#/components/schemas/';
const annotationPattern = '^@odata\\.';
const annotation = { type: ['string', 'integer', 'boolean'] };
const droppedKeywords = new Set(['title', 'description', 'example', 'nullable', 'discriminator', 'x-ms-navigationProperty', 'x-ms-primary-error-message']);

/** Converts one OpenAPI 3.0 schema fragment (no nullability: the CSDL decides that). */
function convert(schema: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (droppedKeywords.has(key) || key.startsWith('x-ms-')) continue;
    if (key === '$ref') {
      const ref = String(value);
      if (!ref.startsWith(refPrefix)) throw new Error(`unexpected $ref ${ref}`);
      out.$ref = `${schemaBase}#/definitions/${ref.slice(refPrefix.length)}`;
    } else if (key === 'format') {
      out.format = value === 'time' ? 'iso-time' : value;
    } else if (key === 'items') {
      out.items = convert(value as Json);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function nullable(schema: Json): Json {
  if (typeof schema.type === 'string') return { ...schema, type: [schema.type, 'null'] };
  return { anyOf: [{ type: 'null' }, schema] };
}

/** The OpenAPI properties of a schema, with `allOf` parts (and the base types they name) merged. */
function openApiProperties(schemas: Record<string, Json>, schema: Json): Record<string, Json> {
  if (typeof schema.$ref === 'string') {
    const target = schemas[schema.$ref.slice(refPrefix.length)];
    if (!target) throw new Error(`unresolved $ref ${schema.$ref}`);
    return openApiProperties(schemas, target);
  }
  const merged: Record<string, Json> = {};
  for (const part of (schema.allOf as Json[] | undefined) ?? []) Object.assign(merged, openApiProperties(schemas, part));
  Object.assign(merged, (schema.properties as Record<string, Json> | undefined) ?? {});
  return merged;
}

interface Built {
  definitions: Record<string, Json>;
  /** structural properties each entity/complex type must carry in a full body */
  required: Record<string, string[]>;
}

function buildDefinitions(): Built {
  const openApi = parseYaml(readFileSync(fixturePath(openApiFixture), 'utf8')) as { components: { schemas: Record<string, Json> } };
  const csdl = parseCsdl(readFileSync(fixturePath(csdlFixture), 'utf8'));
  const schemas = openApi.components.schemas;
  const definitions: Record<string, Json> = {};
  const required: Record<string, string[]> = {};

  for (const [name, schema] of Object.entries(schemas)) {
    if (Array.isArray(schema.enum)) {
      definitions[name] = convert(schema);
      continue;
    }
    const type = csdl.get(name);
    if (!type) continue; // envelopes and error types: below
    const properties = openApiProperties(schemas, schema);
    const csdlProperties = bodyProperties(csdl, type);
    const converted: Record<string, Json> = {};
    for (const prop of csdlProperties) {
      const source = properties[prop.name];
      if (!source) throw new Error(`OpenAPI ${name} lacks the CSDL property ${prop.name}`);
      let property = convert(source);
      if (prop.collection) {
        if (property.type !== 'array') throw new Error(`OpenAPI ${name}.${prop.name} is not an array`);
        const items = property.items as Json;
        property = { ...property, items: prop.nullable ? nullable(items) : items };
      } else if (prop.nullable) {
        property = nullable(property);
      }
      converted[prop.name] = property;
    }
    const navigationNames = allProperties(csdl, type).filter((p) => p.navigation).map((p) => p.name);
    const navigationLinks: Record<string, Json> = {};
    for (const extra of Object.keys(properties)) {
      if (converted[extra]) continue;
      if (!(type.kind === 'entity' && navigationNames.includes(extra))) throw new Error(`OpenAPI ${name}.${extra} is not in the CSDL extract`);
      converted[extra] = convert(properties[extra]);
      navigationLinks[`${extra}@odata.nextLink`] = { type: 'string' };
    }
    Object.assign(converted, navigationLinks);
    if (type.kind === 'entity') converted['@odata.type'] = { const: `#${name}` };
    definitions[name] = {
      type: 'object',
      properties: converted,
      patternProperties: { [annotationPattern]: annotation },
      additionalProperties: type.open,
    };
    required[name] = csdlProperties.filter((p) => !p.navigation).map((p) => p.name);
  }

  // Graph's error body (spec §4.1), strict about its own names.
  if (!schemas['microsoft.graph.ODataErrors.ErrorDetails'] || !schemas['microsoft.graph.ODataErrors.ODataError']) throw new Error('OpenAPI extract lacks the ODataErrors schemas');
  definitions['microsoft.graph.ODataErrors.ErrorDetails'] = {
    type: 'object',
    required: ['code', 'message'],
    properties: { code: { type: 'string' }, message: { type: 'string' }, target: { type: ['string', 'null'] } },
    additionalProperties: false,
  };
  definitions['microsoft.graph.ODataErrors.InnerError'] = {
    type: 'object',
    properties: {
      '@odata.type': { type: 'string' },
      code: { type: 'string' },
      date: { type: 'string', format: 'date-time' },
      'request-id': { type: 'string', minLength: 1 },
      'client-request-id': { type: 'string', minLength: 1 },
      innerError: { $ref: `${schemaBase}#/definitions/microsoft.graph.ODataErrors.InnerError` },
    },
    additionalProperties: false,
  };
  definitions['microsoft.graph.ODataErrors.MainError'] = {
    type: 'object',
    required: ['code', 'message'],
    properties: {
      code: { type: 'string', minLength: 1 },
      message: { type: 'string', minLength: 1 },
      target: { type: ['string', 'null'] },
      details: { type: 'array', items: { $ref: `${schemaBase}#/definitions/microsoft.graph.ODataErrors.ErrorDetails` } },
      innerError: { $ref: `${schemaBase}#/definitions/microsoft.graph.ODataErrors.InnerError` },
    },
    additionalProperties: false,
  };
  definitions['microsoft.graph.ODataErrors.ODataError'] = {
    type: 'object',
    required: ['error'],
    properties: { error: { $ref: `${schemaBase}#/definitions/microsoft.graph.ODataErrors.MainError` } },
    additionalProperties: false,
  };
  return { definitions, required };
}

// --- compiled validators ----------------------------------------------------------------------

let state: { ajv: Ajv; built: Built; cache: Map<string, ValidateFunction> } | null = null;

function setup() {
  if (state) return state;
  const built = buildDefinitions();
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, allowMatchingProperties: true });
  addFormatsModule.default(ajv);
  ajv.addSchema({ $id: schemaBase, definitions: built.definitions });
  state = { ajv, built, cache: new Map() };
  return state;
}

const collectionItems: Partial<Record<GraphType, string>> = {
  'microsoft.graph.teamworkDeviceCollectionResponse': 'microsoft.graph.teamworkDevice',
  'microsoft.graph.teamworkDeviceOperationCollectionResponse': 'microsoft.graph.teamworkDeviceOperation',
};

function entitySchema(name: string, partial: boolean): AnySchemaObject {
  const { built } = setup();
  const ref = { $ref: `${schemaBase}#/definitions/${name}` };
  if (partial) return ref;
  const required = built.required[name];
  if (!required) throw new Error(`no schema for ${name}`);
  return { type: 'object', allOf: [ref], required };
}

function compiled(type: GraphType, partial: boolean): ValidateFunction {
  const { ajv, cache } = setup();
  const key = `${type}|${partial}`;
  const cached = cache.get(key);
  if (cached) return cached;
  let schema: AnySchemaObject;
  const item = collectionItems[type];
  if (item) {
    schema = {
      type: 'object',
      required: ['value'],
      properties: {
        '@odata.context': { type: 'string' },
        '@odata.nextLink': { type: 'string' },
        '@odata.count': { type: 'integer', minimum: 0 },
        value: { type: 'array', items: entitySchema(item, partial) },
      },
      patternProperties: { [annotationPattern]: annotation },
      additionalProperties: false,
    };
  } else if (type === 'microsoft.graph.ODataErrors.ODataError') {
    schema = { $ref: `${schemaBase}#/definitions/${type}` };
  } else {
    schema = entitySchema(type, partial);
  }
  const validate = ajv.compile(schema);
  cache.set(key, validate);
  return validate;
}

function describeError(error: ErrorObject): string {
  const where = error.instancePath || '(body)';
  if (error.keyword === 'additionalProperties') {
    return `${where}: unknown property '${(error.params as { additionalProperty: string }).additionalProperty}'`;
  }
  if (error.keyword === 'enum') {
    return `${where}: ${error.message} (${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')})`;
  }
  return `${where}: ${error.message}`;
}
