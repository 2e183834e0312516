/**
 * Property (fast-check): for random sequences of file-system operations and random levels,
 * after every backup, restoring the chain for that point (the image, its base, its base's
 * base, ... down to the level 0) with snapdump reproduces the source of that moment, entry by
 * entry. Half the runs number inodes through the persistent map.
 *
 * Kept small for the main suite; scripts/stress.sh runs it longer:
 * SNAPDUMP_PROPERTY_RUNS (default 8), SNAPDUMP_PROPERTY_BACKUPS (most backups per run, default
 * 4), SNAPDUMP_PROPERTY_RESTORE_R=1 (also the real restore -r, as root), SNAPDUMP_PROPERTY_SEED and SNAPDUMP_PROPERTY_PATH (replay a failure: fast-check prints both).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { backup } from '../../src/backup.js';
import { restore } from '../../src/restore/index.js';
import { STATE_FILE } from '../../src/restore/chain.js';
import { compareTrees, haveProgram, isRoot, removeTree, run as runTool, snapshotTree, tempDir } from '../helpers/tree.js';

const RUNS = Number(process.env.SNAPDUMP_PROPERTY_RUNS ?? 8);
const MAX_BACKUPS = Number(process.env.SNAPDUMP_PROPERTY_BACKUPS ?? 4);
const SEED = process.env.SNAPDUMP_PROPERTY_SEED ? Number(process.env.SNAPDUMP_PROPERTY_SEED) : undefined;
const PATH = process.env.SNAPDUMP_PROPERTY_PATH;
/** Also apply every chain with the real restore -r (scripts/stress.sh sets it). */
const WITH_RESTORE_R = process.env.SNAPDUMP_PROPERTY_RESTORE_R === '1' && isRoot && haveProgram('restore');

const KINDS = ['create', 'modify', 'delete', 'rename', 'move', 'replace', 'hardlink', 'unlink', 'mkdir', 'rmdir',
  'file-to-dir', 'dir-to-file', 'chmod', 'chown', 'utimes', 'symlink'] as const;
type Kind = typeof KINDS[number];
interface Op { kind: Kind; a: number; b: number; c: number }
interface Step { ops: Op[]; level: number }

const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom(...KINDS), a: fc.nat(1000), b: fc.nat(1000), c: fc.nat(1000),
});
const stepArb: fc.Arbitrary<Step> = fc.record({ ops: fc.array(opArb, { minLength: 1, maxLength: 8 }), level: fc.integer({ min: 0, max: 4 }) });

/** The source as lists of relative paths ('' is the root). */
function listing(root: string): { dirs: string[]; files: string[]; all: string[] } {
  const dirs = [''];
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) { dirs.push(r); walk(r); } else files.push(r);
    }
  };
  walk('');
  return { dirs, files, all: [...dirs.slice(1), ...files] };
}

const MODES = [0o600, 0o644, 0o755, 0o700, 0o640, 0o444];
const OWNERS = [0, 1000, 1234];

/** Applies one operation to the tree `root`; operands are picked among what exists. */
function apply(root: string, op: Op, unique: () => string): void {
  const { dirs, files, all } = listing(root);
  const p = (rel: string) => path.join(root, rel);
  const pick = <T>(l: T[], n: number): T | undefined => (l.length ? l[n % l.length] : undefined);
  const regular = files.filter((f) => fs.lstatSync(p(f)).isFile());
  const dir = pick(dirs, op.b)!;
  const inDir = (name: string) => (dir ? `${dir}/${name}` : name);
  const content = () => Buffer.alloc(op.c % 5000, (op.a + op.c) & 0xff);
  switch (op.kind) {
    case 'create': fs.writeFileSync(p(inDir(unique())), content()); return;
    case 'modify': {
      const f = pick(regular, op.a);
      if (!f) return;
      if (op.c % 2) fs.appendFileSync(p(f), `more ${op.c}\n`); else fs.writeFileSync(p(f), content());
      return;
    }
    case 'delete': case 'unlink': {
      const f = pick(op.kind === 'unlink' ? regular.filter((x) => fs.statSync(p(x)).nlink > 1) : files, op.a);
      if (f) fs.rmSync(p(f));
      return;
    }
    case 'rename': case 'move': {
      const from = pick(all, op.a);
      if (!from) return;
      const to = op.kind === 'rename' ? path.posix.join(path.posix.dirname(from), unique()) : inDir(unique());
      if (to === from || to.startsWith(`${from}/`)) return; // a directory cannot go into itself
      fs.renameSync(p(from), p(to));
      return;
    }
    case 'replace': {
      // A name that now points to another file: rename over an existing file.
      const from = pick(files, op.a);
      const over = pick(files, op.b);
      if (from && over && from !== over) fs.renameSync(p(from), p(over));
      return;
    }
    case 'hardlink': {
      const f = pick(regular, op.a);
      if (f) fs.linkSync(p(f), p(inDir(unique())));
      return;
    }
    case 'mkdir': fs.mkdirSync(p(inDir(unique()))); return;
    case 'rmdir': {
      const d = pick(dirs.slice(1), op.a);
      if (d) fs.rmSync(p(d), { recursive: true });
      return;
    }
    case 'file-to-dir': {
      const f = pick(files, op.a);
      if (!f) return;
      fs.rmSync(p(f));
      fs.mkdirSync(p(f));
      fs.writeFileSync(p(`${f}/inside`), content());
      return;
    }
    case 'dir-to-file': {
      const d = pick(dirs.slice(1), op.a);
      if (!d) return;
      fs.rmSync(p(d), { recursive: true });
      fs.writeFileSync(p(d), content());
      return;
    }
    case 'chmod': {
      const e = pick(all.filter((x) => !fs.lstatSync(p(x)).isSymbolicLink()), op.a);
      if (e) fs.chmodSync(p(e), fs.lstatSync(p(e)).isDirectory() ? MODES[op.c % MODES.length]! | 0o700 : MODES[op.c % MODES.length]!);
      return;
    }
    case 'chown': {
      const e = pick(all, op.a);
      if (e && isRoot) fs.lchownSync(p(e), OWNERS[op.c % 3]!, OWNERS[op.b % 3]!);
      return;
    }
    case 'utimes': {
      const e = pick(all.filter((x) => !fs.lstatSync(p(x)).isSymbolicLink()), op.a);
      // An old mtime: the ctime still says it changed.
      if (e) fs.utimesSync(p(e), 1_600_000_000 + op.b, 1_600_000_000 + op.c * 1000);
      return;
    }
    case 'symlink': fs.symlinkSync(`target-${op.c}`, p(inDir(unique()))); return;
  }
}

/** Waits for the next whole second: backups get distinct dates, changes come after the last one. */
async function nextSecond(): Promise<void> {
  const ms = 1000 - (Date.now() % 1000) + 5;
  await new Promise((r) => setTimeout(r, ms));
}

describe('property: the chain for every point restores the tree of that point', () => {
  let work: string;
  before(() => { work = tempDir('incrprop'); });
  after(() => removeTree(work));

  it(`random operations and levels (${RUNS} runs of up to ${MAX_BACKUPS} backups)`, async () => {
    let run = 0;
    await fc.assert(fc.asyncProperty(
      fc.array(stepArb, { minLength: 2, maxLength: MAX_BACKUPS }), fc.boolean(),
      async (steps, inodeMap) => {
        const dir = path.join(work, `run${run++}`);
        const src = path.join(dir, 'src');
        const state = path.join(dir, 'state');
        fs.mkdirSync(src, { recursive: true });
        let counter = 0;
        const unique = () => `e${counter++}`;
        // A starting tree so that the first operations have something to act on.
        for (let i = 0; i < 3; i++) { fs.mkdirSync(path.join(src, `d${i}`)); fs.writeFileSync(path.join(src, `d${i}/f`), `f${i}`); }
        const images: Array<{ file: string; date: number; base: number | null }> = [];
        for (const [k, step] of steps.entries()) {
          const level = k === 0 ? 0 : step.level;
          await nextSecond();
          for (const op of step.ops) apply(src, op, unique);
          const file = path.join(dir, `${k}-L${level}.dump`);
          const s = await backup({ source: src, output: file, level, stateDir: state, name: 'prop', inodeMap, threads: 2 });
          assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
          images.push({ file, date: s.date, base: s.base?.date ?? null });
          const want = snapshotTree(src);
          // The chain for this point: the image, then its base, down to a full backup.
          const chain: string[] = [];
          for (let i: number | undefined = k; i !== undefined;) {
            const img: { file: string; date: number; base: number | null } = images[i]!;
            chain.unshift(img.file);
            i = img.base === null ? undefined : images.findIndex((x) => x.date === img.base);
            assert.notEqual(i, -1, 'the base is one of the images');
          }
          const dest = path.join(dir, `dest${k}`);
          for (const img of chain) {
            const r = await restore({ files: [img], dest });
            assert.equal(r.exitStatus, 0, `${img}: ${JSON.stringify([...r.skipped, ...r.warnings])}`);
          }
          const got = snapshotTree(dest, { ignore: (rel) => rel === STATE_FILE });
          const diffs = compareTrees(want, got, { mtimeResolutionNs: 1000n });
          // fast-check reports the counterexample; the differences themselves go to stderr.
          if (diffs.length) process.stderr.write(`inodeMap ${inodeMap}, after backup ${k} (level ${level}), chain ${chain.map((c) => path.basename(c)).join(' ')}:\n  ${diffs.join('\n  ')}\n`);
          assert.deepEqual(diffs, [], `after backup ${k} (level ${level}), chain ${chain.map((c) => path.basename(c)).join(' ')}`);
          removeTree(dest);
          if (WITH_RESTORE_R) {
            const theirs = path.join(dir, `restore-r${k}`);
            fs.mkdirSync(theirs);
            for (const img of chain) {
              const r = runTool('restore', ['-r', '-y', '-T', dir, '-f', img], { cwd: theirs });
              assert.equal(r.status, 0, `restore -r ${img}: ${r.stderr}`);
            }
            const real = snapshotTree(theirs, { ignore: (rel) => rel === 'restoresymtable' });
            const realDiffs = compareTrees(want, real, { mtimeResolutionNs: 1000n, directoryTimes: false });
            if (realDiffs.length) process.stderr.write(`restore -r, inodeMap ${inodeMap}, after backup ${k}:\n  ${realDiffs.join('\n  ')}\n`);
            assert.deepEqual(realDiffs, [], `restore -r after backup ${k}`);
            removeTree(theirs);
          }
        }
        removeTree(dir);
      }),
    { numRuns: RUNS, endOnFailure: true, ...(SEED !== undefined ? { seed: SEED } : {}), ...(PATH !== undefined ? { path: PATH } : {}) });
  });
});
