/**
 * Restoring chains with snapdump restore, image after image into one destination (restore -r):
 * every kind of change, non-consecutive levels, repeated levels, and the refusals (out of order,
 * no level 0 applied first).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup } from '../../src/backup.js';
import { restore } from '../../src/restore/index.js';
import { STATE_FILE } from '../../src/restore/chain.js';
import { snapdump } from '../helpers/cli.js';
import { compareTrees, haveProgram, isRoot, removeTree, run, snapshotTree, tempDir } from '../helpers/tree.js';

/** Backup dates are in seconds: images that must have distinct dates are a second apart. */
const nextSecond = () => new Promise((r) => setTimeout(r, 1100));

const ignoreState = (rel: string) => rel === STATE_FILE;

/** A source tree, its backups (with their own state directory) and restores into `dest`. */
class Chain {
  readonly src: string;
  readonly dest: string;
  readonly images: string[] = [];
  readonly dates: number[] = [];
  private readonly state: string;
  constructor(private readonly work: string, readonly name: string) {
    this.src = path.join(work, name);
    this.dest = path.join(work, `${name}-restored`);
    this.state = path.join(work, `${name}-state`);
    fs.mkdirSync(this.src);
  }

  p(rel: string): string { return path.join(this.src, rel); }

  /** Dumped non-directories of each image. */
  readonly files: number[] = [];

  async take(level: number): Promise<string> {
    // Changes are made a second after the previous backup: unchanged files are not dumped again.
    await nextSecond();
    const img = path.join(this.work, `${this.name}-${this.images.length}-L${level}.dump`);
    const s = await backup({ source: this.src, output: img, level, stateDir: this.state, name: this.name });
    assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
    this.images.push(img);
    this.dates.push(s.date);
    this.files.push(s.files);
    return img;
  }

  async apply(img: string): Promise<void> {
    const r = await restore({ files: [img], dest: this.dest });
    assert.equal(r.exitStatus, 0, `${img}: ${JSON.stringify([...r.skipped, ...r.warnings], null, 1)}`);
  }

  check(what: string): void {
    const diffs = compareTrees(snapshotTree(this.src), snapshotTree(this.dest, { ignore: ignoreState }), { mtimeResolutionNs: 1000n });
    assert.deepEqual(diffs, [], what);
    assert.deepEqual(fs.readdirSync(this.dest).filter((n) => n.startsWith('.snapdump-')), [STATE_FILE], 'only the state is left');
  }
}

describe('restoring a chain of incrementals (restore -r)', () => {
  let work: string;
  before(() => { work = tempDir('increst'); });
  after(() => removeTree(work));

  it('0,1,2 with every kind of change, applied image after image', async () => {
    const c = new Chain(work, 'chain');
    const p = (rel: string) => c.p(rel);
    fs.mkdirSync(p('dir/sub'), { recursive: true });
    fs.mkdirSync(p('olddir'));
    fs.mkdirSync(p('moves/deep/deeper'), { recursive: true });
    for (const f of ['keep.txt', 'change.txt', 'rename.txt', 'delete.txt', 'chmod.txt', 'dir/move.txt', 'olddir/in.txt', 'becomes-dir', 'moves/deep/deeper/f', 'swap-a', 'swap-b']) fs.writeFileSync(p(f), `${f}\n`);
    fs.linkSync(p('keep.txt'), p('dir/keep-link'));
    fs.symlinkSync('keep.txt', p('sym'));
    await c.take(0);
    // Level 1: changed, renamed, deleted, chmod'ed, moved, new directory, a file that becomes a
    // directory, a new hard link, an unchanged directory moved to another parent, a swap of names.
    fs.appendFileSync(p('change.txt'), 'more\n');
    fs.renameSync(p('rename.txt'), p('renamed.txt'));
    fs.rmSync(p('delete.txt'));
    fs.chmodSync(p('chmod.txt'), 0o600);
    fs.renameSync(p('dir/move.txt'), p('dir/sub/moved.txt'));
    fs.mkdirSync(p('newdir'));
    fs.writeFileSync(p('newdir/new.txt'), 'new\n');
    fs.rmSync(p('becomes-dir'));
    fs.mkdirSync(p('becomes-dir'));
    fs.writeFileSync(p('becomes-dir/inside'), 'inside\n');
    fs.linkSync(p('change.txt'), p('newdir/change-link'));
    fs.renameSync(p('moves/deep'), p('dir/deep-moved'));
    fs.renameSync(p('swap-a'), p('swap-tmp'));
    fs.renameSync(p('swap-b'), p('swap-a'));
    fs.renameSync(p('swap-tmp'), p('swap-b'));
    await c.take(1);
    // Level 2: a directory removed, a link removed, a name that now points to another file, the
    // directory becomes a file again, a directory renamed back, an owner changed.
    fs.rmSync(p('olddir'), { recursive: true });
    fs.rmSync(p('dir/keep-link'));
    fs.rmSync(p('renamed.txt'));
    fs.writeFileSync(p('renamed.txt'), 'a different file under the old name\n');
    fs.rmSync(p('becomes-dir'), { recursive: true });
    fs.writeFileSync(p('becomes-dir'), 'a file again\n');
    fs.renameSync(p('dir/deep-moved'), p('moves/deep'));
    fs.renameSync(p('sym'), p('dir/sym-moved'));
    if (isRoot) fs.chownSync(p('keep.txt'), 1234, 5678);
    else fs.chmodSync(p('keep.txt'), 0o640);
    await c.take(2);
    assert.ok(c.files[1]! < 12 && c.files[2]! < 8, `the incrementals hold only changes (${c.files.join(', ')} objects)`);

    await c.apply(c.images[0]!);
    await c.apply(c.images[1]!);
    await c.apply(c.images[2]!);
    c.check('after 0,1,2');
  });

  it('a changed file with names in unchanged directories: every name gets the new content, still one file', async () => {
    // Found by the property test: only the first name's directory used to be dumped, so the
    // restore rewrote that name and left the others as a stale, separate file.
    const c = new Chain(work, 'links');
    for (const d of ['a', 'b', 'c']) fs.mkdirSync(c.p(d));
    fs.writeFileSync(c.p('a/f'), 'old\n');
    fs.linkSync(c.p('a/f'), c.p('b/f-link'));
    fs.linkSync(c.p('a/f'), c.p('c/f-link'));
    await c.take(0);
    fs.writeFileSync(c.p('c/f-link'), 'new content, written in place\n'); // no directory changes
    await c.take(1);
    const l1 = (await import('../../src/read/list.js')).listImage({ files: [c.images[1]!] });
    const names = (await l1).entries.filter((e) => e.type !== 'dir').map((e) => e.path).sort();
    assert.deepEqual(names, ['./a/f', './b/f-link', './c/f-link'], 'every name of the changed file is on tape');
    await c.apply(c.images[0]!);
    await c.apply(c.images[1]!);
    c.check('0,1');
    if (isRoot && haveProgram('restore')) {
      const dest = path.join(work, 'links-restore-r');
      fs.mkdirSync(dest);
      for (const img of c.images) assert.equal(run('restore', ['-r', '-y', '-T', work, '-f', img], { cwd: dest }).status, 0);
      fs.rmSync(path.join(dest, 'restoresymtable'));
      assert.deepEqual(compareTrees(snapshotTree(c.src), snapshotTree(dest), { mtimeResolutionNs: 1000n, directoryTimes: false }), []);
    }
  });

  it('the non-consecutive order 0,2,3,1,4, checked after every image', async () => {
    const c = new Chain(work, 'order');
    const p = (rel: string) => c.p(rel);
    fs.mkdirSync(p('d'));
    fs.writeFileSync(p('d/base'), 'base\n');
    fs.writeFileSync(p('top'), 'top\n');
    const changes: Array<() => void> = [
      () => {},
      () => { fs.writeFileSync(p('a2'), 'a2\n'); fs.renameSync(p('d/base'), p('base-moved')); },
      () => { fs.mkdirSync(p('e')); fs.writeFileSync(p('e/a3'), 'a3\n'); fs.rmSync(p('top')); },
      () => { fs.writeFileSync(p('a1'), 'a1\n'); fs.renameSync(p('e'), p('d/e')); fs.linkSync(p('a2'), p('d/a2-link')); },
      () => { fs.appendFileSync(p('a1'), 'again\n'); fs.rmSync(p('a2')); fs.writeFileSync(p('top'), 'a new top\n'); },
    ];
    const levels = [0, 2, 3, 1, 4];
    // Each restore applies the chain for that point: 0; 0,2; 0,2,3; 0,1; 0,1,4.
    const applied: string[] = [];
    for (let i = 0; i < levels.length; i++) {
      changes[i]!();
      const img = await c.take(levels[i]!);
      if (levels[i] === 1) {
        // A level 1 is based on the level 0: the chain starts again from it.
        removeTree(c.dest);
        await c.apply(c.images[0]!);
      }
      applied.push(img);
      await c.apply(img);
      c.check(`after the level ${levels[i]} (image ${i})`);
    }
  });

  it('0,1,1,1: each level 1 is based on the level 0, so one of them is applied after it', async () => {
    const c = new Chain(work, 'repeat');
    const p = (rel: string) => c.p(rel);
    fs.writeFileSync(p('f'), 'f\n');
    fs.mkdirSync(p('d'));
    await c.take(0);
    fs.writeFileSync(p('b0'), 'b0\n');
    await c.take(1);
    fs.renameSync(p('f'), p('d/f'));
    await c.take(1);
    fs.writeFileSync(p('b2'), 'b2\n');
    fs.rmSync(p('b0'));
    await c.take(1);
    // Each level 1 applied right after the 0 gives the tree of its time; the last one, now.
    await c.apply(c.images[0]!);
    await c.apply(c.images[3]!);
    c.check('0 then the last 1');
    // Another 1 on top of a 1 is refused: its base is the 0.
    const r = snapdump(['restore', '-f', c.images[2]!, '-C', c.dest]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /ERR_CHAIN/);
  });

  it('an image out of order is refused, naming both dates; nothing is written', async () => {
    const c = new Chain(work, 'refuse');
    fs.writeFileSync(c.p('f'), 'f\n');
    await c.take(0);
    fs.writeFileSync(c.p('g'), 'g\n');
    await c.take(1);
    fs.writeFileSync(c.p('h'), 'h\n');
    await c.take(2);
    await c.apply(c.images[0]!);
    const before = snapshotTree(c.dest);
    const iso = (sec: number) => new Date(sec * 1000).toISOString().replace('.000Z', 'Z');
    await assert.rejects(restore({ files: [c.images[2]!], dest: c.dest }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_CHAIN');
      assert.ok(e.message.includes(`based on the backup of ${iso(c.dates[1]!)}`), e.message);
      assert.ok(e.message.includes(`the last image applied here is from ${iso(c.dates[0]!)}`), e.message);
      return true;
    });
    const r = snapdump(['restore', '-f', c.images[2]!, '-C', c.dest]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /ERR_CHAIN.*based on the backup of/);
    assert.deepEqual(compareTrees(before, snapshotTree(c.dest)), []);
    // In order it goes on.
    await c.apply(c.images[1]!);
    await c.apply(c.images[2]!);
    c.check('0,1,2 after the refusal');
    // --finish ends the chain: the state is gone, an incremental is refused again.
    const f = snapdump(['restore', '--finish', '-C', c.dest]);
    assert.equal(f.status, 0, f.stderr);
    assert.equal(fs.existsSync(path.join(c.dest, STATE_FILE)), false);
  });

  it('an incremental without a level 0 applied first is refused (unless --force)', async () => {
    const c = new Chain(work, 'nolevel0');
    fs.writeFileSync(c.p('f'), 'f\n');
    // f is older than the level 0: the level 1 holds only its name.
    await c.take(0);
    fs.writeFileSync(c.p('g'), 'g\n');
    const img = await c.take(1);
    await assert.rejects(restore({ files: [img], dest: c.dest }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_CHAIN');
      assert.match(e.message, /no image has been restored into this destination: restore the level 0/);
      return true;
    });
    assert.equal(fs.existsSync(c.dest), false, 'nothing was written');
    const r = await restore({ files: [img], dest: c.dest, force: true });
    assert.equal(fs.readFileSync(path.join(c.dest, 'g'), 'utf8'), 'g\n');
    assert.ok(r.skipped.some((s) => s.code === 'LOST' && s.path.endsWith('/f')), JSON.stringify(r.skipped));
  });

  it('a selective restore neither needs nor updates the state', async () => {
    const c = new Chain(work, 'selective');
    fs.writeFileSync(c.p('f'), 'f\n');
    await c.take(0);
    fs.writeFileSync(c.p('g'), 'g\n');
    const img = await c.take(1);
    const r = await restore({ files: [img], dest: c.dest, paths: ['g'] });
    assert.equal(r.exitStatus, 0);
    assert.equal(fs.existsSync(path.join(c.dest, STATE_FILE)), false);
  });
});
