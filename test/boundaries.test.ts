// The import rules of docs/architecture.md, checked over the import graph of src/**/*.ts. The graph
// is read here with the TypeScript parser (already a dev dependency): static `import ... from`,
// `export ... from`, side-effect `import '...'`, `import('...')` with a string literal (a value
// edge) and `import('...')` in a type (a type edge). Relative specifiers resolve `.js` to `.ts`.
//
// Choices:
// - Cycles: only edges that exist at run time count. An `import type` (or an import whose names
//   are all `type`) is erased by the compiler and cannot change the order modules load in, so it
//   may close a cycle: the Store interface (store/store.ts) and the engines that implement it name
//   each other that way. Dynamic `import()` counts.
// - ssh2: any import of it, a type-only one too, is under src/ssh/.
// - The store's public face: store/store.ts (the Store interface, the openers and the store-level
//   questions) and store/database.ts (questions about the `[storage] database` setting that load
//   no engine). src/cli/ imports values from those two only; types from any store module but the
//   engines (store/sqlite/, store/postgres/).
// - The lock's public entry for src/cli/: lock/lock-files.ts (where the locks live). Taking,
//   reading and releasing locks is app/'s business.
// - A backend check: importing `isPostgresUrl` or store/database-url.ts, `instanceof SqliteStore`
//   or `instanceof PgStore`, comparing `.dialect`, an engine's error code in a string or a regular
//   expression (SQLITE_BUSY, 40P01), or importing an engine module. The two tools made for
//   PostgreSQL alone may import its engine: the advisory locks (lock/pg-lock.ts) and the
//   SQLite-to-PostgreSQL copy (app/migrate.ts).
// - The store's rules are written once: the modules of src/store/ outside the engine folders
//   (sql-store.ts, queries.ts, intervals.ts, push-rules.ts, ...) import no engine module and no
//   database package (better-sqlite3, pg) but for types; store.ts, the opener, may load the engines.
// - A violation the tree still has is listed in REMAINING with what would fix it: reported as a
//   todo, so the suite stays green, while any other violation fails.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Edge {
  /** the importing file, relative to the repository (`src/app/run.ts`) */
  from: string;
  /** the imported file (`src/store/store.ts`), or the bare package name (`ssh2`) */
  to: string;
  line: number;
  /** the import statement's first line, as written */
  text: string;
  typeOnly: boolean;
  dynamic: boolean;
  /** the names imported, where the statement names them */
  names: string[];
}

interface Source { file: string; edges: Edge[]; sf: ts.SourceFile }

function listTs(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? listTs(p) : d.name.endsWith('.ts') && !d.name.endsWith('.d.ts') ? [p] : [];
  });
}

const rel = (abs: string) => path.relative(ROOT, abs).split(path.sep).join('/');

function resolveSpecifier(fromAbs: string, spec: string): string {
  if (!spec.startsWith('.')) {
    const parts = spec.split('/');
    return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  }
  const base = path.resolve(path.dirname(fromAbs), spec);
  const tries = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, path.join(base, 'index.ts')];
  const hit = tries.find((p) => p.endsWith('.ts') && fs.existsSync(p));
  return rel(hit ?? base);
}

function readSource(abs: string): Source {
  const text = fs.readFileSync(abs, 'utf8');
  const sf = ts.createSourceFile(abs, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const edges: Edge[] = [];
  const from = rel(abs);
  const add = (node: ts.Node, spec: string, typeOnly: boolean, dynamic: boolean, names: string[]) => {
    const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
    edges.push({ from, to: resolveSpecifier(abs, spec), line: line + 1, text: node.getText(sf).split('\n')[0]!.trim(), typeOnly, dynamic, names });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const names = [
        ...(clause?.name ? ['default'] : []),
        ...(clause?.namedBindings && ts.isNamespaceImport(clause.namedBindings) ? ['*'] : []),
        ...(named ?? []).map((e) => (e.propertyName ?? e.name).text),
      ];
      // `import { type A, type B }` is erased as a whole, as `import type { A, B }` is.
      const typeOnly = Boolean(clause && (clause.isTypeOnly
        || (!clause.name && named && named.length > 0 && named.every((e) => e.isTypeOnly))));
      add(node, node.moduleSpecifier.text, typeOnly, false, names);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      const typeOnly = node.isTypeOnly || Boolean(named && named.length > 0 && named.every((e) => e.isTypeOnly));
      add(node, node.moduleSpecifier.text, typeOnly, false, named ? named.map((e) => (e.propertyName ?? e.name).text) : ['*']);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteralLike(arg)) {
        // `const { a, b } = await import('x')`: the names are those destructured.
        let up: ts.Node = node.parent;
        while (ts.isAwaitExpression(up) || ts.isParenthesizedExpression(up)) up = up.parent;
        const names = ts.isVariableDeclaration(up) && ts.isObjectBindingPattern(up.name)
          ? up.name.elements.map((e) => ((e.propertyName ?? e.name) as ts.Identifier).text ?? '?')
          : ['*'];
        add(node, arg.text, false, true, names);
      }
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node, node.argument.literal.text, true, true, node.qualifier ? [node.qualifier.getText(sf).split('.')[0]!] : ['*']);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { file: from, edges, sf };
}

const sources = listTs(path.join(ROOT, 'src')).sort().map(readSource);
const edges = sources.flatMap((s) => s.edges);
const where = (e: Edge) => `${e.from}:${e.line}: ${e.text}`;
const under = (file: string, folder: string) => file.startsWith(`src/${folder}/`);
/** The engine modules: each engine's folder under src/store/ (its driver and its own writes). */
const isEngine = (file: string) => file.startsWith('src/store/sqlite/') || file.startsWith('src/store/postgres/');
/** An engine's error code: SQLite's names (SQLITE_BUSY) and PostgreSQL's five-character SQLSTATEs (40P01, 23505), as a whole word of a string or a regular expression. */
const ENGINE_CODE = /^(SQLITE_[A-Z_]+|([0-9]{2}|F0|HV|P0|XX)(P[0-9]{2}|[0-9]{3}))$/;

/**
 * Violations the tree still has, by file and the text that offends (not the line, which moves):
 * reported as todo so the suite stays green while they wait; any other violation fails.
 */
const REMAINING: Record<string, { file: string; text: string; fix: string }[]> = {
  e: [],
};

/** No violation of a rule, each named in the message by file, line and import; the known ones as todo. */
async function expectNone(t: Test, rule: string, what: string, found: string[]): Promise<void> {
  const known = REMAINING[rule] ?? [];
  const isKnown = (v: string) => known.some((k) => v.startsWith(`${k.file}:`) && v.includes(k.text));
  const fresh = found.filter((v) => !isKnown(v));
  t.equal(fresh.length, 0, fresh.length ? `${what}:\n  ${fresh.join('\n  ')}` : `none: ${what}`);
  const waiting = found.filter(isKnown);
  if (waiting.length) {
    await t.test(`(${rule}) still to fix`, { todo: waiting.map((v) => `${v}: ${known.find((k) => v.includes(k.text))!.fix}`).join('; ') }, async (t) => {
      t.equal(waiting.length, 0, `${what}:\n  ${waiting.join('\n  ')}`);
    });
  }
}

t.test('the graph is read: every relative import names a file that exists', async (t) => {
  t.ok(sources.length > 100, `${sources.length} source files`);
  t.ok(edges.length > 300, `${edges.length} imports`);
  const missing = edges.filter((e) => e.to.startsWith('src/') && !fs.existsSync(path.join(ROOT, e.to))).map(where);
  t.equal(missing.length, 0, 'imports that resolve to no file');
  // The reader itself: it must see what each kind of statement imports.
  const run = sources.find((s) => s.file === 'src/cli/run-command.ts')!;
  t.ok(run.edges.some((e) => e.dynamic && e.to === 'src/app/run.ts'), 'a dynamic import() is an edge');
  t.ok(edges.some((e) => e.typeOnly && !e.dynamic), 'import type is seen as type-only');
});

/** One cycle through `start` inside `members`, over `next`, as the list of edges that close it. */
function cycleFrom(start: string, members: Set<string>, next: Map<string, Edge[]>): Edge[] {
  const back = new Map<string, Edge>();
  const queue = [start];
  const seen = new Set([start]);
  while (queue.length) {
    const n = queue.shift()!;
    for (const e of next.get(n) ?? []) {
      if (!members.has(e.to)) continue;
      if (e.to === start) {
        const pathBack: Edge[] = [e];
        for (let at = n; at !== start; at = back.get(at)!.from) pathBack.unshift(back.get(at)!);
        return pathBack;
      }
      if (seen.has(e.to)) continue;
      seen.add(e.to);
      back.set(e.to, e);
      queue.push(e.to);
    }
  }
  return [];
}

/** The strongly connected groups of more than one file (or a file importing itself), Tarjan's way. */
function cycles(runtime: Edge[]): Edge[][] {
  const next = new Map<string, Edge[]>();
  for (const e of runtime) next.set(e.from, [...(next.get(e.from) ?? []), e]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: Edge[][] = [];
  let i = 0;
  const strong = (v: string) => {
    index.set(v, i); low.set(v, i); i++;
    stack.push(v); onStack.add(v);
    for (const e of next.get(v) ?? []) {
      if (!index.has(e.to)) { strong(e.to); low.set(v, Math.min(low.get(v)!, low.get(e.to)!)); }
      else if (onStack.has(e.to)) low.set(v, Math.min(low.get(v)!, index.get(e.to)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const members = new Set<string>();
    let w: string;
    do { w = stack.pop()!; onStack.delete(w); members.add(w); } while (w !== v);
    if (members.size > 1 || (next.get(v) ?? []).some((e) => e.to === v)) out.push(cycleFrom([...members].sort()[0]!, members, next));
  };
  for (const s of sources) if (!index.has(s.file)) strong(s.file);
  return out;
}

t.test('(a) no import cycles (type-only imports aside)', async (t) => {
  const runtime = edges.filter((e) => !e.typeOnly && e.to.startsWith('src/'));
  const found = cycles(runtime).map((c) => `${c.map((e) => e.from).join(' -> ')} -> ${c[0]!.from}\n    ${c.map(where).join('\n    ')}`);
  await expectNone(t, 'a', 'import cycles (one path each, and the imports that close it)', found);
});

t.test('(b) ssh2 is imported only under src/ssh/', async (t) => {
  const bad = edges.filter((e) => e.to === 'ssh2' && !under(e.from, 'ssh')).map(where);
  await expectNone(t, 'b', 'ssh2 imported outside src/ssh/', bad);
});

t.test('(c) src/pipeline/ imports nothing from src/store/ or src/lock/', async (t) => {
  const bad = edges.filter((e) => under(e.from, 'pipeline') && (under(e.to, 'store') || under(e.to, 'lock'))).map(where);
  await expectNone(t, 'c', 'src/pipeline/ (worker threads) importing the store or the lock', bad);
});

t.test('(d) src/cli/ imports only the public face of src/store/ and src/lock/', async (t) => {
  const storeFace = new Set(['src/store/store.ts', 'src/store/database.ts']);
  const lockEntry = new Set(['src/lock/lock-files.ts']);
  const bad = edges.filter((e) => under(e.from, 'cli') && (
    (under(e.to, 'store') && (isEngine(e.to) || (!e.typeOnly && !storeFace.has(e.to))))
    || (under(e.to, 'lock') && !lockEntry.has(e.to))
  )).map(where);
  await expectNone(t, 'd', `src/cli/ importing store or lock internals (values only from ${[...storeFace].join(', ')}; types from any store module but the engines; lock only through ${[...lockEntry].join(', ')})`, bad);
});

t.test('(e) no backend check outside src/store/', async (t) => {
  const PG_ONLY = new Set(['src/lock/pg-lock.ts', 'src/app/migrate.ts']);
  const bad: string[] = [];
  for (const e of edges) {
    if (under(e.from, 'store')) continue;
    if (e.to === 'src/store/database-url.ts') bad.push(`${where(e)} (store/database-url.ts is the store's own; ask store/database.ts)`);
    else if (e.names.includes('isPostgresUrl')) bad.push(`${where(e)} (isPostgresUrl)`);
    else if (isEngine(e.to) && !PG_ONLY.has(e.from)) bad.push(`${where(e)} (an engine module)`);
  }
  for (const s of sources) {
    if (under(s.file, 'store')) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isBinaryExpression(node)) {
        const op = node.operatorToken.kind;
        const at = () => `${s.file}:${s.sf.getLineAndCharacterOfPosition(node.getStart(s.sf)).line + 1}: ${node.getText(s.sf).split('\n')[0]!.trim()}`;
        if (op === ts.SyntaxKind.InstanceOfKeyword && /^(SqliteStore|PgStore)$/.test(node.right.getText(s.sf))) bad.push(`${at()} (instanceof an engine)`);
        const eq = [ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.EqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsToken];
        const isDialect = (x: ts.Expression) => ts.isPropertyAccessExpression(x) && x.name.text === 'dialect';
        if (eq.includes(op) && (isDialect(node.left) || isDialect(node.right))) bad.push(`${at()} (the store's dialect)`);
      }
      if (ts.isStringLiteralLike(node) || ts.isRegularExpressionLiteral(node)) {
        const text = ts.isRegularExpressionLiteral(node) ? node.text.slice(1, node.text.lastIndexOf('/')) : node.text;
        const codes = text.split(/[|()^$\\\s,;:'"]+/).filter((w) => ENGINE_CODE.test(w));
        if (codes.length) bad.push(`${s.file}:${s.sf.getLineAndCharacterOfPosition(node.getStart(s.sf)).line + 1}: ${node.getText(s.sf).split('\n')[0]!.trim()} (engine error codes ${codes.join(', ')})`);
      }
      ts.forEachChild(node, visit);
    };
    visit(s.sf);
  }
  await expectNone(t, 'e', 'backend checks outside src/store/ (ask the store a question instead: store/store.ts, store/database.ts)', bad);
});

t.test('(f) the store logic shared by the engines imports no engine and no database package', async (t) => {
  const DATABASE_PACKAGES = new Set(['better-sqlite3', 'pg']);
  const OPENER = 'src/store/store.ts';
  const bad = edges.filter((e) => under(e.from, 'store') && !isEngine(e.from) && !e.typeOnly
    && (DATABASE_PACKAGES.has(e.to) || (isEngine(e.to) && e.from !== OPENER))).map(where);
  t.ok(sources.some((s) => s.file === 'src/store/sql-store.ts'), 'the shared store logic is where the rule looks for it');
  await expectNone(t, 'f', 'shared store logic importing an engine or a database package (engine code goes in src/store/sqlite/ or src/store/postgres/)', bad);
});

t.test('(g) src/core/ is a leaf: it imports nothing of the project\'s and no package', async (t) => {
  const bad = edges.filter((e) => under(e.from, 'core') && !under(e.to, 'core')).map(where);
  t.ok(sources.some((s) => s.file === 'src/core/errors.ts'), 'the core modules are where the rule looks for them');
  await expectNone(t, 'g', 'src/core/ (errors, results, SSH settings types) importing another folder or a package', bad);
});
