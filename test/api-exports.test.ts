import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// The package's public surface: the exports map, the entry files' hand-written lists, and what importing the
// entry point loads. Checked on the sources and the module graph (not by timing: bench/import.ts times it).

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, { types: string; import: string } | string>;
  types: string;
  typesVersions?: Record<string, Record<string, string[]>>;
};

const SUBPATHS = ['.', './linalg', './tensor', './decomposition', './input', './moments', './metrics', './io', './report'];
/** dist/x.js → src/x.ts (what tsc compiles to dist/x.js with rootDir src). */
const srcOf = (distPath: string): string => path.join(root, distPath.replace(/^\.\/dist\//, 'src/').replace(/\.d\.ts$|\.js$/, '.ts'));
const entries = SUBPATHS.map((s) => {
  const e = pkg.exports[s];
  assert.ok(e && typeof e === 'object', `package.json exports has no "${s}"`);
  return { subpath: s, src: srcOf(e.import), entry: e };
});

test('package.json: every subpath has types and import targets that build from one source entry file', () => {
  assert.deepEqual(Object.keys(pkg.exports).filter((k) => k !== './package.json').sort(), [...SUBPATHS].sort());
  for (const { subpath, src, entry } of entries) {
    assert.ok(existsSync(src), `${subpath}: ${src} does not exist`);
    assert.equal(srcOf(entry.types), src, `${subpath}: types and import point at different files`);
    assert.match(entry.import, /^\.\/dist\/.*\.js$/);
    // typesVersions mirrors the map for consumers still on moduleResolution "node".
    if (subpath !== '.') assert.deepEqual(pkg.typesVersions?.['*']?.[subpath.slice(2)], [entry.types], `${subpath}: typesVersions`);
  }
  assert.equal(pkg.types, (pkg.exports['.'] as { types: string }).types);
});

test('entry files list their names by hand (no export *) and stay small', () => {
  for (const { subpath, src } of entries) {
    const text = readFileSync(src, 'utf8');
    assert.doesNotMatch(text, /export\s*\*/, `${subpath}: ${path.relative(root, src)} re-exports a whole module`);
    assert.ok(text.split('\n').length < 80, `${subpath}: entry file has ${text.split('\n').length} lines`);
  }
});

test('internals are not exported and every exported value is defined', async () => {
  // Helpers the review found exported: positional-parameter kernels, padding, array plumbing, learner stages.
  const internal = ['runDirection', 'pad4', 'concat', 'createArena', 'KernelArena', 'kernels', 'accumulateOutputLS', 'statePass',
    'chunkScores', 'weightPair', 'blockCensus', 'cpOfT2', 'dataPasses', 'strideSubchunk', 'stridesOf', 'incrementIndex', 'formatJSON'];
  for (const { subpath, src } of entries) {
    const mod = (await import(src)) as Record<string, unknown>;
    const names = Object.keys(mod);
    assert.ok(names.length > 0, `${subpath}: exports nothing`);
    for (const n of names) assert.notEqual(mod[n], undefined, `${subpath}: ${n} is undefined`);
    for (const n of internal) assert.ok(!(n in mod), `${subpath} exports the internal ${n}`);
  }
  const main = (await import(srcOf('./dist/index.js'))) as Record<string, unknown>;
  for (const n of ['GLOREE', 'RNNModel', 'CP', 'CPModel', 'fitRNN', 'predict', 'loadModel', 'fromNested', 'UserError', 'Matrix']) {
    assert.equal(typeof main[n], 'function', `gloree does not export ${n}`);
  }
  assert.ok(!('renderReport' in main), 'gloree exports the report (it belongs to gloree/report)');
});

/**
 * The runtime module graph of a source file: relative imports followed through the sources, bare specifiers
 * (packages) collected. Type-only imports and exports are erased by the compiler and skipped; dynamic import()
 * with a literal specifier counts (it loads the module when reached).
 */
function runtimePackages(entry: string, followDynamic = true): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>(), packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const specs: string[] = [];
    const walk = (n: ts.Node): void => {
      if (ts.isImportDeclaration(n) && !n.importClause?.isTypeOnly && ts.isStringLiteral(n.moduleSpecifier)) {
        const named = n.importClause?.namedBindings;
        const allTypes = !n.importClause?.name && named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
        if (!allTypes) specs.push(n.moduleSpecifier.text);
      } else if (ts.isExportDeclaration(n) && !n.isTypeOnly && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
        const c = n.exportClause;
        if (!(c && ts.isNamedExports(c) && c.elements.length > 0 && c.elements.every((e) => e.isTypeOnly))) specs.push(n.moduleSpecifier.text);
      } else if (followDynamic && ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) {
        specs.push(n.arguments[0].text);
      }
      ts.forEachChild(n, walk);
    };
    walk(sf);
    for (const s of specs) {
      if (s.startsWith('.')) {
        const p = path.resolve(path.dirname(file), s).replace(/\.js$/, '.ts');
        assert.ok(existsSync(p), `${path.relative(root, file)} imports ${s}, which has no source file`);
        visit(p);
      } else {
        packages.add(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!);
      }
    }
  };
  visit(entry);
  return { files, packages };
}

test('importing gloree does not load the report libraries (module graph); gloree/report does', () => {
  const report = ['@observablehq/plot', 'linkedom'];
  const main = runtimePackages(srcOf('./dist/index.js'));
  for (const p of report) assert.ok(!main.packages.has(p), `gloree loads ${p}`);
  assert.ok(![...main.files].some((f) => f.includes(`${path.sep}report${path.sep}`)), 'gloree loads src/report');
  // Nor the data-file libraries: they belong to gloree/io and load only there.
  for (const p of ['apache-arrow', 'hyparquet', 'hyparquet-writer', 'csv-parse']) assert.ok(!main.packages.has(p), `gloree loads ${p}`);
  // The walk does see them where they are used (so the checks above can fail).
  const rep = runtimePackages(srcOf('./dist/api/report.js'));
  for (const p of report) assert.ok(rep.packages.has(p), `the graph walk misses ${p} under gloree/report`);
  assert.ok(runtimePackages(srcOf('./dist/api/io.js')).packages.has('apache-arrow'), 'the graph walk misses apache-arrow under gloree/io');
  // The learners load on the first fit (a dynamic import), not with the entry point.
  const eager = runtimePackages(srcOf('./dist/index.js'), false);
  assert.ok(![...eager.files].some((f) => f.includes(`${path.sep}learn${path.sep}`)), 'importing gloree loads src/learn');
  assert.ok([...main.files].some((f) => f.endsWith(`learn${path.sep}fit.ts`)), 'the dynamic import of the learners is not followed');
  // Every other entry also stays clear of the report.
  for (const { subpath, src } of entries) {
    if (subpath === './report') continue;
    const g = runtimePackages(src);
    for (const p of report) assert.ok(!g.packages.has(p), `${subpath} loads ${p}`);
  }
});
