/**
 * Incremental levels: bases chosen from the history (levels may skip or repeat), the selection
 * of changed objects, and chains that the real Linux restore -r applies image after image.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup, type BackupSummary } from '../../src/backup.js';
import { listImage } from '../../src/read/list.js';
import { readDumpdates } from '../../src/state/dumpdates.js';
import { compareTrees, haveProgram, isRoot, removeTree, run, snapshotTree, tempDir } from '../helpers/tree.js';

/** Paths of the non-directory entries on tape (what this image dumped). */
async function dumpedFiles(image: string): Promise<string[]> {
  const l = await listImage({ files: [image] });
  return l.entries.filter((e) => e.type !== 'dir').map((e) => e.path).sort();
}

describe('incremental backups', () => {
  let work: string;
  before(() => { work = tempDir('incr'); });
  after(() => removeTree(work));

  it('picks the most recent lower level as the base: 0,2,3,1,4 and 0,1,1,1', async () => {
    const src = path.join(work, 'bases');
    const state = path.join(work, 'bases-state');
    fs.mkdirSync(src);
    let now = Math.floor(Date.now() / 1000) - 1000;
    const run1 = async (level: number, touch: string): Promise<BackupSummary> => {
      now += 10;
      // Each backup happens after a change made one second after the previous backup.
      fs.writeFileSync(path.join(src, touch), touch);
      fs.utimesSync(path.join(src, touch), now - 5, now - 5);
      const t = now;
      return backup({ source: src, output: path.join(work, `bases-${level}-${touch}.dump`), level, stateDir: state, name: 'bases', now: () => new Date(t * 1000) });
    };
    const l0 = await run1(0, 'a0');
    assert.equal(l0.base, null);
    const l2 = await run1(2, 'a2');
    assert.deepEqual(l2.base, { level: 0, date: l0.date });
    const l3 = await run1(3, 'a3');
    assert.deepEqual(l3.base, { level: 2, date: l2.date });
    const l1 = await run1(1, 'a1');
    assert.deepEqual(l1.base, { level: 0, date: l0.date });
    const l4 = await run1(4, 'a4');
    assert.deepEqual(l4.base, { level: 1, date: l1.date });
    // What each image holds: the files changed since its base (ctime is now, so use --ignore-ctime-free mtimes: all files created after the base are in).
    assert.deepEqual(await dumpedFiles(path.join(work, 'bases-0-a0.dump')), ['./a0']);
    const h = await readDumpdates(state);
    assert.deepEqual(h.map((e) => [e.level, e.date]).sort((a, b) => a[0]! - b[0]!), [[0, l0.date], [1, l1.date], [2, l2.date], [3, l3.date], [4, l4.date]]);
    // 0,1,1,1: every 1 is based on the 0.
    for (let i = 0; i < 3; i++) {
      const s = await run1(1, `b${i}`);
      assert.deepEqual(s.base, { level: 0, date: l0.date });
    }
  });

  it('a level without a lower one says so loudly and contains everything', async () => {
    const src = path.join(work, 'nobase');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'f'), 'x');
    const warnings: string[] = [];
    const s = await backup({ source: src, output: path.join(work, 'nobase.dump'), level: 3, stateDir: path.join(work, 'nobase-state'), onEvent: (e) => { if (e.type === 'warning') warnings.push(`${e.code}: ${e.message}`); } });
    assert.equal(s.base, null);
    assert.ok(warnings.some((w) => /^NO_BASE: .*contains EVERYTHING/.test(w)), warnings.join('\n'));
    assert.deepEqual(await dumpedFiles(path.join(work, 'nobase.dump')), ['./f']);
  });

  it('--no-update leaves the history untouched; a date token selects changes without the history', async () => {
    const src = path.join(work, 'token');
    const state = path.join(work, 'token-state');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'old'), 'old');
    const t0 = Math.floor(Date.now() / 1000) - 100;
    fs.utimesSync(path.join(src, 'old'), t0 - 50, t0 - 50);
    const l0 = await backup({ source: src, output: path.join(work, 'token0.dump'), stateDir: state, update: false, now: () => new Date(t0 * 1000) });
    assert.deepEqual(await readDumpdates(state), []);
    fs.writeFileSync(path.join(src, 'new'), 'new');
    const inc = await backup({ source: src, output: path.join(work, 'token1.dump'), stateDir: state, baseDate: l0.dumpDate, ignoreCtime: true, update: false });
    assert.deepEqual(inc.base, { level: null, date: l0.dumpDate });
    assert.deepEqual(await dumpedFiles(path.join(work, 'token1.dump')), ['./new']);
  });

  it('a chain 0,1,2 with every kind of change restores exactly with the real restore -r', { skip: (!isRoot || !haveProgram('restore')) && 'needs root and Linux restore' }, async () => {
    const src = path.join(work, 'chain');
    const state = path.join(work, 'chain-state');
    const p = (rel: string) => path.join(src, rel);
    fs.mkdirSync(p('dir/sub'), { recursive: true });
    fs.mkdirSync(p('olddir'));
    for (const f of ['keep.txt', 'change.txt', 'rename.txt', 'delete.txt', 'chmod.txt', 'dir/move.txt', 'olddir/in.txt', 'becomes-dir']) fs.writeFileSync(p(f), `${f}\n`);
    fs.linkSync(p('keep.txt'), p('dir/keep-link'));
    const images: string[] = [];
    const take = async (level: number) => {
      const img = path.join(work, `chain${level}.dump`);
      const s = await backup({ source: src, output: img, level, stateDir: state, name: 'chain' });
      assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
      images.push(img);
      return s;
    };
    await take(0);
    // Level 1: changed, renamed, deleted, chmod'ed, moved, new directory, a file that becomes a directory.
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
    const l1 = await take(1);
    assert.ok(l1.files < 12, `level 1 holds only changes (${l1.files} objects)`);
    // Level 2: a directory removed, a link removed, a name that now points to another file.
    fs.rmSync(p('olddir'), { recursive: true });
    fs.rmSync(p('dir/keep-link'));
    fs.rmSync(p('renamed.txt'));
    fs.writeFileSync(p('renamed.txt'), 'a different file under the old name\n');
    fs.chownSync(p('keep.txt'), 1234, 5678);
    await take(2);

    const dest = path.join(work, 'chain-restored');
    fs.mkdirSync(dest);
    for (const img of images) {
      const r = run('restore', ['-r', '-y', '-T', work, '-f', img], { cwd: dest });
      assert.equal(r.status, 0, `${img}: ${r.stderr}`);
    }
    fs.rmSync(path.join(dest, 'restoresymtable'));
    const diffs = compareTrees(snapshotTree(src), snapshotTree(dest), { mtimeResolutionNs: 1000n, directoryTimes: false });
    assert.deepEqual(diffs, []);
  });

  it('the chains of 0,2,3,1,4 restore exactly with the real restore -r at every point', { skip: (!isRoot || !haveProgram('restore')) && 'needs root and Linux restore' }, async () => {
    const src = path.join(work, 'order-real');
    const state = path.join(work, 'order-real-state');
    const p = (rel: string) => path.join(src, rel);
    fs.mkdirSync(p('d'), { recursive: true });
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
    // The chain for each point: the image and, recursively, its base.
    const baseOf = [-1, 0, 1, 0, 3];
    const images: string[] = [];
    for (let i = 0; i < levels.length; i++) {
      await new Promise((r) => setTimeout(r, 1100)); // distinct dates, changes after the previous backup
      changes[i]!();
      const img = path.join(work, `order-real-${i}.dump`);
      const s = await backup({ source: src, output: img, level: levels[i]!, stateDir: state, name: 'order-real' });
      assert.equal(s.exitStatus, 0);
      images.push(img);
      const chain: string[] = [];
      for (let k = i; k >= 0; k = baseOf[k]!) chain.unshift(images[k]!);
      const dest = path.join(work, `order-real-restored-${i}`);
      fs.mkdirSync(dest);
      for (const image of chain) {
        const r = run('restore', ['-r', '-y', '-T', work, '-f', image], { cwd: dest });
        assert.equal(r.status, 0, `${image}: ${r.stderr}`);
      }
      fs.rmSync(path.join(dest, 'restoresymtable'));
      assert.deepEqual(compareTrees(snapshotTree(src), snapshotTree(dest), { mtimeResolutionNs: 1000n, directoryTimes: false }), [], `after level ${levels[i]} (image ${i})`);
    }
  });
});
