// The module graph points one way. Every relative import in parsers/ and src/ is read from the source
// (static, dynamic `import()`, `export … from`, `require`) and checked against LAYERS: a module may import
// only modules of lower layers (and itself). parsers/ imports nothing but itself and Node's built-ins.
// The README's Layout section shows the same order. There are no exceptions.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinModules } from 'node:module';
import { test } from 'node:test';
import { ROOT } from '../env/cli';

/** Lowest first. `src` is the files directly in src/ (log.ts, metrics.ts, retry.ts). */
const LAYERS: readonly (readonly string[])[] = [
  ['parsers'],
  ['src'],
  ['src/event', 'src/io'],
  ['src/kafka', 'src/profile', 'src/tail', 'src/audit', 'src/oci', 'src/http'],
  // src/recording: the one recording model (selection, tuples, sessions, names, builder, profile directory,
  // the embedded recorder) under the node's Kafka dedup and the aggregator
  ['src/k8s', 'src/recording'],
  // the consumers of the wire format and of profiles, none of which may reach into the node's sinks
  ['src/aggregate', 'src/denials', 'src/agent'],
  // the admission webhook names the logging profile the agent installs
  ['src/webhook'],
  ['src/sink'],
  // it produces container ends for the sinks and the recorder (src/recording)
  ['src/enrich'],
  ['src/run'],
  ['src/cli'],
];

const layerOf = new Map<string, number>();
LAYERS.forEach((mods, i) => {
  for (const m of mods) layerOf.set(m, i);
});

function moduleOf(rel: string): string {
  const parts = rel.split('/');
  if (parts[0] === 'parsers') return 'parsers';
  if (parts[0] === 'src') return parts.length === 2 ? 'src' : `src/${parts[1]}`;
  return parts[0] ?? rel;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.(ts|js)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Every module specifier the file names. Comments are dropped first so that prose never counts. */
export function specifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
  const out: string[] = [];
  const re = /\bfrom\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\bimport\s+['"]([^'"]+)['"]|\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of code.matchAll(re)) out.push((m[1] ?? m[2] ?? m[3] ?? m[4])!);
  return out;
}

interface Arrow {
  file: string;
  from: string;
  to: string;
  spec: string;
}

function arrows(): Arrow[] {
  const out: Arrow[] = [];
  for (const file of [...sourceFiles('parsers'), ...sourceFiles('src')]) {
    for (const spec of specifiers(fs.readFileSync(path.join(ROOT, file), 'utf8'))) {
      // the package's own version, read at run time relative to dist/
      if (spec.endsWith('/package.json')) continue;
      if (!spec.startsWith('.')) {
        out.push({ file, from: moduleOf(file), to: `package:${spec}`, spec });
        continue;
      }
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      out.push({ file, from: moduleOf(file), to: moduleOf(target), spec });
    }
  }
  return out;
}

test('the import reader sees static, type, dynamic and re-export imports, and not comments', () => {
  const src = [
    "import { a } from './a';",
    "import type { B } from '../b/b';",
    "export { c } from '../c';",
    "const d = await import('../d/index.js');",
    "import './e';",
    "const f = require('node:fs');",
    "// import { g } from '../g';",
    "/* import { h } from '../h'; */",
    "const url = 'http://x/y'; import { i } from '../i';",
  ].join('\n');
  assert.deepEqual(specifiers(src), ['./a', '../b/b', '../c', '../d/index.js', './e', 'node:fs', '../i']);
});

test('the scan finds the source tree (a check over nothing would pass)', () => {
  const all = arrows();
  assert.ok(all.length > 500, `only ${all.length} imports found under parsers/ and src/`);
  assert.ok(all.some((a) => a.file === 'src/aggregate/aggregator.ts' && a.to === 'src/kafka'), 'the aggregator imports src/kafka');
});

test('parsers/ imports nothing but itself and Node built-ins', () => {
  const builtins = new Set(builtinModules);
  const bad = arrows().filter(
    (a) => a.from === 'parsers' && a.to !== 'parsers' && !(a.to.startsWith('package:') && (a.spec.startsWith('node:') || builtins.has(a.spec))),
  );
  assert.deepEqual(bad.map((a) => `${a.file} -> ${a.spec}`), []);
});

test('every module of src/ has a layer', () => {
  const mods = new Set(arrows().flatMap((a) => [a.from, a.to]).filter((m) => !m.startsWith('package:')));
  const missing = [...mods].filter((m) => !layerOf.has(m));
  assert.deepEqual(missing, [], 'add these to LAYERS in test/parsers/import-graph.test.ts (and to the README Layout table)');
});

test('no import points up the layers, nor sideways within one', () => {
  const up = new Set<string>();
  for (const a of arrows()) {
    if (a.to.startsWith('package:') || a.from === a.to) continue;
    const from = layerOf.get(a.from);
    const to = layerOf.get(a.to);
    if (from === undefined || to === undefined) continue; // the test above names it
    if (to >= from) up.add(`${a.file} -> ${a.to}`);
  }
  assert.deepEqual([...up].sort(), [], 'upward (or sideways) imports: move the shared code down a layer');
});
