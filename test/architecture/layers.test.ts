import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import ts from 'typescript';

/**
 * The layers of docs/architecture.md, enforced: every import of every src/**\/*.ts file
 * (type-only, re-exports, dynamic `import()` and `import('…').T` included) must point at a
 * layer its own layer may use, and no file may reach itself through its imports.
 */

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const srcRoot = join(repoRoot, 'src');

interface Layer {
  /** src-relative folder (or file) prefixes that belong to the layer */
  paths: string[];
  /** layers this one may import (besides itself) */
  mayImport: string[];
  /** npm packages only this layer may import; a package listed by no layer is free for all but domain */
  ownsPackages?: string[];
  /** domain is pure: no npm packages at all */
  noPackages?: boolean;
  /** runs in the browser: no node builtins, and only code that needs none from the layers it imports */
  browser?: boolean;
}

/** The table in docs/architecture.md. Longer paths win, so http/graph is not http. */
const layers: Record<string, Layer> = {
  domain: { paths: ['domain/'], mayImport: [], noPackages: true },
  store: { paths: ['store/'], mayImport: ['domain'], ownsPackages: ['better-sqlite3', 'pg'] },
  engine: { paths: ['engine/'], mayImport: ['domain', 'store'] },
  auth: { paths: ['auth/'], mayImport: ['domain', 'store'] },
  seed: { paths: ['seed/'], mayImport: ['domain', 'store'] },
  // The device side speaks to the server over HTTP only.
  device: { paths: ['device/'], mayImport: ['domain', 'seed'] },
  http: { paths: ['http/'], mayImport: ['domain', 'store', 'engine', 'auth'] },
  'http/graph': { paths: ['http/graph/'], mayImport: ['http', 'domain', 'store', 'engine', 'auth'] },
  'http/agent': { paths: ['http/agent/'], mayImport: ['http', 'domain', 'store', 'engine', 'auth'] },
  // The app factory is the one file of http/ that assembles the Graph and agent routes on the edge.
  'http/app': { paths: ['http/app.ts'], mayImport: ['http', 'http/graph', 'http/agent', 'domain', 'store', 'engine', 'auth'] },
  // The web console runs in the browser: it reaches the server over HTTP only, and takes from the
  // domain its types and those of its values that need no Node builtin (enums, state lists).
  web: { paths: ['web/'], mayImport: ['domain'], browser: true },
  // The composition root: it wires every layer together and nothing imports it.
  root: {
    paths: ['cli/', 'server.ts', 'config.ts'],
    mayImport: ['domain', 'store', 'engine', 'auth', 'seed', 'device', 'http', 'http/graph', 'http/agent', 'http/app'],
  },
};

function layerOf(file: string): string | null {
  let best: string | null = null;
  let bestLength = -1;
  for (const [name, layer] of Object.entries(layers)) {
    for (const path of layer.paths) {
      if ((file === path || file.startsWith(path)) && path.length > bestLength) {
        best = name;
        bestLength = path.length;
      }
    }
  }
  return best;
}

/** Every module specifier a source file names, in whatever syntax; `valuesOnly`: those that bring code along (not `import type`). */
function importsOf(fileName: string, text: string, valuesOnly = false): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, fileName.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!valuesOnly || !isTypeOnly(node)) specifiers.push(node.moduleSpecifier.text);
    } else if (valuesOnly && ts.isImportTypeNode(node)) {
      // `import('…').T` names a type: no code comes along
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      specifiers.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      specifiers.push(node.argument.literal.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      specifiers.push(node.moduleReference.expression.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers;
}

function isTypeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) return node.isTypeOnly;
  const clause = node.importClause;
  if (!clause) return false;
  if (clause.isTypeOnly) return true;
  const bindings = clause.namedBindings;
  return !clause.name && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((element) => element.isTypeOnly);
}

/** A relative specifier as a src-relative file: `.js` names the `.ts` or `.tsx` source, and the browser layer leaves the extension off. */
function resolveImport(from: string, specifier: string, known: Set<string>): string {
  const base = normalize(join(dirname(from), specifier)).split('\\').join('/').replace(/\.js$/, '');
  return [`${base}.ts`, `${base}.tsx`, base].find((candidate) => known.has(candidate)) ?? `${base}.ts`;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const builtins = new Set(builtinModules);
const packageName = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

/** src-relative import graph: file → [imported src file] and the violations of the layer table. */
function checkLayers(files: { file: string; text: string }[]): { violations: string[]; graph: Map<string, string[]> } {
  const violations: string[] = [];
  const graph = new Map<string, string[]>();
  const owners = new Map<string, string>();
  for (const [name, layer] of Object.entries(layers)) for (const pkg of layer.ownsPackages ?? []) owners.set(pkg, name);
  const known = new Set(files.map(({ file }) => file));
  const texts = new Map(files.map(({ file, text }) => [file, text]));
  for (const { file, text } of files) {
    const from = layerOf(file);
    const edges: string[] = [];
    graph.set(file, edges);
    if (!from) {
      violations.push(`src/${file}: in no layer (add its folder to the layer table and to docs/architecture.md)`);
      continue;
    }
    for (const specifier of importsOf(file, text)) {
      if (specifier.startsWith('.')) {
        const target = resolveImport(file, specifier, known);
        edges.push(target);
        const to = layerOf(target);
        if (to !== from && (to === null || !layers[from].mayImport.includes(to))) {
          violations.push(`src/${file} (${from}) imports '${specifier}' (${to ?? 'outside src'})`);
        }
        continue;
      }
      const isBuiltin = specifier.startsWith('node:') || builtins.has(specifier);
      if (isBuiltin && layers[from].browser) violations.push(`src/${file} (${from}) imports '${specifier}'; ${from} runs in the browser`);
      if (isBuiltin) continue;
      const pkg = packageName(specifier);
      const owner = owners.get(pkg);
      if (layers[from].noPackages) violations.push(`src/${file} (${from}) imports the package '${specifier}'; ${from} imports no packages`);
      else if (owner && owner !== from) violations.push(`src/${file} (${from}) imports '${specifier}', which only ${owner} may import`);
    }
  }
  for (const { file, text } of files) {
    if (!layers[layerOf(file) ?? '']?.browser) continue;
    for (const specifier of importsOf(file, text, true)) {
      if (!specifier.startsWith('.')) continue;
      const target = resolveImport(file, specifier, known);
      if (layerOf(target) === layerOf(file)) continue;
      const builtin = builtinReachedFrom(target, texts, known);
      if (builtin) violations.push(`src/${file} (${layerOf(file)}) imports '${specifier}', whose code needs '${builtin}', which the browser lacks`);
    }
  }
  return { violations, graph };
}

/** The first Node builtin a file's code pulls in through its value imports, or null. */
function builtinReachedFrom(start: string, texts: Map<string, string>, known: Set<string>): string | null {
  const seen = new Set<string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of importsOf(file, texts.get(file) ?? '', true)) {
      if (specifier.startsWith('node:') || builtins.has(specifier)) return specifier;
      if (specifier.startsWith('.')) queue.push(resolveImport(file, specifier, known));
    }
  }
  return null;
}

/** Strongly connected components with more than one file (or a file importing itself): the cycles. */
function importCycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const connect = (file: string): void => {
    indexOf.set(file, index);
    low.set(file, index++);
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (!indexOf.has(next)) {
        connect(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file)!, indexOf.get(next)!));
      }
    }
    if (low.get(file) !== indexOf.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || (graph.get(file) ?? []).includes(file)) cycles.push(component.sort());
  };
  for (const file of graph.keys()) if (!indexOf.has(file)) connect(file);
  return cycles;
}

/** One shortest cycle through the component's first file, e.g. "src/a.ts → src/b.ts → src/a.ts". */
function describeCycle(component: string[], graph: Map<string, string[]>): string {
  const members = new Set(component);
  const start = component[0];
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const next of graph.get(file) ?? []) {
      if (!members.has(next) || previous.has(next)) continue;
      previous.set(next, file);
      if (next === start) queue.length = 0;
      else queue.push(next);
    }
  }
  const path = [start];
  for (let file = previous.get(start)!; file !== start; file = previous.get(file)!) path.unshift(file);
  path.unshift(start);
  return `import cycle: ${path.map((f) => `src/${f}`).join(' → ')} (${component.length} files import each other)`;
}

const files = sourceFiles(srcRoot).map((path) => ({ file: relative(srcRoot, path).split('\\').join('/'), text: readFileSync(path, 'utf8') }));

test('every import in src follows the layer table of docs/architecture.md', () => {
  assert.ok(files.length > 20, `expected the sources under ${srcRoot}`);
  const { violations } = checkLayers(files);
  assert.deepEqual(violations, [], `layer violations:\n${violations.join('\n')}`);
});

test('no import cycles in src, type-only imports included', () => {
  const { graph } = checkLayers(files);
  const cycles = importCycles(graph).map((c) => describeCycle(c, graph));
  assert.deepEqual(cycles, [], cycles.join('\n'));
});

test('the checker sees every kind of import, and a lower layer importing an upper one', () => {
  const text = [
    "import type { A } from '../http/a.js';",
    "export { B } from './b.js';",
    "const c = await import('../engine/c.js');",
    "let d: import('pg').Pool;",
    "import './side-effect.js';",
  ].join('\n');
  assert.deepEqual(importsOf('domain/x.ts', text), ['../http/a.js', './b.js', '../engine/c.js', 'pg', './side-effect.js']);
  const { violations, graph } = checkLayers([
    { file: 'domain/x.ts', text },
    { file: 'domain/b.ts', text: "import './x.js';" },
    { file: 'http/graph/r.ts', text: "import '../agent/s.js'; import Database from 'better-sqlite3';" },
    { file: 'web/page.tsx', text: "import type { Secret } from '../domain/secret.js'; import { hash } from '../domain/secret'; import { states } from '../domain/states'; import '../http/edge.js'; import 'node:fs';" },
    { file: 'domain/secret.ts', text: "import { createHash } from 'node:crypto';" },
    { file: 'domain/states.ts', text: "export const states = ['a'];" },
  ]);
  assert.deepEqual(violations, [
    "src/domain/x.ts (domain) imports '../http/a.js' (http)",
    "src/domain/x.ts (domain) imports '../engine/c.js' (engine)",
    "src/domain/x.ts (domain) imports the package 'pg'; domain imports no packages",
    "src/http/graph/r.ts (http/graph) imports '../agent/s.js' (http/agent)",
    "src/http/graph/r.ts (http/graph) imports 'better-sqlite3', which only store may import",
    "src/web/page.tsx (web) imports '../http/edge.js' (http)",
    "src/web/page.tsx (web) imports 'node:fs'; web runs in the browser",
    "src/web/page.tsx (web) imports '../domain/secret', whose code needs 'node:crypto', which the browser lacks",
  ]);
  assert.deepEqual(importCycles(graph), [['domain/b.ts', 'domain/x.ts']]);
});
