import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifySchemaValidationError, FastifyServerOptions } from 'fastify';
import type { SchemaErrorDataVar } from 'fastify/types/schema.js';
import { badRequest, type ServiceError } from '../domain/errors.js';

/**
 * Request bodies are validated as the hand-written checks before them did: no coercion ("1"
 * is not 1), no property silently dropped or defaulted, and every error known, so that
 * schemaError can pick the one to name. The URL's parts (querystring, params) keep Fastify's
 * own Ajv options (strings coerced to the types a schema names). Both report `verbose` errors:
 * the messages are worded from the failing schema.
 */
const strictBodies = { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: true, verbose: true };

/** Fastify options: the two validators above, and their failures as the registry's 400. */
export function requestValidation(): Pick<FastifyServerOptions, 'schemaController' | 'schemaErrorFormatter'> {
  const compilers = AjvCompiler();
  return {
    schemaController: {
      compilersFactory: {
        buildValidator: (externalSchemas, ajv) => {
          const options = (extra: object) => ({ ...ajv, customOptions: { ...ajv?.customOptions, ...extra } });
          const bodies = compilers(externalSchemas, options(strictBodies));
          const urls = compilers(externalSchemas, options({ verbose: true }));
          return (route) => (route.httpPart === 'body' ? bodies : urls)(route);
        },
      },
    },
    schemaErrorFormatter: schemaError,
  };
}

/**
 * A request schema's failure as the registry's 400: the message names the field and says
 * the rule, worded from the same schema the API description shows. Unknown properties are
 * named all at once, before anything else: a misspelt property name would otherwise be
 * reported as the right one missing.
 */
export function schemaError(errors: FastifySchemaValidationError[], dataVar: SchemaErrorDataVar): ServiceError {
  return badRequest(schemaErrorMessage(errors as SchemaFailure[], dataVar));
}

/** Ajv's error object as `verbose` fills it. */
interface SchemaFailure {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  parentSchema?: RuleSchema;
  data?: unknown;
}

/** The parts of a JSON Schema a message is worded from. */
export interface RuleSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  required?: string[];
  properties?: Record<string, RuleSchema>;
}

function schemaErrorMessage(errors: SchemaFailure[], dataVar: SchemaErrorDataVar): string {
  const unknown = errors.filter((e) => e.keyword === 'additionalProperties');
  if (unknown.length > 0) {
    const at = unknown[0].instancePath;
    const names = [...new Set(unknown.filter((e) => e.instancePath === at).map((e) => String(e.params.additionalProperty)))].map(quoted);
    const typeName = unknown[0].parentSchema?.title ?? (at === '' ? dataVar : fieldName(at));
    const one = names.length === 1;
    return `The propert${one ? 'y' : 'ies'} ${names.join(', ')} do${one ? 'es' : ''} not exist on type '${typeName}'.`;
  }
  const error = errors[0];
  const schema = error.parentSchema ?? {};
  if (error.keyword === 'required') {
    const missing = String(error.params.missingProperty);
    const rule = schema.properties?.[missing];
    return `The property ${quoted(joined(error.instancePath, missing))} is required${rule ? `: ${ruleOf(rule)}` : ''}.`;
  }
  if (error.instancePath === '') {
    const what = dataVar === 'body' ? 'The request body' : `The ${dataVar}`;
    const needs = schema.required?.length ? ` with ${schema.required.map(quoted).join(', ')}` : '';
    return `${what} must be a JSON object${needs}.`;
  }
  const field = quoted(fieldName(error.instancePath));
  if (error.keyword === 'enum' && typeof error.data === 'string') {
    return `The parameter ${field} has an invalid value ${quoted(error.data)}; valid values are ${schema.enum!.join(', ')}.`;
  }
  const worded = ['type', 'enum', 'minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems'].includes(error.keyword);
  return `${field} must be ${worded ? ruleOf(schema) : schema.description ?? String(error.message)}.`;
}

/**
 * What a value of `schema` must be, in words: "a whole number from 1 to 100", "one of a, b",
 * "a string of at most 256 characters". A `description` stands in for what no keyword here
 * says (a pattern, a format).
 */
export function ruleOf(schema: RuleSchema): string {
  const types = [schema.type ?? []].flat();
  const nullable = types.includes('null') ? ', or null' : '';
  const type = types.find((t) => t !== 'null');
  const rule = schema.enum ? `one of ${schema.enum.filter((v) => v !== null).join(', ')}`
    : type === 'integer' ? `a whole number${range(schema.minimum, schema.maximum)}`
    : type === 'number' ? `a number${range(schema.minimum, schema.maximum)}`
    : type === 'string' ? schema.description ?? `a string${sized(schema.minLength, schema.maxLength, 'characters')}`
    : type === 'boolean' ? 'true or false'
    : type === 'array' ? `an array${sized(schema.minItems, schema.maxItems, 'items')}`
    : type === 'object' ? schema.description ?? 'a JSON object'
    : schema.description ?? 'valid';
  return rule + nullable;
}

function range(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` of at least ${min}`;
  if (max !== undefined) return ` of at most ${max}`;
  return '';
}

function sized(min: number | undefined, max: number | undefined, unit: string): string {
  if (max === undefined) return min ? ` of at least ${min} ${unit}` : '';
  return min ? ` of ${min} to ${max} ${unit}` : ` of at most ${max} ${unit}`;
}

/** `/stages/0/percent` → `stages[0].percent`. */
function fieldName(instancePath: string): string {
  return instancePath.split('/').slice(1).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part), '');
}

function joined(instancePath: string, property: string): string {
  return instancePath === '' ? property : `${fieldName(instancePath)}.${property}`;
}

/** A client's text in a message: quoted and bounded. */
function quoted(text: string): string {
  return `'${text.length > 64 ? `${text.slice(0, 64)}…` : text}'`;
}
