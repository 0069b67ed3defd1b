import odataParser from '@balena/odata-parser';
import { filterableDeviceProperties, type FilterableProperty, type FreshnessProperty } from '../../domain/device.js';
import { activityStates, deviceTypes, enumMember, healthStatuses, softwareFreshnesses } from '../../domain/enums.js';
import { badRequest } from '../../domain/errors.js';
import type { DeviceFilter } from '../../store/device-query.js';

const enumsByKind: Record<string, readonly string[]> = {
  'enum:deviceType': deviceTypes,
  'enum:healthStatus': healthStatuses,
  'enum:activityState': activityStates,
  'enum:softwareFreshness': softwareFreshnesses,
};

/** Parses `$filter` with an OData parser and checks it against what devices support. */
export function parseDeviceFilter(text: string): DeviceFilter {
  const parsed = parseFilterExpression(withAndBeforeOr(text));
  return new FilterChecker(parsed.binds).node(parsed.tree);
}

/** A literal's kind and value as the parser binds it, e.g. ['Text', 'teamsRoom']. */
export type Bind = [string, unknown];
/** A node of the parser's expression tree: [operator, ...operands], a property path or a bind. */
export type Node = unknown;

/** `$filter` text as the OData parser's tree and bound literals; a 400 naming where it failed. */
export function parseFilterExpression(text: string): { tree: Node; binds: Bind[] } {
  if (text.length > 2048) throw badRequest('$filter is longer than 2048 characters.');
  try {
    // The query string is already decoded; the parser decodes %xx in literals again, so escape '%'.
    return odataParser.parse(text.replace(/%/g, '%25'), { startRule: 'ProcessRule', rule: 'FilterByExpression' }) as unknown as { tree: Node; binds: Bind[] };
  } catch (error) {
    const detail = (error as Error).message.split('\n')[0].slice(0, 200);
    throw badRequest(`Invalid $filter: ${detail}`);
  }
}

/**
 * The parser gives `and` and `or` equal precedence, left to right (OData v2), where OData v4
 * binds `and` tighter: its tree for `a or b and c` is that of `(a or b) and c`. So wherever
 * one level of parentheses mixes them, each `or` operand holding an `and` is parenthesised
 * first (`a or (b and c)`). `not` needs nothing: the parser already binds it tightest.
 */
export function withAndBeforeOr(text: string): string {
  // Literals are masked (same length) so that words and parentheses inside them are not seen.
  const masked = text.replace(/'(?:[^']|'')*'/g, (literal) => "'".padEnd(literal.length - 1, '_') + "'");
  interface Level { start: number; operandStart: number; operands: { start: number; end: number; hasAnd: boolean }[]; hasAnd: boolean; hasOr: boolean }
  const open = (start: number): Level => ({ start, operandStart: start, operands: [], hasAnd: false, hasOr: false });
  const levels: Level[] = [open(0)];
  const wraps: { at: number; text: string }[] = [];
  const close = (level: Level, end: number) => {
    level.operands.push({ start: level.operandStart, end, hasAnd: level.hasAnd });
    if (!level.hasOr || !level.operands.some((operand) => operand.hasAnd)) return;
    for (const operand of level.operands.filter((o) => o.hasAnd)) {
      // The parser takes no space just inside a parenthesis or at either end of the text.
      const body = masked.slice(operand.start, operand.end);
      const start = operand.start + (body.length - body.trimStart().length);
      const end = operand.end - (body.length - body.trimEnd().length);
      wraps.push({ at: start, text: '(' }, { at: end, text: ')' });
    }
  };
  for (const match of masked.matchAll(/\(|\)|\b(and|or)\b/gi)) {
    const at = match.index!;
    const level = levels[levels.length - 1];
    if (match[0] === '(') levels.push(open(at + 1));
    else if (match[0] === ')') {
      if (levels.length === 1) continue; // unbalanced: the parser will say so
      close(levels.pop()!, at);
    } else if (match[1].toLowerCase() === 'and') level.hasAnd = true;
    else {
      level.operands.push({ start: level.operandStart, end: at, hasAnd: level.hasAnd });
      level.operandStart = at + match[0].length;
      level.hasAnd = false;
      level.hasOr = true;
    }
  }
  close(levels[0], text.length);
  let result = text;
  for (const wrap of wraps.sort((a, b) => b.at - a.at)) result = result.slice(0, wrap.at) + wrap.text + result.slice(wrap.at);
  return result;
}

class FilterChecker {
  constructor(private readonly binds: Bind[]) {}

  node(tree: Node): DeviceFilter {
    if (hasLambda(tree)) throw unsupported("the lambda operators 'any' and 'all'");
    if (!Array.isArray(tree)) throw unsupported(`the expression ${describe(tree)} is not a condition`);
    const [op, ...args] = tree as [string, ...Node[]];
    switch (op) {
      case 'and':
      case 'or':
        return { op, operands: args.map((a) => this.node(a)) };
      case 'not':
        return { op: 'not', operand: this.node(args[0]) };
      case 'eq':
      case 'ne':
        return this.comparison(op, args[0], args[1]);
      case 'eqany': {
        const property = this.property(args[0], 'in');
        const list = this.bind(args[1]);
        if (!list || list[0] !== 'List') throw unsupported("'in' needs a parenthesised list of string literals");
        const values = (list[1] as Bind[]).map((item) => this.text(item, property));
        return { op: 'in', property, values };
      }
      case 'call':
        return this.call(args[0]);
      default:
        throw unsupported(`the operator '${op}'`);
    }
  }

  private comparison(op: 'eq' | 'ne', left: Node, right: Node): DeviceFilter {
    // startswith(p,'x') eq true / ne false: Graph accepts the explicit boolean form too.
    if (Array.isArray(left) && left[0] === 'call') {
      const bound = this.bind(right);
      if (bound && bound[0] === 'Boolean') {
        const call = this.call(left[1]);
        return (op === 'eq') === bound[1] ? call : { op: 'not', operand: call };
      }
    }
    const property = this.property(left, op);
    if (right === null) return { op, property, value: null };
    return { op, property, value: this.value(right, property) };
  }

  private call(call: Node): DeviceFilter {
    const { method, args } = call as { method: string; args: Node[] };
    if (method !== 'startswith') throw unsupported(`the function '${method}'`);
    const property = this.property(args[0], method);
    if (filterableDeviceProperties[property] !== 'string') throw unsupported(`startswith on the enum property '${property}'`);
    const value = this.value(args[1], property);
    return { op: 'startswith', property: property as Exclude<FilterableProperty, FreshnessProperty>, value };
  }

  private property(node: Node, operator: string): FilterableProperty {
    const path = propertyPath(node);
    if (path === null) throw unsupported(`the left operand of '${operator}' must be a device property, not ${describe(node)}`);
    const known = Object.keys(filterableDeviceProperties).find((p) => p.toLowerCase() === path.toLowerCase());
    if (!known) throw unsupported(`filtering on the property '${path}'`);
    return known as FilterableProperty;
  }

  private value(node: Node, property: FilterableProperty): string {
    // Qualified enum literals arrive as names: microsoft.graph.teamworkDeviceType'teamsRoom'.
    const name = (node as { name?: string } | null)?.name;
    if (typeof name === 'string' && /^[\w.]+'[^']*'$/.test(name)) {
      return this.text(['Text', name.slice(name.indexOf("'") + 1, -1)], property);
    }
    const bound = this.bind(node);
    if (!bound) throw unsupported(`comparing '${property}' with ${describe(node)}; use a string literal`);
    return this.text(bound, property);
  }

  private text(bound: Bind, property: FilterableProperty): string {
    if (bound[0] !== 'Text') throw unsupported(`a ${bound[0]} literal for '${property}'; use a quoted string`);
    const raw = bound[1] as string;
    const kind = filterableDeviceProperties[property];
    if (kind === 'string') return raw;
    const member = enumMember(enumsByKind[kind], raw);
    if (!member) throw badRequest(`'${raw}' is not a member of ${kind.slice(5)}; valid members are ${enumsByKind[kind].join(', ')}.`);
    return member;
  }

  private bind(node: Node): Bind | null {
    const index = (node as { bind?: unknown } | null)?.bind;
    return typeof index === 'number' ? this.binds[index] : null;
  }
}

function hasLambda(node: Node): boolean {
  let current = node as { property?: unknown; lambda?: unknown } | null;
  while (current && typeof current === 'object' && !Array.isArray(current)) {
    if (current.lambda) return true;
    current = (current.property ?? null) as typeof current;
  }
  return false;
}

/** A property path (`hardwareDetail/model`) as written, or null when the node is not one. */
export function propertyPath(node: Node): string | null {
  const segments: string[] = [];
  let current = node as { name?: unknown; property?: unknown; lambda?: unknown } | null;
  while (current && typeof current === 'object' && !Array.isArray(current)) {
    if (typeof current.name !== 'string' || current.lambda) return null;
    segments.push(current.name);
    current = (current.property ?? null) as typeof current;
  }
  return segments.length ? segments.join('/') : null;
}

function describe(node: Node): string {
  const path = propertyPath(node);
  if (path) return `'${path}'`;
  if (Array.isArray(node)) return `an expression with '${String(node[0])}'`;
  if (node === null) return 'null';
  return 'a literal';
}

function unsupported(part: string) {
  return badRequest(`Unsupported $filter: ${part}. Supported: eq, ne, in, not, and, or, startswith on ${Object.keys(filterableDeviceProperties).join(', ')}.`);
}

/**
 * `$filter` on a collection that filters only by one enum property (rollouts by status):
 * `status eq 'running'`, parsed by the same OData parser. Returns the member named.
 */
export function parseEnumEqualityFilter(text: string, property: string, members: readonly string[]): string {
  const wrong = () => badRequest(`Unsupported $filter: only ${property} eq '<value>' is supported here, with a value of ${members.join(', ')}.`);
  const parsed = parseFilterExpression(text);
  const tree = parsed.tree as [string, Node, Node];
  if (!Array.isArray(tree) || tree[0] !== 'eq' || propertyPath(tree[1])?.toLowerCase() !== property.toLowerCase()) throw wrong();
  const index = (tree[2] as { bind?: unknown } | null)?.bind;
  const bound = typeof index === 'number' ? parsed.binds[index] : null;
  if (!bound || bound[0] !== 'Text') throw wrong();
  const member = enumMember(members, bound[1] as string);
  if (!member) throw wrong();
  return member;
}
