import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// Every ```ts block of README.md compiles as a user's module would: against the package's published types (the
// declaration files `npm run build` emits, resolved through package.json "exports" as `gloree`, `gloree/io`, …),
// under `strict` and `noUncheckedIndexedAccess`.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The ```ts blocks of a markdown text, with the line each starts on. */
function tsBlocks(markdown: string): { line: number; code: string }[] {
  const out: { line: number; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const start = i + 1;
    let j = start;
    while (j < lines.length && !/^```\s*$/.test(lines[j]!)) j++;
    out.push({ line: start + 1, code: lines.slice(start, j).join('\n') });
    i = j;
  }
  return out;
}

test('README.md: every ```ts block type-checks against the package types (strict, noUncheckedIndexedAccess)', () => {
  const blocks = tsBlocks(readFileSync(path.join(root, 'README.md'), 'utf8'));
  assert.ok(blocks.length >= 2, `README.md has ${blocks.length} ts blocks`);
  // A scratch package directory below node_modules, so the emitted declarations find @types/node and the
  // dependencies' types the way an installed gloree would.
  const cache = path.join(root, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(path.join(cache, 'gloree-readme-'));
  try {
    // Its own package scope: otherwise `gloree` would self-resolve through the repository's package.json to dist/.
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'readme-examples', private: true, type: 'module' }));
    const pkgDir = path.join(dir, 'node_modules', 'gloree');
    mkdirSync(pkgDir, { recursive: true });
    copyFileSync(path.join(root, 'package.json'), path.join(pkgDir, 'package.json'));

    // 1. The package's declaration files, as `npm run build` writes them to dist/.
    const cfg = ts.getParsedCommandLineOfConfigFile(path.join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(String(d.messageText)) });
    assert.ok(cfg);
    const lib = ts.createProgram(cfg.fileNames, { ...cfg.options, outDir: path.join(pkgDir, 'dist'), declaration: true, emitDeclarationOnly: true, sourceMap: false, declarationMap: false, noEmit: false });
    const emitted = lib.emit();
    assert.deepEqual(emitted.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), []);

    // 2. Each block as a user's ES module.
    const files = blocks.map((b, k) => {
      const f = path.join(dir, `readme-block-${k + 1}.mts`);
      writeFileSync(f, b.code + '\n');
      return f;
    });
    const user = ts.createProgram(files, {
      strict: true,
      noUncheckedIndexedAccess: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
      noEmit: true,
      skipLibCheck: true,
    });
    const problems: string[] = [];
    files.forEach((f, k) => {
      const sf = user.getSourceFile(f)!;
      for (const d of [...user.getSyntacticDiagnostics(sf), ...user.getSemanticDiagnostics(sf)]) {
        const { line } = sf.getLineAndCharacterOfPosition(d.start ?? 0);
        problems.push(`README.md:${blocks[k]!.line + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
      }
    });
    assert.deepEqual(problems, []);
    // The checker is live: a wrong line in a block is reported (guards against checking nothing).
    const probe = path.join(dir, 'probe.mts');
    writeFileSync(probe, "import { GLOREE } from 'gloree';\nimport { svd } from 'gloree/linalg';\nconst n: string = new GLOREE({ hidden: 2 });\nsvd;\n");
    const p2 = ts.createProgram([probe], user.getCompilerOptions());
    const msgs = p2.getSemanticDiagnostics(p2.getSourceFile(probe)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    assert.equal(msgs.length, 1, msgs.join('\n'));
    assert.match(msgs[0]!, /Type 'GLOREE' is not assignable to type 'string'/);
    // Consumers on the older moduleResolution "node" (no exports map) reach the subpaths through typesVersions.
    const cjs = path.join(dir, 'node10.ts');
    writeFileSync(cjs, "import { GLOREE } from 'gloree';\nimport { svd } from 'gloree/linalg';\nimport { CP } from 'gloree/decomposition';\nexport const used = [GLOREE, svd, CP];\n");
    const p3 = ts.createProgram([cjs], { strict: true, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, target: ts.ScriptTarget.ES2022, types: ['node'], noEmit: true, skipLibCheck: true });
    assert.deepEqual(p3.getSemanticDiagnostics(p3.getSourceFile(cjs)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
