/** House rules that code review would otherwise have to catch: no circular imports in src/. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './helpers/cli.js';

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

it('src/ has no circular imports (type-only imports included)', () => {
  const files = sources(path.join(repoRoot, 'src'));
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    const deps = [...text.matchAll(/(?:import|export)[^'"]*from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g)]
      .map((m) => path.resolve(path.dirname(f), (m[1] ?? m[2])!).replace(/\.js$/, '.ts'));
    graph.set(f, deps);
  }
  assert.ok([...graph.values()].reduce((n, d) => n + d.length, 0) > 30, 'the import graph was read');
  const cycles: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'visiting') {
      cycles.push(stack.slice(stack.indexOf(f)).concat(f).map((x) => path.relative(repoRoot, x)).join(' -> '));
      return;
    }
    state.set(f, 'visiting');
    stack.push(f);
    for (const d of graph.get(f) ?? []) visit(d);
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) visit(f);
  assert.deepEqual(cycles, []);
});
